import type { ChatRequest } from "../../core/chat.ts";
import { usedParams } from "../../core/declarable-params.ts";
import { ApiError } from "../../core/errors.ts";
import type { ForwardEndpoint } from "../provider.ts";
import { CircuitBreaker } from "./circuit-breaker.ts";
import { deploymentForwards, type Deployment } from "./deployment.ts";
import { DeploymentLimits } from "./deployment-limits.ts";
import { affinityPick, DEFAULT_AFFINITY_LOAD_FACTOR, type AffinityKey } from "./prefix-affinity.ts";
import type { RouterClock } from "./router-clock.ts";

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
  readonly breaker: CircuitBreaker;
  readonly limits: DeploymentLimits;
}

/** The deployments that may take a request, each with the parameters it must leave out. */
export type Eligible = ReadonlyMap<RoutedDeployment, ReadonlySet<string>>;

/** A pick: the deployment to try, or none, with how soon a deployment at its own limits frees up. */
export interface Pick {
  state?: RoutedDeployment;
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

  /** `affinityLoadFactor` is prefix-affinity's load bound ε (see affinityPick). */
  constructor(
    model: string,
    deployments: readonly Deployment[],
    breaker: { threshold: number; cooldownMs: number },
    clock: RouterClock,
    affinityLoadFactor = DEFAULT_AFFINITY_LOAD_FACTOR,
  ) {
    this.model = model;
    this.#clock = clock;
    this.#affinityLoadFactor = affinityLoadFactor;
    const now = clock.now();
    this.deployments = deployments.map((deployment) => ({
      deployment,
      inFlight: 0,
      requests: 0,
      failures: 0,
      retries: 0,
      breaker: new CircuitBreaker(breaker.threshold, breaker.cooldownMs),
      limits: new DeploymentLimits(deployment.rpm, deployment.tpm, now),
    }));
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
      const chosen = affinityPick(candidates, affinity, this.#affinityLoadFactor);
      if (chosen !== undefined) return { state: chosen };
    }
    const load = (s: RoutedDeployment) => s.inFlight / s.deployment.weight;
    const least = Math.min(...candidates.map(load));
    const tied = candidates.filter((s) => load(s) === least);
    let ticket = this.#clock.random() * tied.reduce((sum, s) => sum + s.deployment.weight, 0);
    for (const s of tied) {
      ticket -= s.deployment.weight;
      if (ticket < 0) return { state: s };
    }
    return { state: tied.at(-1) as RoutedDeployment };
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
    return out;
  }
}
