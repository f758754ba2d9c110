import type { Usage } from "../core/chat.ts";
import { sortableId, unixSeconds } from "../core/ids.ts";
import { priceUsage, type Pricing } from "../core/pricing.ts";
import type { Logger } from "../logging/logger.ts";
import type { Storage, UsageRecord } from "../storage/storage.ts";
import { existingIds } from "../storage/sql-db.ts";
import type { JournalSegment, UsageJournal } from "../storage/usage-journal.ts";
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
 * Records written per transaction. A flush writes its batch in chunks this size and lets the event
 * loop run between them, so a full buffer never stalls requests for the whole batch.
 */
const FLUSH_CHUNK = 100;

/** A record waiting for the database, and the journal segment holding it (none without a journal). */
interface Pending {
  record: UsageRecord;
  segment: JournalSegment | undefined;
  /** It may be in the database already (replayed from a journal, or its write failed uncertainly): checked before inserting. */
  maybeWritten: boolean;
}

/** A unique-key violation, as SQLite and PostgreSQL word it. */
const DUPLICATE_KEY = /UNIQUE constraint failed|duplicate key value/i;

/** Lets I/O and timers run before going on. */
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Writes one usage record per request, off the response path: records are buffered and written in
 * batches (every `intervalMs`, or at once when `maxBuffer` are waiting), and flushed on close, so a
 * clean stop loses none. With a journal, each record is also appended to it synchronously as it is
 * made (before the request's handling ends), so a killed process loses none either: the next start
 * replays what the database lacks. The cost of records not written yet is kept per project as they
 * come and go, since budget checks ask for it on every request.
 */
export class UsageMeter {
  readonly #storage: Storage;
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #maxBuffer: number;
  readonly #journal: UsageJournal | undefined;
  #buffer: Pending[] = [];
  /** The journal refused a write: logged once until it takes one again. */
  #journalFailing = false;
  /** Cost of the records not written yet (buffered or being written), per project. */
  readonly #unwritten = new Map<string, { costUsd: number; records: number }>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  /** Closed: no timers any more; a record that still comes is written at once. */
  #closed = false;

  /** With `journal`, takes over what dead processes left in it at once, and writes it to the database. */
  constructor(storage: Storage, logger: Logger, options: { intervalMs?: number; maxBuffer?: number; journal?: UsageJournal | undefined } = {}) {
    this.#storage = storage;
    this.#logger = logger;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#maxBuffer = options.maxBuffer ?? 500;
    this.#journal = options.journal;
    if (this.#journal === undefined) return;
    const recovered = this.#journal.recover((file, lines) => logger.warn("usage journal lines unreadable; skipped", { file, lines }));
    if (recovered.length === 0) return;
    for (const { record, segment } of recovered) {
      this.#buffer.push({ record, segment, maybeWritten: true });
      this.#count(record, 1);
    }
    logger.info("usage journal replayed", { records: recovered.length });
    void this.flush();
  }

  /** Prices and queues one request's usage; returns the record. */
  record(request: MeteredRequest): UsageRecord {
    // A fixed cost (images) stands whether or not the model has token prices.
    const base = request.usage.costUsd ?? (request.pricing ? priceUsage(request.usage, request.pricing) : 0);
    const cost = base * (request.batch ? BATCH_DISCOUNT : 1);
    const record: UsageRecord = {
      // Time-ordered, so the usage table's inserts stay cheap however large it grows.
      id: `usage_${sortableId(24)}`,
      createdAt: unixSeconds(),
      projectId: request.principal.projectId,
      keyId: request.principal.keyId,
      model: request.model,
      endpoint: request.endpoint,
      inputTokens: request.usage.promptTokens,
      cachedTokens: request.usage.cachedTokens,
      outputTokens: request.usage.completionTokens,
      reasoningTokens: request.usage.reasoningTokens,
      inputAudioTokens: request.usage.audioInputTokens ?? 0,
      outputAudioTokens: request.usage.audioOutputTokens ?? 0,
      audioSeconds: request.usage.audioSeconds ?? 0,
      characters: request.usage.characters ?? 0,
      images: request.usage.images ?? 0,
      imageSize: request.usage.imageSize ?? null,
      latencyMs: Math.round(request.latencyMs),
      status: request.status,
      costUsd: cost,
      batch: request.batch,
    };
    this.#buffer.push({ record, segment: this.#append(record), maybeWritten: false });
    this.#count(record, 1);
    if (this.#buffer.length >= this.#maxBuffer || this.#closed) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#intervalMs);
    return record;
  }

  /** Journals a record; a journal that fails (disk full) leaves it in memory only, as without one. */
  #append(record: UsageRecord): JournalSegment | undefined {
    if (this.#journal === undefined) return undefined;
    try {
      const segment = this.#journal.append(record);
      this.#journalFailing = false;
      return segment;
    } catch (error) {
      if (!this.#journalFailing) this.#logger.error("usage journal write failed; records kept in memory only", { error: (error as Error).message });
      this.#journalFailing = true;
      return undefined;
    }
  }

  /** Runs a journal step whose failure (a file it could not delete) must not stop metering. */
  #journalStep(step: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#logger.error("usage journal step failed", { step, error: (error as Error).message });
    }
  }

  /** The chunk's records to insert: those that may be written already are looked up first. */
  async #toInsert(chunk: readonly Pending[]): Promise<UsageRecord[]> {
    const doubtful = chunk.filter((p) => p.maybeWritten).map((p) => p.record.id);
    if (doubtful.length === 0) return chunk.map((p) => p.record);
    const written = await existingIds(this.#storage.db, "usage_records", doubtful);
    return chunk.filter((p) => !written.has(p.record.id)).map((p) => p.record);
  }

  /** Records buffered, not yet written (the meter's lag). */
  get pending(): number {
    return this.#buffer.length;
  }

  /** Cost of a project's records not written yet, so budget checks see them. */
  pendingSpend(projectId: string): number {
    return this.#unwritten.get(projectId)?.costUsd ?? 0;
  }

  /** Counts a record in (+1) when buffered, or out (-1) once written. */
  #count(r: UsageRecord, sign: 1 | -1): void {
    const entry = this.#unwritten.get(r.projectId);
    if (entry === undefined) {
      if (sign > 0) this.#unwritten.set(r.projectId, { costUsd: r.costUsd, records: 1 });
      return;
    }
    entry.records += sign;
    // Back to none pending: drop the entry, and with it the float dust of adding and taking away.
    if (entry.records === 0) this.#unwritten.delete(r.projectId);
    else entry.costUsd += sign * r.costUsd;
  }

  /** Writes everything buffered so far. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#buffer;
    this.#buffer = [];
    // The batch's records are exactly the current segment's (and older, unfinished ones'): later records go to a new one.
    if (this.#journal !== undefined) this.#journalStep("seal", () => this.#journal?.seal());
    this.#flushing = this.#flushing.then(async () => {
      for (let start = 0; start < batch.length; start += FLUSH_CHUNK) {
        if (start > 0) await yieldToLoop();
        const chunk = batch.slice(start, start + FLUSH_CHUNK);
        try {
          await this.#storage.insertUsage(await this.#toInsert(chunk));
        } catch (error) {
          // Keep the records not written for the next attempt rather than lose them. A duplicate id means
          // one is there already (a commit that landed though it reported failure): look them up next time.
          if (DUPLICATE_KEY.test((error as Error).message)) for (const p of chunk) p.maybeWritten = true;
          const rest = batch.slice(start);
          this.#buffer.unshift(...rest);
          this.#logger.error("usage flush failed; will retry", { records: rest.length, error: (error as Error).message });
          // Once closed (its storage may be gone) no timer may keep the process alive to retry.
          if (!this.#closed) this.#timer ??= setTimeout(() => void this.flush(), this.#intervalMs);
          return;
        }
        for (const p of chunk) {
          this.#count(p.record, -1);
          const segment = p.segment;
          if (segment !== undefined) this.#journalStep("delete committed segment", () => this.#journal?.committed(segment));
        }
      }
    });
    return this.#flushing;
  }

  /** Flushes and stops the timer (graceful shutdown). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // What could not be written stays in the journal for the next start.
    if (this.#journal !== undefined) this.#journalStep("close", () => this.#journal?.close());
  }
}
