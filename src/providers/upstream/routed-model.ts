import type { Transcript } from "../../core/audio.ts";
import { emptyUsage, type ChatRequest, type ChatStreamPart, type Usage } from "../../core/chat.ts";
import type { TextCompletionPart } from "../../core/completion.ts";
import { ApiError } from "../../core/errors.ts";
import { estimatePromptTokens, estimateTokens } from "../../core/token-estimate.ts";
import {
  isForwardForm,
  unsupportedAudio,
  unsupportedEndpoint,
  type ChatModel,
  type ForwardBody,
  type RealtimeTarget,
  type SpeechAudio,
  type EmbeddingInput,
  type EmbedOptions,
  type EmbedResult,
  type ForwardedResponse,
  type ForwardEndpoint,
  type ModelCapabilities,
  type ModelDescriptor,
} from "../provider.ts";
import type { UpstreamCall } from "./adapter.ts";
import { asUpstreamError, runAttempts, withDeadline, type AttemptOutcome } from "./attempt-loop.ts";
import { deploymentForwards, networkError, streamFromDeployment, type Deployment } from "./deployment.ts";
import { DeploymentSelector } from "./deployment-selector.ts";
import { chatAffinityKey, forwardAffinityKey, type AffinityKey, type RoutingStrategy } from "./prefix-affinity.ts";
import { headerValue, isOk, postUpstream, toHeaders, type UpstreamResponse } from "./http-transport.ts";
import type { SharedDeploymentState } from "./shared-deployment-state.ts";
import { systemClock, type RouterClock } from "./router-clock.ts";
import { UpstreamError } from "./upstream-error.ts";

/** How a routed model chooses deployments, retries, falls back and protects failing deployments. */
export interface RoutingPolicy {
  /**
   * `least-load` (the default): the least loaded deployment relative to its weight.
   * `prefix-affinity`: the deployment a request's conversation hashes to, within a load bound, for
   * upstreams with prefix caches (prefix-affinity.ts).
   */
  routing?: RoutingStrategy;
  /** prefix-affinity's load bound ε (default 0.25). */
  affinityLoadFactor?: number;
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
  /** Where deployments' RPM/TPM and breakers are shared with other processes (Redis); this process alone by default. */
  shared?: SharedDeploymentState | undefined;
}

/** A chat attempt at the point of commitment: its stream, and the first step already read from it. */
interface OpenedStream {
  parts: AsyncGenerator<ChatStreamPart>;
  first: IteratorResult<ChatStreamPart>;
}

/** A relayed answer, with the deployment that gave it (whose adapter reads it). */
interface Relayed {
  response: ForwardedResponse;
  deployment: Deployment;
}

/** The next step of a committed stream; a failure from here on is an UpstreamError that is not retried. */
async function nextPart(parts: AsyncGenerator<ChatStreamPart>): Promise<IteratorResult<ChatStreamPart>> {
  try {
    return await parts.next();
  } catch (error) {
    throw asUpstreamError(error);
  }
}

/**
 * A public model served by upstream deployments: weighted selection, least loaded or by prefix
 * affinity; retries with backoff until the first token, never after; a circuit breaker per
 * deployment; an overall deadline; fallbacks to other models (the local engine included).
 * Selection and breakers live in DeploymentSelector (affinity keys in prefix-affinity.ts), the retry
 * loop in runAttempts; this class says what an attempt is.
 */
export class RoutedChatModel implements ChatModel {
  readonly descriptor: ModelDescriptor;
  readonly capabilities: ModelCapabilities;
  readonly #selector: DeploymentSelector;
  readonly #policy: RoutingPolicy;
  readonly #clock: RouterClock;
  readonly #deployments: readonly Deployment[];

  /** `clock` is for tests; the system's by default. */
  constructor(descriptor: ModelDescriptor, deployments: readonly Deployment[], policy: RoutingPolicy, clock: RouterClock = systemClock) {
    this.descriptor = descriptor;
    this.#policy = policy;
    this.#clock = clock;
    this.#deployments = deployments;
    const breaker = { threshold: policy.breakerThreshold, cooldownMs: policy.breakerCooldownMs };
    this.#selector = new DeploymentSelector(descriptor.id, deployments, breaker, clock, policy.affinityLoadFactor, policy.shared);
    // Endpoints some deployment's provider has; each request then goes only to deployments that have it.
    const forwards = new Set<ForwardEndpoint>(deployments.flatMap((d) => [...deploymentForwards(d)]));
    this.capabilities = {
      contextSize: undefined,
      embeddings: forwards.has("/embeddings") ? "relay" : "none",
      completions: forwards.has("/completions") ? "relay" : "none",
      forwards,
      vision: deployments.some((d) => !d.unsupportedParams.has("image_url")),
      speech: false,
      transcription: false,
    };
  }

  /**
   * Where to relay a realtime session: a deployment whose provider has `/realtime`, picked by
   * weight. A socket is one long call, so there is no retry across deployments once it is open.
   */
  realtimeTarget(): RealtimeTarget | undefined {
    const eligible = this.#deployments.filter((d) => deploymentForwards(d).has("/realtime") && d.adapter.realtimeCall !== undefined);
    const total = eligible.reduce((sum, d) => sum + d.weight, 0);
    let pick = Math.random() * total;
    const chosen = eligible.find((d) => (pick -= d.weight) < 0) ?? eligible[0];
    const call = chosen?.adapter.realtimeCall?.(chosen);
    return chosen === undefined || call === undefined ? undefined : { ...call, deployment: chosen.id };
  }

  /** Not a speech model (`capabilities.speech` is false). */
  async speak(): Promise<SpeechAudio> {
    throw unsupportedAudio(this.descriptor.id, "/audio/speech");
  }

  /** Not a transcription model (`capabilities.transcription` is false). */
  async transcribe(): Promise<Transcript> {
    throw unsupportedAudio(this.descriptor.id, "/audio/transcriptions");
  }

  stats(): Record<string, number> {
    return this.#selector.stats();
  }

  /** Why no attempt succeeded: the deadline, the last upstream error, or every deployment resting. */
  #exhausted(deadline: AbortSignal, signal: AbortSignal, lastError: UpstreamError | undefined): ApiError {
    if (deadline.aborted && !signal.aborted) {
      return new ApiError(504, `No upstream for '${this.descriptor.id}' answered within ${this.#policy.deadlineMs} ms.`, { type: "server_error", code: "upstream_timeout" });
    }
    return lastError ?? new ApiError(503, `Every upstream deployment for '${this.descriptor.id}' is resting after failures; retry shortly.`, { type: "server_error", code: "upstream_unavailable", headers: { "retry-after": "1" } });
  }

  async *streamChat(request: ChatRequest, signal: AbortSignal, onUsage?: (usage: Usage) => void): AsyncGenerator<ChatStreamPart> {
    const eligible = this.#selector.forChat(request);
    const estimate = this.#selector.limited ? estimateTokens(request) : 0;
    const affinity = this.#policy.routing === "prefix-affinity" ? chatAffinityKey(request) : undefined;
    const requestDeadline = withDeadline(signal, this.#policy.deadlineMs);
    const deadline = requestDeadline.signal;
    let usage: Usage | undefined;
    let delegated = false;
    try {
      let outcome: AttemptOutcome<OpenedStream>;
      try {
        outcome = await runAttempts(this.#selector, { eligible, tokens: estimate, maxRetries: this.#policy.maxRetries, affinity }, signal, deadline, this.#clock, async (state, dropped, attemptSignal) => {
          const parts = streamFromDeployment(state.deployment, request, dropped, attemptSignal);
          // The first part reaches the client once it is read: no more retries for this request.
          return { parts, first: await parts.next() };
        });
      } catch (error) {
        if (signal.aborted || !(error instanceof UpstreamError) || error.code !== "context_length_exceeded") throw error;
        outcome = { committed: undefined, lastError: error };
      }
      const committed = outcome.committed;
      if (committed !== undefined) {
        const { parts, first } = committed.value;
        let used: number | undefined;
        let ended = false;
        try {
          for (let step = first; !step.done; step = await nextPart(parts)) {
            const part = step.value;
            if (part.type === "usage") {
              usage = part.usage;
              used = part.usage.promptTokens + part.usage.completionTokens;
            }
            yield part;
          }
          ended = true;
        } finally {
          // A stream left early (by its consumer, or failing) closes the upstream request.
          if (!ended) await parts.return(undefined).catch(() => undefined);
          // A finished attempt used what it reported, else what was estimated.
          committed.release(used);
        }
        return;
      }
      const lastError = outcome.lastError;
      const tooLong = lastError?.code === "context_length_exceeded";
      const fallbacks = tooLong ? this.#policy.contextFallbacks() : this.#policy.fallbacks();
      if (tooLong && fallbacks.length === 0) throw lastError;
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

  async countPromptTokens(request: ChatRequest): Promise<number> {
    return estimatePromptTokens(request);
  }

  /** Upstream models relay `/v1/completions` as is (`capabilities.completions`); they generate none here. */
  async *completeText(): AsyncGenerator<TextCompletionPart> {
    throw unsupportedEndpoint(this.descriptor.id, "/completions", "here: it is relayed to an upstream that has it");
  }

  /**
   * Forwards a client's body to another OpenAI endpoint of a deployment that has it, with the same
   * selection, breaker, retries and deadline as chat.
   */
  async forward(endpoint: ForwardEndpoint, body: ForwardBody, signal: AbortSignal): Promise<ForwardedResponse> {
    // Speech is relayed as it arrives (audio bytes or SSE); other answers are streams when asked to be.
    const stream = isForwardForm(body) ? body.fields.some(([name, value]) => name === "stream" && value === "true") : body.stream === true || endpoint === "/audio/speech";
    const affinity = this.#policy.routing === "prefix-affinity" ? forwardAffinityKey(endpoint, body) : undefined;
    const relayed = await this.#relay(endpoint, (d) => d.adapter.forwardCall(d, endpoint, body), stream, signal, affinity);
    return relayed.response;
  }

  /**
   * One call to `endpoint` of a deployment that has it, through the attempt loop. A JSON answer is
   * read whole before it is returned, so any failure can still be retried; a stream is committed
   * once its status is 200, and keeps its deployment busy and the deadline running until it ends.
   */
  async #relay(endpoint: ForwardEndpoint, call: (d: Deployment) => UpstreamCall, stream: boolean, signal: AbortSignal, affinity?: AffinityKey): Promise<Relayed> {
    const eligible = this.#selector.forEndpoint(endpoint);
    if (eligible.size === 0) throw unsupportedEndpoint(this.descriptor.id, endpoint, "(its upstream speaks only chat)");
    const requestDeadline = withDeadline(signal, this.#policy.deadlineMs);
    const deadline = requestDeadline.signal;
    // A relayed stream keeps the deadline until it ends; anything else drops it on return.
    let deadlineHandedOver = false;
    try {
      const outcome = await runAttempts(this.#selector, { eligible, tokens: undefined, maxRetries: this.#policy.maxRetries, affinity }, signal, deadline, this.#clock, async (state, _dropped, attemptSignal) => {
        const d = state.deployment;
        let res: UpstreamResponse;
        try {
          res = await postUpstream(call(d), attemptSignal);
        } catch (error) {
          throw networkError(d, error, attemptSignal);
        }
        if (!isOk(res.statusCode)) throw d.adapter.errorFrom(d, res.statusCode, toHeaders(res.headers), await res.body.text().catch(() => ""));
        const contentType = headerValue(res.headers, "content-type") ?? "application/json";
        if (stream) return { status: res.statusCode, contentType, body: res.body as AsyncIterable<Buffer> };
        try {
          return { status: res.statusCode, contentType, body: [new Uint8Array(await res.body.arrayBuffer())] };
        } catch (error) {
          throw networkError(d, error, attemptSignal);
        }
      });
      if (outcome.committed === undefined) throw this.#exhausted(deadline, signal, outcome.lastError);
      const { value, state, release, abort } = outcome.committed;
      const d = state.deployment;
      if (Array.isArray(value.body)) {
        release();
        return { response: { ...value, deployment: d.id, model: d.model }, deployment: d };
      }
      // Committed: from here the bytes go to the client and nothing is retried.
      deadlineHandedOver = true;
      const upstream = value.body;
      const body = (async function* () {
        try {
          for await (const chunk of upstream) yield chunk;
        } finally {
          release();
          requestDeadline.dispose();
          abort();
        }
      })();
      return { response: { status: value.status, contentType: value.contentType, deployment: d.id, model: d.model, body }, deployment: d };
    } finally {
      if (!deadlineHandedOver) requestDeadline.dispose();
    }
  }

  /**
   * Embeds through a deployment's `/embeddings`, for callers that need vectors rather than bytes,
   * such as vector-store indexing; the deployment's adapter builds the call and reads the answer.
   */
  async embed(inputs: readonly EmbeddingInput[], options: EmbedOptions, signal: AbortSignal): Promise<EmbedResult> {
    const { response, deployment } = await this.#relay("/embeddings", (d) => d.adapter.embeddingsCall(d, inputs, options.dimensions), false, signal);
    const chunks = response.body as readonly Uint8Array[];
    const text = Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))).toString("utf8");
    return deployment.adapter.embeddingsFrom(deployment, text, { model: this.descriptor.id, inputs, dimensions: options.dimensions });
  }

  async dispose(): Promise<void> {}
}
