/** Canonical, wire-independent types for raw text completion (the legacy Completions API). */
import type { ChatStreamPart, RequestPriority, SamplingOptions, TopLogprob } from "./chat.ts";

/** One prompt: text, or token ids of the model's own vocabulary taken exactly as given. */
export type CompletionPrompt = string | readonly number[];

/** A raw text completion request in canonical form, as the engine runs it. */
export interface TextCompletionRequest {
  model: string;
  /** Each prompt gets its own `n` choices; choice `i` of prompt `p` has index `p * n + i`. */
  prompts: readonly CompletionPrompt[];
  /** Text that follows the completion (fill-in-the-middle); undefined for none. */
  suffix: string | undefined;
  /** Choices generated per prompt. */
  n: number;
  /** Most tokens generated per choice; 0 generates nothing (an echo of the prompt only). */
  maxTokens: number;
  stop: readonly string[];
  sampling: SamplingOptions;
  /** Alternatives per generated token (0–5) when logprobs are wanted; undefined for none. */
  logprobs: number | undefined;
  /** Whether the prompt's own tokens are scored (echo with logprobs); their alternatives are `logprobs` too. */
  promptLogprobs: boolean;
  priority: RequestPriority;
  /**
   * A GBNF grammar (llama.cpp's format, root rule `root`) the generated text must follow; undefined
   * for free text. Internal: no wire format sets it (guard models use it); only the local engine
   * honours it, and other models refuse a request that has one.
   */
  grammar?: string;
  /**
   * Whether control-token text in string prompts (`<|eot_id|>`, `<start_of_turn>`) is read as those
   * tokens, as a model's own prompt template writes them; false or undefined reads it as plain text,
   * so a client's text cannot forge turns. Internal, like `grammar`.
   */
  specialTokens?: boolean;
}

/** The log probability of one prompt token; null for a token nothing precedes. */
export interface PromptTokenLogprob {
  token: string;
  logprob: number | null;
  topLogprobs: TopLogprob[] | null;
}

/**
 * The parts of a raw text completion stream: per choice a `prompt` part first (the prompt as text,
 * and its token logprobs when scored), then text deltas and a finish; one usage part at the end.
 */
export type TextCompletionPart =
  | { type: "prompt"; choice: number; text: string; logprobs?: PromptTokenLogprob[] }
  | Extract<ChatStreamPart, { type: "text-delta" | "finish" | "usage" }>;
