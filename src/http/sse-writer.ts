import type { ServerResponse } from "node:http";
import { writeWithBackpressure } from "./respond.ts";

/**
 * Writes SSE frames, coalescing frames that arrive within `intervalMs` of the last socket write.
 * A small model can produce a token every millisecond, and one syscall (and one client wake-up)
 * per token then costs more than the token; at ordinary speeds (tens of ms per token) every
 * frame is written at once, and no frame ever waits longer than `intervalMs`.
 */
export class SseWriter {
  readonly #res: ServerResponse;
  readonly #intervalMs: number;
  #pending = "";
  #lastFlush = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;

  constructor(res: ServerResponse, intervalMs: number) {
    this.#res = res;
    this.#intervalMs = intervalMs;
  }

  /** Queues a frame; false once the client is gone, a promise while the socket drains. */
  write(frame: string): boolean | Promise<boolean> {
    if (this.#res.destroyed) return false;
    this.#pending += frame;
    const sinceFlush = performance.now() - this.#lastFlush;
    if (sinceFlush >= this.#intervalMs) return this.flush();
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.#intervalMs - sinceFlush);
    return true;
  }

  /** Writes everything queued now. */
  flush(): boolean | Promise<boolean> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending === "") return !this.#res.destroyed;
    const text = this.#pending;
    this.#pending = "";
    this.#lastFlush = performance.now();
    return writeWithBackpressure(this.#res, text);
  }

  /** Flushes and ends the response. */
  async end(): Promise<void> {
    await this.flush();
    this.#res.end();
  }
}

/** When each response's event stream was opened (`performance.now()`), for the metrics' and request log's time to first token. */
const streamsOpened = new WeakMap<ServerResponse, number>();

/**
 * When `res`'s event stream was opened, or undefined when the answer was no stream. Routes open the
 * stream once the first part is generated, so this is the time of the first token.
 */
export function streamOpenedAt(res: ServerResponse): number | undefined {
  return streamsOpened.get(res);
}

/** Frames produced within this many milliseconds of the last write share one socket write. */
export const STREAM_COALESCE_MS = 10;

/**
 * Sends the status line and headers of a server-sent event stream (200, no caching, no proxy
 * buffering) and returns the writer for its frames.
 */
export function openEventStream(res: ServerResponse, coalesceMs = STREAM_COALESCE_MS): SseWriter {
  streamsOpened.set(res, performance.now());
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  return new SseWriter(res, coalesceMs);
}
