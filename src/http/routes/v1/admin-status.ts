import { invalidRequest } from "../../../core/errors.ts";
import { unixSeconds } from "../../../core/ids.ts";
import { renderRequestStats, renderServerStatus } from "../../../protocol/openai/admin-status.ts";
import type { RequestStats } from "../../../services/request-stats.ts";
import type { ServerStatusService } from "../../../services/server-status.ts";
import { VERSION } from "../../../version.ts";
import { sendJson } from "../../respond.ts";
import type { Route } from "../../router.ts";
import { BUCKETS, timeParam } from "./organization.ts";

/** At most this many buckets per statistics request (a month of hours, a day of minutes). */
const MAX_BUCKETS = 1500;

/** What the status routes need. */
export interface AdminStatusDeps {
  status: ServerStatusService;
  stats: RequestStats;
  /** The server's state as `/ready` reports it. */
  state: () => string;
}

/**
 * Modelport's own admin endpoints beside OpenAI's: `GET /v1/organization/status` (models, their
 * live load, upstream deployments and breakers, downloads under way) and
 * `GET /v1/organization/request_stats` (requests, errors, latency and time-to-first-token
 * percentiles per time bucket, from the request log). Admin key only, as every `/v1/organization`.
 */
export function adminStatusRoutes(deps: AdminStatusDeps): Route[] {
  return [
    {
      method: "GET",
      pattern: "/v1/organization/status",
      handler: async (ctx) => {
        sendJson(ctx.res, 200, renderServerStatus(await deps.status.read(), VERSION, deps.state(), unixSeconds()));
      },
    },
    {
      method: "GET",
      pattern: "/v1/organization/request_stats",
      handler: async (ctx) => {
        const start = timeParam(ctx, "start_time", undefined);
        const end = timeParam(ctx, "end_time", unixSeconds() + 1);
        if (end <= start) throw invalidRequest("'end_time' must be after 'start_time'.", "end_time", "invalid_value");
        const widthName = ctx.query.get("bucket_width") ?? "1h";
        const width = BUCKETS[widthName];
        if (width === undefined) throw invalidRequest("Invalid 'bucket_width': expected 1m, 1h or 1d.", "bucket_width", "invalid_value");
        if (Math.ceil((end - start) / width) > MAX_BUCKETS) {
          throw invalidRequest(`The range holds more than ${MAX_BUCKETS} buckets of ${widthName}; use a wider 'bucket_width' or a shorter range.`, "bucket_width", "invalid_value");
        }
        const groupBy = ctx.query.get("group_by") ?? undefined;
        if (groupBy !== undefined && groupBy !== "model" && groupBy !== "project_id") {
          throw invalidRequest(`Invalid 'group_by' value '${groupBy}': expected model or project_id.`, "group_by", "invalid_value");
        }
        for (const name of ctx.query.keys()) {
          if (!["start_time", "end_time", "bucket_width", "group_by", "project_id"].includes(name)) throw invalidRequest(`Unknown parameter: '${name}'.`, name, "unknown_parameter");
        }
        const projectId = ctx.query.get("project_id") ?? undefined;
        const { buckets, total, truncated } = await deps.stats.read({ start, end, bucketSeconds: width, groupBy, projectId });
        sendJson(ctx.res, 200, renderRequestStats(buckets, total, groupBy, truncated));
      },
    },
  ];
}
