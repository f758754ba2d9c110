import type { DeploymentSelector, Eligible, RoutedDeployment } from "./deployment-selector.ts";
import { NONE } from "./deployment-selector.ts";
import type { AffinityKey } from "./prefix-affinity.ts";
import type { RouterClock } from "./router-clock.ts";
import { currentTrail } from "../../core/request-trail.ts";
import { markSpanFailed, SpanKind, startChildSpan, withSpan } from "../../core/trace-spans.ts";
import { UpstreamError } from "./upstream-error.ts";

/** Any attempt failure as an UpstreamError; one that is not already is a retryable 502. */
export function asUpstreamError(error: unknown): UpstreamError {
  return error instanceof UpstreamError ? error : new UpstreamError(502, "The upstream failed.", { type: "server_error", code: "upstream_error", retryable: true });
}

/** OpenAI's SDK backoff: 0.5 s doubling to 8 s, minus up to 25 % jitter; a Retry-After up to a minute wins. */
export function backoffMs(attempt: number, retryAfter: number | undefined, random: () => number = Math.random): number {
  if (retryAfter !== undefined && retryAfter >= 0 && retryAfter <= 60_000) return retryAfter;
  return Math.min(8000, 500 * 2 ** (attempt - 1)) * (1 - random() * 0.25);
}

/**
 * The client's signal joined with the request's deadline: one controller and one timer, cheaper per
 * request than AbortSignal.any over AbortSignal.timeout. `dispose` stops both.
 */
export function withDeadline(signal: AbortSignal, ms: number): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  if (signal.aborted) controller.abort();
  else signal.addEventListener("abort", abort, { once: true });
  const timer = setTimeout(abort, ms);
  // A stream its consumer abandoned without closing must not keep the process alive.
  timer.unref();
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer);
      signal.removeEventListener("abort", abort);
    },
  };
}

/** What one request may try: the eligible deployments, and how it counts against their own limits. */
export interface AttemptPlan {
  eligible: Eligible;
  /**
   * Estimated tokens each attempt reserves against its deployment's own RPM/TPM; undefined for calls
   * not counted against them (relayed endpoints), which also never report a 429 of their own.
   */
  tokens: number | undefined;
  maxRetries: number;
  /** The request's affinity key under prefix-affinity routing; undefined picks the least loaded. */
  affinity?: AffinityKey | undefined;
}

/** An attempt that got through: from here on its result goes to the client and nothing is retried. */
export interface Committed<T> {
  value: T;
  state: RoutedDeployment;
  /**
   * Ends the attempt once its result is used up: it stops counting as in flight, the request's
   * deadline stops aborting it, and the tokens it used (the estimate when not given) settle the
   * deployment's TPM. Later calls do nothing.
   */
  release(usedTokens?: number): void;
  /** Aborts the attempt's upstream request (a relayed stream its client left). */
  abort(): void;
}

/** How the attempts ended: one committed, or none, with the last retryable failure if any. */
export type AttemptOutcome<T> = { committed: Committed<T> } | { committed: undefined; lastError: UpstreamError | undefined };

/**
 * Opens one attempt at a deployment, up to the point of commitment (the first stream part, a relayed
 * stream's 200, a whole JSON answer); `dropped` are the parameters to leave out, `signal` aborts it
 * (its own timeout, the deadline).
 */
export type OpenAttempt<T> = (state: RoutedDeployment, dropped: ReadonlySet<string>, signal: AbortSignal) => Promise<T>;

/**
 * The one attempt/retry loop of a routed request (chat streams, relayed endpoints, embeddings): pick
 * a deployment that can take it and reserve the attempt there (its own limits and breaker, shared
 * through Redis when configured), open an attempt under the deployment's timeout and the deadline,
 * and on a retryable failure count it against the breaker, back off and try another, until
 * `maxRetries` retries or the deadline. A failure that is not retryable, or says the context is too long (every
 * deployment of a model has the same window), is thrown as is; so is any failure once the client
 * left. Fallbacks to other models are the caller's, on `{ committed: undefined }`. Each deployment
 * counts its attempts, failures and retries; the request's trail (when it has one) gets its retries
 * and the deployment that committed, for the request log.
 */
export async function runAttempts<T>(
  selector: DeploymentSelector,
  plan: AttemptPlan,
  signal: AbortSignal,
  deadline: AbortSignal,
  clock: RouterClock,
  open: OpenAttempt<T>,
): Promise<AttemptOutcome<T>> {
  const tried = new Set<RoutedDeployment>();
  const metered = plan.tokens !== undefined;
  const tokens = plan.tokens ?? 0;
  let lastError: UpstreamError | undefined;
  const trail = currentTrail();
  for (let attempt = 0; attempt <= plan.maxRetries && !deadline.aborted; attempt++) {
    const { state, limitedForMs, affinityFirst } = await selector.reserve(plan.eligible, tried, plan.tokens, plan.affinity);
    if (state === undefined) {
      if (limitedForMs !== undefined && metered) {
        lastError = new UpstreamError(429, `Every deployment of '${selector.model}' is at its configured rate limit; retry in ${Math.ceil(limitedForMs / 1000)} s.`, {
          type: "rate_limit_error",
          code: "rate_limit_exceeded",
          retryable: true,
          retryAfterMs: limitedForMs,
        });
      }
      break;
    }
    tried.add(state);
    const attemptAbort = new AbortController();
    const onDeadline = (): void => attemptAbort.abort();
    deadline.addEventListener("abort", onDeadline, { once: true });
    const timer = setTimeout(() => attemptAbort.abort(), state.deployment.timeoutMs);
    state.inFlight++;
    state.requests++;
    if (affinityFirst === true) state.affinityFirst++;
    else if (affinityFirst === false) state.affinityDiverted++;
    if (attempt > 0) {
      state.retries++;
      if (trail !== undefined) trail.retries++;
    }
    // One client span per attempt (when traced): it ends with the attempt, and the upstream request carries it.
    const span = startChildSpan(`upstream ${state.deployment.id}`, SpanKind.CLIENT, { "modelport.deployment_id": state.deployment.id, "modelport.attempt": attempt + 1 });
    let released = false;
    const release = (usedTokens = tokens): void => {
      if (released) return;
      released = true;
      span?.end();
      clearTimeout(timer);
      deadline.removeEventListener("abort", onDeadline);
      state.inFlight--;
      if (metered && selector.limited) selector.reconcile(state, tokens, usedTokens);
    };
    let value: T;
    try {
      value = await withSpan(span, () => open(state, plan.eligible.get(state) ?? NONE, attemptAbort.signal));
    } catch (error) {
      const upstream = asUpstreamError(error);
      span?.setAttribute("http.response.status_code", upstream.status);
      markSpanFailed(span, upstream);
      // A failed attempt that sent nothing used no tokens.
      release(0);
      if (signal.aborted) throw upstream;
      // A client that left is not the deployment's failure.
      state.failures++;
      if (upstream.retryable) await selector.failed(state);
      if (!upstream.retryable || upstream.code === "context_length_exceeded") throw upstream;
      lastError = upstream;
      if (attempt < plan.maxRetries) await clock.sleep(backoffMs(attempt + 1, upstream.retryAfterMs, () => clock.random()), deadline);
      continue;
    }
    // Committed: the attempt's own timeout (until the first token) no longer applies.
    clearTimeout(timer);
    selector.succeeded(state);
    if (trail !== undefined) trail.deployment = state.deployment.id;
    span?.setAttribute("http.response.status_code", 200);
    return { committed: { value, state, release, abort: () => attemptAbort.abort() } };
  }
  return { committed: undefined, lastError };
}
