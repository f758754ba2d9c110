import type { ChatRequest, ChatStreamPart, Usage } from "../../src/core/chat.ts";
import type { TextCompletionPart } from "../../src/core/completion.ts";
import { unsupportedEndpoint, type ChatModel, type EmbedResult, type ForwardedResponse, type ForwardEndpoint, type ModelCapabilities, type ModelDescriptor } from "../../src/providers/provider.ts";

/**
 * A test model that only chats: it declares no embeddings, completions or relayed endpoints, and
 * answers those methods with the 400 `unsupported_endpoint` a real model without them gives.
 * Subclasses supply the descriptor, the context size and `streamChat`.
 */
export abstract class ChatOnlyModel implements ChatModel {
  abstract readonly descriptor: ModelDescriptor;
  readonly capabilities: ModelCapabilities;

  constructor(contextSize: number | undefined) {
    this.capabilities = { contextSize, embeddings: "none", completions: "none", forwards: new Set<ForwardEndpoint>(), vision: false };
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
  stats(): Record<string, number> {
    return {};
  }
  async dispose(): Promise<void> {}
}
