import type { RequestLogRecord } from "../../storage/request-log-store.ts";

/** The stored body as JSON (what `captureBodies` wrote); text that does not parse is shown as is. */
function parseBody(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return body;
  }
}

/**
 * The `organization.request` object: one request of the request log. `body` (the captured request
 * and answer, redacted) is shown with `withBody` (one request's detail), null when none was kept.
 */
export function renderLoggedRequest(r: RequestLogRecord, withBody = false): { id: string } & Record<string, unknown> {
  const out: { id: string } & Record<string, unknown> = {
    object: "organization.request",
    id: r.id,
    created_at: r.createdAt,
    project_id: r.projectId,
    api_key_id: r.keyId,
    model: r.model,
    endpoint: r.endpoint,
    method: r.method,
    status: r.status,
    error_code: r.errorCode,
    latency_ms: r.latencyMs,
    ttft_ms: r.ttftMs,
    usage:
      r.promptTokens === null
        ? null
        : { input_tokens: r.promptTokens, output_tokens: r.completionTokens ?? 0, cached_tokens: r.cachedTokens ?? 0 },
    cost_usd: r.costUsd,
    deployment: r.deployment,
    retries: r.retries,
    // What guardrails did: [{stage, check, action, category}], empty when nothing triggered.
    guardrails: r.guardrails === null ? [] : parseBody(r.guardrails),
  };
  if (withBody) out.body = r.body === null ? null : parseBody(r.body);
  return out;
}
