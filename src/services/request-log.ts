import type { Usage } from "../core/chat.ts";
import { unixSeconds } from "../core/ids.ts";
import { priceUsage, type Pricing } from "../core/pricing.ts";
import type { LogFields, Logger } from "../logging/logger.ts";
import { nextSeq } from "../storage/object-store.ts";
import type { RequestLogRecord, RequestLogStore } from "../storage/request-log-store.ts";
import type { Principal } from "./access.ts";
import { captureBodies } from "./request-log-capture.ts";

/** The `requestLog` settings. */
export interface RequestLogSettings {
  enabled: boolean;
  retentionDays: number;
  maxRows: number;
  /** Most bytes kept of a request's JSON (and of its answer's) for projects that opt in. */
  maxBodyBytes: number;
}

/** One finished request as the HTTP layer reports it. */
export interface LoggedRequest {
  requestId: string;
  principal: Principal;
  method: string;
  /** The matched route's pattern; null when none matched. */
  route: string | null;
  status: number;
  latencyMs: number;
  /** Time to the first byte of a streamed answer; undefined for other answers. */
  ttftMs: number | undefined;
  /** What a model-running request used, when one ran. */
  metering: { model: string; usage: Usage | undefined; pricing: Pricing | undefined } | undefined;
  /** The request's log-line fields: `model`, `error_code`, `deployment`, `retries` and `guardrails` are read. */
  log: Readonly<LogFields>;
  /** The JSON body the route read, if any. */
  body: unknown;
  /** The JSON answer the server sent, if any (not streams, not relayed bytes). */
  answer: unknown;
}

/** Records written per transaction; the loop runs between chunks. */
const FLUSH_CHUNK = 200;
/** Records held while the database fails; past this the oldest are dropped (the log is best effort). */
const MAX_HELD = 10_000;

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The request log: one row per finished request, written off the response path in batches (every
 * `intervalMs`, or at once when `maxBuffer` wait) and on close, and trimmed by age and count by a
 * periodic sweep. Bodies are kept only for projects that opt in, redacted and cut.
 */
export class RequestLog {
  /** The table this writes; the admin API reads it. */
  readonly store: RequestLogStore;
  readonly #settings: RequestLogSettings;
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #maxBuffer: number;
  #buffer: RequestLogRecord[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #sweeping: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(store: RequestLogStore, settings: RequestLogSettings, logger: Logger, options: { intervalMs?: number; maxBuffer?: number } = {}) {
    this.store = store;
    this.#settings = settings;
    this.#logger = logger;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#maxBuffer = options.maxBuffer ?? 500;
  }

  /** Whether requests are logged at all. */
  get enabled(): boolean {
    return this.#settings.enabled;
  }

  /** Queues one finished request (nothing when the log is off). Never throws. */
  record(request: LoggedRequest): void {
    if (!this.#settings.enabled) return;
    try {
      this.#buffer.push(this.#toRecord(request));
    } catch (error) {
      this.#logger.error("request log record failed", { request_id: request.requestId, error: (error as Error).message });
      return;
    }
    if (this.#buffer.length > MAX_HELD) this.#buffer.splice(0, this.#buffer.length - MAX_HELD);
    if (this.#buffer.length >= this.#maxBuffer || this.#closed) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#intervalMs);
  }

  #toRecord(r: LoggedRequest): RequestLogRecord {
    const usage = r.metering?.usage;
    const pricing = r.metering?.pricing;
    const text = (key: string): string | null => (typeof r.log[key] === "string" ? (r.log[key] as string) : null);
    const retries = r.log.retries;
    return {
      id: r.requestId,
      seq: nextSeq(),
      createdAt: unixSeconds(),
      projectId: r.principal.projectId,
      keyId: r.principal.keyId,
      model: r.metering?.model ?? text("model"),
      endpoint: r.route,
      method: r.method,
      status: r.status,
      errorCode: text("error_code"),
      latencyMs: Math.round(r.latencyMs),
      ttftMs: r.ttftMs === undefined ? null : Math.round(r.ttftMs),
      promptTokens: usage?.promptTokens ?? null,
      completionTokens: usage?.completionTokens ?? null,
      cachedTokens: usage?.cachedTokens ?? null,
      costUsd: usage === undefined ? null : Number((usage.costUsd ?? (pricing === undefined ? 0 : priceUsage(usage, pricing))).toFixed(8)),
      deployment: text("deployment"),
      retries: typeof retries === "number" && Number.isInteger(retries) && retries >= 0 ? retries : 0,
      guardrails: text("guardrails"),
      body: r.principal.logBodies === true ? captureBodies(r.body, r.answer, this.#settings.maxBodyBytes) : null,
    };
  }

  /** Writes everything queued so far. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#buffer;
    this.#buffer = [];
    this.#flushing = this.#flushing.then(async () => {
      for (let start = 0; start < batch.length; start += FLUSH_CHUNK) {
        if (start > 0) await yieldToLoop();
        try {
          await this.store.insert(batch.slice(start, start + FLUSH_CHUNK));
        } catch (error) {
          const rest = batch.slice(start);
          this.#buffer.unshift(...rest);
          this.#logger.error("request log flush failed; will retry", { records: rest.length, error: (error as Error).message });
          if (!this.#closed) this.#timer ??= setTimeout(() => void this.flush(), this.#intervalMs);
          return;
        }
      }
    });
    return this.#flushing;
  }

  /** Deletes rows older than `retentionDays` and beyond the newest `maxRows`; returns how many went. */
  async sweep(): Promise<number> {
    const { retentionDays, maxRows } = this.#settings;
    return this.store.trim({ before: unixSeconds() - Math.round(retentionDays * 86_400), maxRows });
  }

  /**
   * Sweeps now and every `intervalMs` on an unref'd timer (failures are logged); the returned
   * function stops it and waits for a sweep under way.
   */
  startSweeping(intervalMs: number): () => Promise<void> {
    const run = (): void => {
      this.#sweeping = this.sweep().catch((error: unknown) => this.#logger.error("request log sweep failed", { error: (error as Error).message }));
    };
    run();
    const timer = setInterval(run, intervalMs).unref();
    return async () => {
      clearInterval(timer);
      await this.#sweeping;
    };
  }

  /** Flushes and stops the timer (graceful shutdown); a record that still comes is written at once. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
