/**
 * Holds back generated text that might be the start of a stop sequence, so a stream never
 * emits part of a stop string and then has to take it back.
 */
export class StopBuffer {
  readonly #stops: readonly string[];
  #held = "";

  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((s) => s.length > 0);
  }

  /** Adds text; returns what is now safe to emit and whether (and by which) stop sequence it ended. */
  push(text: string): { emit: string; stopped: boolean; stop?: string } {
    const buffer = this.#held + text;
    let stopAt = -1;
    let which: string | undefined;
    for (const stop of this.#stops) {
      const at = buffer.indexOf(stop);
      if (at >= 0 && (stopAt < 0 || at < stopAt)) {
        stopAt = at;
        which = stop;
      }
    }
    if (stopAt >= 0 && which !== undefined) {
      this.#held = "";
      return { emit: buffer.slice(0, stopAt), stopped: true, stop: which };
    }
    const keep = this.#longestPartialStop(buffer);
    this.#held = buffer.slice(buffer.length - keep);
    return { emit: buffer.slice(0, buffer.length - keep), stopped: false };
  }

  /** Text still held when generation ends for another reason. */
  flush(): string {
    const rest = this.#held;
    this.#held = "";
    return rest;
  }

  #longestPartialStop(buffer: string): number {
    let best = 0;
    for (const stop of this.#stops) {
      for (let k = Math.min(stop.length - 1, buffer.length); k > best; k--) {
        if (buffer.endsWith(stop.slice(0, k))) {
          best = k;
          break;
        }
      }
    }
    return best;
  }
}
