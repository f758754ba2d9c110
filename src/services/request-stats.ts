import type { RequestLogStore, RequestSample } from "../storage/request-log-store.ts";

/** Latency figures of a set of requests, in milliseconds. */
export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

/** One group of one time bucket. */
export interface RequestStatsGroup {
  /** The group's key (a model or project id) when grouped; null for ungrouped, or requests without a model. */
  key: string | null;
  requests: number;
  /** Answers with status 400 and above. */
  errors: number;
  /** Answers with status 500 and above. */
  serverErrors: number;
  latencyMs: Percentiles | null;
  /** Of streamed answers only. */
  ttftMs: Percentiles | null;
}

/** One time bucket: [start, end) in Unix seconds. */
export interface RequestStatsBucket {
  start: number;
  end: number;
  groups: RequestStatsGroup[];
}

export interface RequestStatsQuery {
  start: number;
  end: number;
  bucketSeconds: number;
  groupBy: "model" | "project_id" | undefined;
  projectId: string | undefined;
}

/** The nearest-rank percentile of sorted values. */
function rank(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

function percentiles(values: number[]): Percentiles | null {
  if (values.length === 0) return null;
  values.sort((a, b) => a - b);
  const round = (n: number): number => Math.round(n * 10) / 10;
  return { p50: round(rank(values, 50)), p95: round(rank(values, 95)), p99: round(rank(values, 99)) };
}

function summarise(key: string | null, rows: readonly RequestSample[]): RequestStatsGroup {
  return {
    key,
    requests: rows.length,
    errors: rows.filter((r) => r.status >= 400).length,
    serverErrors: rows.filter((r) => r.status >= 500).length,
    latencyMs: percentiles(rows.map((r) => r.latencyMs)),
    ttftMs: percentiles(rows.flatMap((r) => (r.ttftMs === null ? [] : [r.ttftMs]))),
  };
}

/**
 * Requests, errors and latency and time-to-first-token percentiles over time, from the request log
 * (the usage API has tokens and cost but no errors or latencies). The log is bounded (by age and
 * rows), so a range reaches back only as far as it keeps; `truncated` says the row cap was hit.
 */
export class RequestStats {
  readonly #store: RequestLogStore;
  readonly #maxRows: number;

  constructor(store: RequestLogStore, maxRows: number) {
    this.#store = store;
    this.#maxRows = maxRows;
  }

  /** The buckets, and `total`: the whole range as one ungrouped group (its own percentiles). */
  async read(q: RequestStatsQuery): Promise<{ buckets: RequestStatsBucket[]; total: RequestStatsGroup; truncated: boolean }> {
    const rows = await this.#store.samples({ start: q.start, end: q.end, projectId: q.projectId, limit: this.#maxRows + 1 });
    const truncated = rows.length > this.#maxRows;
    const byBucket = new Map<number, RequestSample[]>();
    const kept = rows.slice(0, this.#maxRows);
    for (const row of kept) {
      const start = q.start + Math.floor((row.createdAt - q.start) / q.bucketSeconds) * q.bucketSeconds;
      const list = byBucket.get(start) ?? [];
      list.push(row);
      byBucket.set(start, list);
    }
    const buckets: RequestStatsBucket[] = [];
    for (let start = q.start; start < q.end; start += q.bucketSeconds) {
      const rowsIn = byBucket.get(start) ?? [];
      let groups: RequestStatsGroup[];
      if (q.groupBy === undefined) groups = rowsIn.length === 0 ? [] : [summarise(null, rowsIn)];
      else {
        const byKey = new Map<string | null, RequestSample[]>();
        for (const r of rowsIn) {
          const key = q.groupBy === "model" ? r.model : r.projectId;
          const list = byKey.get(key);
          if (list === undefined) byKey.set(key, [r]);
          else list.push(r);
        }
        groups = [...byKey].map(([key, list]) => summarise(key, list));
      }
      buckets.push({ start, end: Math.min(start + q.bucketSeconds, q.end), groups });
    }
    return { buckets, total: summarise(null, kept), truncated };
  }
}
