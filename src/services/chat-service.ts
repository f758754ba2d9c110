import type { ChatRequest, ChatStreamPart, FinishReason, Usage } from "../core/chat.ts";
import { emptyUsage } from "../core/chat.ts";
import type { ChatModel } from "../providers/provider.ts";
import type { ModelRegistry } from "./model-registry.ts";

/** A started chat generation: the model that serves it and the stream of its parts. */
export interface ChatRun {
  model: ChatModel;
  parts: AsyncIterator<ChatStreamPart>;
  /** The first part, already awaited, so request errors surface before any byte is sent. */
  first: IteratorResult<ChatStreamPart>;
}

/** A finished, collected chat generation. */
export interface ChatResult {
  model: ChatModel;
  choices: { text: string; finishReason: FinishReason }[];
  usage: Usage;
}

/** Chat completions as a use case, free of HTTP and of any wire format. */
export class ChatService {
  readonly #registry: ModelRegistry;

  constructor(registry: ModelRegistry) {
    this.#registry = registry;
  }

  /** Resolves the model and starts generating; throws ApiErrors for problems with the request. */
  async start(request: ChatRequest, signal: AbortSignal): Promise<ChatRun> {
    const model = this.#registry.resolve(request.model);
    const parts = model.streamChat(request, signal)[Symbol.asyncIterator]();
    const first = await parts.next();
    return { model, parts, first };
  }

  /** Runs a generation to the end and collects every choice. */
  async complete(request: ChatRequest, signal: AbortSignal): Promise<ChatResult> {
    const run = await this.start(request, signal);
    const choices = Array.from({ length: request.n }, () => ({ text: "", finishReason: "stop" as FinishReason }));
    let usage = emptyUsage();
    for (let step = run.first; !step.done; step = await run.parts.next()) {
      const part = step.value;
      if (part.type === "usage") {
        usage = part.usage;
        continue;
      }
      const choice = choices[part.choice];
      if (choice === undefined) continue;
      if (part.type === "text-delta") choice.text += part.text;
      else choice.finishReason = part.finishReason;
    }
    return { model: run.model, choices, usage };
  }
}
