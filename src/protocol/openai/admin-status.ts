/**
 * Wire shapes of Modelport's own admin endpoints (no OpenAI counterpart): the server's live status
 * and request statistics, read by the admin UI. Inputs are described structurally here, as the
 * protocol layer sits below the services that compute them.
 */

interface PercentilesIn {
  p50: number;
  p95: number;
  p99: number;
}

interface StatsGroupIn {
  key: string | null;
  requests: number;
  errors: number;
  serverErrors: number;
  latencyMs: PercentilesIn | null;
  ttftMs: PercentilesIn | null;
}

interface StatsBucketIn {
  start: number;
  end: number;
  groups: readonly StatsGroupIn[];
}

interface ModelStatusIn {
  id: string;
  aliases: readonly string[];
  ownedBy: string;
  kind: string;
  contextLength: number | undefined;
  pricing: { input: number; cachedInput: number; output: number } | undefined;
  stats: Record<string, number>;
  deployments: readonly { id: string; stats: Record<string, number> }[];
}

interface ServerStatusIn {
  startedAt: number;
  models: readonly ModelStatusIn[];
  pulls: readonly { file: string; bytes: number; totalBytes: number | undefined }[];
}

/** `GET /v1/organization/status`. */
export function renderServerStatus(s: ServerStatusIn, version: string, state: string, now: number): Record<string, unknown> {
  return {
    object: "organization.status",
    version,
    state,
    started_at: s.startedAt,
    uptime_seconds: Math.max(0, now - s.startedAt),
    models: s.models.map((m) => ({
      id: m.id,
      object: "organization.status.model",
      aliases: [...m.aliases],
      owned_by: m.ownedBy,
      kind: m.kind,
      context_length: m.contextLength ?? null,
      pricing: m.pricing === undefined ? null : { input: m.pricing.input, cached_input: m.pricing.cachedInput, output: m.pricing.output },
      stats: m.stats,
      deployments: m.deployments.map((d) => ({
        id: d.id,
        requests: d.stats.requests ?? 0,
        in_flight: d.stats.in_flight ?? 0,
        failures: d.stats.failures ?? 0,
        retries: d.stats.retries ?? 0,
        circuit_state: d.stats.circuit_open === 1 ? "open" : "closed",
      })),
    })),
    pulls: s.pulls.map((p) => ({ file: p.file, bytes: p.bytes, total_bytes: p.totalBytes ?? null })),
  };
}

function renderGroup(g: StatsGroupIn, groupBy: string | undefined): Record<string, unknown> {
  return {
    object: "organization.request_stats.result",
    ...(groupBy === undefined ? {} : { [groupBy]: g.key }),
    requests: g.requests,
    errors: g.errors,
    server_errors: g.serverErrors,
    latency_ms: g.latencyMs,
    ttft_ms: g.ttftMs,
  };
}

/** `GET /v1/organization/request_stats`: a page of time buckets, as the usage API shapes them. */
export function renderRequestStats(buckets: readonly StatsBucketIn[], total: StatsGroupIn, groupBy: string | undefined, truncated: boolean): Record<string, unknown> {
  return {
    object: "page",
    data: buckets.map((b) => ({ object: "bucket", start_time: b.start, end_time: b.end, results: b.groups.map((g) => renderGroup(g, groupBy)) })),
    has_more: false,
    next_page: null,
    // The whole range at once: percentiles cannot be combined from the buckets'.
    total: renderGroup(total, undefined),
    truncated,
  };
}
