/**
 * One deployment's circuit breaker. `threshold` consecutive retryable failures open it for
 * `cooldownMs`, and no request goes to the deployment meanwhile. After the cooldown it is half-open:
 * requests go again, the first success closes it, and a single further failure opens it again (the
 * count is not reset by the cooldown, only by a success).
 */
export class CircuitBreaker {
  readonly #threshold: number;
  readonly #cooldownMs: number;
  #failures = 0;
  #openUntil = 0;

  constructor(threshold: number, cooldownMs: number) {
    this.#threshold = threshold;
    this.#cooldownMs = cooldownMs;
  }

  /** Whether the circuit is open at `now`: the deployment is resting. */
  isOpen(now: number): boolean {
    return this.#openUntil > now;
  }

  /** Counts a retryable failure at `now`; at the threshold the circuit opens for the cooldown. */
  failed(now: number): void {
    this.#failures++;
    if (this.#failures >= this.#threshold) this.#openUntil = now + this.#cooldownMs;
  }

  /** An attempt went through: the count starts again and the circuit closes. */
  succeeded(): void {
    this.#failures = 0;
    this.#openUntil = 0;
  }

  /**
   * Takes the state another process's view decided (the shared breaker, in Redis): `failures` in a
   * row, and the circuit open for `openForMs` from `now` (0: closed).
   */
  adopt(failures: number, openForMs: number, now: number): void {
    this.#failures = failures;
    this.#openUntil = openForMs > 0 ? now + openForMs : 0;
  }

  /** Consecutive failures so far. */
  get failures(): number {
    return this.#failures;
  }
}
