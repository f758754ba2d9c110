import type { ChatRequest } from "../../core/chat.ts";
import { usedParams } from "../../core/declarable-params.ts";
import { ApiError } from "../../core/errors.ts";
import type { ForwardEndpoint } from "../provider.ts";
import { CircuitBreaker } from "./circuit-breaker.ts";
import { deploymentForwards, type Deployment } from "./deployment.ts";
import { DeploymentLimits } from "./deployment-limits.ts";
import { affinityPick, affinityScore, DEFAULT_AFFINITY_LOAD_FACTOR, type AffinityKey } from "./prefix-affinity.ts";
import type { RouterClock } from "./router-clock.ts";
import { localDeploymentState, type BreakerSettings, type DeploymentKey, type SharedDeploymentState } from "./shared-deployment-state.ts";

/** No parameters to leave out. */
export const NONE: ReadonlySet<string> = new Set();

/** One deployment of a routed model with its live state: load, breaker and own limits. */
export interface RoutedDeployment {
  readonly deployment: Deployment;
  /** Attempts running now, streams included until they end. */
  inFlight: number;
  /** Attempts ever started, for health output. */
  requests: number;
  /** Attempts that failed before committing, for any reason but the client leaving. */
  failures: number;
  /** Attempts that retried a request after an earlier attempt of it failed. */
  retries: number;
  /** prefix-affinity: attempts sent here because the request's key ranks this deployment first. */
  affinityFirst: number;
  /** prefix-affinity: attempts sent here although the key ranks another that can take the request first (over its load bound, resting, at its limits, tried already). */
  affinityDiverted: number;
  readonly breaker: CircuitBreaker;
  readonly limits: DeploymentLimits;
}

/** The deployments that may take a request, each with the parameters it must leave out. */
export type Eligible = ReadonlyMap<RoutedDeployment, ReadonlySet<string>>;

/** A pick: the deployment to try, or none, with how soon a deployment at its own limits frees up. */
export interface Pick {
  state?: RoutedDeployment;
  /** With an affinity key: whether `state` is the deployment the key ranks first among those that can take the request. */
  affinityFirst?: boolean;
  limitedForMs?: number;
}

/**
 * Chooses among one routed model's deployments: which can take a request at all (parameters,
 * endpoints), and which to try next (weights, load, breakers, own RPM/TPM, and for prefix-affinity
 * routing the request's affinity key).
 */
export class DeploymentSelector {
  readonly deployments: readonly RoutedDeployment[];
  /** Whether any deployment has its own RPM/TPM limits, so token estimates are worth making. */
  readonly limited: boolean;
  /** The public model's id, for error messages. */
  readonly model: string;
  readonly #clock: RouterClock;
  readonly #affinityLoadFactor: number;
  readonly #breaker: BreakerSettings;
  readonly #shared: SharedDeploymentState;
  readonly #keys = new Map<RoutedDeployment, DeploymentKey>();

  /**
   * `affinityLoadFactor` is prefix-affinity's load bound ε (see affinityPick); `shared` is where
   * limits and breakers are shared with other processes (Redis), when they are.
   */
  constructor(
    model: string,
    deployments: readonly Deployment[],
    breaker: BreakerSettings,
    clock: RouterClock,
    affinityLoadFactor = DEFAULT_AFFINITY_LOAD_FACTOR,
    shared: SharedDeploymentState = localDeploymentState,
  ) {
    this.model = model;
    this.#clock = clock;
    this.#affinityLoadFactor = affinityLoadFactor;
    this.#breaker = breaker;
    this.#shared = shared;
    const now = clock.now();
    this.deployments = deployments.map((deployment) => ({
      deployment,
      inFlight: 0,
      requests: 0,
      failures: 0,
      retries: 0,
      affinityFirst: 0,
      affinityDiverted: 0,
      breaker: new CircuitBreaker(breaker.threshold, breaker.cooldownMs),
      limits: new DeploymentLimits(deployment.rpm, deployment.tpm, now),
    }));
    for (const s of this.deployments) this.#keys.set(s, { model, deployment: s.deployment.id });
    this.limited = deployments.some((d) => d.tpm !== undefined || d.rpm !== undefined);
  }

  /**
   * Which deployments can take this chat request, and the parameters each must leave out. A
   * parameter no deployment can take is a 400 naming it, unless a deployment opted into dropping it.
   */
  forChat(request: ChatRequest): Map<RoutedDeployment, ReadonlySet<string>> {
    const used = usedParams(request);
    const eligible = new Map<RoutedDeployment, ReadonlySet<string>>();
    let refusal: { param: string; name: string; detail?: string; provider: string } | undefined;
    for (const s of this.deployments) {
      const d = s.deployment;
      const lacking = [...d.adapter.unsupported(request, used), ...used.filter((p) => d.unsupportedParams.has(p.name))];
      if (lacking.length === 0) eligible.set(s, NONE);
      else if (d.dropUnsupportedParams) eligible.set(s, new Set(lacking.map((p) => p.name)));
      else refusal ??= { ...(lacking[0] as { param: string; name: string; detail?: string }), provider: d.adapter.name };
    }
    if (eligible.size === 0 && refusal !== undefined) {
      const what = refusal.detail ?? `its ${refusal.provider} upstream has no '${refusal.name}'`;
      throw new ApiError(400, `The model '${this.model}' does not support '${refusal.name}' as given: ${what}.`, {
        type: "invalid_request_error",
        code: "unsupported_parameter",
        param: refusal.param,
      });
    }
    return eligible;
  }

  /** The deployments whose provider has `endpoint` (possibly none). */
  forEndpoint(endpoint: ForwardEndpoint): Map<RoutedDeployment, ReadonlySet<string>> {
    const eligible = new Map<RoutedDeployment, ReadonlySet<string>>();
    for (const s of this.deployments) if (deploymentForwards(s.deployment).has(endpoint)) eligible.set(s, NONE);
    return eligible;
  }

  /**
   * The least loaded eligible deployment relative to its weight, ties broken at random by weight;
   * or, given an `affinity` key, the deployment that key ranks highest among those within their
   * load bound (prefix-affinity routing). Deployments tried already (`exclude`) are avoided while
   * others remain, so a retry goes to the key's next deployment. Deployments resting (open
   * circuit), weighted 0, or at their own RPM/TPM for `tokens` are skipped; when that leaves none,
   * `limitedForMs` says how soon one at its limits frees up.
   */
  pick(eligible: Eligible, exclude: ReadonlySet<RoutedDeployment>, tokens: number, affinity?: AffinityKey): Pick {
    const now = this.#clock.now();
    let limitedForMs: number | undefined;
    const ready = (s: RoutedDeployment): boolean => {
      if (s.breaker.isOpen(now) || s.deployment.weight <= 0 || !eligible.has(s)) return false;
      const wait = s.limits.wait(tokens, now);
      if (wait > 0) limitedForMs = Math.min(limitedForMs ?? wait, wait);
      return wait === 0;
    };
    const all = this.deployments.filter(ready);
    const fresh = all.filter((s) => !exclude.has(s));
    const candidates = fresh.length > 0 ? fresh : all;
    if (candidates.length === 0) return limitedForMs === undefined ? {} : { limitedForMs };
    if (affinity !== undefined) {
      const chosen = affinityPick(candidates, affinity, this.#affinityLoadFactor) ?? this.#leastLoaded(candidates);
      return { state: chosen, affinityFirst: chosen === this.#firstFor(affinity, eligible) };
    }
    return { state: this.#leastLoaded(candidates) };
  }

  /** The least loaded relative to weight, ties broken at random in proportion to weight. */
  #leastLoaded(candidates: readonly RoutedDeployment[]): RoutedDeployment {
    const load = (s: RoutedDeployment) => s.inFlight / s.deployment.weight;
    const least = Math.min(...candidates.map(load));
    const tied = candidates.filter((s) => load(s) === least);
    let ticket = this.#clock.random() * tied.reduce((sum, s) => sum + s.deployment.weight, 0);
    for (const s of tied) {
      ticket -= s.deployment.weight;
      if (ticket < 0) return s;
    }
    return tied.at(-1) as RoutedDeployment;
  }

  /**
   * The deployment an affinity key ranks first among those that can take the request at all (the
   * endpoint, the parameters) and have weight, whatever their load, breaker or limits.
   */
  #firstFor(key: AffinityKey, eligible: Eligible): RoutedDeployment | undefined {
    let best: RoutedDeployment | undefined;
    let bestScore = -Infinity;
    for (const s of this.deployments) {
      if (s.deployment.weight <= 0 || !eligible.has(s)) continue;
      const score = affinityScore(key, s.deployment.id, s.deployment.weight);
      if (score > bestScore) {
        best = s;
        bestScore = score;
      }
    }
    return best;
  }

  /**
   * Picks a deployment (as `pick`) and reserves the attempt there: counts it against the
   * deployment's own RPM/TPM when `tokens` is given (relayed calls are not counted). With a shared
   * state the reservation is its atomic decision, which this process's counters then adopt; a
   * deployment it refuses (at its limits, or resting after failures in another process) is left
   * out and the pick made again, so a request moves on to the next deployment as it would locally.
   * The local pick stays synchronous and free: it already skips what the last shared answers said
   * is full or resting, so only a deployment another process filled since costs a second round trip.
   */
  async reserve(eligible: Eligible, exclude: ReadonlySet<RoutedDeployment>, tokens: number | undefined, affinity?: AffinityKey): Promise<Pick> {
    let candidates = eligible;
    let limitedForMs: number | undefined;
    for (;;) {
      const picked = this.pick(candidates, exclude, tokens ?? 0, affinity);
      const s = picked.state;
      if (s === undefined) {
        const wait = picked.limitedForMs === undefined ? limitedForMs : Math.min(picked.limitedForMs, limitedForMs ?? Infinity);
        return wait === undefined ? {} : { limitedForMs: wait };
      }
      const d = s.deployment;
      const answer = await this.#shared.reserve(this.#key(s), { rpm: d.rpm, tpm: d.tpm }, tokens ?? 0, tokens !== undefined);
      if (answer === undefined) {
        if (tokens !== undefined) s.limits.take(tokens);
        return picked;
      }
      const now = this.#clock.now();
      s.breaker.adopt(answer.failures, answer.openForMs, now);
      s.limits.adopt(answer.rpmLevel, answer.tpmLevel, now);
      if (answer.reserved) return picked;
      if (answer.openForMs === 0) limitedForMs = Math.min(answer.limitedForMs, limitedForMs ?? Infinity);
      candidates = new Map([...candidates].filter(([c]) => c !== s));
    }
  }

  /** Counts a retryable failure of an attempt at `s`, here and in the shared state. */
  async failed(s: RoutedDeployment): Promise<void> {
    s.breaker.failed(this.#clock.now());
    const shared = await this.#shared.failed(this.#key(s), this.#breaker);
    if (shared !== undefined) s.breaker.adopt(shared.failures, shared.openForMs, this.#clock.now());
  }

  /** An attempt at `s` went through: its breaker closes, in the shared state too when it had counted failures. */
  succeeded(s: RoutedDeployment): void {
    // The count seen at the reservation: a clean breaker (the usual case) costs no round trip.
    const counted = s.breaker.failures > 0 || s.breaker.isOpen(this.#clock.now());
    s.breaker.succeeded();
    if (counted) this.#shared.succeeded(this.#key(s));
  }

  /** Settles an attempt's TPM once the tokens it used are known. */
  reconcile(s: RoutedDeployment, estimate: number, actual: number): void {
    s.limits.reconcile(estimate, actual);
    if (s.deployment.tpm !== undefined && actual !== estimate) this.#shared.reconcile(this.#key(s), s.deployment.tpm, actual - estimate);
  }

  #key(s: RoutedDeployment): DeploymentKey {
    return this.#keys.get(s) as DeploymentKey;
  }

  /** Attempts, failures, retries, load and circuit state per deployment, for health output and metrics. */
  stats(): Record<string, number> {
    const now = this.#clock.now();
    const out: Record<string, number> = {};
    for (const s of this.deployments) {
      out[`${s.deployment.id}.requests`] = s.requests;
      out[`${s.deployment.id}.failures`] = s.failures;
      out[`${s.deployment.id}.retries`] = s.retries;
      out[`${s.deployment.id}.in_flight`] = s.inFlight;
      out[`${s.deployment.id}.circuit_open`] = s.breaker.isOpen(now) ? 1 : 0;
    }
    // Only for a model routed by prefix affinity, once it has routed a request that way.
    if (this.deployments.some((s) => s.affinityFirst + s.affinityDiverted > 0)) {
      for (const s of this.deployments) {
        out[`${s.deployment.id}.affinity_first`] = s.affinityFirst;
        out[`${s.deployment.id}.affinity_diverted`] = s.affinityDiverted;
      }
    }
    return out;
  }
}
