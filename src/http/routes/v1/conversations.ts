import { objectNotFound } from "../../../core/errors.ts";
import { prefixedId, unixSeconds } from "../../../core/ids.ts";
import {
  conversationItemFromInput,
  parseAddItems,
  parseCreateConversation,
  renderConversation,
  renderConversationItem,
  storedConversationItem,
} from "../../../protocol/openai/conversations.ts";
import { renderDeleted } from "../../../protocol/openai/deleted.ts";
import { renderList } from "../../../protocol/openai/lists.ts";
import { readMetadataUpdate } from "../../../protocol/openai/validate.ts";
import type { ObjectStore, StoredConversation } from "../../../storage/object-store.ts";
import { sendJson } from "../../respond.ts";
import type { RequestContext, Route } from "../../router.ts";
import { readInclude, readPageQuery } from "./paging.ts";

/** What the Conversations API needs. */
export interface ConversationDeps {
  objects: ObjectStore;
}

/** The caller's project's conversation named in the path, or a 404 (also for another project's). */
async function conversationOr404(objects: ObjectStore, ctx: RequestContext): Promise<StoredConversation> {
  const id = ctx.params.conversation_id ?? "";
  const conversation = await objects.getConversation(ctx.principal.projectId, id);
  if (conversation === undefined) throw objectNotFound("Conversation", id, "conversation_id", "conversation_not_found");
  return conversation;
}

function itemNotFound(ctx: RequestContext): Error {
  return objectNotFound("Item", ctx.params.item_id ?? "", "item_id", "item_not_found");
}

/**
 * OpenAI's Conversations API (`/v1/conversations…`), every conversation owned by the caller's
 * project. Items are validated as Responses input items and kept in their wire form; the Responses
 * API appends each turn of a response made with `conversation` to the same store.
 */
export function conversationRoutes(deps: ConversationDeps): Route[] {
  const { objects } = deps;
  return [
    {
      method: "POST",
      pattern: "/v1/conversations",
      handler: async (ctx) => {
        const body = parseCreateConversation(await ctx.readJson());
        const createdAt = unixSeconds();
        const conversation: StoredConversation = { id: prefixedId("conv_", 48), projectId: ctx.principal.projectId, createdAt, metadata: body.metadata };
        const items = body.items.map((item) => storedConversationItem(conversationItemFromInput(item), createdAt));
        await objects.createConversation(conversation, items);
        sendJson(ctx.res, 200, renderConversation(conversation));
      },
    },
    {
      method: "GET",
      pattern: "/v1/conversations/:conversation_id",
      handler: async (ctx) => sendJson(ctx.res, 200, renderConversation(await conversationOr404(objects, ctx))),
    },
    {
      method: "POST",
      pattern: "/v1/conversations/:conversation_id",
      handler: async (ctx) => {
        const metadata = readMetadataUpdate(await ctx.readJson());
        const conversation = await conversationOr404(objects, ctx);
        if (!(await objects.updateConversation(ctx.principal.projectId, conversation.id, metadata))) throw objectNotFound("Conversation", conversation.id, "conversation_id", "conversation_not_found");
        sendJson(ctx.res, 200, renderConversation({ ...conversation, metadata }));
      },
    },
    {
      method: "DELETE",
      pattern: "/v1/conversations/:conversation_id",
      handler: async (ctx) => {
        const id = ctx.params.conversation_id ?? "";
        if (!(await objects.deleteConversation(ctx.principal.projectId, id))) throw objectNotFound("Conversation", id, "conversation_id", "conversation_not_found");
        sendJson(ctx.res, 200, renderDeleted(id, "conversation.deleted"));
      },
    },
    {
      method: "GET",
      pattern: "/v1/conversations/:conversation_id/items",
      handler: async (ctx) => {
        const page = readPageQuery(ctx.query, "desc");
        const include = readInclude(ctx.query);
        const conversation = await conversationOr404(objects, ctx);
        const { data, hasMore } = await objects.listConversationItems(conversation.id, page);
        sendJson(ctx.res, 200, renderList(data.map((item) => renderConversationItem(item, include)), hasMore));
      },
    },
    {
      method: "POST",
      pattern: "/v1/conversations/:conversation_id/items",
      handler: async (ctx) => {
        const include = readInclude(ctx.query);
        const added = parseAddItems(await ctx.readJson());
        const conversation = await conversationOr404(objects, ctx);
        const createdAt = unixSeconds();
        const items = added.map((item) => storedConversationItem(conversationItemFromInput(item), createdAt));
        await objects.appendConversationItems(conversation.id, items);
        sendJson(ctx.res, 200, renderList(items.map((item) => renderConversationItem(item, include)), false));
      },
    },
    {
      method: "GET",
      pattern: "/v1/conversations/:conversation_id/items/:item_id",
      handler: async (ctx) => {
        const include = readInclude(ctx.query);
        const conversation = await conversationOr404(objects, ctx);
        const item = await objects.getConversationItem(conversation.id, ctx.params.item_id ?? "");
        if (item === undefined) throw itemNotFound(ctx);
        sendJson(ctx.res, 200, renderConversationItem(item, include));
      },
    },
    {
      method: "DELETE",
      pattern: "/v1/conversations/:conversation_id/items/:item_id",
      handler: async (ctx) => {
        const conversation = await conversationOr404(objects, ctx);
        if (!(await objects.deleteConversationItem(conversation.id, ctx.params.item_id ?? ""))) throw itemNotFound(ctx);
        sendJson(ctx.res, 200, renderConversation(conversation));
      },
    },
  ];
}
