import { canonicalUsage } from "../../core/openai-usage.ts";
import type { ChatStreamPart, FinishReason, TokenLogprob } from "../../core/chat.ts";

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

function finishReason(raw: unknown): FinishReason {
  switch (raw) {
    case "length":
      return "length";
    case "tool_calls":
    case "function_call":
      return "tool_calls";
    case "content_filter":
      return "content_filter";
    default:
      return "stop";
  }
}

function logprobs(raw: unknown): TokenLogprob[] | undefined {
  if (!isObject(raw) || !Array.isArray(raw.content)) return undefined;
  return raw.content.filter(isObject).map((e) => ({
    token: String(e.token ?? ""),
    logprob: Number(e.logprob ?? 0),
    bytes: Array.isArray(e.bytes) ? (e.bytes as number[]) : null,
    topLogprobs: Array.isArray(e.top_logprobs)
      ? e.top_logprobs.filter(isObject).map((t) => ({ token: String(t.token ?? ""), logprob: Number(t.logprob ?? 0), bytes: Array.isArray(t.bytes) ? (t.bytes as number[]) : null }))
      : [],
  }));
}

/** The usage part of an OpenAI usage object. */
export function usagePart(raw: unknown): ChatStreamPart | undefined {
  const usage = canonicalUsage(raw);
  return usage === undefined ? undefined : { type: "usage", usage };
}

/**
 * Converts one `chat.completion.chunk` from an OpenAI-compatible upstream into stream parts. Tool-call
 * deltas keep their `index`; a delta with an `id` starts a call.
 */
export function chunkToParts(chunk: unknown): ChatStreamPart[] {
  if (!isObject(chunk)) return [];
  const parts: ChatStreamPart[] = [];
  for (const c of Array.isArray(chunk.choices) ? chunk.choices.filter(isObject) : []) {
    const choice = Number(c.index ?? 0);
    const delta = isObject(c.delta) ? c.delta : {};
    const lp = logprobs(c.logprobs);
    if (typeof delta.content === "string" && delta.content !== "") {
      parts.push(lp ? { type: "text-delta", choice, text: delta.content, logprobs: lp } : { type: "text-delta", choice, text: delta.content });
    }
    for (const call of Array.isArray(delta.tool_calls) ? delta.tool_calls.filter(isObject) : []) {
      const index = Number(call.index ?? 0);
      const fn = isObject(call.function) ? call.function : {};
      if (typeof call.id === "string") parts.push({ type: "tool-call-start", choice, index, id: call.id, name: String(fn.name ?? "") });
      if (typeof fn.arguments === "string" && fn.arguments !== "") parts.push({ type: "tool-call-delta", choice, index, arguments: fn.arguments });
    }
    if (c.finish_reason !== null && c.finish_reason !== undefined) parts.push({ type: "finish", choice, finishReason: finishReason(c.finish_reason) });
  }
  const usage = usagePart(chunk.usage);
  if (usage) parts.push(usage);
  return parts;
}
