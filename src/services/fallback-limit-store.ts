import type { Logger } from "../logging/logger.ts";
import type { Decision, LimitStore, Limits } from "./rate-limits.ts";

/** How long after a failure the shared store is tried again. */
const RETRY_MS = 10_000;

/**
 * A shared limit store (Redis) that never fails a request because it is down: while it cannot
 * answer, decisions come from this process's own counters (each process then allows the full
 * limit, as without Redis), logged once; it is tried again every ten seconds.
 */
export class FallbackLimitStore implements LimitStore {
  readonly #primary: LimitStore;
  readonly #local: LimitStore;
  readonly #logger: Logger;
  /** When the shared store failed last; undefined while it answers. */
  #downSince: number | undefined;

  constructor(primary: LimitStore, local: LimitStore, logger: Logger) {
    this.#primary = primary;
    this.#local = local;
    this.#logger = logger;
  }

  async #use<T>(call: (store: LimitStore) => Promise<T>): Promise<T> {
    if (this.#downSince !== undefined && Date.now() - this.#downSince < RETRY_MS) return call(this.#local);
    try {
      const result = await call(this.#primary);
      if (this.#downSince !== undefined) this.#logger.info("rate limits: redis is back");
      this.#downSince = undefined;
      return result;
    } catch (error) {
      if (this.#downSince === undefined) this.#logger.warn("rate limits: redis unavailable; limits are per process until it answers", { error: (error as Error).message });
      this.#downSince = Date.now();
      return call(this.#local);
    }
  }

  acquire(key: string, limits: Limits, tokens: number): Promise<Decision> {
    return this.#use((s) => s.acquire(key, limits, tokens));
  }

  reconcile(key: string, limits: Limits, delta: number): Promise<void> {
    return this.#use((s) => s.reconcile(key, limits, delta));
  }

  release(key: string, limits: Limits): Promise<void> {
    return this.#use((s) => s.release(key, limits));
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.#primary.close(), this.#local.close()]);
  }
}
