import type { ChatStreamPart, FinishReason } from "../../core/chat.ts";
import { parseStreamEvent, UpstreamError } from "../upstream/upstream-error.ts";

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const count = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/** Anthropic's stop reasons in OpenAI's terms. */
export function finishReason(stopReason: unknown): FinishReason {
  switch (stopReason) {
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "refusal":
      return "content_filter";
    default:
      return "stop";
  }
}

/** An Anthropic error type as a retry decision and our status. */
export function anthropicErrorStatus(type: string | null): { status: number; retryable: boolean } {
  switch (type) {
    case "overloaded_error":
    case "api_error":
      return { status: 502, retryable: true };
    case "rate_limit_error":
      return { status: 429, retryable: true };
    default:
      return { status: 502, retryable: false };
  }
}

/**
 * Converts one Anthropic Messages stream, event by event, into stream parts. Content blocks become
 * text deltas or tool calls numbered in order; usage is gathered from `message_start` and
 * `message_delta` and sent on `message_stop`, with cache reads as cached tokens and cache writes
 * counted in the prompt, as OpenAI counts every prompt token.
 */
export function anthropicStreamConverter(deployment: string): (data: string) => ChatStreamPart[] {
  const tools = new Map<number, { index: number; sentArguments: boolean }>();
  let input = 0;
  let cacheRead = 0;
  let cacheWrite = 0;
  let output = 0;
  const readUsage = (u: unknown): void => {
    if (!isObject(u)) return;
    if (u.input_tokens !== undefined) input = count(u.input_tokens);
    if (u.cache_read_input_tokens !== undefined) cacheRead = count(u.cache_read_input_tokens);
    if (u.cache_creation_input_tokens !== undefined) cacheWrite = count(u.cache_creation_input_tokens);
    if (u.output_tokens !== undefined) output = count(u.output_tokens);
  };
  return (data) => {
    const event = parseStreamEvent(deployment, data);
    if (!isObject(event)) return [];
    switch (event.type) {
      case "message_start":
        readUsage(isObject(event.message) ? event.message.usage : undefined);
        return [];
      case "content_block_start": {
        const block = isObject(event.content_block) ? event.content_block : {};
        const at = count(event.index);
        if (block.type === "tool_use") {
          const index = tools.size;
          tools.set(at, { index, sentArguments: false });
          return [{ type: "tool-call-start", choice: 0, index, id: String(block.id ?? `toolu_${index}`), name: String(block.name ?? "") }];
        }
        if (block.type === "text" && typeof block.text === "string" && block.text !== "") return [{ type: "text-delta", choice: 0, text: block.text }];
        return [];
      }
      case "content_block_delta": {
        const delta = isObject(event.delta) ? event.delta : {};
        if (delta.type === "text_delta" && typeof delta.text === "string" && delta.text !== "") return [{ type: "text-delta", choice: 0, text: delta.text }];
        const tool = tools.get(count(event.index));
        if (delta.type === "input_json_delta" && tool !== undefined && typeof delta.partial_json === "string" && delta.partial_json !== "") {
          tool.sentArguments = true;
          return [{ type: "tool-call-delta", choice: 0, index: tool.index, arguments: delta.partial_json }];
        }
        return [];
      }
      case "content_block_stop": {
        // A tool called with no input streams no JSON at all; OpenAI clients expect "{}".
        const tool = tools.get(count(event.index));
        if (tool !== undefined && !tool.sentArguments) {
          tool.sentArguments = true;
          return [{ type: "tool-call-delta", choice: 0, index: tool.index, arguments: "{}" }];
        }
        return [];
      }
      case "message_delta": {
        readUsage(event.usage);
        const delta = isObject(event.delta) ? event.delta : {};
        return delta.stop_reason === undefined || delta.stop_reason === null ? [] : [{ type: "finish", choice: 0, finishReason: finishReason(delta.stop_reason) }];
      }
      case "message_stop":
        return [{ type: "usage", usage: { promptTokens: input + cacheRead + cacheWrite, completionTokens: output, cachedTokens: cacheRead, reasoningTokens: 0 } }];
      case "error": {
        const error = isObject(event.error) ? event.error : {};
        const { status, retryable } = anthropicErrorStatus(typeof error.type === "string" ? error.type : null);
        const message = typeof error.message === "string" ? error.message : "unknown error";
        throw new UpstreamError(status, `The upstream deployment '${deployment}' failed mid-stream: ${message}`, {
          type: status === 429 ? "rate_limit_error" : "server_error",
          code: status === 429 ? "rate_limit_exceeded" : "upstream_error",
          retryable,
        });
      }
      default:
        // ping, and event types added later.
        return [];
    }
  };
}
