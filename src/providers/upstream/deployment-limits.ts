/** A token bucket that refills continuously to `perMinute` over a minute. */
class Bucket {
  readonly #capacity: number;
  #level: number;
  #at: number;

  constructor(perMinute: number, now: number) {
    this.#capacity = perMinute;
    this.#level = perMinute;
    this.#at = now;
  }

  #refill(now: number): void {
    this.#level = Math.min(this.#capacity, this.#level + ((now - this.#at) * this.#capacity) / 60_000);
    this.#at = now;
  }

  /** Milliseconds until `amount` fits (0 when it fits now). A reservation larger than the bucket waits for a full one. */
  wait(amount: number, now: number): number {
    this.#refill(now);
    const need = Math.min(amount, this.#capacity) - this.#level;
    return need <= 0 ? 0 : Math.ceil((need * 60_000) / this.#capacity);
  }

  take(amount: number): void {
    this.#level -= amount;
  }

  /** Sets the level at `now` to what the shared bucket said. */
  set(level: number, now: number): void {
    this.#level = level;
    this.#at = now;
  }

  /** Returns or charges the difference once the true amount is known; the level may go below zero. */
  adjust(delta: number): void {
    this.#level = Math.min(this.#capacity, this.#level - delta);
  }
}

/**
 * A deployment's own RPM/TPM limits, kept in this process: the router sends a deployment no more
 * than its upstream allows, and moves on to another deployment (or a fallback) when it is full.
 * With Redis the shared buckets decide, and these follow them (adopt) and stand in while Redis is
 * unreachable.
 */
export class DeploymentLimits {
  readonly #rpm: Bucket | undefined;
  readonly #tpm: Bucket | undefined;

  /** `now` starts the buckets full at that time (a test's clock; the system's by default). */
  constructor(rpm: number | undefined, tpm: number | undefined, now = Date.now()) {
    this.#rpm = rpm === undefined ? undefined : new Bucket(rpm, now);
    this.#tpm = tpm === undefined ? undefined : new Bucket(tpm, now);
  }

  /** Milliseconds until a request of `tokens` estimated tokens may go (0: now). */
  wait(tokens: number, now = Date.now()): number {
    return Math.max(this.#rpm?.wait(1, now) ?? 0, this.#tpm?.wait(tokens, now) ?? 0);
  }

  /** Reserves one request and its estimated tokens. */
  take(tokens: number): void {
    this.#rpm?.take(1);
    this.#tpm?.take(tokens);
  }

  /**
   * Takes the levels the shared buckets (in Redis) had after a decision, so this process's next
   * picks see what every process has used; undefined leaves a bucket as it is.
   */
  adopt(rpmLevel: number | undefined, tpmLevel: number | undefined, now = Date.now()): void {
    if (rpmLevel !== undefined) this.#rpm?.set(rpmLevel, now);
    if (tpmLevel !== undefined) this.#tpm?.set(tpmLevel, now);
  }

  /** Reconciles the estimate with the tokens actually used. */
  reconcile(estimate: number, actual: number): void {
    this.#tpm?.adjust(actual - estimate);
  }
}
