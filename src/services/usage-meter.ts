import type { Usage } from "../core/chat.ts";
import { randomId, unixSeconds } from "../core/ids.ts";
import { priceUsage, type Pricing } from "../core/pricing.ts";
import type { Logger } from "../logging/logger.ts";
import type { Storage, UsageRecord } from "../storage/storage.ts";
import type { Principal } from "./access.ts";

/** What a finished request used, as the HTTP layer reports it. */
export interface MeteredRequest {
  principal: Principal;
  model: string;
  endpoint: string;
  usage: Usage;
  latencyMs: number;
  status: number;
  batch: boolean;
  pricing: Pricing | undefined;
}

/** Batch requests are billed at half price, as OpenAI's Batch API is. */
export const BATCH_DISCOUNT = 0.5;

/**
 * Writes one usage record per request, off the response path: records are buffered and written in
 * batches (every `intervalMs`, or at once when `maxBuffer` are waiting), and flushed on close, so a
 * clean stop loses none.
 */
export class UsageMeter {
  readonly #storage: Storage;
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #maxBuffer: number;
  #buffer: UsageRecord[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(storage: Storage, logger: Logger, options: { intervalMs?: number; maxBuffer?: number } = {}) {
    this.#storage = storage;
    this.#logger = logger;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#maxBuffer = options.maxBuffer ?? 500;
  }

  /** Prices and queues one request's usage; returns the record. */
  record(request: MeteredRequest): UsageRecord {
    const cost = request.pricing ? priceUsage(request.usage, request.pricing) * (request.batch ? BATCH_DISCOUNT : 1) : 0;
    const record: UsageRecord = {
      id: `usage_${randomId(24)}`,
      createdAt: unixSeconds(),
      projectId: request.principal.projectId,
      keyId: request.principal.keyId,
      model: request.model,
      endpoint: request.endpoint,
      inputTokens: request.usage.promptTokens,
      cachedTokens: request.usage.cachedTokens,
      outputTokens: request.usage.completionTokens,
      reasoningTokens: request.usage.reasoningTokens,
      latencyMs: Math.round(request.latencyMs),
      status: request.status,
      costUsd: cost,
      batch: request.batch,
    };
    this.#buffer.push(record);
    if (this.#buffer.length >= this.#maxBuffer) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#intervalMs);
    return record;
  }

  /** Cost of a project's records not written yet, so budget checks see them. */
  pendingSpend(projectId: string): number {
    return this.#buffer.reduce((sum, r) => (r.projectId === projectId ? sum + r.costUsd : sum), 0);
  }

  /** Writes everything buffered so far. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#buffer;
    this.#buffer = [];
    this.#flushing = this.#flushing.then(async () => {
      if (batch.length === 0) return;
      try {
        await this.#storage.insertUsage(batch);
      } catch (error) {
        // Keep the records for the next attempt rather than lose them.
        this.#buffer.unshift(...batch);
        this.#logger.error("usage flush failed; will retry", { records: batch.length, error: (error as Error).message });
        this.#timer ??= setTimeout(() => void this.flush(), this.#intervalMs);
      }
    });
    return this.#flushing;
  }

  /** Flushes and stops the timer (graceful shutdown). */
  async close(): Promise<void> {
    await this.flush();
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
