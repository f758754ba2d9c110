import type { Page, PageQuery, StoredChatCompletion } from "../../storage/object-store.ts";
import type { JsonObject } from "./validate.ts";

/**
 * What a stored chat completion keeps as its `request` (JSON): the request's `messages` exactly as
 * the client sent them (after validation), and the request's `metadata` (null when none was given).
 * The completion itself is kept as the `chat.completion` object, with `metadata` added.
 */
export interface StoredChatRequest {
  messages: unknown[];
  metadata: Record<string, string> | null;
}

/** A content part as `content_parts` lists it: text, or an image in the `image_url` form. */
export type StoredContentPart = { type: "text"; text: string } | { type: "image_url"; image_url: JsonObject };

/**
 * One message of `GET /v1/chat/completions/{id}/messages`: the spec's ChatCompletionMessageList
 * item (a response message plus `id` and `content_parts`), with the role the message had.
 */
export interface StoredChatMessage {
  id: string;
  role: string;
  /** The text: the string as sent, or the text parts joined; null when there is none. */
  content: string | null;
  refusal: string | null;
  name: string | null;
  /** The parts when content was sent as an array (text and images); otherwise null. */
  content_parts: StoredContentPart[] | null;
  tool_calls?: unknown[];
  function_call?: unknown;
  tool_call_id?: string;
}

function asObject(value: unknown): JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonObject) : {};
}

function renderMessage(raw: unknown, id: string): StoredChatMessage {
  const m = asObject(raw);
  const content = m.content;
  let text: string | null = null;
  let refusal = typeof m.refusal === "string" ? m.refusal : null;
  let parts: StoredContentPart[] | null = null;
  if (typeof content === "string") {
    text = content;
  } else if (Array.isArray(content)) {
    parts = [];
    for (const value of content) {
      const part = asObject(value);
      if (part.type === "text" && typeof part.text === "string") {
        text = (text ?? "") + part.text;
        parts.push({ type: "text", text: part.text });
      } else if (part.type === "refusal" && typeof part.refusal === "string") {
        refusal = (refusal ?? "") + part.refusal;
      } else if (part.type === "image_url") {
        parts.push({ type: "image_url", image_url: asObject(part.image_url) });
      } else if (part.type === "image" && typeof part.image === "string") {
        // The flat form some providers accept, listed in OpenAI's form.
        parts.push({ type: "image_url", image_url: { url: part.image, ...(typeof part.detail === "string" ? { detail: part.detail } : {}) } });
      }
    }
  }
  const out: StoredChatMessage = {
    id,
    role: typeof m.role === "string" ? m.role : "user",
    content: text,
    refusal,
    name: typeof m.name === "string" ? m.name : null,
    content_parts: parts,
  };
  if (Array.isArray(m.tool_calls)) out.tool_calls = m.tool_calls;
  if (m.function_call !== undefined && m.function_call !== null) out.function_call = m.function_call;
  if (typeof m.tool_call_id === "string") out.tool_call_id = m.tool_call_id;
  return out;
}

/** The stored request's messages, each with its id: `<completion id>-<index>`. */
export function storedChatMessages(completionId: string, request: StoredChatRequest): StoredChatMessage[] {
  return request.messages.map((m, i) => renderMessage(m, `${completionId}-${i}`));
}

/** A page of messages in request order (`asc`) or reversed; an unknown `after` gives an empty page. */
export function pageMessages(messages: readonly StoredChatMessage[], q: PageQuery): Page<StoredChatMessage> {
  const ordered = q.order === "asc" ? [...messages] : [...messages].reverse();
  let start = 0;
  if (q.after !== undefined) {
    const at = ordered.findIndex((m) => m.id === q.after);
    if (at === -1) return { data: [], hasMore: false };
    start = at + 1;
  }
  const data = ordered.slice(start, start + q.limit);
  return { data, hasMore: start + q.limit < ordered.length };
}

/** The stored `chat.completion` object, with its current metadata. */
export function renderStoredChatCompletion(stored: StoredChatCompletion): Record<string, unknown> & { id: string } {
  return { ...(JSON.parse(stored.completion) as Record<string, unknown>), id: stored.id, metadata: stored.metadata };
}

/** The answer to deleting a stored chat completion (`object` first, as OpenAI's is). */
export function renderChatCompletionDeleted(id: string): { object: "chat.completion.deleted"; id: string; deleted: true } {
  return { object: "chat.completion.deleted", id, deleted: true };
}
