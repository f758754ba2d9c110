import type { ChatRequest, ChatStreamPart, Usage } from "../../src/core/chat.ts";
import type { TextCompletionPart } from "../../src/core/completion.ts";
import type { Transcript } from "../../src/core/audio.ts";
import { unsupportedAudio, unsupportedEndpoint, type ChatModel, type SpeechAudio, type EmbedResult, type ForwardedResponse, type ForwardEndpoint, type ModelCapabilities, type ModelDescriptor } from "../../src/providers/provider.ts";

/**
 * A test model that only chats: it declares no embeddings, completions or relayed endpoints, and
 * answers those methods with the 400 `unsupported_endpoint` a real model without them gives.
 * Subclasses supply the descriptor, the context size and `streamChat`.
 */
export abstract class ChatOnlyModel implements ChatModel {
  abstract readonly descriptor: ModelDescriptor;
  readonly capabilities: ModelCapabilities;

  constructor(contextSize: number | undefined) {
    this.capabilities = { contextSize, embeddings: "none", completions: "none", forwards: new Set<ForwardEndpoint>(), vision: false, speech: false, transcription: false };
  }

  abstract streamChat(request: ChatRequest, signal: AbortSignal, onUsage?: (usage: Usage) => void): AsyncIterable<ChatStreamPart>;

  async forward(endpoint: ForwardEndpoint): Promise<ForwardedResponse> {
    throw unsupportedEndpoint(this.descriptor.id, endpoint);
  }
  async embed(): Promise<EmbedResult> {
    throw unsupportedEndpoint(this.descriptor.id, "/embeddings");
  }
  async *completeText(): AsyncGenerator<TextCompletionPart> {
    throw unsupportedEndpoint(this.descriptor.id, "/completions");
  }
  async countPromptTokens(_request: ChatRequest): Promise<number> {
    return 1;
  }
  /** Not a speech model (`capabilities.speech` is false). */
  async speak(): Promise<SpeechAudio> {
    throw unsupportedAudio(this.descriptor.id, "/audio/speech");
  }

  /** Not a transcription model (`capabilities.transcription` is false). */
  async transcribe(): Promise<Transcript> {
    throw unsupportedAudio(this.descriptor.id, "/audio/transcriptions");
  }

  stats(): Record<string, number> {
    return {};
  }
  async dispose(): Promise<void> {}
}
