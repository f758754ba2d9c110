import type { CompletionPrompt, TextCompletionRequest } from "../../core/completion.ts";
import { invalidRequest } from "../../core/errors.ts";
import { describeType, FieldReader } from "./validate.ts";
import { readSampling } from "./sampling.ts";
import { readStreamOptions } from "./stream-options.ts";

/** A validated `POST /v1/completions` body (`CreateCompletionRequest`). */
export interface ParsedCompletionRequest {
  /** What the engine runs: `n` here is `best_of`, the candidates generated per prompt. */
  request: TextCompletionRequest;
  /** Choices returned per prompt: the `n` best of `best_of`. */
  n: number;
  bestOf: number;
  echo: boolean;
  /** Alternatives per token the client asked for (0–5); undefined for no logprobs. */
  logprobs: number | undefined;
  stream: boolean;
  includeUsage: boolean;
  includeObfuscation: boolean;
}

/** Every field of `CreateCompletionRequest`, all honoured. */
export const COMPLETION_FIELDS: readonly string[] = [
  "model", "prompt", "best_of", "echo", "frequency_penalty", "logit_bias", "logprobs", "max_tokens", "n",
  "presence_penalty", "seed", "stop", "stream", "stream_options", "suffix", "temperature", "top_p", "user",
];

const KNOWN = new Set(COMPLETION_FIELDS);
/** OpenAI's default when `max_tokens` is not given. */
export const DEFAULT_COMPLETION_MAX_TOKENS = 16;

function promptError(message: string, code: string): never {
  throw invalidRequest(message, "prompt", code);
}

function tokenIds(values: readonly unknown[], where: string): number[] {
  values.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
      promptError(`Invalid type for '${where}[${i}]': expected a token id (a non-negative integer), but got ${describeType(v)}${typeof v === "number" ? ` ${v}` : ""} instead.`, "invalid_type");
    }
  });
  return values as number[];
}

/**
 * `prompt` in the spec's four forms: a string, an array of strings, an array of token ids (one
 * prompt), or an array of token-id arrays. Absent or null is OpenAI's default, a new document: the
 * empty string (the model's BOS token starts it). Every problem is a 400 with `param: "prompt"`.
 */
function readPrompts(value: unknown): CompletionPrompt[] {
  if (value === undefined || value === null) return [""];
  if (typeof value === "string") return [value];
  if (!Array.isArray(value)) promptError(`Invalid type for 'prompt': expected a string, an array of strings, an array of integers or an array of integer arrays, but got ${describeType(value)} instead.`, "invalid_type");
  if (value.length === 0) promptError("Invalid 'prompt': empty array. Expected an array with minimum length 1, but got an empty array instead.", "empty_array");
  const first: unknown = value[0];
  if (typeof first === "number") return [tokenIds(value, "prompt")];
  if (typeof first === "string") {
    return value.map((v: unknown, i) => {
      if (typeof v !== "string") promptError(`Invalid type for 'prompt[${i}]': expected a string, but got ${describeType(v)} instead.`, "invalid_type");
      return v;
    });
  }
  if (Array.isArray(first)) {
    return value.map((v: unknown, i) => {
      if (!Array.isArray(v)) promptError(`Invalid type for 'prompt[${i}]': expected an array of integers, but got ${describeType(v)} instead.`, "invalid_type");
      if (v.length === 0) promptError(`Invalid 'prompt[${i}]': empty array. Expected an array with minimum length 1, but got an empty array instead.`, "empty_array");
      return tokenIds(v, `prompt[${i}]`);
    });
  }
  promptError(`Invalid type for 'prompt[0]': expected a string, an integer or an array of integers, but got ${describeType(first)} instead.`, "invalid_type");
}

/** `stop`: a string or up to 4 non-empty strings. */
function readStop(reader: FieldReader): string[] {
  const value = reader.obj.stop;
  if (value === undefined || value === null) return [];
  const stops = typeof value === "string" ? [value] : (reader.array("stop", { minLength: 1, maxLength: 4 }) ?? []);
  return stops.map((s, i) => {
    const param = typeof value === "string" ? "stop" : `stop[${i}]`;
    if (typeof s !== "string") throw invalidRequest(`Invalid type for '${param}': expected a string, but got ${describeType(s)} instead.`, param, "invalid_type");
    if (s === "") throw invalidRequest(`Invalid '${param}': empty string. Stop sequences must not be empty.`, param, "empty_string");
    return s;
  });
}



/**
 * Validates a `CreateCompletionRequest` body. Every field is honoured; values outside the spec, and
 * combinations OpenAI refuses (`best_of` below `n`, `best_of` above `n` with `stream`, `echo` with
 * `suffix`), are 400s naming the param. Whether the model can take `suffix` (FIM tokens) and the
 * prompt's token ids is for the model to say.
 */
export function parseCompletionRequest(body: unknown): ParsedCompletionRequest {
  const reader = new FieldReader(body, "");
  reader.rejectUnknown(KNOWN);
  const model = reader.string("model", { required: true, nonEmpty: true });
  if (!reader.has("prompt") && reader.obj.prompt !== null) reader.required("prompt");
  const prompts = readPrompts(reader.obj.prompt);

  const stream = reader.boolean("stream") ?? false;
  const { includeUsage, includeObfuscation } = readStreamOptions(reader, stream, true);

  const n = reader.number("n", { integer: true, min: 1, max: 128 }) ?? 1;
  const bestOf = reader.number("best_of", { integer: true, min: 0, max: 20 }) ?? n;
  if (bestOf < n) throw invalidRequest(`'best_of' (${bestOf}) must be at least 'n' (${n}).`, "best_of", "invalid_value");
  if (stream && bestOf > n) throw invalidRequest("'best_of' above 'n' cannot be streamed: the best choices are known only once all are done.", "best_of", "invalid_value");

  const echo = reader.boolean("echo") ?? false;
  const rawSuffix = reader.string("suffix");
  // An empty suffix means no text follows: plain completion.
  const suffix = rawSuffix === "" ? undefined : rawSuffix;
  if (echo && suffix !== undefined) throw invalidRequest("'echo' cannot be combined with 'suffix'.", "suffix", "invalid_value");
  const logprobs = reader.number("logprobs", { integer: true, min: 0, max: 5 });
  const maxTokens = reader.number("max_tokens", { integer: true, min: 0 }) ?? DEFAULT_COMPLETION_MAX_TOKENS;
  const seed = reader.number("seed", { integer: true });
  reader.string("user");

  const request: TextCompletionRequest = {
    model,
    prompts,
    suffix,
    n: bestOf,
    maxTokens,
    stop: readStop(reader),
    sampling: readSampling(reader, seed),
    // best_of ranks candidates by their tokens' mean logprob, so they are computed even when not shown.
    logprobs: logprobs ?? (bestOf > n ? 0 : undefined),
    promptLogprobs: echo && logprobs !== undefined,
    priority: "interactive",
  };
  return { request, n, bestOf, echo, logprobs, stream, includeUsage, includeObfuscation };
}
