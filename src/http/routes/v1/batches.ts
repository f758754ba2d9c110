import { invalidRequest } from "../../../core/errors.ts";
import { renderBatch } from "../../../protocol/openai/batches.ts";
import { renderList } from "../../../protocol/openai/lists.ts";
import { FieldReader, readMetadata } from "../../../protocol/openai/validate.ts";
import type { BatchWorker } from "../../../jobs/batch-worker.ts";
import { BATCH_ENDPOINTS, type BatchService } from "../../../services/batch-service.ts";
import type { BatchStore } from "../../../storage/batch-store.ts";
import { sendJson } from "../../respond.ts";
import type { Route } from "../../router.ts";
import { readPageQuery } from "./paging.ts";

/** The Batch API's routes: create, list, retrieve, cancel. The worker runs what they queue. */
export function batchRoutes(deps: { service: BatchService; store: BatchStore; worker: BatchWorker }): Route[] {
  const { service, store, worker } = deps;
  return [
    {
      method: "POST",
      pattern: "/v1/batches",
      handler: async (ctx) => {
        const reader = new FieldReader(await ctx.readJson(), "");
        reader.rejectUnknown(new Set(["input_file_id", "endpoint", "completion_window", "metadata", "output_expires_after"]));
        const inputFileId = reader.string("input_file_id", { required: true, nonEmpty: true }) ?? "";
        const endpoint = reader.enumeration("endpoint", BATCH_ENDPOINTS, { required: true }) ?? "/v1/chat/completions";
        reader.enumeration("completion_window", ["24h"] as const, { required: true });
        if (reader.has("output_expires_after")) throw invalidRequest("'output_expires_after' is not supported; batch output files are kept for 30 days.", "output_expires_after", "unsupported_parameter");
        const metadata = readMetadata(reader, "metadata") ?? {};
        const batch = await service.create(ctx.principal, { inputFileId, endpoint, metadata });
        worker.poke();
        sendJson(ctx.res, 200, renderBatch(batch));
      },
    },
    {
      method: "GET",
      pattern: "/v1/batches",
      handler: async (ctx) => {
        const page = readPageQuery(ctx.query, "desc");
        const found = await store.list(ctx.principal.projectId, { after: page.after, limit: page.limit });
        sendJson(ctx.res, 200, renderList(found.data.map(renderBatch), found.hasMore));
      },
    },
    {
      method: "GET",
      pattern: "/v1/batches/:batch_id",
      handler: async (ctx) => {
        sendJson(ctx.res, 200, renderBatch(await service.get(ctx.principal.projectId, ctx.params.batch_id ?? "")));
      },
    },
    {
      method: "POST",
      pattern: "/v1/batches/:batch_id/cancel",
      handler: async (ctx) => {
        const batch = await service.cancel(ctx.principal.projectId, ctx.params.batch_id ?? "");
        worker.poke();
        sendJson(ctx.res, 200, renderBatch(batch));
      },
    },
  ];
}
