import { invalidRequest } from "../../../core/errors.ts";
import { renderList } from "../../../protocol/openai/lists.ts";
import { renderLoggedRequest } from "../../../protocol/openai/request-log.ts";
import { notFound } from "../../../services/access.ts";
import type { RequestLogQuery, RequestLogStore } from "../../../storage/request-log-store.ts";
import { sendJson } from "../../respond.ts";
import type { Route } from "../../router.ts";
import { readLimit } from "./paging.ts";

/** A filter that, when given, must be a non-empty string. */
function textParam(query: URLSearchParams, name: string): string | undefined {
  const value = query.get(name);
  if (value === null) return undefined;
  if (value === "" || value.length > 256) throw invalidRequest(`Invalid '${name}': expected a non-empty string of at most 256 characters.`, name, "invalid_value");
  return value;
}

/** Unix seconds, when given. */
function timeParam(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  if (!/^\d{1,12}$/.test(raw)) throw invalidRequest(`Invalid '${name}': expected Unix seconds.`, name, "invalid_value");
  return Number(raw);
}

/** `status`: an exact code (`404`) or a class (`4xx`, `5xx`). */
function statusParam(query: URLSearchParams): RequestLogQuery["status"] {
  const raw = query.get("status");
  if (raw === null) return undefined;
  if (/^[1-5]\d\d$/.test(raw)) return Number(raw);
  const cls = /^([1-5])xx$/i.exec(raw);
  if (cls?.[1] !== undefined) return { min: Number(cls[1]) * 100, max: Number(cls[1]) * 100 + 99 };
  throw invalidRequest(`Invalid 'status': expected an HTTP status such as 404, or a class such as 4xx or 5xx, but got '${raw}'.`, "status", "invalid_value");
}

/** The request log's admin routes: a newest-first, filtered list and one request's detail (admin keys only, as every `/v1/organization` route). */
export function requestLogRoutes(deps: { store: RequestLogStore }): Route[] {
  const { store } = deps;
  return [
    {
      method: "GET",
      pattern: "/v1/organization/requests",
      handler: async (ctx) => {
        const q = ctx.query;
        const limit = readLimit(q);
        const after = q.get("after");
        const start = timeParam(q, "start_time");
        const end = timeParam(q, "end_time");
        if (start !== undefined && end !== undefined && end <= start) throw invalidRequest("Invalid 'end_time': it must be after 'start_time'.", "end_time", "invalid_value");
        const rows = await store.list({
          after: after === null || after === "" ? undefined : after,
          limit: limit + 1,
          projectId: textParam(q, "project_id"),
          keyId: textParam(q, "api_key_id"),
          model: textParam(q, "model"),
          status: statusParam(q),
          start,
          end,
        });
        sendJson(ctx.res, 200, renderList(rows.slice(0, limit).map((r) => renderLoggedRequest(r)), rows.length > limit));
      },
    },
    {
      method: "GET",
      pattern: "/v1/organization/requests/:request",
      handler: async (ctx) => {
        const id = ctx.params.request ?? "";
        const row = await store.get(id);
        if (row === undefined) throw notFound(`No logged request with id '${id}'.`);
        sendJson(ctx.res, 200, renderLoggedRequest(row, true));
      },
    },
  ];
}
