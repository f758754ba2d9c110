import { invalidRequest } from "../../core/errors.ts";
import { prefixedId } from "../../core/ids.ts";
import type { StoredConversation, StoredItem } from "../../storage/object-store.ts";
import { parseInputItems } from "./responses-parse-input.ts";
import {
  type FunctionCallOutputItem,
  type IncludeValue,
  type InputContentPart,
  type InputMessageItem,
  type AssistantMessageItem,
  type ItemReference,
  type ItemStatus,
  type OutputTextPart,
  type RefusalPart,
  type ResponseInputItem,
  type ResponseOutputItem,
  type ResponseFunctionCall,
} from "./responses-types.ts";
import { FieldReader, readMetadata, type JsonObject } from "./validate.ts";

/** At most this many items may be given at once, on create and on add. */
export const MAX_ITEMS_PER_REQUEST = 20;

/** A user, system or developer message as a conversation keeps it. */
export interface ConversationInputMessage {
  type: "message";
  id: string;
  status: ItemStatus;
  role: InputMessageItem["role"];
  content: InputContentPart[];
}

/** An assistant message as a conversation keeps it (a Responses output message has this form too). */
export interface ConversationAssistantMessage {
  type: "message";
  id: string;
  status: ItemStatus;
  role: "assistant";
  content: (OutputTextPart | RefusalPart)[];
}

/** A function call as a conversation keeps it: the form of a Responses output function call. */
export type ConversationFunctionCall = ResponseFunctionCall;

/** A function call's output as a conversation keeps it. */
export interface ConversationFunctionCallOutput {
  type: "function_call_output";
  id: string;
  call_id: string;
  output: FunctionCallOutputItem["output"];
  status: ItemStatus;
}

/**
 * One conversation item in its stored wire form: exactly what `GET /v1/conversations/{id}/items`
 * lists (the spec's ConversationItem: Message, FunctionToolCallResource, FunctionToolCallOutputResource).
 *
 * Stored format (the `item` column of `conversation_items`, written with {@link storedConversationItem}):
 * the JSON of one of these objects, snake_case as on the wire, always with an `id` and a `status`:
 * - `{"type":"message","id":"msg_…","status":"completed","role":"user"|"system"|"developer","content":[input_text | input_image | input_file parts]}`
 * - `{"type":"message","id":"msg_…","status":"completed","role":"assistant","content":[output_text (with annotations, logprobs) | refusal parts]}`
 * - `{"type":"function_call","id":"fc_…","call_id":"…","name":"…","arguments":"…","status":"completed"}`
 * - `{"type":"function_call_output","id":"fco_…","call_id":"…","output":"…" | [input_text parts],"status":"completed"}`
 *
 * Input items become this form through {@link conversationItemFromInput}. A Responses output item
 * (`ResponseOutputItem`: an assistant message or function call) already has it and is stored as it
 * is. Item ids are the primary key of `conversation_items` across all conversations, so each stored
 * item needs an id no other stored item has (a fresh one from {@link conversationItemId}, or the id
 * of a response's output item, which is fresh).
 */
export type ConversationItem = ConversationInputMessage | ConversationAssistantMessage | ConversationFunctionCall | ConversationFunctionCallOutput;

/** An input item that can be added to a conversation: any but a reference. */
export type ConversationInputItem = Exclude<ResponseInputItem, ItemReference>;

/** A fresh id for an item of the given type, in OpenAI's style: `msg_…`, `fc_…`, `fco_…`. */
export function conversationItemId(type: ConversationInputItem["type"]): string {
  switch (type) {
    case "message":
      return prefixedId("msg_", 48);
    case "function_call":
      return prefixedId("fc_", 48);
    case "function_call_output":
      return prefixedId("fco_", 48);
  }
}

function messageItem(item: InputMessageItem | AssistantMessageItem, id: string): ConversationItem {
  const status = item.status ?? "completed";
  if (item.role === "assistant") return { type: "message", id, status, role: "assistant", content: item.content };
  return { type: "message", id, status, role: item.role, content: item.content };
}

/**
 * Turns a validated input item (from `parseInputItems` or a Responses request's `input`) into its
 * stored wire form with the given id (a fresh one by default; any id the input carried is not
 * used). `status` is kept when the input gave one, else `completed`.
 */
export function conversationItemFromInput(item: ConversationInputItem, id: string = conversationItemId(item.type)): ConversationItem {
  switch (item.type) {
    case "message":
      return messageItem(item, id);
    case "function_call":
      return { type: "function_call", id, call_id: item.call_id, name: item.name, arguments: item.arguments, status: item.status ?? "completed" };
    case "function_call_output":
      return { type: "function_call_output", id, call_id: item.call_id, output: item.output, status: item.status ?? "completed" };
  }
}

/** The row ObjectStore keeps for an item (for `createConversation` and `appendConversationItems`). */
export function storedConversationItem(item: ConversationItem | ResponseOutputItem, createdAt: number): StoredItem {
  return { id: item.id, createdAt, item: JSON.stringify(item) };
}

/**
 * A stored item as the API returns it. Items stored without a `status` get `completed`; the
 * log probabilities of output text are listed only when `include` asks for
 * `message.output_text.logprobs` (otherwise an empty list, as OpenAI answers).
 */
export function renderConversationItem(stored: StoredItem, include: readonly IncludeValue[]): JsonObject & { id: string } {
  const item = JSON.parse(stored.item) as JsonObject;
  const out: JsonObject & { id: string } = { ...item, id: typeof item.id === "string" ? item.id : stored.id };
  if (out.status === undefined && (out.type === "message" || out.type === "function_call" || out.type === "function_call_output")) out.status = "completed";
  if (out.type === "message" && Array.isArray(out.content) && !include.includes("message.output_text.logprobs")) {
    out.content = (out.content as JsonObject[]).map((part) => (part.type === "output_text" ? { ...part, logprobs: [] } : part));
  }
  return out;
}

/** The `conversation` object. */
export function renderConversation(c: StoredConversation): { id: string; object: "conversation"; created_at: number; metadata: Record<string, string> } {
  return { id: c.id, object: "conversation", created_at: c.createdAt, metadata: c.metadata };
}

/** Reads `items` (up to 20 input items, no references) from a body, errors naming `items[i]…`. */
function readItems(reader: FieldReader, required: boolean): ConversationInputItem[] {
  const raw = reader.array("items", { required, maxLength: MAX_ITEMS_PER_REQUEST });
  if (raw === undefined) return [];
  return parseInputItems(raw, "items").map((item, i) => {
    if (item.type === "item_reference") {
      throw invalidRequest(
        "Items of type 'item_reference' cannot be added to a conversation; send the item itself.",
        `items[${i}].type`,
        "invalid_value",
      );
    }
    return item;
  });
}

/** A validated `POST /v1/conversations` body (CreateConversationBody). */
export function parseCreateConversation(body: unknown): { items: ConversationInputItem[]; metadata: Record<string, string> } {
  const reader = new FieldReader(body, "");
  reader.rejectUnknown(new Set(["items", "metadata"]));
  return { items: readItems(reader, false), metadata: readMetadata(reader, "metadata") ?? {} };
}

/** A validated `POST /v1/conversations/{id}/items` body: `items` is required. */
export function parseAddItems(body: unknown): ConversationInputItem[] {
  const reader = new FieldReader(body, "");
  reader.rejectUnknown(new Set(["items"]));
  return readItems(reader, true);
}
