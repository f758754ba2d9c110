import { invalidRequest } from "../../core/errors.ts";
import type { EmbeddingInput, EmbedResult } from "../../providers/provider.ts";
import { describeType, FieldReader } from "./validate.ts";
import { float32Bytes } from "../../core/vectors.ts";

/** OpenAI's limits: inputs per request, and tokens over all inputs of one request. */
export const MAX_EMBEDDING_INPUTS = 2048;
export const MAX_EMBEDDING_REQUEST_TOKENS = 300_000;

const KNOWN_FIELDS: ReadonlySet<string> = new Set(["input", "model", "encoding_format", "dimensions", "user"]);

/** `POST /v1/embeddings`, validated against `CreateEmbeddingRequest`. */
export interface EmbeddingRequest {
  model: string;
  /** One entry per embedding asked for, in order: text, or token ids. */
  inputs: EmbeddingInput[];
  encodingFormat: "float" | "base64";
  dimensions: number | undefined;
  user: string | undefined;
}

function inputError(message: string, code: string): never {
  throw invalidRequest(message, "input", code);
}

function checkTokenIds(values: readonly unknown[], where: string): number[] {
  values.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isInteger(v)) {
      inputError(`Invalid type for '${where}[${i}]': expected an integer token id, but got ${describeType(v)} instead.`, "invalid_type");
    }
  });
  return values as number[];
}

function checkLength(values: readonly unknown[], where: string): void {
  if (values.length === 0) inputError(`Invalid '${where}': empty array. Expected an array with minimum length 1, but got an empty array instead.`, "empty_array");
  if (values.length > MAX_EMBEDDING_INPUTS) {
    inputError(`Invalid '${where}': array too long. Expected an array with maximum length ${MAX_EMBEDDING_INPUTS}, but got an array with length ${values.length} instead.`, "array_above_max_length");
  }
}

/**
 * `input` as the spec's four forms: a string, an array of strings, an array of token ids (one
 * input), or an array of token-id arrays. Every problem is a 400 with `param: "input"`.
 */
function readInputs(value: unknown): EmbeddingInput[] {
  if (typeof value === "string") {
    if (value === "") inputError("Invalid 'input': empty string. Expected a non-empty string.", "empty_string");
    return [value];
  }
  if (!Array.isArray(value)) {
    inputError(`Invalid type for 'input': expected a string or an array of strings, integers or integer arrays, but got ${describeType(value)} instead.`, "invalid_type");
  }
  checkLength(value, "input");
  const first: unknown = value[0];
  if (typeof first === "number") return [checkTokenIds(value, "input")];
  if (typeof first === "string") {
    return value.map((v: unknown, i) => {
      if (typeof v !== "string") inputError(`Invalid type for 'input[${i}]': expected a string, but got ${describeType(v)} instead.`, "invalid_type");
      if (v === "") inputError(`Invalid 'input[${i}]': empty string. Expected a non-empty string.`, "empty_string");
      return v;
    });
  }
  if (Array.isArray(first)) {
    let total = 0;
    const inputs = value.map((v: unknown, i) => {
      if (!Array.isArray(v)) inputError(`Invalid type for 'input[${i}]': expected an array of integers, but got ${describeType(v)} instead.`, "invalid_type");
      if (v.length === 0) inputError(`Invalid 'input[${i}]': empty array. Expected an array with minimum length 1, but got an empty array instead.`, "empty_array");
      total += v.length;
      return checkTokenIds(v, `input[${i}]`);
    });
    if (total > MAX_EMBEDDING_REQUEST_TOKENS) inputError(`Requested ${total} tokens, max ${MAX_EMBEDDING_REQUEST_TOKENS} tokens per request.`, "max_tokens_per_request");
    return inputs;
  }
  inputError(`Invalid type for 'input[0]': expected a string, an integer or an array of integers, but got ${describeType(first)} instead.`, "invalid_type");
}

/**
 * Validates a `CreateEmbeddingRequest` body: `model` and `input` required, `encoding_format`
 * `float` (default) or `base64`, `dimensions` an integer ≥ 1 (the model checks its own maximum),
 * `user` a string, and nothing else. Text totals over 300,000 tokens are refused by the model,
 * which alone can count them; token-id totals are checked here.
 */
export function parseEmbeddingRequest(body: unknown): EmbeddingRequest {
  const reader = new FieldReader(body, "");
  reader.rejectUnknown(KNOWN_FIELDS);
  const model = reader.string("model", { required: true, nonEmpty: true });
  const inputs = readInputs(reader.required("input"));
  return {
    model,
    inputs,
    encodingFormat: reader.enumeration("encoding_format", ["float", "base64"] as const) ?? "float",
    dimensions: reader.number("dimensions", { integer: true, min: 1 }),
    user: reader.string("user"),
  };
}

/** A vector as base64 of its little-endian float32 bytes, as OpenAI sends `encoding_format: "base64"`. */
export function encodeBase64(vector: Float32Array): string {
  return float32Bytes(vector).toString("base64");
}

/** The `CreateEmbeddingResponse` body for vectors in input order; usage counts prompt tokens only. */
export function renderEmbeddingResponse(model: string, result: EmbedResult, encodingFormat: "float" | "base64"): Record<string, unknown> {
  return {
    object: "list",
    data: result.vectors.map((vector, index) => ({
      object: "embedding",
      index,
      embedding: encodingFormat === "base64" ? encodeBase64(vector) : Array.from(vector),
    })),
    model,
    usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
  };
}
