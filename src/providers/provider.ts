import type { ChatRequest, ChatStreamPart, Usage } from "../core/chat.ts";
import type { Pricing } from "../core/pricing.ts";

/** What `/v1/models` shows about a model. */
export interface ModelDescriptor {
  id: string;
  aliases: readonly string[];
  /** Unix seconds. */
  created: number;
  ownedBy: string;
  /** Prices per million tokens, when configured. */
  pricing: Pricing | undefined;
}

/**
 * The one interface every chat backend implements. A stream yields text deltas and a finish part
 * per choice, then one usage part. Problems with the request itself (context too long, no capacity)
 * are thrown as ApiErrors before the first part, so the HTTP layer can still answer with a status.
 */
export interface ChatModel {
  readonly descriptor: ModelDescriptor;
  /**
   * Streams the request's choices. `onUsage` is called exactly once when the stream ends however it
   * ends (finished, failed, or abandoned by its client), with the tokens actually used, for metering.
   */
  streamChat(request: ChatRequest, signal: AbortSignal, onUsage?: (usage: Usage) => void): AsyncIterable<ChatStreamPart>;
  /** Engine load, for health output. */
  stats(): Record<string, number>;
  dispose(): Promise<void>;
}
