/**
 * What the lower layers learn about one HTTP request while serving it (which upstream deployment
 * answered, how many attempts were retries), handed up without threading it through every call:
 * the HTTP layer enters a trail per request, the upstream retry loop writes to it, and the request
 * log reads it when the request finishes. Node 24's AsyncLocalStorage runs on AsyncContextFrame,
 * so entering one costs a frame per request and a lookup per write.
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** One request's record: written by the retry loop, read once the request has finished. */
export interface RequestTrail {
  /** The upstream deployment of the last attempt that committed (its answer went to the client). */
  deployment?: string;
  /** Attempts that were retries of an earlier failed one, over every routed call of the request. */
  retries: number;
}

const trails = new AsyncLocalStorage<RequestTrail>();

/** Runs `fn` with `trail` as the current request's trail, for everything it calls or schedules. */
export function runWithTrail<T>(trail: RequestTrail, fn: () => T): T {
  return trails.run(trail, fn);
}

/**
 * Runs `fn` outside any request's trail: for long-lived work that a request merely wakes (a worker
 * loop's timer), which would otherwise write to that request's trail ever after.
 */
export function runWithoutTrail<T>(fn: () => T): T {
  return trails.exit(fn);
}

/** The current request's trail, or undefined outside a request (background jobs). */
export function currentTrail(): RequestTrail | undefined {
  return trails.getStore();
}
