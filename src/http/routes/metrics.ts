import { timingSafeEqual } from "node:crypto";
import { ApiError } from "../../core/errors.ts";
import type { Metrics } from "../../core/metrics.ts";
import type { Handler } from "../router.ts";

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

function sameToken(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * `GET /metrics`: the Prometheus text exposition. With `metrics.token` set it needs
 * `Authorization: Bearer <token>`; without one only loopback clients are answered (a scraper on the
 * same machine), as the metrics name models, projects' traffic and deployments.
 */
export function metricsHandler(metrics: Metrics, token: string | undefined): Handler {
  return async (ctx) => {
    if (token !== undefined) {
      const given = /^Bearer\s+(.+)$/i.exec(ctx.req.headers.authorization ?? "")?.[1] ?? "";
      if (!sameToken(given, token)) throw new ApiError(401, "The metrics endpoint needs its token (metrics.token) as a Bearer token.", { type: "invalid_request_error", code: "invalid_api_key" });
    } else if (!LOOPBACK.has(ctx.req.socket.remoteAddress ?? "")) {
      throw new ApiError(403, "The metrics endpoint answers loopback clients only; set metrics.token to scrape it from elsewhere.", { type: "permission_error", code: "insufficient_permissions" });
    }
    const body = await metrics.render();
    ctx.res.writeHead(200, { "content-type": metrics.contentType, "cache-control": "no-store" }).end(body);
  };
}
