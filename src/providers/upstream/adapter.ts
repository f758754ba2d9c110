import type { ChatRequest, ChatStreamPart } from "../../core/chat.ts";
import type { EmbeddingInput, EmbedResult, ForwardBody, ForwardEndpoint } from "../provider.ts";
import type { UsedParam } from "../../core/declarable-params.ts";
import type { UpstreamError } from "./upstream-error.ts";

/** One HTTP call to an upstream, ready to send. */
export interface UpstreamCall {
  url: string;
  headers: Record<string, string>;
  body: string | Uint8Array;
}

/** Where and how to reach one deployment, as an adapter needs it. */
export interface AdapterTarget {
  id: string;
  /** Base URL ending before the endpoint path, e.g. `https://api.openai.com/v1`. */
  baseUrl: string;
  apiKey: string | undefined;
  /** The model (or Azure deployment) name the upstream knows. */
  model: string;
  /** Azure's api-version. */
  apiVersion: string | undefined;
  /** Output-token cap to send when the request sets none and the provider requires one. */
  defaultMaxTokens: number;
}

/** What an embeddings answer is read against: the inputs sent, and the public model for messages. */
export interface EmbeddingsAnswerRequest {
  model: string;
  inputs: readonly EmbeddingInput[];
  dimensions: number | undefined;
}

/**
 * One provider's wire format: pure converters between canonical requests/stream parts and the
 * provider's JSON, plus what the provider cannot take. Transport, retries and routing live elsewhere.
 */
export interface UpstreamAdapter {
  readonly name: string;
  /**
   * The used parameters this provider cannot honour, with a reason when it is a value rather than
   * the parameter that is out of range (e.g. Anthropic's temperature stops at 1).
   */
  unsupported(request: ChatRequest, used: readonly UsedParam[]): Array<UsedParam & { detail?: string }>;
  /** The streaming call for this request; `dropped` parameters are left out of the body. */
  streamCall(target: AdapterTarget, request: ChatRequest, dropped: ReadonlySet<string>): UpstreamCall;
  /** A converter for one response stream: each SSE `data` payload in, stream parts out; throws UpstreamErrors. */
  streamConverter(target: AdapterTarget): (data: string) => ChatStreamPart[];
  /**
   * OpenAI's other endpoints this provider has (`/responses`, `/embeddings`, `/completions`,
   * `/moderations`), relayed as is; empty for a provider that speaks only chat.
   */
  readonly forwards: ReadonlySet<ForwardEndpoint>;
  /**
   * The call forwarding a client's body as is to an endpoint in `forwards`, with the upstream's
   * model name. Throws for any other endpoint (the router never asks for one).
   */
  forwardCall(target: AdapterTarget, endpoint: ForwardEndpoint, body: ForwardBody): UpstreamCall;
  /** The realtime WebSocket URL and headers (where `forwards` has `/realtime`). */
  realtimeCall?(target: AdapterTarget): { url: string; headers: Record<string, string> };
  /** The `/embeddings` call for these inputs, vectors asked for as floats (where `forwards` has `/embeddings`). */
  embeddingsCall(target: AdapterTarget, inputs: readonly EmbeddingInput[], dimensions: number | undefined): UpstreamCall;
  /**
   * Reads a successful embeddings answer (`text`, the whole body) into vectors for `request.inputs`,
   * in input order, unit length and cut to `request.dimensions`. Malformed answers are 502s; vectors
   * shorter than `dimensions` a 400 `dimensions` naming `request.model`, the public model.
   */
  embeddingsFrom(target: AdapterTarget, text: string, request: EmbeddingsAnswerRequest): EmbedResult;
  /** An upstream HTTP error (already read as text) in OpenAI's terms. */
  errorFrom(target: AdapterTarget, status: number, headers: Headers, body: string): UpstreamError;
}
