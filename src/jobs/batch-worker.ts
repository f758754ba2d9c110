import { unixSeconds } from "../core/ids.ts";
import type { Logger } from "../logging/logger.ts";
import type { BatchService } from "../services/batch-service.ts";
import type { BatchRecord, BatchRequestRow, BatchStore } from "../storage/batch-store.ts";
import { LeasedWorker } from "./leased-worker.ts";

/** A batch left in `finalizing` this long (its process died while writing files) is finalized again. */
const STUCK_FINALIZING_S = 120;

type ClaimedRequest = BatchRequestRow & { claim: string };

/**
 * Runs batches from the database: validates new ones, keeps up to `concurrency` requests running
 * (claimed with a renewed lease, through the shared leased-worker loop), and finalizes batches whose
 * requests are all done, cancelled or expired. Everything it needs is in the database, so a restart
 * picks up where a crash left off: unfinished requests are claimed again, finished ones never run twice.
 */
export class BatchWorker {
  readonly #store: BatchStore;
  readonly #service: BatchService;
  readonly #logger: Logger;
  readonly #loop: LeasedWorker<ClaimedRequest>;

  constructor(deps: { store: BatchStore; service: BatchService; logger: Logger; concurrency: number; leaseMs?: number }) {
    this.#store = deps.store;
    this.#service = deps.service;
    this.#logger = deps.logger;
    const store = deps.store;
    this.#loop = new LeasedWorker<ClaimedRequest>(
      {
        what: "batch requests",
        name: "batch worker",
        claim: (limit, leaseMs) => store.claim(limit, leaseMs),
        renew: (claim, leaseMs) => store.renew(claim, leaseMs),
        release: (row) => store.release(row.batchId, row.line, row.claim),
        releaseAll: () => store.releaseAll(),
        key: (row) => `${row.batchId}:${row.line}`,
        run: (row, signal) => this.#run(row, signal),
        failed: async (row, error, aborted) => {
          // Stopping, or the database failed: give the request back so it runs again later.
          await store.release(row.batchId, row.line, row.claim).catch(() => undefined);
          if (!aborted) this.#logger.error("batch request failed to run", { batch: row.batchId, line: row.line, error: error instanceof Error ? error.message : String(error) });
        },
        pass: () => this.#pass(),
        restarted: async (requeued) => {
          if (requeued > 0) this.#logger.info("batch requests returned to the queue after a restart", { count: requeued });
          for (const b of await store.inStatus("finalizing")) await this.#finalize(b, "completed");
        },
      },
      { logger: deps.logger, concurrency: deps.concurrency, leaseMs: deps.leaseMs },
    );
  }

  /**
   * Starts the loop. `soleProcess` (SQLite) returns every request left running by a previous
   * process to the queue at once instead of waiting for its lease to run out.
   */
  start(soleProcess: boolean): Promise<void> {
    return this.#loop.start(soleProcess);
  }

  /** Asks for a pass soon (a batch was created or cancelled). */
  poke(): void {
    this.#loop.poke();
  }

  /** One pass, then soon again while requests run. */
  async #pass(): Promise<number> {
    await this.#tick().catch((error: unknown) => this.#logger.error("batch worker pass failed", { error: error instanceof Error ? error.message : String(error) }));
    return this.#loop.running > 0 ? 50 : 500;
  }

  async #tick(): Promise<void> {
    const now = unixSeconds();
    for (const b of await this.#store.inStatus("validating")) await this.#validate(b);
    const running = await this.#store.inStatus("in_progress");
    for (const b of running) {
      if (b.expiresAt <= now) await this.#finalize(b, "expired");
    }
    void this.#loop.fill();
    for (const b of running) {
      if (b.expiresAt > now && (await this.#store.unfinished(b.id)) === 0) await this.#finalize(b, "completed");
    }
    for (const b of await this.#store.inStatus("cancelling")) {
      if ((await this.#store.running(b.id)) === 0) await this.#finalize(b, "cancelled");
    }
    for (const b of await this.#store.inStatus("finalizing")) {
      if (b.finalizingAt !== null && b.finalizingAt < now - STUCK_FINALIZING_S) await this.#finalize(b, "completed");
    }
  }

  async #validate(b: BatchRecord): Promise<void> {
    const result = await this.#service.validate(b);
    const now = unixSeconds();
    if (!result.ok) {
      await this.#store.transition(b.id, ["validating"], "failed", now, { errors: result.errors });
      this.#logger.info("batch failed validation", { batch: b.id, errors: result.errors.length });
      return;
    }
    if (await this.#store.enqueue(b.id, result.rows, now)) this.#logger.info("batch started", { batch: b.id, requests: result.rows.length });
  }

  /** Runs one claimed request and records its result. */
  async #run(row: ClaimedRequest, signal: AbortSignal): Promise<void> {
    const batch = await this.#store.getById(row.batchId);
    if (batch === undefined) return;
    const result = await this.#service.execute(batch, row, signal);
    if (!(await this.#store.finish(row, result))) this.#logger.warn("a batch request was finished by another claim", { batch: row.batchId, line: row.line });
  }

  /** Writes the output and error files and moves the batch to its final status. */
  async #finalize(b: BatchRecord, to: "completed" | "expired" | "cancelled"): Promise<void> {
    const now = unixSeconds();
    if (to === "completed") {
      // Only one process wins the move to finalizing; a stuck one is already there.
      if (b.status !== "finalizing" && !(await this.#store.transition(b.id, ["in_progress"], "finalizing", now))) return;
    }
    const files = await this.#service.writeResults(b, to === "expired" ? "batch_expired" : to === "cancelled" ? "batch_cancelled" : null);
    const from = to === "completed" ? (["finalizing"] as const) : to === "expired" ? (["in_progress", "validating"] as const) : (["cancelling"] as const);
    if (await this.#store.transition(b.id, from, to, unixSeconds(), files)) {
      await this.#store.dropRequests(b.id);
      this.#logger.info("batch finished", { batch: b.id, status: to });
    }
  }

  /** Stops claiming, aborts running requests and returns them to the queue, so a restart resumes them. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }
}
