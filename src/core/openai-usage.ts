import type { Usage } from "./chat.ts";
import { SseDataDecoder } from "./sse-reader.ts";

// In core, not protocol/: providers, the forward route and batches all read OpenAI usage JSON,
// and providers sit below protocol.

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const n = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/**
 * A usage object of any OpenAI endpoint in canonical form: chat and completions
 * (`prompt_tokens`/`completion_tokens`), embeddings (`prompt_tokens` only) and Responses
 * (`input_tokens`/`output_tokens`, with their details). Missing counts are 0.
 */
export function canonicalUsage(raw: unknown): Usage | undefined {
  if (!isObject(raw)) return undefined;
  // Transcriptions billed by duration: the seconds, counted as prompt tokens as the local recognizer's are.
  if (raw.type === "duration") return { promptTokens: Math.ceil(n(raw.seconds)), completionTokens: 0, cachedTokens: 0, reasoningTokens: 0, audioSeconds: n(raw.seconds) };
  if ("input_tokens" in raw || "output_tokens" in raw) {
    // Realtime and transcriptions spell the details `input_token_details` / `output_token_details`.
    const inDetails = isObject(raw.input_tokens_details) ? raw.input_tokens_details : isObject(raw.input_token_details) ? raw.input_token_details : {};
    const outDetails = isObject(raw.output_tokens_details) ? raw.output_tokens_details : isObject(raw.output_token_details) ? raw.output_token_details : {};
    const usage: Usage = { promptTokens: n(raw.input_tokens), completionTokens: n(raw.output_tokens), cachedTokens: n(inDetails.cached_tokens), reasoningTokens: n(outDetails.reasoning_tokens) };
    // Transcriptions and speech billed by tokens say how many stand for audio.
    if (n(inDetails.audio_tokens) > 0) usage.audioInputTokens = n(inDetails.audio_tokens);
    if (n(outDetails.audio_tokens) > 0) usage.audioOutputTokens = n(outDetails.audio_tokens);
    return usage;
  }
  const inDetails = isObject(raw.prompt_tokens_details) ? raw.prompt_tokens_details : {};
  const outDetails = isObject(raw.completion_tokens_details) ? raw.completion_tokens_details : {};
  return { promptTokens: n(raw.prompt_tokens), completionTokens: n(raw.completion_tokens), cachedTokens: n(inDetails.cached_tokens), reasoningTokens: n(outDetails.reasoning_tokens) };
}

/** The usage in a whole JSON answer (top-level `usage`), if any. */
export function usageOfJson(text: string): Usage | undefined {
  try {
    const body: unknown = JSON.parse(text);
    return isObject(body) ? canonicalUsage(body.usage) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Watches a relayed SSE stream for usage without holding it up: the last `usage` seen in an
 * event's data, at the top level (chat, completions) or in a Responses event's `response`.
 */
export class SseUsageScanner {
  readonly #events = new SseDataDecoder();
  usage: Usage | undefined;

  push(chunk: Uint8Array): void {
    for (const data of this.#events.push(chunk)) {
      // Cheap test first: most events carry no usage.
      if (!data.includes('"usage"')) continue;
      try {
        const frame: unknown = JSON.parse(data);
        if (!isObject(frame)) continue;
        const found = canonicalUsage(frame.usage) ?? (isObject(frame.response) ? canonicalUsage(frame.response.usage) : undefined);
        if (found !== undefined) this.usage = found;
      } catch {
        // Not JSON: not ours to judge; the client gets it as is.
      }
    }
  }
}
