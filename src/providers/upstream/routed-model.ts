import { countTokens } from "gpt-tokenizer";
import { emptyUsage, type ChatRequest, type ChatStreamPart, type Usage } from "../../core/chat.ts";
import { ApiError } from "../../core/errors.ts";
import type { ChatModel, EmbeddingInput, EmbedOptions, EmbedResult, ForwardedResponse, ForwardEndpoint, ModelDescriptor } from "../provider.ts";
import { estimatePromptTokens, estimateTokens } from "../../core/token-estimate.ts";
import type { UpstreamAdapter } from "./adapter.ts";
import { networkError, streamFromDeployment, type Deployment } from "./deployment.ts";
import { headerValue, isOk, postUpstream, toHeaders, type UpstreamResponse } from "./http-transport.ts";
import { DeploymentLimits } from "./deployment-limits.ts";
import { usedParams } from "../../core/declarable-params.ts";
import { mapUpstreamError, openAiErrorBody, UpstreamError } from "./upstream-error.ts";
// A pure function (no engine code): vectors are normalised the same way for every provider.
import { normalise } from "../../core/vectors.ts";

const NONE: ReadonlySet<string> = new Set();

/** How a routed model retries, falls back and protects failing deployments. */
export interface RoutingPolicy {
  /** Retries after the first attempt, across deployments. */
  maxRetries: number;
  /** The whole request's time limit, attempts and waits included. */
  deadlineMs: number;
  /** Consecutive failures that open a deployment's circuit, and how long it then rests. */
  breakerThreshold: number;
  breakerCooldownMs: number;
  /** Models to try, in order, once the deployments are exhausted. */
  fallbacks: () => ChatModel[];
  /** Models to try when the upstream says the context is too long. */
  contextFallbacks: () => ChatModel[];
}

interface DeploymentState {
  deployment: Deployment;
  inFlight: number;
  failures: number;
  openUntil: number;
  requests: number;
  limits: DeploymentLimits;
}

/** Whether a deployment's provider has OpenAI's other endpoints. */
function forwards(s: DeploymentState): boolean {
  return s.deployment.adapter.forwardCall !== undefined;
}

/** Any attempt failure as an UpstreamError; one that is not already is a retryable 502. */
function asUpstreamError(error: unknown): UpstreamError {
  return error instanceof UpstreamError ? error : new UpstreamError(502, "The upstream failed.", { type: "server_error", code: "upstream_error", retryable: true });
}

/** Waits `ms`, or less when the signal aborts. */
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

/**
 * The client's signal joined with the request's deadline: one controller and one timer, cheaper per
 * request than AbortSignal.any over AbortSignal.timeout. `dispose` stops both.
 */
function withDeadline(signal: AbortSignal, ms: number): { signal: AbortSignal; dispose(): void } {
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

/** OpenAI's SDK backoff: 0.5 s doubling to 8 s, minus up to 25 % jitter; a Retry-After up to a minute wins. */
export function backoffMs(attempt: number, retryAfter: number | undefined): number {
  if (retryAfter !== undefined && retryAfter >= 0 && retryAfter <= 60_000) return retryAfter;
  return Math.min(8000, 500 * 2 ** (attempt - 1)) * (1 - Math.random() * 0.25);
}

/**
 * A public model served by upstream deployments: weighted, least-loaded selection; retries with
 * backoff until the first token, never after; a circuit breaker per deployment; an overall
 * deadline; fallbacks to other models (the local engine included).
 */
export class RoutedChatModel implements ChatModel {
  readonly descriptor: ModelDescriptor;
  readonly #states: DeploymentState[];
  readonly #policy: RoutingPolicy;

  constructor(descriptor: ModelDescriptor, deployments: readonly Deployment[], policy: RoutingPolicy) {
    this.descriptor = descriptor;
    this.#states = deployments.map((deployment) => ({
      deployment,
      inFlight: 0,
      failures: 0,
      openUntil: 0,
      requests: 0,
      limits: new DeploymentLimits(deployment.rpm, deployment.tpm),
    }));
    this.#policy = policy;
  }

  stats(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.#states) {
      out[`${s.deployment.id}.requests`] = s.requests;
      out[`${s.deployment.id}.in_flight`] = s.inFlight;
      out[`${s.deployment.id}.circuit_open`] = s.openUntil > Date.now() ? 1 : 0;
    }
    return out;
  }

  /**
   * The least loaded eligible deployment relative to its weight, ties broken at random by weight;
   * deployments tried already are avoided while others remain. Deployments at their own RPM/TPM
   * are skipped; when that leaves none, `limitedForMs` says how soon one frees up.
   */
  #pick(eligible: ReadonlyMap<DeploymentState, ReadonlySet<string>>, exclude: ReadonlySet<DeploymentState>, tokens: number): { state?: DeploymentState; limitedForMs?: number } {
    const now = Date.now();
    let limitedForMs: number | undefined;
    const ready = (s: DeploymentState): boolean => {
      if (s.openUntil > now || s.deployment.weight <= 0 || !eligible.has(s)) return false;
      const wait = s.limits.wait(tokens, now);
      if (wait > 0) limitedForMs = Math.min(limitedForMs ?? wait, wait);
      return wait === 0;
    };
    const all = this.#states.filter(ready);
    const fresh = all.filter((s) => !exclude.has(s));
    const candidates = fresh.length > 0 ? fresh : all;
    if (candidates.length === 0) return limitedForMs === undefined ? {} : { limitedForMs };
    const load = (s: DeploymentState) => s.inFlight / s.deployment.weight;
    const least = Math.min(...candidates.map(load));
    const tied = candidates.filter((s) => load(s) === least);
    let ticket = Math.random() * tied.reduce((sum, s) => sum + s.deployment.weight, 0);
    for (const s of tied) {
      ticket -= s.deployment.weight;
      if (ticket < 0) return { state: s };
    }
    return { state: tied.at(-1) as DeploymentState };
  }

  /**
   * Which deployments can take this request, and the parameters each must leave out. A parameter no
   * deployment can take is a 400 naming it, unless a deployment opted into dropping it.
   */
  #eligible(request: ChatRequest): Map<DeploymentState, ReadonlySet<string>> {
    const used = usedParams(request);
    const eligible = new Map<DeploymentState, ReadonlySet<string>>();
    let refusal: { param: string; name: string; detail?: string; provider: string } | undefined;
    for (const s of this.#states) {
      const d = s.deployment;
      const lacking = [...d.adapter.unsupported(request, used), ...used.filter((p) => d.unsupportedParams.has(p.name))];
      if (lacking.length === 0) eligible.set(s, NONE);
      else if (d.dropUnsupportedParams) eligible.set(s, new Set(lacking.map((p) => p.name)));
      else refusal ??= { ...(lacking[0] as { param: string; name: string; detail?: string }), provider: d.adapter.name };
    }
    if (eligible.size === 0 && refusal !== undefined) {
      const what = refusal.detail ?? `its ${refusal.provider} upstream has no '${refusal.name}'`;
      throw new ApiError(400, `The model '${this.descriptor.id}' does not support '${refusal.name}' as given: ${what}.`, {
        type: "invalid_request_error",
        code: "unsupported_parameter",
        param: refusal.param,
      });
    }
    return eligible;
  }

  /** Why no attempt succeeded: the deadline, the last upstream error, or every deployment resting. */
  #exhausted(deadline: AbortSignal, signal: AbortSignal, lastError: UpstreamError | undefined): ApiError {
    if (deadline.aborted && !signal.aborted) {
      return new ApiError(504, `No upstream for '${this.descriptor.id}' answered within ${this.#policy.deadlineMs} ms.`, { type: "server_error", code: "upstream_timeout" });
    }
    return lastError ?? new ApiError(503, `Every upstream deployment for '${this.descriptor.id}' is resting after failures; retry shortly.`, { type: "server_error", code: "upstream_unavailable", headers: { "retry-after": "1" } });
  }

  #failed(s: DeploymentState): void {
    s.failures++;
    if (s.failures >= this.#policy.breakerThreshold) s.openUntil = Date.now() + this.#policy.breakerCooldownMs;
  }

  async *streamChat(request: ChatRequest, signal: AbortSignal, onUsage?: (usage: Usage) => void): AsyncGenerator<ChatStreamPart> {
    const eligible = this.#eligible(request);
    const limited = this.#states.some((s) => s.deployment.tpm !== undefined || s.deployment.rpm !== undefined);
    const estimate = limited ? estimateTokens(request) : 0;
    const requestDeadline = withDeadline(signal, this.#policy.deadlineMs);
    const deadline = requestDeadline.signal;
    let usage: Usage | undefined;
    let delegated = false;
    let lastError: UpstreamError | undefined;
    const tried = new Set<DeploymentState>();
    try {
      for (let attempt = 0; attempt <= this.#policy.maxRetries && !deadline.aborted; attempt++) {
        const { state, limitedForMs } = this.#pick(eligible, tried, estimate);
        if (state === undefined) {
          if (limitedForMs !== undefined) {
            lastError = new UpstreamError(429, `Every deployment of '${this.descriptor.id}' is at its configured rate limit; retry in ${Math.ceil(limitedForMs / 1000)} s.`, {
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
        state.limits.take(estimate);
        let attemptUsage: Usage | undefined;
        let committed = false;
        try {
          const parts = streamFromDeployment(state.deployment, request, eligible.get(state) ?? NONE, attemptAbort.signal);
          for await (const part of parts) {
            if (!committed) {
              // The first part reaches the client from here on: no more retries for this request.
              committed = true;
              clearTimeout(timer);
              state.failures = 0;
              state.openUntil = 0;
            }
            if (part.type === "usage") usage = attemptUsage = part.usage;
            yield part;
          }
          if (!committed) {
            state.failures = 0;
          }
          return;
        } catch (error) {
          clearTimeout(timer);
          const upstream = asUpstreamError(error);
          if (committed || signal.aborted) throw upstream;
          if (upstream.retryable) this.#failed(state);
          lastError = upstream;
          if (upstream.code === "context_length_exceeded") break;
          if (!upstream.retryable) throw upstream;
          if (attempt < this.#policy.maxRetries) await sleep(backoffMs(attempt + 1, upstream.retryAfterMs), deadline);
        } finally {
          clearTimeout(timer);
          deadline.removeEventListener("abort", onDeadline);
          state.inFlight--;
          // A failed attempt that sent nothing used no tokens; a finished one used what it reported.
          if (limited) state.limits.reconcile(estimate, attemptUsage ? attemptUsage.promptTokens + attemptUsage.completionTokens : committed ? estimate : 0);
        }
      }
      const fallbacks = lastError?.code === "context_length_exceeded" ? this.#policy.contextFallbacks() : this.#policy.fallbacks();
      if (lastError?.code === "context_length_exceeded" && fallbacks.length === 0) throw lastError;
      let fallbackError: unknown;
      for (const fallback of fallbacks) {
        // Each fallback meters its own usage through the same callback.
        const parts = fallback.streamChat(request, signal, onUsage)[Symbol.asyncIterator]();
        let first: IteratorResult<ChatStreamPart>;
        try {
          first = await parts.next();
        } catch (error) {
          fallbackError = error;
          continue;
        }
        delegated = true;
        yield { type: "served-by", model: fallback.descriptor.id };
        for (let step = first; !step.done; step = await parts.next()) yield step.value;
        return;
      }
      if (fallbackError !== undefined) throw fallbackError;
      throw this.#exhausted(deadline, signal, lastError);
    } finally {
      requestDeadline.dispose();
      if (!delegated) onUsage?.(usage ?? emptyUsage());
    }
  }

  /** Whether some deployment of this model has the endpoint itself. */
  supportsForward(_endpoint: ForwardEndpoint): boolean {
    return this.#states.some(forwards);
  }

  async countPromptTokens(request: ChatRequest): Promise<number> {
    return estimatePromptTokens(request);
  }

  /**
   * Forwards a client's body to another OpenAI endpoint of a deployment that has it, with the same
   * selection, breaker, retries and deadline as chat. A JSON answer is read whole before it is
   * returned, so any failure can still be retried; a stream is committed once its status is 200.
   */
  async forward(endpoint: ForwardEndpoint, body: Readonly<Record<string, unknown>>, signal: AbortSignal): Promise<ForwardedResponse> {
    const eligible = new Map<DeploymentState, ReadonlySet<string>>();
    for (const s of this.#states) if (forwards(s)) eligible.set(s, NONE);
    if (eligible.size === 0) {
      throw new ApiError(400, `The model '${this.descriptor.id}' does not support ${"/v1" + endpoint} (its upstream speaks only chat).`, {
        type: "invalid_request_error",
        code: "unsupported_endpoint",
        param: "model",
      });
    }
    const stream = body.stream === true;
    const requestDeadline = withDeadline(signal, this.#policy.deadlineMs);
    const deadline = requestDeadline.signal;
    // A relayed stream keeps the deadline until it ends; anything else drops it on return.
    let deadlineHandedOver = false;
    const tried = new Set<DeploymentState>();
    let lastError: UpstreamError | undefined;
    try {
      for (let attempt = 0; attempt <= this.#policy.maxRetries && !deadline.aborted; attempt++) {
        const { state } = this.#pick(eligible, tried, 0);
        if (state === undefined) break;
        tried.add(state);
        const d = state.deployment;
        const call = (d.adapter.forwardCall as NonNullable<UpstreamAdapter["forwardCall"]>)(d, endpoint, body);
        const attemptAbort = new AbortController();
        const onDeadline = (): void => attemptAbort.abort();
        deadline.addEventListener("abort", onDeadline, { once: true });
        const timer = setTimeout(() => attemptAbort.abort(), d.timeoutMs);
        state.inFlight++;
        state.requests++;
        let handedOver = false;
        try {
          let res: UpstreamResponse;
          try {
            res = await postUpstream(call, attemptAbort.signal);
          } catch (error) {
            throw networkError(d, error, attemptAbort.signal);
          }
          if (!isOk(res.statusCode)) throw d.adapter.errorFrom(d, res.statusCode, toHeaders(res.headers), await res.body.text().catch(() => ""));
          const contentType = headerValue(res.headers, "content-type") ?? "application/json";
          if (!stream) {
            let bytes: Uint8Array;
            try {
              bytes = new Uint8Array(await res.body.arrayBuffer());
            } catch (error) {
              throw networkError(d, error, attemptAbort.signal);
            }
            state.failures = 0;
            return { status: res.statusCode, contentType, body: [bytes], deployment: d.id };
          }
          // Committed: from here the bytes go to the client and nothing is retried.
          clearTimeout(timer);
          state.failures = 0;
          state.openUntil = 0;
          handedOver = true;
          deadlineHandedOver = true;
          const upstream = res.body as AsyncIterable<Buffer>;
          const release = (): void => {
            deadline.removeEventListener("abort", onDeadline);
            requestDeadline.dispose();
            state.inFlight--;
          };
          return {
            status: res.statusCode,
            contentType,
            deployment: d.id,
            body: (async function* () {
              try {
                for await (const chunk of upstream) yield chunk;
              } finally {
                release();
                attemptAbort.abort();
              }
            })(),
          };
        } catch (error) {
          const upstream = asUpstreamError(error);
          if (signal.aborted) throw upstream;
          if (upstream.retryable) this.#failed(state);
          lastError = upstream;
          if (!upstream.retryable) throw upstream;
          if (attempt < this.#policy.maxRetries) await sleep(backoffMs(attempt + 1, upstream.retryAfterMs), deadline);
        } finally {
          clearTimeout(timer);
          if (!handedOver) {
            deadline.removeEventListener("abort", onDeadline);
            state.inFlight--;
          }
        }
      }
      throw this.#exhausted(deadline, signal, lastError);
    } finally {
      if (!deadlineHandedOver) requestDeadline.dispose();
    }
  }

  /**
   * Embeds through a deployment's `/embeddings` (as `forward` relays it), for callers that need
   * vectors rather than bytes, such as vector-store indexing. Vectors come back in input order and
   * unit length; an upstream that ignores `dimensions` and sends longer vectors has them truncated
   * here, one that sends shorter ones is a 400 `dimensions`. Anything else malformed is a 502.
   */
  async embed(inputs: readonly EmbeddingInput[], options: EmbedOptions, signal: AbortSignal): Promise<EmbedResult> {
    const body = {
      model: this.descriptor.id,
      input: inputs,
      encoding_format: "float",
      ...(options.dimensions !== undefined ? { dimensions: options.dimensions } : {}),
    };
    const answer = await this.forward("/embeddings", body, signal);
    const chunks: Buffer[] = [];
    for await (const chunk of answer.body) chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    const text = Buffer.concat(chunks).toString("utf8");
    if (!isOk(answer.status)) throw mapUpstreamError(answer.deployment, answer.status, new Headers(), openAiErrorBody(text));
    const malformed = (what: string): ApiError =>
      new ApiError(502, `The upstream deployment '${answer.deployment}' sent a malformed embeddings answer: ${what}.`, { type: "server_error", code: "upstream_error" });
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw malformed("not JSON");
    }
    const data = (parsed as { data?: unknown } | null)?.data;
    if (!Array.isArray(data) || data.length !== inputs.length) throw malformed(`expected ${inputs.length} embeddings`);
    const vectors: (Float32Array | undefined)[] = new Array<Float32Array | undefined>(inputs.length);
    let length: number | undefined;
    data.forEach((item: unknown, position) => {
      const { index = position, embedding } = (item ?? {}) as { index?: unknown; embedding?: unknown };
      if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= inputs.length || vectors[index] !== undefined) throw malformed("bad or repeated index");
      if (!Array.isArray(embedding) || embedding.length === 0 || !embedding.every((v: unknown) => typeof v === "number" && Number.isFinite(v))) {
        throw malformed("an embedding is not a list of numbers");
      }
      if (length !== undefined && embedding.length !== length) throw malformed("embeddings of different lengths");
      length = embedding.length;
      const dimensions = options.dimensions ?? embedding.length;
      if (embedding.length < dimensions) {
        throw new ApiError(400, `The model '${this.descriptor.id}' gives ${embedding.length}-dimension embeddings, fewer than 'dimensions' (${dimensions}).`, {
          type: "invalid_request_error",
          code: "invalid_value",
          param: "dimensions",
        });
      }
      vectors[index] = normalise(embedding as number[], dimensions);
    });
    const usage = (parsed as { usage?: { prompt_tokens?: unknown } }).usage;
    const promptTokens = typeof usage?.prompt_tokens === "number" ? usage.prompt_tokens : inputs.reduce((sum, input) => sum + (typeof input === "string" ? countTokens(input) : input.length), 0);
    return { vectors: vectors as Float32Array[], promptTokens };
  }

  async dispose(): Promise<void> {}
}
