/**
 * Where a routed model's per-deployment RPM/TPM and circuit breakers are decided. Every process
 * keeps its own counters (DeploymentLimits, CircuitBreaker) and decides with them; a shared state
 * (Redis, when configured) is asked as well, atomically, and its answer wins and is adopted by the
 * process's counters, so replicas enforce one limit and rest a failing deployment together. When
 * the shared state has no answer (none configured, or unreachable) the process's own counters decide.
 */

/** One deployment of one routed model: the unit limits and breakers are kept for. */
export interface DeploymentKey {
  /** The routed model's public name. */
  readonly model: string;
  /** The deployment's id. */
  readonly deployment: string;
}

/** A deployment's own limits per minute (undefined: none). */
export interface DeploymentRates {
  readonly rpm: number | undefined;
  readonly tpm: number | undefined;
}

/** The breaker's settings: failures that open it, and how long it then rests. */
export interface BreakerSettings {
  readonly threshold: number;
  readonly cooldownMs: number;
}

/** A breaker as the shared state has it. */
export interface SharedBreaker {
  /** Consecutive retryable failures, across processes, since the last success. */
  failures: number;
  /** Milliseconds the circuit stays open (0: closed). */
  openForMs: number;
}

/** The shared state's decision on one attempt, with the levels after it for the process to adopt. */
export interface SharedReservation extends SharedBreaker {
  /** Whether the attempt may go (and, when metered, was counted). */
  reserved: boolean;
  /** When not reserved with the circuit closed: milliseconds until the limits allow the attempt. */
  limitedForMs: number;
  /** The request and token buckets' levels after the decision (undefined: no such limit). */
  rpmLevel: number | undefined;
  tpmLevel: number | undefined;
}

/**
 * Per-deployment limits and breakers shared across processes. Each method answers undefined when
 * there is nothing shared to go by, and the process's own counters decide; none of them throws.
 */
export interface SharedDeploymentState {
  /**
   * Decides an attempt at a deployment atomically: refused while its circuit is open, or when its
   * RPM/TPM cannot take one request of `tokens`; otherwise reserved, and counted when `take`
   * (relayed calls are checked, not counted, as in DeploymentLimits).
   */
  reserve(key: DeploymentKey, rates: DeploymentRates, tokens: number, take: boolean): Promise<SharedReservation | undefined>;
  /** Counts a retryable failure; at the threshold the circuit opens everywhere for the cooldown. */
  failed(key: DeploymentKey, breaker: BreakerSettings): Promise<SharedBreaker | undefined>;
  /** An attempt went through: the failure count starts again and the circuit closes (not awaited). */
  succeeded(key: DeploymentKey): void;
  /** Charges (positive) or refunds (negative) `delta` tokens once actual usage is known (not awaited). */
  reconcile(key: DeploymentKey, tpm: number, delta: number): void;
  close(): Promise<void>;
}

/** Nothing shared: each process's own counters decide (one process, or no Redis configured). */
export const localDeploymentState: SharedDeploymentState = {
  reserve: async () => undefined,
  failed: async () => undefined,
  succeeded: () => undefined,
  reconcile: () => undefined,
  close: async () => undefined,
};
