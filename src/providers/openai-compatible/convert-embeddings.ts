import { countTokens } from "gpt-tokenizer";
import { ApiError } from "../../core/errors.ts";
// A pure function (no engine code): vectors are normalised the same way for every provider.
import { normalise } from "../../core/vectors.ts";
import type { EmbeddingInput, EmbedResult } from "../provider.ts";
import type { EmbeddingsAnswerRequest } from "../upstream/adapter.ts";
import type { WireBody } from "./convert-request.ts";

/** An OpenAI `/embeddings` body for the upstream model name, asking for float vectors. */
export function toOpenAiEmbeddingsBody(upstreamModel: string, inputs: readonly EmbeddingInput[], dimensions: number | undefined): WireBody {
  return {
    model: upstreamModel,
    input: inputs,
    encoding_format: "float",
    ...(dimensions !== undefined ? { dimensions } : {}),
  };
}

/**
 * Reads an OpenAI `/embeddings` answer from `deployment`. Vectors come back in input order and unit
 * length; an upstream that ignores `dimensions` and sends longer vectors has them truncated here, one
 * that sends shorter ones is a 400 `dimensions`. Anything else malformed is a 502. Prompt tokens are
 * counted locally when the upstream reports none.
 */
export function fromOpenAiEmbeddings(deployment: string, text: string, request: EmbeddingsAnswerRequest): EmbedResult {
  const { inputs } = request;
  const malformed = (what: string): ApiError =>
    new ApiError(502, `The upstream deployment '${deployment}' sent a malformed embeddings answer: ${what}.`, { type: "server_error", code: "upstream_error" });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed("not JSON");
  }
  const data = (parsed as { data?: unknown } | null)?.data;
  if (!Array.isArray(data) || data.length !== inputs.length) throw malformed(`expected ${inputs.length} embeddings`);
  const vectors: (Float32Array | undefined)[] = new Array<Float32Array | undefined>(inputs.length);
  let length: number | undefined;
  data.forEach((item: unknown, position) => {
    const { index = position, embedding } = (item ?? {}) as { index?: unknown; embedding?: unknown };
    if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= inputs.length || vectors[index] !== undefined) throw malformed("bad or repeated index");
    if (!Array.isArray(embedding) || embedding.length === 0 || !embedding.every((v: unknown) => typeof v === "number" && Number.isFinite(v))) {
      throw malformed("an embedding is not a list of numbers");
    }
    if (length !== undefined && embedding.length !== length) throw malformed("embeddings of different lengths");
    length = embedding.length;
    const dimensions = request.dimensions ?? embedding.length;
    if (embedding.length < dimensions) {
      throw new ApiError(400, `The model '${request.model}' gives ${embedding.length}-dimension embeddings, fewer than 'dimensions' (${dimensions}).`, {
        type: "invalid_request_error",
        code: "invalid_value",
        param: "dimensions",
      });
    }
    vectors[index] = normalise(embedding as number[], dimensions);
  });
  const usage = (parsed as { usage?: { prompt_tokens?: unknown } }).usage;
  const promptTokens = typeof usage?.prompt_tokens === "number" ? usage.prompt_tokens : inputs.reduce((sum, input) => sum + (typeof input === "string" ? countTokens(input) : input.length), 0);
  return { vectors: vectors as Float32Array[], promptTokens };
}
