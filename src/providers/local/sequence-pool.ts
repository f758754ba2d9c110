import { overloaded } from "../../core/errors.ts";

/** A sequence lent to one generation; `release` gives it back exactly once. */
export interface SequenceLease<T> {
  readonly sequence: T;
  release(): void;
}

interface Waiter<T> {
  resolve(lease: SequenceLease<T>): void;
  reject(error: unknown): void;
  background: boolean;
  cleanup(): void;
}

/** Counts for health output and tests. */
export interface PoolStats {
  total: number;
  busy: number;
  queued: number;
  queueSize: number;
}

/**
 * Lends a fixed set of engine sequences to generations. When all are busy, callers wait in a
 * bounded FIFO queue; past its bound they get a 503 with Retry-After at once. A caller whose
 * AbortSignal fires while waiting leaves the queue.
 */
export class SequencePool<T> {
  readonly #free: T[];
  readonly #all: readonly T[];
  readonly #waiters: Waiter<T>[] = [];
  readonly #queueSize: number;

  constructor(sequences: readonly T[], queueSize: number) {
    this.#all = sequences;
    this.#free = [...sequences];
    this.#queueSize = queueSize;
  }

  /** Whether `count` more acquisitions would all be served or queued rather than refused. */
  canAccept(count: number): boolean {
    return this.#waiters.length + Math.max(0, count - this.#free.length) <= this.#queueSize;
  }

  /** The most acquisitions one request can ever make: every sequence plus every queue place. */
  get capacity(): number {
    return this.#all.length + this.#queueSize;
  }

  stats(): PoolStats {
    return {
      total: this.#all.length,
      busy: this.#all.length - this.#free.length,
      queued: this.#waiters.length,
      queueSize: this.#queueSize,
    };
  }

  /**
   * Lends the free sequence with the highest `score` (for example the longest shared prompt
   * prefix; ties go to the least recently used), or waits for one. Background waiters queue behind
   * every interactive one. Rejects at once with a 503 ApiError when the queue is full.
   */
  acquire(signal: AbortSignal, score: (sequence: T) => number = () => 0, background = false): Promise<SequenceLease<T>> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#free.length > 0) return Promise.resolve(this.#lend(this.#takeBest(score)));
    if (this.#waiters.length >= this.#queueSize) {
      return Promise.reject(overloaded("The server is busy: every sequence is in use and the queue is full. Please retry shortly.", 1));
    }
    return new Promise<SequenceLease<T>>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(signal.reason);
      };
      const waiter: Waiter<T> = {
        resolve,
        reject,
        background,
        cleanup: () => signal.removeEventListener("abort", onAbort),
      };
      signal.addEventListener("abort", onAbort, { once: true });
      const firstBackground = background ? -1 : this.#waiters.findIndex((w) => w.background);
      if (firstBackground < 0) this.#waiters.push(waiter);
      else this.#waiters.splice(firstBackground, 0, waiter);
    });
  }

  #takeBest(score: (sequence: T) => number): T {
    let bestIndex = 0;
    let bestScore = -Infinity;
    for (let i = 0; i < this.#free.length; i++) {
      const s = score(this.#free[i] as T);
      if (s > bestScore) {
        bestScore = s;
        bestIndex = i;
      }
    }
    return this.#free.splice(bestIndex, 1)[0] as T;
  }

  #lend(sequence: T): SequenceLease<T> {
    let released = false;
    return {
      sequence,
      release: () => {
        if (released) return;
        released = true;
        this.#giveBack(sequence);
      },
    };
  }

  #giveBack(sequence: T): void {
    const waiter = this.#waiters.shift();
    if (waiter === undefined) {
      this.#free.push(sequence);
      return;
    }
    waiter.cleanup();
    waiter.resolve(this.#lend(sequence));
  }
}
