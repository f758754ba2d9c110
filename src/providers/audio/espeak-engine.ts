import { Worker } from "node:worker_threads";
import type { OpenAiVoice } from "../../core/audio.ts";
import { invalidRequest } from "../../core/errors.ts";
import { deliveryFrom, languageFor, splitSentences, VOICE_STYLES } from "./voices.ts";

/** eSpeak NG's output rate. */
export const ESPEAK_SAMPLE_RATE = 22_050;
/** eSpeak NG's words per minute at OpenAI's `speed` 1.0, and the range it can speak at. */
const NORMAL_RATE = 175;
const MIN_RATE = 80;
const MAX_RATE = 450;

interface Pending {
  onSamples(samples: Int16Array): void;
  resolve(): void;
  reject(error: Error): void;
}

/** What to synthesise: the text, the voice, and how. */
export interface EspeakJob {
  text: string;
  voice: { name: OpenAiVoice } | { id: string };
  instructions: string | undefined;
  speed: number;
  /** The language for Latin-script text (`en-us` by default). */
  language: string;
}

/** A synthesis job resolved to eSpeak settings, and the speed left to time-stretch. */
export interface EspeakPlan {
  voice: string;
  rate: number;
  pitch: number;
  /** The part of `speed` beyond eSpeak's own rate range, applied afterwards by the codec (1 = none). */
  stretch: number;
}

/**
 * Text-to-speech with eSpeak NG (WebAssembly, about 140 languages including Mandarin), in one worker
 * thread per engine so synthesis never blocks the event loop. Jobs run one at a time, sentence by
 * sentence, so a long input yields its first audio after its first sentence and an aborted request
 * stops at the next sentence.
 */
export class EspeakEngine {
  readonly #worker: Worker;
  readonly #ready: Promise<ReadonlySet<string>>;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #queue: Promise<void> = Promise.resolve();

  constructor() {
    const file = import.meta.url.endsWith(".ts") ? "./espeak-worker.ts" : "./espeak-worker.js";
    this.#worker = new Worker(new URL(file, import.meta.url));
    this.#worker.unref();
    this.#ready = new Promise((resolve, reject) => {
      this.#worker.once("error", reject);
      this.#worker.on("message", (message: { ready?: true; voices?: string[]; id?: number; samples?: Int16Array; done?: true; error?: string }) => {
        if (message.ready === true) {
          resolve(new Set((message.voices ?? []).flatMap((v) => [v, v.slice(v.indexOf("/") + 1)])));
          return;
        }
        const pending = this.#pending.get(message.id ?? 0);
        if (pending === undefined) return;
        if (message.samples !== undefined) pending.onSamples(message.samples);
        else {
          this.#pending.delete(message.id ?? 0);
          if (message.done === true) pending.resolve();
          else pending.reject(new Error(message.error ?? "eSpeak failed"));
        }
      });
    });
    this.#ready.catch(() => undefined);
  }

  /** The voice identifiers eSpeak has (`en-us`, `cmn`, `gmw/af`…), once the worker is up. */
  voices(): Promise<ReadonlySet<string>> {
    return this.#ready;
  }

  /** Resolves a job's voice, rate and pitch; an unknown `{ id }` voice is a 400 naming `voice`. */
  async plan(job: EspeakJob): Promise<EspeakPlan> {
    const delivery = deliveryFrom(job.instructions);
    let voice: string;
    let pitch = 50;
    if ("name" in job.voice) {
      const style = VOICE_STYLES[job.voice.name];
      voice = `${languageFor(job.text, job.language)}+${delivery.variant ?? style.variant}`;
      pitch = style.pitch;
    } else {
      const [language = "", variant] = job.voice.id.split("+");
      if (!(await this.voices()).has(language)) {
        throw invalidRequest(`Invalid 'voice': '${job.voice.id}' is not one of this engine's voices (an OpenAI voice name, or an eSpeak NG voice id such as 'en-us', 'cmn' or 'fr+f2').`, "voice", "invalid_value");
      }
      voice = variant === undefined && delivery.variant !== undefined ? `${language}+${delivery.variant}` : job.voice.id;
    }
    const wanted = NORMAL_RATE * job.speed * delivery.rate;
    const rate = Math.min(MAX_RATE, Math.max(MIN_RATE, Math.round(wanted)));
    return { voice, rate, pitch: Math.min(99, Math.max(0, pitch + delivery.pitch)), stretch: wanted / rate };
  }

  /** Synthesises `text` sentence by sentence; yields 22,050 Hz mono PCM chunks as they come. */
  async *synthesize(text: string, plan: EspeakPlan, signal: AbortSignal): AsyncGenerator<Int16Array> {
    await this.#ready;
    for (const sentence of splitSentences(text)) {
      if (signal.aborted) return;
      yield* this.#sentence(sentence, plan);
    }
  }

  /** One sentence through the worker; jobs of concurrent requests take turns. */
  async *#sentence(text: string, plan: EspeakPlan): AsyncGenerator<Int16Array> {
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
          this.#worker.postMessage({ id, text, voice: plan.voice, rate: plan.rate, pitch: plan.pitch });
        }),
    );
    this.#queue = turn.catch(() => undefined);
    turn.then(
      () => undefined,
      (error: Error) => {
        failure = error;
      },
    ).finally(() => {
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
