import { runWithoutTrail } from "../core/request-trail.ts";
import type { Logger } from "../logging/logger.ts";

/** How long a claim lasts without renewal by default; a process that died loses its claims after this. */
export const LEASE_MS = 60_000;

/** A database queue whose items are claimed for a while (a lease) by one process at a time. */
export interface LeasedWork<T extends { claim: string }> {
  /** The items, as log lines name them ("batch requests"). */
  what: string;
  /** The worker, as log lines name it ("batch worker"). */
  name: string;
  /** Claims up to `limit` waiting items for `leaseMs`; every item of one call shares its `claim`. */
  claim(limit: number, leaseMs: number): Promise<T[]>;
  /** Extends a claim's lease. */
  renew(claim: string, leaseMs: number): Promise<unknown>;
  /** Returns one claimed item to the queue. */
  release(item: T): Promise<unknown>;
  /** Returns every claimed item to the queue, whoever holds it; only for a process that is alone. */
  releaseAll(): Promise<number>;
  /** Identifies an item among those running. */
  key(item: T): string;
  /** Does the work; `signal` aborts when the worker stops. */
  run(item: T, signal: AbortSignal): Promise<void>;
  /** `run` threw: the worker is stopping (`aborted`), the database failed, or the item itself did. Must not throw. */
  failed(item: T, error: unknown, aborted: boolean): Promise<void>;
  /** A pass of the loop: claims work (through `fill`) and whatever else the worker does; resolves to the ms until the next pass, or undefined to wait for a poke. */
  pass(): Promise<number | undefined>;
  /** After a restart of a process that is alone, with the number of items returned to the queue; runs before the first pass. */
  restarted?(requeued: number): Promise<void>;
}

/** What `fill` did: claimed this many items, or nothing because a claim is under way or the worker stopped ("busy"), every slot is taken ("full"), or the claim failed. */
export type FillResult = number | "busy" | "full" | "failed";

/**
 * The loop both background workers share: passes on a timer (sooner when poked), claims for free
 * slots up to `concurrency`, runs each claimed item under a lease renewed on a timer, and on stop
 * aborts what runs and waits for it, so the items go back to the queue for the next start. All
 * state is in the database, so a restart picks up where a crash left off.
 */
export class LeasedWorker<T extends { claim: string }> {
  readonly #work: LeasedWork<T>;
  readonly #logger: Logger;
  readonly #concurrency: number;
  readonly #leaseMs: number;
  readonly #running = new Map<string, { item: T; abort: AbortController; done: Promise<void> }>();
  #timer: NodeJS.Timeout | undefined;
  #renewTimer: NodeJS.Timeout | undefined;
  #passing: Promise<void> | undefined;
  #claiming: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(work: LeasedWork<T>, options: { logger: Logger; concurrency: number; leaseMs?: number }) {
    this.#work = work;
    this.#logger = options.logger;
    this.#concurrency = options.concurrency;
    this.#leaseMs = options.leaseMs ?? LEASE_MS;
  }

  /** Items running now. */
  get running(): number {
    return this.#running.size;
  }

  /**
   * Starts the loop. `soleProcess` (SQLite) returns every item a previous process left claimed to
   * the queue at once instead of waiting for its lease to run out.
   */
  async start(soleProcess: boolean): Promise<void> {
    if (soleProcess) await this.#work.restarted?.(await this.#work.releaseAll());
    this.#renewTimer = setInterval(() => void this.#renew(), this.#leaseMs / 3);
    this.#renewTimer.unref();
    this.#schedule(0);
  }

  /** Asks for a pass soon; one under way is followed by another at once. */
  poke(): void {
    if (this.#passing !== undefined) this.#again = true;
    else this.#schedule(0);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    const pass = (): void => {
      let next: number | undefined;
      this.#passing = this.#work
        .pass()
        .then(
          (ms) => {
            next = ms;
          },
          (error: unknown) => {
            this.#logger.error(`${this.#work.name} pass failed`, { error: error instanceof Error ? error.message : String(error) });
            next = 1_000;
          },
        )
        .finally(() => {
          this.#passing = undefined;
          const again = this.#again;
          this.#again = false;
          if (again) this.#schedule(0);
          else if (next !== undefined) this.#schedule(next);
        });
    };
    // A request's poke must not carry its trail into the loop (and every item it runs) from then on.
    this.#timer = runWithoutTrail(() => setTimeout(pass, ms));
    this.#timer.unref();
  }

  /** Claims items for the free slots and runs them; resolves once the claim has answered. */
  fill(): Promise<FillResult> {
    if (this.#stopped || this.#claiming !== undefined) return Promise.resolve("busy");
    const free = this.#concurrency - this.#running.size;
    if (free <= 0) return Promise.resolve("full");
    let result: FillResult = "failed";
    this.#claiming = this.#work
      .claim(free, this.#leaseMs)
      .then(
        async (items) => {
          if (items.length > 0) this.#logger.debug(`claimed ${this.#work.what}`, { count: items.length });
          for (const item of items) {
            // Claimed while stopping: straight back to the queue for the next start.
            if (this.#stopped) await this.#work.release(item).catch(() => undefined);
            else this.#run(item);
          }
          result = items.length;
        },
        (error: unknown) => this.#logger.error(`could not claim ${this.#work.what}`, { error: error instanceof Error ? error.message : String(error) }),
      )
      .finally(() => {
        this.#claiming = undefined;
      });
    return this.#claiming.then(() => result);
  }

  #run(item: T): void {
    const key = this.#work.key(item);
    const abort = new AbortController();
    const done = (async () => {
      try {
        await this.#work.run(item, abort.signal);
      } catch (error) {
        // `failed` must not throw; should it all the same, log it rather than let an unhandled
        // rejection end the process.
        await this.#work.failed(item, error, abort.signal.aborted).catch((cause: unknown) =>
          this.#logger.error(`could not record a failed ${this.#work.what} item`, { error: cause instanceof Error ? cause.message : String(cause) }),
        );
      } finally {
        this.#running.delete(key);
        if (!this.#stopped) this.poke();
      }
    })();
    this.#running.set(key, { item, abort, done });
  }

  async #renew(): Promise<void> {
    const claims = new Set([...this.#running.values()].map((r) => r.item.claim));
    for (const claim of claims) await this.#work.renew(claim, this.#leaseMs).catch(() => undefined);
  }

  /** Stops claiming, aborts running items and waits for them: each goes back to the queue for the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#renewTimer);
    await this.#passing;
    await this.#claiming;
    for (const r of this.#running.values()) r.abort.abort();
    await Promise.allSettled([...this.#running.values()].map((r) => r.done));
  }
}
