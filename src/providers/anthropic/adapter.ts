import { unsupportedEndpoint, type ForwardEndpoint } from "../provider.ts";
import type { UpstreamAdapter } from "../upstream/adapter.ts";
import { mapUpstreamError } from "../upstream/upstream-error.ts";
import { toAnthropicBody } from "./convert-request.ts";
import { anthropicStreamConverter } from "./convert-stream.ts";

/** The Messages API version this adapter speaks. */
export const ANTHROPIC_VERSION = "2023-06-01";

/** Parameters with no Anthropic equivalent. */
const LACKING = new Set(["n", "seed", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "response_format", "reasoning_effort"]);

/** Anthropic has none of OpenAI's other endpoints: the router never picks it for them. */
const NO_ENDPOINTS: ReadonlySet<ForwardEndpoint> = new Set();

/** Reads Anthropic's `{"type":"error","error":{"type","message"}}` envelope. */
function anthropicError(text: string): { type: string | null; message: string | null } {
  try {
    const parsed = JSON.parse(text) as { error?: { type?: unknown; message?: unknown } };
    const e = parsed.error ?? {};
    return { type: typeof e.type === "string" ? e.type : null, message: typeof e.message === "string" ? e.message : null };
  } catch {
    return { type: null, message: null };
  }
}

/** Anthropic Messages (`POST {baseUrl}/messages`, `x-api-key`, `anthropic-version`). */
export const anthropicAdapter: UpstreamAdapter = {
  name: "anthropic",
  unsupported(request, used) {
    const out = [];
    for (const p of used) {
      if (LACKING.has(p.name)) out.push(p);
      else if (p.name === "temperature" && request.sampling.temperature > 1) out.push({ ...p, detail: "Anthropic accepts temperatures from 0 to 1" });
    }
    return out;
  },
  streamCall(target, request, dropped) {
    const headers: Record<string, string> = { "content-type": "application/json", accept: "text/event-stream", "anthropic-version": ANTHROPIC_VERSION };
    if (target.apiKey) headers["x-api-key"] = target.apiKey;
    const body = toAnthropicBody(request, target.model, target.defaultMaxTokens, dropped);
    return { url: `${target.baseUrl.replace(/\/+$/, "")}/messages`, headers, body: JSON.stringify(body) };
  },
  streamConverter: (target) => anthropicStreamConverter(target.id),
  forwards: NO_ENDPOINTS,
  forwardCall(target, endpoint) {
    throw unsupportedEndpoint(target.id, endpoint, "(an Anthropic upstream speaks only chat)");
  },
  embeddingsCall(target) {
    throw unsupportedEndpoint(target.id, "/embeddings", "(an Anthropic upstream speaks only chat)");
  },
  embeddingsFrom(target) {
    throw unsupportedEndpoint(target.id, "/embeddings", "(an Anthropic upstream speaks only chat)");
  },
  errorFrom(target, status, headers, text) {
    const e = anthropicError(text);
    // Anthropic says "prompt is too long: N tokens > M maximum" with a plain 400.
    const tooLong = status === 400 && e.message !== null && /prompt is too long|context window|too many tokens/i.test(e.message);
    return mapUpstreamError(target.id, status, headers, {
      message: e.message,
      code: tooLong ? "context_length_exceeded" : status === 429 ? "rate_limit_exceeded" : null,
      param: tooLong ? "messages" : null,
    });
  },
};
