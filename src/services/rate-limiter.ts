import type { Usage } from "../core/chat.ts";
import type { Storage } from "../storage/storage.ts";
import type { Principal } from "./access.ts";
import { rateLimited, rateLimitHeaders, type LimitStore, type Limits } from "./rate-limits.ts";
import { USAGE_TIERS } from "./usage-tiers.ts";

/** A request admitted under its project's limits. */
export interface Admission {
  headers: Record<string, string>;
  /** Reconciles estimated with actual tokens and ends the in-flight count; call once. */
  finish(usage: Usage | undefined): Promise<void>;
}

/**
 * Per-project, per-model limits: an explicit rate limit for the model, else the project's usage tier,
 * else the configured default tier. Counters live in the given store (memory or Redis).
 */
export class RateLimiter {
  readonly #storage: Storage;
  readonly #store: LimitStore;
  readonly #defaultTier: string | null;
  readonly #cache = new Map<string, { at: number; limits: Limits }>();

  constructor(storage: Storage, store: LimitStore, defaultTier: string | null) {
    this.#storage = storage;
    this.#store = store;
    this.#defaultTier = defaultTier;
  }

  /** The limits of a project for a model (cached for a second, so admin changes apply quickly). */
  async limitsFor(projectId: string, model: string): Promise<Limits> {
    const key = `${projectId}\u0000${model}`;
    const cached = this.#cache.get(key);
    if (cached && Date.now() - cached.at < 1000) return cached.limits;
    const explicit = (await this.#storage.listRateLimits(projectId)).find((r) => r.model === model);
    const project = await this.#storage.getProject(projectId);
    const tier = USAGE_TIERS[project?.tier ?? this.#defaultTier ?? ""];
    const limits: Limits = {
      rpm: explicit?.rpm ?? tier?.rpm ?? null,
      tpm: explicit?.tpm ?? tier?.tpm ?? null,
      rpd: explicit?.rpd ?? tier?.rpd ?? null,
      maxConcurrent: explicit?.maxConcurrent ?? null,
    };
    this.#cache.set(key, { at: Date.now(), limits });
    return limits;
  }

  /** Admits a request or throws 429 `rate_limit_exceeded` with Retry-After. */
  async admit(principal: Principal, model: string, estimate: number): Promise<Admission> {
    const limits = await this.limitsFor(principal.projectId, model);
    const key = `${principal.projectId}:${model}`;
    const decision = await this.#store.acquire(key, limits, estimate);
    if (!decision.allowed) throw rateLimited(model, decision, limits, estimate);
    let finished = false;
    return {
      headers: rateLimitHeaders(decision.state),
      finish: async (usage) => {
        if (finished) return;
        finished = true;
        const actual = usage ? usage.promptTokens + usage.completionTokens : 0;
        await this.#store.reconcile(key, limits, actual - estimate);
        await this.#store.release(key, limits);
      },
    };
  }

  close(): Promise<void> {
    return this.#store.close();
  }
}
