import type { Pcm16 } from "../../core/audio.ts";

/** The parts of the Emscripten module of libfvad (WebRTC's voice activity detector) used here. */
interface FvadModule {
  _fvad_new(): number;
  _fvad_free(handle: number): void;
  _fvad_set_mode(handle: number, mode: number): number;
  _fvad_set_sample_rate(handle: number, rate: number): number;
  _fvad_process(handle: number, frame: number, length: number): number;
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  HEAP16: Int16Array;
}

/** A stretch of a recording, in samples. */
export interface Region {
  start: number;
  end: number;
}

const FRAME_MS = 30;
let loaded: Promise<FvadModule> | undefined;

/** libfvad's module, loaded once. The package ships no types: its module is described by FvadModule above. */
function loadFvad(): Promise<FvadModule> {
  const specifier = "@echogarden/fvad-wasm";
  loaded ??= import(specifier).then((module: { default: () => Promise<FvadModule> }) => module.default());
  return loaded;
}

/**
 * For each 30 ms frame of 8/16/32/48 kHz mono PCM, whether it holds speech, by libfvad (WebRTC's
 * VAD compiled to WebAssembly, `@echogarden/fvad-wasm`). `mode` 0–3: higher is stricter about what
 * counts as speech.
 */
export async function voicedFrames(pcm: Pcm16, mode = 2): Promise<boolean[]> {
  const stream = await VadStream.create(mode, pcm.sampleRate);
  try {
    return stream.push(pcm.samples);
  } finally {
    stream.dispose();
  }
}

/**
 * Cuts a recording into pieces of about `targetSeconds` (never shorter than `minSeconds`) at pauses:
 * each cut falls in the middle of the longest run of unvoiced frames near the target, so no word is
 * split. A recording with no pause long enough stays whole. The pieces cover the recording exactly.
 */
export async function splitAtPauses(pcm: Pcm16, targetSeconds: number, minSeconds: number): Promise<Region[]> {
  const total = pcm.samples.length;
  const frame = (pcm.sampleRate * FRAME_MS) / 1000;
  if (total / pcm.sampleRate < 2 * minSeconds) return [{ start: 0, end: total }];
  const voiced = await voicedFrames(pcm);
  // Runs of at least 150 ms without speech, as [first frame, end frame).
  const pauses: [number, number][] = [];
  for (let i = 0; i < voiced.length; ) {
    if (voiced[i]) {
      i++;
      continue;
    }
    let j = i;
    while (j < voiced.length && !voiced[j]) j++;
    if ((j - i) * FRAME_MS >= 150) pauses.push([i, j]);
    i = j;
  }
  const regions: Region[] = [];
  let start = 0;
  const framesPer = (seconds: number): number => Math.round((seconds * 1000) / FRAME_MS);
  while (true) {
    const startFrame = Math.floor(start / frame);
    const lo = startFrame + framesPer(minSeconds);
    const target = startFrame + framesPer(targetSeconds);
    const hi = startFrame + framesPer(targetSeconds * 1.6);
    if (voiced.length - startFrame < framesPer(targetSeconds + minSeconds)) break;
    // The longest pause whose middle lies between the shortest piece and 1.6 × the target, nearest the target on ties.
    let best: [number, number] | undefined;
    for (const p of pauses) {
      const middle = (p[0] + p[1]) / 2;
      if (middle < lo || middle > hi || voiced.length - middle < framesPer(minSeconds)) continue;
      const length = p[1] - p[0];
      const bestLength = best === undefined ? -1 : best[1] - best[0];
      if (length > bestLength || (length === bestLength && best !== undefined && Math.abs(middle - target) < Math.abs((best[0] + best[1]) / 2 - target))) best = p;
    }
    // None there: the first pause after it, so a long stretch without one still gets cut.
    best ??= pauses.find((p) => (p[0] + p[1]) / 2 > hi && voiced.length - (p[0] + p[1]) / 2 >= framesPer(minSeconds));
    if (best === undefined) break;
    const cut = Math.round(((best[0] + best[1]) / 2) * frame);
    regions.push({ start, end: cut });
    start = cut;
  }
  regions.push({ start, end: total });
  return regions;
}

/**
 * Voice activity detection over a stream: PCM pushed as it arrives, one verdict per 30 ms frame.
 * Holds one libfvad instance; `dispose()` frees it.
 */
export class VadStream {
  readonly #module: FvadModule;
  readonly #handle: number;
  readonly #pointer: number;
  readonly #frame: number;
  #pending = new Int16Array(0);
  #disposed = false;

  private constructor(module: FvadModule, handle: number, pointer: number, frame: number) {
    this.#module = module;
    this.#handle = handle;
    this.#pointer = pointer;
    this.#frame = frame;
  }

  /** A detector for `sampleRate` (8, 16, 32 or 48 kHz); `mode` 0–3, higher is stricter about what counts as speech. */
  static async create(mode: number, sampleRate = 16_000): Promise<VadStream> {
    const m = await loadFvad();
    const handle = m._fvad_new();
    if (handle === 0) throw new Error("fvad_new failed");
    if (m._fvad_set_sample_rate(handle, sampleRate) !== 0) {
      m._fvad_free(handle);
      throw new Error(`libfvad does not take ${sampleRate} Hz`);
    }
    m._fvad_set_mode(handle, Math.max(0, Math.min(3, Math.round(mode))));
    const frame = (sampleRate * FRAME_MS) / 1000;
    return new VadStream(m, handle, m._malloc(frame * 2), frame);
  }

  /** Verdicts for every whole frame now available (a partial frame waits for more samples). */
  push(samples: Int16Array): boolean[] {
    if (this.#disposed) return [];
    let all = samples;
    if (this.#pending.length > 0) {
      all = new Int16Array(this.#pending.length + samples.length);
      all.set(this.#pending);
      all.set(samples, this.#pending.length);
    }
    const frame = this.#frame;
    const out: boolean[] = [];
    let at = 0;
    for (; at + frame <= all.length; at += frame) {
      // The heap view is read each time: the module's memory may have grown and been replaced.
      this.#module.HEAP16.set(all.subarray(at, at + frame), this.#pointer >> 1);
      out.push(this.#module._fvad_process(this.#handle, this.#pointer, frame) === 1);
    }
    this.#pending = all.slice(at);
    return out;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#module._free(this.#pointer);
    this.#module._fvad_free(this.#handle);
  }
}
