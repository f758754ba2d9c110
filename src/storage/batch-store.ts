import type { Usage } from "../core/chat.ts";
import { sortableId } from "../core/ids.ts";
import { nextSeq, type Page } from "./object-store.ts";
import { num, numOrNull, str, strOrNull, type Param, type Row, type SqlDb } from "./sql-db.ts";

/** A batch's lifecycle, as OpenAI names it. */
export type BatchStatus = "validating" | "failed" | "in_progress" | "finalizing" | "completed" | "expired" | "cancelling" | "cancelled";

/** One validation error, with the input line it concerns. */
export interface BatchError {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

/** A batch as stored. Timestamps are Unix seconds. */
export interface BatchRecord {
  id: string;
  projectId: string;
  keyId: string | null;
  createdAt: number;
  endpoint: string;
  inputFileId: string;
  completionWindow: string;
  status: BatchStatus;
  outputFileId: string | null;
  errorFileId: string | null;
  expiresAt: number;
  inProgressAt: number | null;
  finalizingAt: number | null;
  completedAt: number | null;
  failedAt: number | null;
  expiredAt: number | null;
  cancellingAt: number | null;
  cancelledAt: number | null;
  total: number;
  completed: number;
  failed: number;
  metadata: Record<string, string>;
  errors: BatchError[] | null;
  usage: Usage;
}

/** One input line queued for the worker. */
export interface BatchRequestRow {
  batchId: string;
  line: number;
  customId: string;
  /** The request body (JSON). */
  body: string;
}

/** What one finished request wrote: its output line, and its usage to meter (batch-priced). */
export interface BatchRequestResult {
  /** The JSONL line for the output or error file. */
  result: string;
  failed: boolean;
  usage: Usage;
  /** The usage record to insert with the result, in the same transaction, or undefined for none. */
  usageRecord: UsageRow | undefined;
}

/** The columns of a usage record. */
export interface UsageRow {
  createdAt: number;
  projectId: string;
  keyId: string | null;
  model: string;
  endpoint: string;
  latencyMs: number;
  status: number;
  costUsd: number;
}


function toBatch(r: Row): BatchRecord {
  return {
    id: str(r.id),
    projectId: str(r.project_id),
    keyId: strOrNull(r.key_id),
    createdAt: num(r.created_at),
    endpoint: str(r.endpoint),
    inputFileId: str(r.input_file_id),
    completionWindow: str(r.completion_window),
    status: str(r.status) as BatchStatus,
    outputFileId: strOrNull(r.output_file_id),
    errorFileId: strOrNull(r.error_file_id),
    expiresAt: num(r.expires_at),
    inProgressAt: numOrNull(r.in_progress_at),
    finalizingAt: numOrNull(r.finalizing_at),
    completedAt: numOrNull(r.completed_at),
    failedAt: numOrNull(r.failed_at),
    expiredAt: numOrNull(r.expired_at),
    cancellingAt: numOrNull(r.cancelling_at),
    cancelledAt: numOrNull(r.cancelled_at),
    total: num(r.request_total),
    completed: num(r.request_completed),
    failed: num(r.request_failed),
    metadata: JSON.parse(str(r.metadata)) as Record<string, string>,
    errors: r.errors === null || r.errors === undefined ? null : (JSON.parse(str(r.errors)) as BatchError[]),
    usage: { promptTokens: num(r.input_tokens), cachedTokens: num(r.cached_tokens), completionTokens: num(r.output_tokens), reasoningTokens: num(r.reasoning_tokens) },
  };
}

/** The timestamp column each status sets when a batch enters it. */
const STAMP: Partial<Record<BatchStatus, string>> = {
  in_progress: "in_progress_at",
  finalizing: "finalizing_at",
  completed: "completed_at",
  failed: "failed_at",
  expired: "expired_at",
  cancelling: "cancelling_at",
  cancelled: "cancelled_at",
};

/**
 * Batches and their queued requests. Every input line is a row; a worker claims rows with a lease
 * (row locks on PostgreSQL, so several processes share the work), and a result is written, counted
 * and metered in one transaction that only succeeds for the claim that holds the row: a request
 * is never lost, and never counted twice.
 */
export class BatchStore {
  readonly #db: SqlDb;

  constructor(db: SqlDb) {
    this.#db = db;
  }

  async insert(b: BatchRecord): Promise<void> {
    await this.#db.run(
      "INSERT INTO batches (id, project_id, key_id, created_at, seq, endpoint, input_file_id, completion_window, status, expires_at, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      [b.id, b.projectId, b.keyId, b.createdAt, nextSeq(), b.endpoint, b.inputFileId, b.completionWindow, b.status, b.expiresAt, JSON.stringify(b.metadata)],
    );
  }

  async get(projectId: string, id: string): Promise<BatchRecord | undefined> {
    const [row] = await this.#db.all("SELECT * FROM batches WHERE id = ? AND project_id = ?", [id, projectId]);
    return row === undefined ? undefined : toBatch(row);
  }

  async getById(id: string): Promise<BatchRecord | undefined> {
    const [row] = await this.#db.all("SELECT * FROM batches WHERE id = ?", [id]);
    return row === undefined ? undefined : toBatch(row);
  }

  /** A project's batches, newest first. */
  async list(projectId: string, q: { after?: string | undefined; limit: number }): Promise<Page<BatchRecord>> {
    const params: Param[] = [projectId];
    let where = "project_id = ?";
    if (q.after !== undefined) {
      const [row] = await this.#db.all("SELECT seq FROM batches WHERE id = ? AND project_id = ?", [q.after, projectId]);
      if (row === undefined) return { data: [], hasMore: false };
      where += " AND seq < ?";
      params.push(num(row.seq));
    }
    const rows = await this.#db.all(`SELECT * FROM batches WHERE ${where} ORDER BY seq DESC LIMIT ?`, [...params, q.limit + 1]);
    return { data: rows.slice(0, q.limit).map(toBatch), hasMore: rows.length > q.limit };
  }

  /** Batches in a status, oldest first (the worker's agenda). */
  async inStatus(status: BatchStatus): Promise<BatchRecord[]> {
    return (await this.#db.all("SELECT * FROM batches WHERE status = ? ORDER BY seq", [status])).map(toBatch);
  }

  /** Moves a batch from one of `from` to `to`, stamping the time; false when it was elsewhere. */
  async transition(id: string, from: readonly BatchStatus[], to: BatchStatus, at: number, extra: { errors?: BatchError[]; outputFileId?: string | null; errorFileId?: string | null } = {}): Promise<boolean> {
    const sets = ["status = ?"];
    const params: Param[] = [to];
    const stamp = STAMP[to];
    if (stamp !== undefined) {
      sets.push(`${stamp} = ?`);
      params.push(at);
    }
    if (extra.errors !== undefined) {
      sets.push("errors = ?");
      params.push(JSON.stringify(extra.errors));
    }
    if (extra.outputFileId !== undefined) {
      sets.push("output_file_id = ?");
      params.push(extra.outputFileId);
    }
    if (extra.errorFileId !== undefined) {
      sets.push("error_file_id = ?");
      params.push(extra.errorFileId);
    }
    const marks = from.map(() => "?").join(", ");
    return (await this.#db.run(`UPDATE batches SET ${sets.join(", ")} WHERE id = ? AND status IN (${marks})`, [...params, id, ...from])) > 0;
  }

  /** Queues a validated batch's lines and starts it, in one transaction. */
  async enqueue(id: string, rows: readonly BatchRequestRow[], at: number): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      const started = (await tx.run("UPDATE batches SET status = 'in_progress', in_progress_at = ?, request_total = ? WHERE id = ? AND status = 'validating'", [at, rows.length, id])) > 0;
      if (!started) return false;
      // Several rows per statement keeps a 50,000-line batch to a few hundred round trips.
      for (let i = 0; i < rows.length; i += 100) {
        const chunk = rows.slice(i, i + 100);
        const values = chunk.map(() => "(?, ?, ?, ?, 'pending')").join(", ");
        await tx.run(`INSERT INTO batch_requests (batch_id, line, custom_id, body, status) VALUES ${values}`, chunk.flatMap((r) => [r.batchId, r.line, r.customId, r.body]));
      }
      return true;
    });
  }

  /**
   * Claims up to `limit` pending requests of running batches (or requests whose lease ran out) for
   * `leaseMs`. On PostgreSQL, rows other processes hold are skipped.
   */
  async claim(limit: number, leaseMs: number): Promise<(BatchRequestRow & { claim: string })[]> {
    const claim = sortableId(20);
    const now = Date.now();
    const lock = this.#db.dialect === "postgres" ? " FOR UPDATE SKIP LOCKED" : "";
    return this.#db.transaction(async (tx) => {
      const picked = await tx.all(
        `SELECT batch_id, line, custom_id, body FROM batch_requests WHERE batch_id IN (SELECT id FROM batches WHERE status = 'in_progress') AND (status = 'pending' OR (status = 'running' AND claimed_until < ?)) ORDER BY batch_id, line LIMIT ?${lock}`,
        [now, limit],
      );
      for (const r of picked) {
        await tx.run("UPDATE batch_requests SET status = 'running', claim = ?, claimed_until = ? WHERE batch_id = ? AND line = ?", [claim, now + leaseMs, str(r.batch_id), num(r.line)]);
      }
      return picked.map((r) => ({ batchId: str(r.batch_id), line: num(r.line), customId: str(r.custom_id), body: str(r.body), claim }));
    });
  }

  /** Extends the lease of requests still running under `claim`. */
  async renew(claim: string, leaseMs: number): Promise<void> {
    await this.#db.run("UPDATE batch_requests SET claimed_until = ? WHERE claim = ? AND status = 'running'", [Date.now() + leaseMs, claim]);
  }

  /** Returns every running request to the queue: at start, when this is the only process (SQLite). */
  async releaseAll(): Promise<number> {
    return this.#db.run("UPDATE batch_requests SET status = 'pending', claim = NULL, claimed_until = NULL WHERE status = 'running'", []);
  }

  /** Puts a claimed request back (the server is stopping before it finished). */
  async release(batchId: string, line: number, claim: string): Promise<void> {
    await this.#db.run("UPDATE batch_requests SET status = 'pending', claim = NULL, claimed_until = NULL WHERE batch_id = ? AND line = ? AND claim = ? AND status = 'running'", [batchId, line, claim]);
  }

  /**
   * Records a finished request: its result, the batch's counts and tokens, and its usage record,
   * all or nothing, and only while `claim` still holds the row. Returns false when another claim
   * finished it first (its lease had run out), so nothing is counted twice.
   */
  async finish(row: { batchId: string; line: number; claim: string }, done: BatchRequestResult): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      const changed = await tx.run("UPDATE batch_requests SET status = 'done', result = ?, failed = ?, claim = NULL WHERE batch_id = ? AND line = ? AND claim = ? AND status = 'running'", [
        done.result,
        done.failed ? 1 : 0,
        row.batchId,
        row.line,
        row.claim,
      ]);
      if (changed === 0) return false;
      const u = done.usage;
      await tx.run(
        `UPDATE batches SET ${done.failed ? "request_failed = request_failed + 1" : "request_completed = request_completed + 1"}, input_tokens = input_tokens + ?, cached_tokens = cached_tokens + ?, output_tokens = output_tokens + ?, reasoning_tokens = reasoning_tokens + ? WHERE id = ?`,
        [u.promptTokens, u.cachedTokens, u.completionTokens, u.reasoningTokens, row.batchId],
      );
      const r = done.usageRecord;
      if (r !== undefined) {
        await tx.run(
          "INSERT INTO usage_records (id, created_at, project_id, key_id, model, endpoint, input_tokens, cached_tokens, output_tokens, reasoning_tokens, latency_ms, status, cost_usd, batch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
          [`usage_${sortableId(24)}`, r.createdAt, r.projectId, r.keyId, r.model, r.endpoint, u.promptTokens, u.cachedTokens, u.completionTokens, u.reasoningTokens, r.latencyMs, r.status, r.costUsd],
        );
      }
      return true;
    });
  }

  /** Requests of a batch not finished yet (pending or running). */
  async unfinished(batchId: string): Promise<number> {
    const [row] = await this.#db.all("SELECT COUNT(*) AS n FROM batch_requests WHERE batch_id = ? AND status <> 'done'", [batchId]);
    return num(row?.n);
  }

  /**
   * Requests queued or running across every running batch: the batch queue's depth, for metrics.
   * Lines of cancelled or expired batches, kept only until their error files are written, are not work.
   */
  async queued(): Promise<number> {
    const [row] = await this.#db.all("SELECT COUNT(*) AS n FROM batch_requests WHERE status <> 'done' AND batch_id IN (SELECT id FROM batches WHERE status = 'in_progress')", []);
    return num(row?.n);
  }

  /** Requests of a batch still running. */
  async running(batchId: string): Promise<number> {
    const [row] = await this.#db.all("SELECT COUNT(*) AS n FROM batch_requests WHERE batch_id = ? AND status = 'running'", [batchId]);
    return num(row?.n);
  }

  /** Finished results in input order, a page at a time: `failed` picks the error file's lines. */
  async results(batchId: string, failed: boolean, afterLine: number, limit: number): Promise<{ line: number; result: string }[]> {
    const rows = await this.#db.all("SELECT line, result FROM batch_requests WHERE batch_id = ? AND status = 'done' AND failed = ? AND line > ? ORDER BY line LIMIT ?", [batchId, failed ? 1 : 0, afterLine, limit]);
    return rows.map((r) => ({ line: num(r.line), result: str(r.result) }));
  }

  /** Requests never run (expired or cancelled batches), in input order, a page at a time. */
  async notRun(batchId: string, afterLine: number, limit: number): Promise<{ line: number; customId: string }[]> {
    const rows = await this.#db.all("SELECT line, custom_id FROM batch_requests WHERE batch_id = ? AND status <> 'done' AND line > ? ORDER BY line LIMIT ?", [batchId, afterLine, limit]);
    return rows.map((r) => ({ line: num(r.line), customId: str(r.custom_id) }));
  }

  /** Drops a finished batch's queue rows (its files hold the results now). */
  async dropRequests(batchId: string): Promise<void> {
    await this.#db.run("DELETE FROM batch_requests WHERE batch_id = ?", [batchId]);
  }
}
