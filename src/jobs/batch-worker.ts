import { unixSeconds } from "../core/ids.ts";
import type { Logger } from "../logging/logger.ts";
import type { BatchService } from "../services/batch-service.ts";
import type { BatchRecord, BatchRequestRow, BatchStore } from "../storage/batch-store.ts";

/** How long a claim on a request lasts without renewal; a process that died loses its claims after this. */
const LEASE_MS = 60_000;
/** A batch left in `finalizing` this long (its process died while writing files) is finalized again. */
const STUCK_FINALIZING_S = 120;

/**
 * Runs batches from the database: validates new ones, keeps up to `concurrency` requests running
 * (claimed with a renewed lease), and finalizes batches whose requests are all done, cancelled or
 * expired. Everything it needs is in the database, so a restart picks up where a crash left off:
 * unfinished requests are claimed again, finished ones never run twice.
 */
export class BatchWorker {
  readonly #store: BatchStore;
  readonly #service: BatchService;
  readonly #logger: Logger;
  readonly #concurrency: number;
  readonly #running = new Map<string, { row: BatchRequestRow & { claim: string }; abort: AbortController; done: Promise<void> }>();
  readonly #claims = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #renewTimer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #stopped = false;
  #wake = false;
  #claiming: Promise<void> | undefined;

  constructor(deps: { store: BatchStore; service: BatchService; logger: Logger; concurrency: number }) {
    this.#store = deps.store;
    this.#service = deps.service;
    this.#logger = deps.logger;
    this.#concurrency = deps.concurrency;
  }

  /**
   * Starts the loop. `soleProcess` (SQLite) returns every request left running by a previous
   * process to the queue at once instead of waiting for its lease to run out.
   */
  async start(soleProcess: boolean): Promise<void> {
    if (soleProcess) {
      const released = await this.#store.releaseAll();
      if (released > 0) this.#logger.info("batch requests returned to the queue after a restart", { count: released });
      for (const b of await this.#store.inStatus("finalizing")) await this.#finalize(b, "completed");
    }
    this.#renewTimer = setInterval(() => void this.#renew(), LEASE_MS / 3);
    this.#renewTimer.unref();
    this.#schedule(0);
  }

  /** Asks for a pass soon (a batch was created or cancelled). */
  poke(): void {
    if (this.#ticking !== undefined) this.#wake = true;
    else this.#schedule(0);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#ticking = this.#tick()
        .catch((error: unknown) => this.#logger.error("batch worker pass failed", { error: (error as Error).message }))
        .finally(() => {
          this.#ticking = undefined;
          const again = this.#wake;
          this.#wake = false;
          this.#schedule(again ? 0 : this.#running.size > 0 ? 50 : 500);
        });
    }, ms);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    const now = unixSeconds();
    for (const b of await this.#store.inStatus("validating")) await this.#validate(b);
    const running = await this.#store.inStatus("in_progress");
    for (const b of running) {
      if (b.expiresAt <= now) await this.#finalize(b, "expired");
    }
    this.#fill();
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

  /** Claims requests for the free slots and runs them. */
  #fill(): void {
    const free = this.#concurrency - this.#running.size;
    if (free <= 0 || this.#stopped || this.#claiming !== undefined) return;
    this.#claiming = this.#store
      .claim(free, LEASE_MS)
      .then(
        async (rows) => {
          if (rows.length > 0) this.#logger.debug("claimed batch requests", { count: rows.length });
          for (const row of rows) {
            // Claimed while stopping: straight back to the queue for the next start.
            if (this.#stopped) await this.#store.release(row.batchId, row.line, row.claim).catch(() => undefined);
            else this.#run(row);
          }
        },
        (error: unknown) => this.#logger.error("could not claim batch requests", { error: (error as Error).message }),
      )
      .finally(() => {
        this.#claiming = undefined;
      });
  }

  #run(row: BatchRequestRow & { claim: string }): void {
    const key = `${row.batchId}:${row.line}`;
    const abort = new AbortController();
    this.#claims.add(row.claim);
    const done = (async () => {
      try {
        const batch = await this.#store.getById(row.batchId);
        if (batch === undefined) return;
        const result = await this.#service.execute(batch, row, abort.signal);
        if (!(await this.#store.finish(row, result))) this.#logger.warn("a batch request was finished by another claim", { batch: row.batchId, line: row.line });
      } catch (error) {
        // Stopping, or the database failed: give the request back so it runs again later.
        await this.#store.release(row.batchId, row.line, row.claim).catch(() => undefined);
        if (!abort.signal.aborted) this.#logger.error("batch request failed to run", { batch: row.batchId, line: row.line, error: (error as Error).message });
      } finally {
        this.#running.delete(key);
        if (![...this.#running.values()].some((r) => r.row.claim === row.claim)) this.#claims.delete(row.claim);
        if (!this.#stopped) this.poke();
      }
    })();
    this.#running.set(key, { row, abort, done });
  }

  async #renew(): Promise<void> {
    for (const claim of this.#claims) await this.#store.renew(claim, LEASE_MS).catch(() => undefined);
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
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#renewTimer);
    await this.#ticking;
    await this.#claiming;
    for (const r of this.#running.values()) r.abort.abort();
    await Promise.allSettled([...this.#running.values()].map((r) => r.done));
  }
}
