import { objectNotFound } from "../../../core/errors.ts";
import { unixSeconds } from "../../../core/ids.ts";
import {
  parseCreateFileBatch,
  parseCreateVectorStore,
  parseCreateVectorStoreFile,
  parseSearch,
  parseUpdateFileAttributes,
  parseUpdateVectorStore,
  readStatusFilter,
  renderFileBatch,
  renderFileContentPage,
  renderSearchResults,
  renderVectorStore,
  renderVectorStoreFile,
} from "../../../protocol/openai/vector-stores.ts";
import { renderDeleted } from "../../../protocol/openai/deleted.ts";
import { renderList } from "../../../protocol/openai/lists.ts";
import { storeExpiresAt, type VectorSearchService } from "../../../services/vector-search-service.ts";
import type { VectorStoreService } from "../../../services/vector-store-service.ts";
import type { CursorQuery, FileBatchRecord, VectorStoreFileRecord, VectorStoreRecord, VectorStoreStore } from "../../../storage/vector-store-store.ts";
import { sendJson } from "../../respond.ts";
import type { RequestContext, Route } from "../../router.ts";
import { readPageQuery } from "./paging.ts";

/** What the Vector Stores API needs. */
export interface VectorStoreDeps {
  store: VectorStoreStore;
  service: VectorStoreService;
  search: VectorSearchService;
}

/** OpenAI's list paging for vector stores and their files: `after`, `before`, `limit` (1–100, default 20), `order` (default desc). */
function readCursor(query: URLSearchParams): CursorQuery {
  const page = readPageQuery(query, "desc");
  const before = query.get("before");
  return { ...page, before: before === null || before === "" ? undefined : before };
}

async function storeOr404(deps: VectorStoreDeps, ctx: RequestContext): Promise<VectorStoreRecord> {
  const id = ctx.params.vector_store_id ?? "";
  const store = await deps.store.getStore(ctx.principal.projectId, id);
  if (store === undefined) throw objectNotFound("Vector store", id, "vector_store_id", "vector_store_not_found");
  return store;
}

async function fileOr404(deps: VectorStoreDeps, store: VectorStoreRecord, ctx: RequestContext): Promise<VectorStoreFileRecord> {
  const id = ctx.params.file_id ?? "";
  const file = await deps.store.getFile(store.id, id);
  if (file === undefined) throw objectNotFound("Vector store file", id, "file_id", "file_not_found");
  return file;
}

async function batchOr404(deps: VectorStoreDeps, store: VectorStoreRecord, ctx: RequestContext): Promise<FileBatchRecord> {
  const id = ctx.params.batch_id ?? "";
  const batch = await deps.store.getBatch(store.id, id);
  if (batch === undefined) throw objectNotFound("Vector store file batch", id, "batch_id", "file_batch_not_found");
  return batch;
}

/** Renders stores with their file counts and usage, read in one query. */
async function renderStores(deps: VectorStoreDeps, stores: readonly VectorStoreRecord[]): Promise<(Record<string, unknown> & { id: string })[]> {
  const stats = await deps.store.stats(stores.map((s) => s.id));
  const now = unixSeconds();
  return stores.map((s) => renderVectorStore(s, stats.get(s.id) ?? { counts: { in_progress: 0, completed: 0, failed: 0, cancelled: 0, total: 0 }, usageBytes: 0 }, storeExpiresAt(s), now));
}

async function renderStore(deps: VectorStoreDeps, store: VectorStoreRecord): Promise<Record<string, unknown>> {
  return (await renderStores(deps, [store]))[0] as Record<string, unknown>;
}

/**
 * OpenAI's Vector Stores API (`/v1/vector_stores…`): stores, their files and file batches, parsed
 * content, and hybrid search. Everything belongs to the caller's project; another project's ids
 * answer 404 as if they did not exist.
 */
export function vectorStoreRoutes(deps: VectorStoreDeps): Route[] {
  const base = "/v1/vector_stores/:vector_store_id";
  return [
    {
      method: "POST",
      pattern: "/v1/vector_stores",
      handler: async (ctx) => {
        const body = parseCreateVectorStore(await ctx.readJson());
        const store = await deps.service.create(ctx.principal.projectId, body);
        sendJson(ctx.res, 200, await renderStore(deps, store));
      },
    },
    {
      method: "GET",
      pattern: "/v1/vector_stores",
      handler: async (ctx) => {
        const page = await deps.store.listStores(ctx.principal.projectId, readCursor(ctx.query));
        sendJson(ctx.res, 200, renderList(await renderStores(deps, page.data), page.hasMore));
      },
    },
    {
      method: "GET",
      pattern: base,
      handler: async (ctx) => sendJson(ctx.res, 200, await renderStore(deps, await storeOr404(deps, ctx))),
    },
    {
      method: "POST",
      pattern: base,
      handler: async (ctx) => {
        const store = await storeOr404(deps, ctx);
        const changes = parseUpdateVectorStore(await ctx.readJson());
        await deps.store.updateStore(store.id, changes);
        // Setting an expiry policy restarts its clock, as a modification is activity.
        await deps.store.touch(store.id, unixSeconds());
        sendJson(ctx.res, 200, await renderStore(deps, await storeOr404(deps, ctx)));
      },
    },
    {
      method: "DELETE",
      pattern: base,
      handler: async (ctx) => {
        const store = await storeOr404(deps, ctx);
        if (!(await deps.store.deleteStore(ctx.principal.projectId, store.id))) throw objectNotFound("Vector store", store.id, "vector_store_id", "vector_store_not_found");
        deps.search.drop(store.id);
        sendJson(ctx.res, 200, renderDeleted(store.id, "vector_store.deleted"));
      },
    },
    {
      method: "POST",
      pattern: `${base}/search`,
      handler: async (ctx) => {
        const store = await storeOr404(deps, ctx);
        const body = parseSearch(await ctx.readJson());
        const result = await deps.search.search(
          ctx.principal.projectId,
          {
            vectorStoreIds: [store.id],
            queries: body.queries,
            maxResults: body.maxResults,
            filter: body.filter,
            scoreThreshold: body.scoreThreshold,
            rewriteQuery: body.rewriteQuery,
            weights: { embedding: 1, text: 1 },
          },
          ctx.signal,
        );
        sendJson(ctx.res, 200, renderSearchResults(result));
      },
    },
    {
      method: "POST",
      pattern: `${base}/files`,
      handler: async (ctx) => {
        const store = await storeOr404(deps, ctx);
        const file = parseCreateVectorStoreFile(await ctx.readJson());
        const [record] = await deps.service.attach(store, [file]);
        sendJson(ctx.res, 200, renderVectorStoreFile(record as VectorStoreFileRecord));
      },
    },
    {
      method: "GET",
      pattern: `${base}/files`,
      handler: async (ctx) => {
        const store = await storeOr404(deps, ctx);
        const page = await deps.store.listFiles(store.id, { ...readCursor(ctx.query), status: readStatusFilter(ctx.query) });
        sendJson(ctx.res, 200, renderList(page.data.map(renderVectorStoreFile), page.hasMore));
      },
    },
    {
      method: "GET",
      pattern: `${base}/files/:file_id`,
      handler: async (ctx) => {
        const store = await storeOr404(deps, ctx);
        sendJson(ctx.res, 200, renderVectorStoreFile(await fileOr404(deps, store, ctx)));
      },
    },
    {
      method: "POST",
      pattern: `${base}/files/:file_id`,
      handler: async (ctx) => {
        const store = await storeOr404(deps, ctx);
        const file = await fileOr404(deps, store, ctx);
        const attributes = parseUpdateFileAttributes(await ctx.readJson());
        await deps.store.updateAttributes(store.id, file.fileId, attributes);
        sendJson(ctx.res, 200, renderVectorStoreFile({ ...file, attributes }));
      },
    },
    {
      method: "DELETE",
      pattern: `${base}/files/:file_id`,
      handler: async (ctx) => {
        const store = await storeOr404(deps, ctx);
        const file = await fileOr404(deps, store, ctx);
        if (!(await deps.store.deleteFile(store.id, file.fileId))) throw objectNotFound("Vector store file", file.fileId, "file_id", "file_not_found");
        sendJson(ctx.res, 200, renderDeleted(file.fileId, "vector_store.file.deleted"));
      },
    },
    {
      method: "GET",
      pattern: `${base}/files/:file_id/content`,
      handler: async (ctx) => {
        const store = await storeOr404(deps, ctx);
        const file = await fileOr404(deps, store, ctx);
        const text = await deps.store.content(store.id, file.fileId);
        sendJson(ctx.res, 200, renderFileContentPage(text));
      },
    },
    {
      method: "POST",
      pattern: `${base}/file_batches`,
      handler: async (ctx) => {
        const store = await storeOr404(deps, ctx);
        const files = parseCreateFileBatch(await ctx.readJson());
        const batch = await deps.service.createBatch(store, files);
        sendJson(ctx.res, 200, renderFileBatch(batch, await deps.store.batchCounts(batch.id)));
      },
    },
    {
      method: "GET",
      pattern: `${base}/file_batches/:batch_id`,
      handler: async (ctx) => {
        const store = await storeOr404(deps, ctx);
        const batch = await batchOr404(deps, store, ctx);
        sendJson(ctx.res, 200, renderFileBatch(batch, await deps.store.batchCounts(batch.id)));
      },
    },
    {
      method: "POST",
      pattern: `${base}/file_batches/:batch_id/cancel`,
      handler: async (ctx) => {
        const store = await storeOr404(deps, ctx);
        const batch = await batchOr404(deps, store, ctx);
        // A batch with nothing left to index has nothing to cancel; it keeps its final status.
        const counts = await deps.store.batchCounts(batch.id);
        if (counts.in_progress === 0) {
          sendJson(ctx.res, 200, renderFileBatch(batch, counts));
          return;
        }
        await deps.store.cancelBatch(batch.id);
        sendJson(ctx.res, 200, renderFileBatch({ ...batch, cancelled: true }, await deps.store.batchCounts(batch.id)));
      },
    },
    {
      method: "GET",
      pattern: `${base}/file_batches/:batch_id/files`,
      handler: async (ctx) => {
        const store = await storeOr404(deps, ctx);
        const batch = await batchOr404(deps, store, ctx);
        const page = await deps.store.listFiles(store.id, { ...readCursor(ctx.query), status: readStatusFilter(ctx.query), batchId: batch.id });
        sendJson(ctx.res, 200, renderList(page.data.map(renderVectorStoreFile), page.hasMore));
      },
    },
  ];
}
