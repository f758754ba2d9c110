import { Worker } from "node:worker_threads";
import type { OpenAiVoice } from "../../core/audio.ts";
import { invalidRequest } from "../../core/errors.ts";
import { deliveryFrom, FLITE_STYLES, FLITE_VOICES, languageFor, splitSentences, VOICE_STYLES } from "./voices.ts";

/** eSpeak NG's words per minute at OpenAI's `speed` 1.0, and the range it can speak at. */
const NORMAL_RATE = 175;
const MIN_RATE = 80;
const MAX_RATE = 450;
/** The output rates of the two synthesisers. */
const ESPEAK_SAMPLE_RATE = 22_050;
const FLITE_SAMPLE_RATE = 16_000;

interface Pending {
  onSamples(samples: Int16Array): void;
  resolve(): void;
  reject(error: Error): void;
}

/** What to synthesise: the text, the voice, and how. */
export interface SpeechJob {
  text: string;
  voice: { name: OpenAiVoice } | { id: string };
  instructions: string | undefined;
  speed: number;
  /** The language for Latin-script text (`en-us` by default). */
  language: string;
}

/** A job resolved to one synthesiser's settings, and the speed left to time-stretch. */
export interface SpeechPlan {
  engine: "espeak" | "flite";
  voice: string;
  rate: number;
  pitch: number;
  sampleRate: number;
  /** The part of `speed` beyond eSpeak's own rate range, applied afterwards by the codec (1 = none). */
  stretch: number;
}

/**
 * Text to speech in one worker thread: Flite for English (clearer; its four voices), eSpeak NG for
 * every other language (about 140, Mandarin for Chinese text) and for its own voice ids. Sentences
 * are synthesised one at a time, jobs of concurrent requests taking turns, so a long input yields its
 * first audio after its first sentence and an aborted request stops at the next sentence.
 */
export class SpeechEngine {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #voices: Promise<ReadonlySet<string>> | undefined;
  #onVoices: ((voices: string[]) => void) | undefined;
  #nextId = 1;
  #queue: Promise<void> = Promise.resolve();

  constructor() {
    const file = import.meta.url.endsWith(".ts") ? "./speech-worker.ts" : "./speech-worker.js";
    this.#worker = new Worker(new URL(file, import.meta.url));
    this.#worker.unref();
    this.#worker.on("error", (error) => {
      for (const pending of this.#pending.values()) pending.reject(error);
      this.#pending.clear();
    });
    this.#worker.on("message", (message: { voices?: string[]; id?: number; samples?: Int16Array; done?: true; error?: string }) => {
      if (message.voices !== undefined) {
        this.#onVoices?.(message.voices);
        return;
      }
      const pending = this.#pending.get(message.id ?? 0);
      if (pending === undefined) return;
      if (message.samples !== undefined) pending.onSamples(message.samples);
      else {
        this.#pending.delete(message.id ?? 0);
        if (message.done === true) pending.resolve();
        else pending.reject(new Error(message.error ?? "speech synthesis failed"));
      }
    });
  }

  /** eSpeak's voice identifiers, lower-case, as `gmw/en-us` and as `en-us`. */
  voices(): Promise<ReadonlySet<string>> {
    this.#voices ??= new Promise((resolve) => {
      this.#onVoices = (voices) => resolve(new Set(voices.flatMap((v) => [v.toLowerCase(), v.slice(v.indexOf("/") + 1).toLowerCase()])));
      this.#worker.postMessage({ voices: true });
    });
    return this.#voices;
  }

  /** Resolves a job's synthesiser, voice, rate and pitch; an unknown `{ id }` voice is a 400 naming `voice`. */
  async plan(job: SpeechJob): Promise<SpeechPlan> {
    const delivery = deliveryFrom(job.instructions);
    const factor = job.speed * delivery.rate;
    const language = languageFor(job.text, job.language);
    const flite = (voice: string, pitch: number): SpeechPlan => ({ engine: "flite", voice, rate: factor, pitch: pitch === 0 ? 0 : Math.max(50, pitch + delivery.pitch * 3), sampleRate: FLITE_SAMPLE_RATE, stretch: 1 });
    const espeak = (voice: string, pitch: number): SpeechPlan => {
      const wanted = NORMAL_RATE * factor;
      const rate = Math.min(MAX_RATE, Math.max(MIN_RATE, Math.round(wanted)));
      return { engine: "espeak", voice, rate, pitch: Math.min(99, Math.max(0, pitch + delivery.pitch)), sampleRate: ESPEAK_SAMPLE_RATE, stretch: wanted / rate };
    };
    if ("name" in job.voice) {
      // Whispering is an eSpeak variant; Flite has none.
      if (language.startsWith("en") && delivery.variant === undefined) {
        const style = FLITE_STYLES[job.voice.name];
        return flite(style.voice, style.pitch);
      }
      const style = VOICE_STYLES[job.voice.name];
      return espeak(`${language}+${delivery.variant ?? style.variant}`, style.pitch);
    }
    const id = job.voice.id.replace(/^flite:/, "");
    if ((FLITE_VOICES as readonly string[]).includes(id)) return flite(id, 0);
    const [base = "", variant] = id.split("+");
    if (!(await this.voices()).has(base.toLowerCase())) {
      throw invalidRequest(
        `Invalid 'voice': '${job.voice.id}' is not one of this engine's voices: an OpenAI voice name, a Flite voice (${FLITE_VOICES.join(", ")}), or an eSpeak NG voice id such as 'en-us', 'cmn' or 'fr+f2'.`,
        "voice",
        "invalid_value",
      );
    }
    return espeak(variant === undefined && delivery.variant !== undefined ? `${base}+${delivery.variant}` : id, 50);
  }

  /** Synthesises `text` sentence by sentence; yields PCM chunks at the plan's rate as they come. */
  async *synthesize(text: string, plan: SpeechPlan, signal: AbortSignal): AsyncGenerator<Int16Array> {
    for (const piece of plan.engine === "flite" ? fliteGroups(splitSentences(text)) : splitSentences(text)) {
      if (signal.aborted) return;
      yield* this.#sentence(piece, plan);
    }
  }

  /** One sentence through the worker; sentences of concurrent requests take turns. */
  async *#sentence(text: string, plan: SpeechPlan): AsyncGenerator<Int16Array> {
    const chunks: Int16Array[] = [];
    let wake: (() => void) | undefined;
    let finished = false;
    let failure: Error | undefined;
    const id = this.#nextId++;
    const turn = this.#queue.then(
      () =>
        new Promise<void>((resolve, reject) => {
          this.#pending.set(id, {
            onSamples: (samples) => {
              chunks.push(samples);
              wake?.();
            },
            resolve,
            reject,
          });
          this.#worker.postMessage({ id, engine: plan.engine, text, voice: plan.voice, rate: plan.rate, pitch: plan.pitch });
        }),
    );
    this.#queue = turn.catch(() => undefined);
    turn
      .then(
        () => undefined,
        (error: Error) => {
          failure = error;
        },
      )
      .finally(() => {
        finished = true;
        wake?.();
      });
    for (;;) {
      const chunk = chunks.shift();
      if (chunk !== undefined) {
        yield chunk;
        continue;
      }
      if (finished) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
    if (failure !== undefined) throw failure;
  }

  async dispose(): Promise<void> {
    await this.#worker.terminate();
  }
}

/** Characters of later sentences Flite speaks in one run. */
const FLITE_GROUP_CHARS = 400;

/**
 * Flite speaks the first sentence alone, so the first audio leaves quickly, and the rest in groups:
 * each run of Flite starts a fresh WebAssembly instance (about 60 ms here), which per sentence
 * halved its real-time factor (bench:audio).
 */
export function fliteGroups(sentences: readonly string[]): string[] {
  const [first, ...rest] = sentences;
  if (first === undefined) return [];
  const groups = [first];
  let current = "";
  for (const sentence of rest) {
    if (current !== "" && current.length + sentence.length + 1 > FLITE_GROUP_CHARS) {
      groups.push(current);
      current = "";
    }
    current = current === "" ? sentence : `${current} ${sentence}`;
  }
  if (current !== "") groups.push(current);
  return groups;
}
