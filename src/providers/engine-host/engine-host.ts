import type { ChatRequest, Usage } from "../../core/chat.ts";
import type { TextCompletionRequest } from "../../core/completion.ts";
import { modelNotFound } from "../../core/errors.ts";
import type { RpcHandler } from "../../core/rpc.ts";
import type { ChatModel, EmbeddingInput, EmbedOptions } from "../provider.ts";
import type { HostedModelInfo } from "./remote-model.ts";

/** What workers learn of the host's models at start. */
export function hostedModelInfo(model: ChatModel): HostedModelInfo {
  const { forwards: _forwards, ...capabilities } = model.capabilities;
  return { descriptor: model.descriptor, capabilities };
}

/**
 * The engine host's side of RemoteModel: runs workers' calls on the models this process holds.
 * Streams emit their parts and resolve to the usage, which the calling worker meters.
 */
export function engineHostHandlers(models: readonly ChatModel[]): Map<string, RpcHandler> {
  const byId = new Map(models.map((m) => [m.descriptor.id, m]));
  const model = (id: unknown): ChatModel => {
    const found = byId.get(id as string);
    if (found === undefined) throw modelNotFound(String(id));
    return found;
  };
  return new Map<string, RpcHandler>([
    [
      "streamChat",
      async ([id, request], signal, emit) => {
        let usage: Usage | undefined;
        try {
          for await (const part of model(id).streamChat(request as ChatRequest, signal, (u) => (usage = u))) emit(part);
        } catch (error) {
          // An aborted generation still reports what it used, for the worker to meter.
          if (!signal.aborted) throw error;
        }
        return usage;
      },
    ],
    [
      "completeText",
      async ([id, request], signal, emit) => {
        let usage: Usage | undefined;
        try {
          for await (const part of model(id).completeText(request as TextCompletionRequest, signal, (u) => (usage = u))) emit(part);
        } catch (error) {
          if (!signal.aborted) throw error;
        }
        return usage;
      },
    ],
    ["countPromptTokens", async ([id, request]) => model(id).countPromptTokens(request as ChatRequest)],
    ["embed", async ([id, inputs, options], signal) => model(id).embed(inputs as EmbeddingInput[], options as EmbedOptions, signal)],
  ]);
}

/** Every hosted model's stats, pushed to workers as the `stats` event. */
export function hostStats(models: readonly ChatModel[]): Record<string, Record<string, number>> {
  return Object.fromEntries(models.map((m) => [m.descriptor.id, m.stats()]));
}
