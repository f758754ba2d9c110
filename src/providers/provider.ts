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
  /**
   * Relays a body to another OpenAI endpoint as is (upstream models whose provider has it); absent
   * where the model cannot.
   */
  supportsForward?(endpoint: ForwardEndpoint): boolean;
  forward?(endpoint: ForwardEndpoint, body: Readonly<Record<string, unknown>>, signal: AbortSignal): Promise<ForwardedResponse>;
  /** Prompt tokens this request would take, counted as the model counts them (estimated for upstreams). */
  countPromptTokens?(request: ChatRequest): Promise<number>;
  /**
   * Embeds inputs (text or token ids), one unit-length vector per input in order; absent where the
   * model cannot embed. Bad inputs (too long, unknown token ids, unsupported `dimensions`) are
   * thrown as 400 ApiErrors naming the param.
   */
  embed?(inputs: readonly EmbeddingInput[], options: EmbedOptions, signal: AbortSignal): Promise<EmbedResult>;
  /** Engine load, for health output. */
  stats(): Record<string, number>;
  dispose(): Promise<void>;
}

/** OpenAI endpoints that pass through to upstreams which have them. */
export type ForwardEndpoint = "/responses" | "/embeddings" | "/completions" | "/moderations";

/** An upstream's answer to a forwarded request, ready to relay. */
export interface ForwardedResponse {
  status: number;
  contentType: string;
  /** The body bytes: whole for JSON, as they arrive for a stream. */
  body: AsyncIterable<Uint8Array> | readonly Uint8Array[];
  /** The deployment that answered, for logs. */
  deployment: string;
}

/** One input to embed: text, or token ids of the model's own vocabulary. */
export type EmbeddingInput = string | readonly number[];

/** How to embed. */
export interface EmbedOptions {
  /** Truncate each vector to this many dimensions and renormalise; 400 `dimensions` where the model cannot. */
  dimensions?: number | undefined;
  /** Indexing runs at background priority; API requests are interactive and go first. */
  priority: "interactive" | "background";
}

/** Embedding vectors (unit length) and the tokens they took. */
export interface EmbedResult {
  vectors: Float32Array[];
  promptTokens: number;
}
