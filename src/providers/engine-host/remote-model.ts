import type { ChatRequest, ChatStreamPart, Usage } from "../../core/chat.ts";
import type { TextCompletionPart, TextCompletionRequest } from "../../core/completion.ts";
import type { RpcClient } from "../../core/rpc.ts";
import type { Transcript } from "../../core/audio.ts";
import { unsupportedAudio, unsupportedEndpoint, type ChatModel, type SpeechAudio, type EmbeddingInput, type EmbedOptions, type EmbedResult, type ForwardedResponse, type ForwardEndpoint, type ModelCapabilities, type ModelDescriptor } from "../provider.ts";

/** What a worker process knows of a model the engine host serves. */
export interface HostedModelInfo {
  descriptor: ModelDescriptor;
  capabilities: Omit<ModelCapabilities, "forwards">;
}

/** The usage reported when the host never answered (it died mid-generation). */
const NO_USAGE: Usage = { promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0 };

/**
 * A model of the engine host, used from a worker process (`serve --workers N`): every call goes
 * over IPC to the one process that holds the model in memory, so N workers share one copy of each
 * model and its sequences. The worker does everything else (auth, limits, metering, rendering).
 */
export class RemoteModel implements ChatModel {
  readonly descriptor: ModelDescriptor;
  readonly capabilities: ModelCapabilities;
  readonly #client: RpcClient;
  #stats: Record<string, number> = {};

  constructor(info: HostedModelInfo, client: RpcClient) {
    this.descriptor = info.descriptor;
    this.capabilities = { ...info.capabilities, forwards: new Set() };
    this.#client = client;
  }

  /** The host's latest load figures for this model (pushed about once a second). */
  updateStats(stats: Record<string, number>): void {
    this.#stats = stats;
  }

  stats(): Record<string, number> {
    return this.#stats;
  }

  async *streamChat(request: ChatRequest, signal: AbortSignal, onUsage?: (usage: Usage) => void): AsyncGenerator<ChatStreamPart> {
    const stream = this.#client.stream<ChatStreamPart, Usage | undefined>("streamChat", [this.descriptor.id, request], signal);
    try {
      yield* stream;
    } finally {
      // The host meters nothing: its usage comes back here, however the generation ended.
      onUsage?.((await stream.result.catch(() => undefined)) ?? NO_USAGE);
    }
  }

  async *completeText(request: TextCompletionRequest, signal: AbortSignal, onUsage?: (usage: Usage) => void): AsyncGenerator<TextCompletionPart> {
    const stream = this.#client.stream<TextCompletionPart, Usage | undefined>("completeText", [this.descriptor.id, request], signal);
    try {
      yield* stream;
    } finally {
      onUsage?.((await stream.result.catch(() => undefined)) ?? NO_USAGE);
    }
  }

  /** Not a speech model (`capabilities.speech` is false). */
  async speak(): Promise<SpeechAudio> {
    throw unsupportedAudio(this.descriptor.id, "/audio/speech");
  }

  /** Not a transcription model (`capabilities.transcription` is false). */
  async transcribe(): Promise<Transcript> {
    throw unsupportedAudio(this.descriptor.id, "/audio/transcriptions");
  }

  countPromptTokens(request: ChatRequest): Promise<number> {
    return this.#client.call<number>("countPromptTokens", [this.descriptor.id, request]);
  }

  embed(inputs: readonly EmbeddingInput[], options: EmbedOptions, signal: AbortSignal): Promise<EmbedResult> {
    return this.#client.call<EmbedResult>("embed", [this.descriptor.id, inputs, options], signal);
  }

  async forward(endpoint: ForwardEndpoint): Promise<ForwardedResponse> {
    throw unsupportedEndpoint(this.descriptor.id, endpoint);
  }

  /** The host owns the model; a worker has nothing to free. */
  async dispose(): Promise<void> {}
}
