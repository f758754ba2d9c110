import type { ChatRequest, ChatStreamPart, Usage } from "../core/chat.ts";
import { ApiError } from "../core/errors.ts";
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
 * What a model can do, declared once when it is built, so callers decide by reading it instead of
 * probing optional members. Capabilities added later (audio, realtime…) go here too.
 */
export interface ModelCapabilities {
  /** Tokens one request may take (prompt and answer), where the model knows it; undefined for upstreams. */
  readonly contextSize: number | undefined;
  /**
   * How `/v1/embeddings` is served: computed by the local engine (`engine`), relayed as is to an
   * upstream that has the endpoint (`relay`), or not at all (`none`).
   */
  readonly embeddings: "engine" | "relay" | "none";
  /** OpenAI endpoints relayed as is to an upstream that has them. */
  readonly forwards: ReadonlySet<ForwardEndpoint>;
  /** Whether image input is accepted (the local engine is text-only; upstreams take images). */
  readonly vision: boolean;
}

/**
 * The one interface every chat backend implements. A stream yields text deltas and a finish part
 * per choice, then one usage part. Problems with the request itself (context too long, no capacity)
 * are thrown as ApiErrors before the first part, so the HTTP layer can still answer with a status.
 * Members for a capability the model lacks throw a 400 ApiError; callers check `capabilities` first.
 */
export interface ChatModel {
  readonly descriptor: ModelDescriptor;
  readonly capabilities: ModelCapabilities;
  /**
   * Streams the request's choices. `onUsage` is called exactly once when the stream ends however it
   * ends (finished, failed, or abandoned by its client), with the tokens actually used, for metering.
   */
  streamChat(request: ChatRequest, signal: AbortSignal, onUsage?: (usage: Usage) => void): AsyncIterable<ChatStreamPart>;
  /**
   * Relays a body to another OpenAI endpoint as is, for the endpoints in `capabilities.forwards`;
   * a 400 `unsupported_endpoint` for any other.
   */
  forward(endpoint: ForwardEndpoint, body: Readonly<Record<string, unknown>>, signal: AbortSignal): Promise<ForwardedResponse>;
  /** Prompt tokens this request would take, counted as the model counts them (estimated for upstreams). */
  countPromptTokens(request: ChatRequest): Promise<number>;
  /**
   * Embeds inputs (text or token ids), one unit-length vector per input in order, where
   * `capabilities.embeddings` is not `none`. Bad inputs (too long, unknown token ids, unsupported
   * `dimensions`) are thrown as 400 ApiErrors naming the param.
   */
  embed(inputs: readonly EmbeddingInput[], options: EmbedOptions, signal: AbortSignal): Promise<EmbedResult>;
  /** Engine load, for health output. */
  stats(): Record<string, number>;
  dispose(): Promise<void>;
}

/** The 400 for an endpoint a model does not have (`forward` of a model that relays none). */
export function unsupportedEndpoint(model: string, endpoint: ForwardEndpoint, why = "on this server yet"): ApiError {
  return new ApiError(400, `The model '${model}' does not support /v1${endpoint} ${why}.`, { type: "invalid_request_error", code: "unsupported_endpoint", param: "model" });
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
