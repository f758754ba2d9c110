/** Canonical, wire-independent types for chat generation. Nothing here knows about JSON or HTTP. */

/** One message of a conversation, already validated and flattened to text. */
export type ChatMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string }
  | { role: "assistant"; content: string; toolCalls: readonly ToolCall[] }
  | { role: "tool"; content: string; toolCallId: string };

/** A function call the assistant made earlier in the conversation. */
export interface ToolCall {
  id: string;
  name: string;
  /** JSON text, as the model produced it. */
  arguments: string;
}

/** Sampling settings for one generation. */
export interface SamplingOptions {
  /** 0 means greedy. */
  temperature: number;
  topP: number;
  /** Unsigned 32-bit seed; undefined means random. */
  seed: number | undefined;
  presencePenalty: number;
  frequencyPenalty: number;
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
}

/** Why a choice stopped. */
export type FinishReason = "stop" | "length";

/** Token accounting for one request. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens whose state was reused rather than evaluated. */
  cachedTokens: number;
  reasoningTokens: number;
}

/** The parts a streamed chat generation yields, in order per choice. */
export type ChatStreamPart =
  | { type: "text-delta"; choice: number; text: string }
  | { type: "finish"; choice: number; finishReason: FinishReason }
  | { type: "usage"; usage: Usage };

/** A usage with every count at zero. */
export function emptyUsage(): Usage {
  return { promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0 };
}
