/**
 * What the lower layers learn about one HTTP request while serving it (which upstream deployment
 * answered, how many attempts were retries), handed up without threading it through every call:
 * the HTTP layer enters a trail per request, the upstream retry loop writes to it, and the request
 * log reads it when the request finishes. Node 24's AsyncLocalStorage runs on AsyncContextFrame,
 * so entering one costs a frame per request and a lookup per write.
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** What one guardrail check did to a request (recorded in the request log and counted in metrics). */
export interface GuardEvent {
  stage: "input" | "output";
  /** The check's type (`pii`, `moderation`, `banned`…). */
  check: string;
  action: "block" | "redact" | "flag";
  /** What it found: a PII type, a moderation category, `word`/`regex`; null when the check has none. */
  category: string | null;
}

/** One request's record: written by the retry loop and the guardrails, read once the request has finished. */
export interface RequestTrail {
  /** Guardrail checks that triggered, in order. */
  guardrails?: GuardEvent[];
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
