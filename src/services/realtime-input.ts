import { ApiError } from "../core/errors.ts";
import { prefixedId } from "../core/ids.ts";
import type { NoiseReduction, TurnDetection } from "../protocol/openai/realtime.ts";
import { NoiseFilter } from "../providers/audio/noise-filter.ts";
import { concatSamples, resample } from "../providers/audio/pcm.ts";
import { VadStream } from "../providers/audio/vad.ts";
import type { LiveTranscription } from "../providers/provider.ts";

/** The rate of audio inside a session (the socket's pcm16; G.711 is resampled to it). */
export const REALTIME_RATE = 24_000;

/** What the input buffer tells the session, and asks of it. */
export interface InputEvents {
  /** Turn detection heard a turn begin at `startMs` (with its prefix padding). */
  speechStarted(itemId: string, startMs: number): void;
  /** …and end at `endMs`; the session commits the buffer. */
  speechStopped(itemId: string, endMs: number): void;
  /** No speech for `idle_timeout_ms` of audio after the last response played (`startMs`–`endMs`). */
  idleTimeout(startMs: number, endMs: number): void;
  /** A recognition to feed the turn to as it is spoken, or undefined where none can start. */
  listen(): LiveTranscription | undefined;
}

/** How the buffer is watched, from the session's configuration. */
export interface InputSettings {
  turnDetection: TurnDetection | null;
  noiseReduction: NoiseReduction | null;
}

/** A committed turn: its audio, and its recognition already under way when there is one. */
export interface CommittedAudio {
  pcm: Int16Array;
  live: LiveTranscription | undefined;
}

/**
 * A realtime session's input audio buffer: appended audio, filtered (`noise_reduction`), watched
 * by libfvad for turns (server VAD) and fed to a live recognizer while the turn is spoken, so its
 * transcript is nearly ready when the speaker stops.
 */
export class RealtimeInput {
  readonly #maxBufferBytes: number;
  readonly #events: InputEvents;
  #buffer: Int16Array[] = [];
  #bufferSamples = 0;
  /** Samples appended over the whole session, the clock of `audio_start_ms` / `audio_end_ms`. */
  #clock = 0;
  #vad: VadStream | undefined;
  #vadMode = -1;
  #filter: { type: NoiseReduction; filter: NoiseFilter } | undefined;
  #speech: { itemId: string; silentMs: number } | undefined;
  #voicedRun = 0;
  #live: LiveTranscription | undefined;
  /** Where on the clock (ms) the idle timeout starts counting: when the last response finished playing. */
  #idleFrom: number | undefined;
  /** Whether this turn asked for a recognition (none may be had: the turn is then recognised whole). */
  #listened = false;

  constructor(maxBufferBytes: number, events: InputEvents) {
    this.#maxBufferBytes = maxBufferBytes;
    this.#events = events;
  }

  /** Starts the idle timeout `playbackMs` after now on the input clock (the response's audio still playing). */
  armIdleTimeout(playbackMs: number): void {
    this.#idleFrom = (this.#clock / REALTIME_RATE) * 1000 + playbackMs;
  }

  /** The item id of the turn being spoken, if one is. */
  get speechItemId(): string | undefined {
    return this.#speech?.itemId;
  }

  /** Appends 24 kHz samples; turn events fire from here. A full buffer is a 400. */
  async append(raw: Int16Array, settings: InputSettings): Promise<void> {
    if ((this.#bufferSamples + raw.length) * 2 > this.#maxBufferBytes) {
      throw new ApiError(400, `The input audio buffer would exceed ${this.#maxBufferBytes} bytes; commit or clear it.`, { type: "invalid_request_error", code: "input_audio_buffer_full", param: "audio" });
    }
    const samples = this.#filtered(raw, settings.noiseReduction);
    const startMs = (this.#clock / REALTIME_RATE) * 1000;
    this.#buffer.push(samples);
    this.#bufferSamples += samples.length;
    this.#clock += samples.length;
    const turn = settings.turnDetection;
    if (turn === null) {
      // Manual commits: everything appended is the turn.
      this.#feed(samples);
      return;
    }
    if (this.#speech !== undefined) this.#feed(samples);
    // libfvad's modes stand in for the threshold: 0–3, stricter as it rises.
    const mode = turn.threshold < 0.3 ? 1 : turn.threshold < 0.7 ? 2 : 3;
    if (this.#vad === undefined || mode !== this.#vadMode) {
      this.#vad?.dispose();
      this.#vad = await VadStream.create(mode);
      this.#vadMode = mode;
    }
    const frames = this.#vad.push(resample({ samples, sampleRate: REALTIME_RATE }, 16_000).samples);
    frames.forEach((voiced, i) => {
      const at = startMs + i * 30;
      if (this.#speech === undefined) {
        this.#voicedRun = voiced ? this.#voicedRun + 1 : 0;
        // Three voiced frames in a row (90 ms) start a turn, so a click does not.
        if (this.#voicedRun >= 3) {
          const itemId = prefixedId("item_", 22);
          this.#speech = { itemId, silentMs: 0 };
          this.#idleFrom = undefined;
          // The turn so far (its prefix padding and this chunk) goes to the recognizer at once.
          this.#feed(undefined);
          this.#events.speechStarted(itemId, Math.max(0, at - 60 - turn.prefixPaddingMs));
        }
      } else {
        this.#speech.silentMs = voiced ? 0 : this.#speech.silentMs + 30;
        if (this.#speech.silentMs >= turn.silenceDurationMs) this.#events.speechStopped(this.#speech.itemId, at + 30);
      }
    });
    // Between turns only the prefix padding is kept, so an idle microphone does not fill memory.
    if (this.#speech === undefined) this.#keepLast((turn.prefixPaddingMs / 1000) * REALTIME_RATE + REALTIME_RATE / 10);
    const now = (this.#clock / REALTIME_RATE) * 1000;
    if (this.#speech === undefined && turn.idleTimeoutMs !== null && this.#idleFrom !== undefined && now - this.#idleFrom >= turn.idleTimeoutMs) {
      const from = this.#idleFrom;
      this.#idleFrom = undefined;
      this.#events.idleTimeout(from, now);
    }
  }

  /** Takes the buffer as a committed turn (a 400 under 100 ms, the buffer then kept). */
  commit(): CommittedAudio {
    const pcm = this.#joined();
    if (pcm.length < REALTIME_RATE / 10) {
      this.#speech = undefined;
      this.#voicedRun = 0;
      throw new ApiError(400, `Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has ${((pcm.length / REALTIME_RATE) * 1000).toFixed(2)}ms of audio.`, { type: "invalid_request_error", code: "input_audio_buffer_commit_empty" });
    }
    const live = this.#live;
    this.#live = undefined;
    this.#reset();
    this.#listened = false;
    return { pcm, live };
  }

  /** Drops the buffer and any recognition of it. */
  clear(): void {
    this.#live?.cancel();
    this.#live = undefined;
    this.#listened = false;
    this.#reset();
  }

  /** Frees the detector and stops a recognition under way. */
  dispose(): void {
    this.clear();
    this.#vad?.dispose();
    this.#vad = undefined;
  }

  #reset(): void {
    this.#buffer = [];
    this.#bufferSamples = 0;
    this.#speech = undefined;
    this.#voicedRun = 0;
  }

  #filtered(samples: Int16Array, type: NoiseReduction | null): Int16Array {
    if (type === null) {
      this.#filter = undefined;
      return samples;
    }
    if (this.#filter?.type !== type) this.#filter = { type, filter: new NoiseFilter(type, REALTIME_RATE) };
    return this.#filter.filter.process(samples);
  }

  /** Feeds the live recognition `chunk`, or when it opens now, the whole buffer. */
  #feed(chunk: Int16Array | undefined): void {
    if (!this.#listened) {
      this.#listened = true;
      this.#live = this.#events.listen();
      this.#live?.write(this.#joined());
    } else if (chunk !== undefined) this.#live?.write(chunk);
  }

  #keepLast(samples: number): void {
    // A recognition opened for manual commits has heard audio that is now dropped.
    this.#live?.cancel();
    this.#live = undefined;
    this.#listened = false;
    const all = this.#joined();
    const kept = all.subarray(Math.max(0, all.length - Math.round(samples)));
    this.#buffer = [kept];
    this.#bufferSamples = kept.length;
  }

  #joined(): Int16Array {
    return concatSamples(this.#buffer);
  }
}
