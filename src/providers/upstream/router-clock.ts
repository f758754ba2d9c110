/**
 * The time and chance a router runs on: the system's in production, a fake in unit tests, so
 * selection, cooldowns and backoff can be checked exactly. Per-attempt timeouts and the request's
 * deadline stay on real timers (they only cut work short).
 */
export interface RouterClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Waits `ms`, or less when the signal aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** A number in [0, 1): weighted tie-breaks and backoff jitter. */
  random(): number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** The real clock. */
export const systemClock: RouterClock = { now: Date.now, sleep, random: Math.random };
