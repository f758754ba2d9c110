/** Canonical, wire-independent types for chat generation. Nothing here knows about JSON or HTTP. */

/** An image given as input, normalised from either wire form. */
export interface ImagePart {
  type: "image";
  /** An https URL or a validated `data:image/…;base64,` URL. */
  url: string;
  detail: "low" | "high" | "auto";
  /** Input tokens by OpenAI's published formula, for usage estimates. */
  estimatedTokens: number;
  /** Where the part was in the request, for errors such as "this model takes no images". */
  param: string;
}

/** Message content: text, and for user messages possibly images. */
export type ContentPart = { type: "text"; text: string } | ImagePart;

/** One message of a conversation, already validated. */
export type ChatMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string; parts: readonly ContentPart[] }
  | { role: "assistant"; content: string; toolCalls: readonly ToolCall[] }
  | { role: "tool"; content: string; toolCallId: string };

/** A function call the assistant made. */
export interface ToolCall {
  id: string;
  name: string;
  /** JSON text, as the model produced it. */
  arguments: string;
}

/** A JSON Schema object, already checked against the supported subset. */
export type JsonSchema = { [key: string]: unknown };

/** A function the model may call. */
export interface ToolDefinition {
  name: string;
  description: string | undefined;
  /** The schema in the subset the local engine's grammars take (all properties required). */
  parameters: JsonSchema;
  /** The schema as the client sent it (validated), for upstreams that take JSON Schema themselves. */
  wireParameters: JsonSchema;
  strict: boolean;
}

/** Which tool calls the model may or must make. */
export type ToolChoice = "none" | "auto" | "required" | { name: string };

/** The shape the output must take. */
export type ResponseFormat =
  | { type: "text" }
  | { type: "json_object" }
  | { type: "json_schema"; name: string; description?: string; schema: JsonSchema; wireSchema: JsonSchema; strict: boolean };

/** How much a reasoning model may think before answering. */
export type ReasoningEffort = "none" | "minimal" | "low" | "medium" | "high" | "xhigh";

/** Sampling settings for one generation. */
export interface SamplingOptions {
  /** 0 means greedy. */
  temperature: number;
  topP: number;
  /** Unsigned 32-bit seed; undefined means random. */
  seed: number | undefined;
  presencePenalty: number;
  frequencyPenalty: number;
  /** Token id → additive logit bias in −100…100 (−100 bans, +100 forces). */
  logitBias: ReadonlyMap<number, number>;
}

/** A chat request in canonical form. */
export interface ChatRequest {
  model: string;
  messages: readonly ChatMessage[];
  sampling: SamplingOptions;
  /** Upper bound on generated tokens per choice; undefined means up to the context's end. */
  maxTokens: number | undefined;
  stop: readonly string[];
  n: number;
  tools: readonly ToolDefinition[];
  toolChoice: ToolChoice;
  parallelToolCalls: boolean;
  responseFormat: ResponseFormat;
  /** Number of alternatives per token (0–20) when logprobs were asked for; undefined otherwise. */
  topLogprobs: number | undefined;
  reasoningEffort: ReasoningEffort | undefined;
  /** Interactive requests go ahead of background work (batches, indexing) in queues and batches. */
  priority: RequestPriority;
  /**
   * OpenAI's `prompt_cache_key`: names requests that share a prefix. The `prefix-affinity` router
   * sends requests with the same key to the same deployment. It is not sent on to upstreams: some
   * (Azure's older API versions) refuse it as an unknown argument, and it does not change an answer.
   */
  promptCacheKey?: string | undefined;
}

/** Scheduling class of a request. */
export type RequestPriority = "interactive" | "background";

/** Why a choice stopped. */
export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter";

/** One alternative token with its log probability. */
export interface TopLogprob {
  token: string;
  logprob: number;
  bytes: number[] | null;
}

/** The log probability of one sampled token and its most likely alternatives. */
export interface TokenLogprob extends TopLogprob {
  topLogprobs: TopLogprob[];
}

/** Token accounting for one request. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens whose state was reused rather than evaluated. */
  cachedTokens: number;
  reasoningTokens: number;
  /** Of `promptTokens`, those that stand for audio (`input_audio` transcribed; audio seconds on the transcription endpoints). */
  audioInputTokens?: number;
  /** Of `completionTokens`, those that stand for audio (spoken answers). */
  audioOutputTokens?: number;
  /** Seconds of audio transcribed (`/v1/audio/transcriptions` and `/translations`). */
  audioSeconds?: number;
  /** Characters spoken (`/v1/audio/speech`). */
  characters?: number;
  /** Images made (`/v1/images/*`). */
  images?: number;
  /** The size of those images (`1024x1024`), for the images usage page. */
  imageSize?: string;
  /** A cost fixed by the request itself (images are priced per image), which token prices do not change. */
  costUsd?: number;
}

/** The parts a streamed chat generation yields, in order per choice. */
export type ChatStreamPart =
  | { type: "text-delta"; choice: number; text: string; logprobs?: TokenLogprob[] }
  | { type: "tool-call-start"; choice: number; index: number; id: string; name: string }
  | { type: "tool-call-delta"; choice: number; index: number; arguments: string }
  | { type: "finish"; choice: number; finishReason: FinishReason }
  | { type: "usage"; usage: Usage }
  /** Another model took the request over (a fallback); comes before any other part. */
  | { type: "served-by"; model: string };

/** A usage with every count at zero. */
export function emptyUsage(): Usage {
  return { promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0 };
}
