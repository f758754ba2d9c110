import { num, numOrNull, str, strOrNull, type Param, type Row, type SqlDb } from "./sql-db.ts";

/** One request as the request log keeps it. */
export interface RequestLogRecord {
  /** The request id the server answered with (`x-request-id`); a client may reuse one, so not unique. */
  id: string;
  /** Microseconds since the epoch, strictly increasing per process: the log's order. */
  seq: number;
  /** Unix seconds. */
  createdAt: number;
  projectId: string;
  keyId: string | null;
  model: string | null;
  /** The route's pattern (`/v1/chat/completions`); null when no route matched. */
  endpoint: string | null;
  method: string;
  status: number;
  errorCode: string | null;
  latencyMs: number;
  /** Time to the first byte of a streamed answer; null for other answers. */
  ttftMs: number | null;
  /** Token counts; null when no model ran. */
  promptTokens: number | null;
  completionTokens: number | null;
  cachedTokens: number | null;
  costUsd: number | null;
  deployment: string | null;
  retries: number;
  /** JSON text of what guardrails did (`[{stage, check, action, category}]`); null when none triggered. */
  guardrails: string | null;
  /** JSON text of the captured request (and answer), redacted and truncated; null unless the project opted in. */
  body: string | null;
}

/** One logged request as the overview's statistics read it. */
export interface RequestSample {
  createdAt: number;
  projectId: string;
  model: string | null;
  status: number;
  latencyMs: number;
  ttftMs: number | null;
}

/** What a page of the log is filtered by; `status` is exact or a class as a range. */
export interface RequestLogQuery {
  /** Rows after (older than) the newest row with this id. */
  after?: string | undefined;
  limit: number;
  projectId?: string | undefined;
  keyId?: string | undefined;
  model?: string | undefined;
  status?: number | { min: number; max: number } | undefined;
  /** Unix seconds, inclusive. */
  start?: number | undefined;
  /** Unix seconds, exclusive. */
  end?: number | undefined;
}

const COLUMNS = [
  "id", "seq", "created_at", "project_id", "key_id", "model", "endpoint", "method", "status", "error_code", "latency_ms", "ttft_ms",
  "prompt_tokens", "completion_tokens", "cached_tokens", "cost_usd", "deployment", "retries", "guardrails", "body",
] as const;
/** The columns a list shows: everything but the body. */
const LIST_COLUMNS = COLUMNS.filter((c) => c !== "body").join(", ");
const INSERT = `INSERT INTO request_log (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")}) ON CONFLICT (seq, id) DO NOTHING`;

function toRecord(r: Row): RequestLogRecord {
  return {
    id: str(r.id),
    seq: num(r.seq),
    createdAt: num(r.created_at),
    projectId: str(r.project_id),
    keyId: strOrNull(r.key_id),
    model: strOrNull(r.model),
    endpoint: strOrNull(r.endpoint),
    method: str(r.method),
    status: num(r.status),
    errorCode: strOrNull(r.error_code),
    latencyMs: num(r.latency_ms),
    ttftMs: numOrNull(r.ttft_ms),
    promptTokens: numOrNull(r.prompt_tokens),
    completionTokens: numOrNull(r.completion_tokens),
    cachedTokens: numOrNull(r.cached_tokens),
    costUsd: numOrNull(r.cost_usd),
    deployment: strOrNull(r.deployment),
    retries: num(r.retries),
    guardrails: strOrNull(r.guardrails),
    body: strOrNull(r.body),
  };
}

/** The `request_log` table: batched inserts, newest-first pages, and trimming by age and count. */
export class RequestLogStore {
  readonly #db: SqlDb;

  constructor(db: SqlDb) {
    this.#db = db;
  }

  /** Writes records in one transaction. */
  async insert(records: readonly RequestLogRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.#db.transaction(async (tx) => {
      for (const r of records) {
        await tx.run(INSERT, [
          r.id, r.seq, r.createdAt, r.projectId, r.keyId, r.model, r.endpoint, r.method, r.status, r.errorCode, r.latencyMs, r.ttftMs,
          r.promptTokens, r.completionTokens, r.cachedTokens, r.costUsd, r.deployment, r.retries, r.guardrails, r.body,
        ]);
      }
    });
  }

  /** Up to `limit` rows, newest first, without their bodies. */
  async list(q: RequestLogQuery): Promise<RequestLogRecord[]> {
    const where: string[] = [];
    const params: Param[] = [];
    const eq = (column: string, value: string | number | undefined): void => {
      if (value === undefined) return;
      where.push(`${column} = ?`);
      params.push(value);
    };
    eq("project_id", q.projectId);
    eq("key_id", q.keyId);
    eq("model", q.model);
    if (typeof q.status === "number") eq("status", q.status);
    else if (q.status !== undefined) {
      where.push("status >= ? AND status <= ?");
      params.push(q.status.min, q.status.max);
    }
    if (q.start !== undefined) {
      where.push("created_at >= ?");
      params.push(q.start);
    }
    if (q.end !== undefined) {
      where.push("created_at < ?");
      params.push(q.end);
    }
    if (q.after !== undefined) {
      where.push("(seq, id) < (SELECT seq, id FROM request_log WHERE id = ? ORDER BY seq DESC LIMIT 1)");
      params.push(q.after);
    }
    const sql = `SELECT ${LIST_COLUMNS} FROM request_log ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq DESC, id DESC LIMIT ?`;
    return (await this.#db.all(sql, [...params, q.limit])).map(toRecord);
  }

  /** The newest row with this id, body included. */
  async get(id: string): Promise<RequestLogRecord | undefined> {
    const [row] = await this.#db.all("SELECT * FROM request_log WHERE id = ? ORDER BY seq DESC LIMIT 1", [id]);
    return row === undefined ? undefined : toRecord(row);
  }

  /** Deletes rows made before `before` (Unix seconds) and all but the newest `maxRows`; returns how many went. */
  async trim(options: { before: number; maxRows: number }): Promise<number> {
    const old = await this.#db.run("DELETE FROM request_log WHERE created_at < ?", [options.before]);
    // The row at offset maxRows is the newest of those beyond the limit: it and everything older go.
    const extra = await this.#db.run("DELETE FROM request_log WHERE seq <= (SELECT seq FROM request_log ORDER BY seq DESC LIMIT 1 OFFSET ?)", [options.maxRows]);
    return old + extra;
  }

  /**
   * The fields the overview's statistics need, of the rows made in [start, end) (Unix seconds),
   * optionally of one project; at most `limit`, newest first.
   */
  async samples(q: { start: number; end: number; projectId?: string | undefined; limit: number }): Promise<RequestSample[]> {
    const params: Param[] = [q.start, q.end];
    let where = "created_at >= ? AND created_at < ?";
    if (q.projectId !== undefined) {
      where += " AND project_id = ?";
      params.push(q.projectId);
    }
    const rows = await this.#db.all(
      `SELECT created_at, project_id, model, status, latency_ms, ttft_ms FROM request_log WHERE ${where} ORDER BY seq DESC LIMIT ?`,
      [...params, q.limit],
    );
    return rows.map((r) => ({ createdAt: num(r.created_at), projectId: str(r.project_id), model: strOrNull(r.model), status: num(r.status), latencyMs: num(r.latency_ms), ttftMs: numOrNull(r.ttft_ms) }));
  }

  /** Rows kept now. */
  async count(): Promise<number> {
    const [row] = await this.#db.all("SELECT COUNT(*) AS n FROM request_log");
    return num(row?.n);
  }
}
