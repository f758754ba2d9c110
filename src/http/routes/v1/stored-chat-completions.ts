import { objectNotFound } from "../../../core/errors.ts";
import { renderList } from "../../../protocol/openai/lists.ts";
import {
  pageMessages,
  renderChatCompletionDeleted,
  renderStoredChatCompletion,
  storedChatMessages,
  type StoredChatRequest,
} from "../../../protocol/openai/stored-chat-completions.ts";
import { readMetadataUpdate } from "../../../protocol/openai/validate.ts";
import type { ObjectStore, StoredChatCompletion } from "../../../storage/object-store.ts";
import { sendJson } from "../../respond.ts";
import type { RequestContext, Route } from "../../router.ts";
import { readMetadataFilters, readPageQuery } from "./paging.ts";

/** What the stored chat completions API needs. */
export interface StoredChatCompletionDeps {
  objects: ObjectStore;
}

/** The caller's project's stored completion named in the path, or a 404 (also for another project's). */
async function completionOr404(objects: ObjectStore, ctx: RequestContext): Promise<StoredChatCompletion> {
  const id = ctx.params.completion_id ?? "";
  const stored = await objects.getChatCompletion(ctx.principal.projectId, id);
  if (stored === undefined) throw objectNotFound("Chat completion", id, "completion_id", "chat_completion_not_found");
  return stored;
}

/**
 * Chat completions made with `store: true` (`GET`/`POST`/`DELETE /v1/chat/completions/{id}`, the
 * list, and each one's request messages), every one owned by the caller's project.
 */
export function storedChatCompletionRoutes(deps: StoredChatCompletionDeps): Route[] {
  const { objects } = deps;
  return [
    {
      method: "GET",
      pattern: "/v1/chat/completions",
      handler: async (ctx) => {
        const page = readPageQuery(ctx.query, "asc");
        const model = ctx.query.get("model");
        const { data, hasMore } = await objects.listChatCompletions(ctx.principal.projectId, {
          ...page,
          model: model === null || model === "" ? undefined : model,
          metadata: readMetadataFilters(ctx.query),
        });
        sendJson(ctx.res, 200, renderList(data.map(renderStoredChatCompletion), hasMore));
      },
    },
    {
      method: "GET",
      pattern: "/v1/chat/completions/:completion_id",
      handler: async (ctx) => sendJson(ctx.res, 200, renderStoredChatCompletion(await completionOr404(objects, ctx))),
    },
    {
      method: "POST",
      pattern: "/v1/chat/completions/:completion_id",
      handler: async (ctx) => {
        const metadata = readMetadataUpdate(await ctx.readJson());
        const stored = await completionOr404(objects, ctx);
        const updated = renderStoredChatCompletion({ ...stored, metadata });
        if (!(await objects.updateChatCompletion(ctx.principal.projectId, stored.id, metadata, JSON.stringify(updated)))) {
          throw objectNotFound("Chat completion", stored.id, "completion_id", "chat_completion_not_found");
        }
        sendJson(ctx.res, 200, updated);
      },
    },
    {
      method: "DELETE",
      pattern: "/v1/chat/completions/:completion_id",
      handler: async (ctx) => {
        const id = ctx.params.completion_id ?? "";
        if (!(await objects.deleteChatCompletion(ctx.principal.projectId, id))) throw objectNotFound("Chat completion", id, "completion_id", "chat_completion_not_found");
        sendJson(ctx.res, 200, renderChatCompletionDeleted(id));
      },
    },
    {
      method: "GET",
      pattern: "/v1/chat/completions/:completion_id/messages",
      handler: async (ctx) => {
        const page = readPageQuery(ctx.query, "asc");
        const stored = await completionOr404(objects, ctx);
        const messages = storedChatMessages(stored.id, JSON.parse(stored.request) as StoredChatRequest);
        const { data, hasMore } = pageMessages(messages, page);
        sendJson(ctx.res, 200, renderList(data, hasMore));
      },
    },
  ];
}
