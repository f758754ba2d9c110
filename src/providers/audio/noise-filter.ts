/**
 * The realtime sessions' `noise_reduction`, approximated by a second-order Butterworth high-pass
 * filter: it takes out rumble, handling noise and mains hum below the voice (OpenAI's own model is not
 * published). Close microphones (`near_field`) keep more low end than room microphones (`far_field`),
 * whose low band is mostly reverberation and machinery.
 */
export class NoiseFilter {
  readonly #b0: number;
  readonly #b1: number;
  readonly #b2: number;
  readonly #a1: number;
  readonly #a2: number;
  // Direct form I state, kept across chunks so the filter runs as one over the whole stream.
  #x1 = 0;
  #x2 = 0;
  #y1 = 0;
  #y2 = 0;

  /** Cut-off frequencies for each kind, in Hz. */
  static readonly CUTOFF = { near_field: 80, far_field: 150 } as const;

  constructor(type: keyof typeof NoiseFilter.CUTOFF, sampleRate: number) {
    // The high-pass biquad of the Audio EQ Cookbook (R. Bristow-Johnson) with Q = 1/√2.
    const w = (2 * Math.PI * NoiseFilter.CUTOFF[type]) / sampleRate;
    const alpha = Math.sin(w) / (2 * Math.SQRT1_2);
    const cos = Math.cos(w);
    const a0 = 1 + alpha;
    this.#b0 = (1 + cos) / 2 / a0;
    this.#b1 = -(1 + cos) / a0;
    this.#b2 = (1 + cos) / 2 / a0;
    this.#a1 = (-2 * cos) / a0;
    this.#a2 = (1 - alpha) / a0;
  }

  /** Filters the next samples of the stream (a new array). */
  process(samples: Int16Array): Int16Array {
    const out = new Int16Array(samples.length);
    for (let i = 0; i < samples.length; i++) {
      const x = samples[i] as number;
      const y = this.#b0 * x + this.#b1 * this.#x1 + this.#b2 * this.#x2 - this.#a1 * this.#y1 - this.#a2 * this.#y2;
      this.#x2 = this.#x1;
      this.#x1 = x;
      this.#y2 = this.#y1;
      this.#y1 = y;
      out[i] = Math.max(-32768, Math.min(32767, Math.round(y)));
    }
    return out;
  }
}
