import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { Pcm16, Transcript, TranscriptSegment } from "../../core/audio.ts";
import type { LiveTranscription } from "../provider.ts";
import { encodeWav } from "./pcm.ts";
import { splitAtPauses } from "./vad.ts";

/** Where Debian's `pocketsphinx-en-us` puts its acoustic model, language model and dictionary. */
const MODEL_DIR = "/usr/share/pocketsphinx/model/en-us";
const BINARY = "pocketsphinx_continuous";
/** Silence put before (and after) a recording; times are reported without it. */
const LEAD_IN_SECONDS = 0.3;

/** The files of an installed PocketSphinx English model, or undefined when it is not installed. */
export function findPocketsphinx(): { hmm: string; lm: string; dict: string } | undefined {
  const model = { hmm: join(MODEL_DIR, "en-us"), lm: join(MODEL_DIR, "en-us.lm.bin"), dict: join(MODEL_DIR, "cmudict-en-us.dict") };
  if (!Object.values(model).every((p) => existsSync(p))) return undefined;
  const onPath = (process.env.PATH ?? "").split(":").some((dir) => dir !== "" && existsSync(join(dir, BINARY)));
  return onPath ? model : undefined;
}

/** Fillers and markers in PocketSphinx's word list that are not words. */
const NOT_WORDS = new Set(["<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]", "[BREATH]", "[COUGH]", "[UM]", "[UH]", "[SMACK]"]);

/**
 * Parses `pocketsphinx_continuous -time yes` output: per utterance a line of text, then one line per
 * word: `word(alt) start end posterior`.
 */
export function parsePocketsphinxOutput(output: string): TranscriptSegment[] {
  const segments: TranscriptSegment[] = [];
  let current: TranscriptSegment | undefined;
  for (const line of output.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields.length === 4 && fields.slice(1).every((f) => /^-?\d+(\.\d+)?$/.test(f))) {
      const [raw = "", start, end, confidence] = fields;
      current ??= { start: Number(start), end: Number(end), text: "", words: [] };
      const word = raw.replace(/\(\d+\)$/, "");
      if (NOT_WORDS.has(word)) continue;
      current.words.push({ word, start: Number(start), end: Number(end), confidence: Math.min(1, Math.max(0, Number(confidence))) });
    } else if (line.trim() !== "") {
      if (current !== undefined) segments.push(current);
      current = undefined;
    }
  }
  if (current !== undefined) segments.push(current);
  return segments
    .filter((s) => s.words.length > 0)
    .map((s) => ({ ...s, start: s.words[0]?.start ?? s.start, end: s.words.at(-1)?.end ?? s.end, text: s.words.map((w) => w.word).join(" ") }));
}

/** Recognizer processes at once, across all requests: one per core. */
const PARALLEL = Math.max(1, availableParallelism());
/**
 * Pieces are never cut shorter than this. Each process loads the model (about 0.6 s here), and a
 * short piece is heard worse than the same words inside a longer recording (jfk.wav cut at its
 * 8 s pause: WER 9 % whole, 91 % in two pieces), so only long recordings are cut.
 */
const MIN_PIECE_SECONDS = 15;
/** Nor aimed longer than this, so a long recording keeps every core busy and its pieces even. */
const MAX_PIECE_SECONDS = 30;

/**
 * Speech to text with CMU PocketSphinx (Debian's `pocketsphinx` and `pocketsphinx-en-us`: a real
 * English acoustic model, language model and dictionary), as managed child processes. A recording
 * is cut at pauses (libfvad's voice activity detection) into pieces recognised in parallel, one
 * process per core across all requests, and the pieces' words put back on one time line.
 */
export class PocketsphinxRecognizer {
  readonly #model: { hmm: string; lm: string; dict: string };
  readonly #slots = new Semaphore(PARALLEL);

  constructor(model: { hmm: string; lm: string; dict: string }) {
    this.#model = model;
  }

  /** Transcribes 16 kHz mono PCM; its pieces are written to `workDir`, the caller's to remove. */
  async transcribe(pcm: Pcm16, workDir: string, signal: AbortSignal): Promise<Transcript> {
    const duration = pcm.samples.length / pcm.sampleRate;
    const target = Math.min(MAX_PIECE_SECONDS, Math.max(MIN_PIECE_SECONDS, duration / (2 * PARALLEL)));
    const regions = await splitAtPauses(pcm, target, MIN_PIECE_SECONDS);
    const pieces = await Promise.all(
      regions.map(async (region, i) => {
        const release = await this.#slots.acquire(signal);
        try {
          const piece = { samples: pcm.samples.subarray(region.start, region.end), sampleRate: pcm.sampleRate };
          return await this.#recognize(piece, join(workDir, `piece-${i}.wav`), region.start / pcm.sampleRate, signal);
        } finally {
          release();
        }
      }),
    );
    return { language: "english", duration, segments: pieces.flat() };
  }

  /**
   * A recognition fed while the speaker talks: the process starts (loading its model) at once and
   * decodes each chunk as it is written, so when the audio ends only the last passes remain (about
   * 50 ms for a short turn here, against 0.6 s of start-up and more of decoding for the whole clip).
   * It takes no slot of the semaphore: it runs at the pace of speech, most of the time idle.
   */
  live(signal: AbortSignal): LiveTranscription {
    // PocketSphinx reads `-infile` with fread, so a pipe streams; Node's stdin for a child is a
    // socket, which /dev/stdin cannot open, hence the `cat` in between.
    const child = spawn("sh", ["-c", 'cat | exec "$0" "$@"', BINARY, "-infile", "/dev/stdin", "-hmm", this.#model.hmm, "-lm", this.#model.lm, "-dict", this.#model.dict, "-time", "yes", "-logfn", "/dev/null"], { stdio: ["pipe", "pipe", "pipe"], detached: true });
    const kill = (): void => {
      // The shell, cat and the recognizer are one process group.
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
    };
    signal.addEventListener("abort", kill, { once: true });
    let output = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => (output += d));
    child.stderr.resume();
    // A recognizer that died early (killed, or the shell failed) must not turn writes into errors.
    child.stdin.on("error", () => undefined);
    const closed = new Promise<number | null>((resolve) => {
      child.on("close", (c) => resolve(c));
      child.on("error", () => resolve(-1));
    });
    const silence = new Int16Array(Math.round(LEAD_IN_SECONDS * 16_000));
    const write = (samples: Int16Array): void => {
      if (!child.stdin.writable) return;
      child.stdin.write(Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength));
    };
    // The same lead-in as a whole clip gets, for the same reason.
    write(silence);
    let written = 0;
    return {
      write: (samples) => {
        written += samples.length;
        write(samples);
      },
      end: async () => {
        write(silence);
        child.stdin.end();
        const code = await closed;
        signal.removeEventListener("abort", kill);
        signal.throwIfAborted();
        if (code !== 0) throw new Error(`pocketsphinx exited with code ${code}`);
        const length = written / 16_000;
        const at = (t: number): number => Number(Math.min(length, Math.max(0, t - LEAD_IN_SECONDS)).toFixed(3));
        const segments = parsePocketsphinxOutput(output).map((s) => ({ ...s, start: at(s.start), end: at(s.end), words: s.words.map((w) => ({ ...w, start: at(w.start), end: at(w.end) })) }));
        return { language: "english", duration: length, segments };
      },
      cancel: () => {
        signal.removeEventListener("abort", kill);
        kill();
      },
    };
  }

  /** One piece through one process; its times are shifted by `offset` seconds. */
  async #recognize(pcm: Pcm16, file: string, offset: number, signal: AbortSignal): Promise<TranscriptSegment[]> {
    // PocketSphinx estimates its cepstral mean from the first frames: speech that starts at once is
    // misheard (jfk.wav: 12 of 22 words wrong without a lead-in, 2 with one), so silence goes first.
    const lead = Math.round(LEAD_IN_SECONDS * pcm.sampleRate);
    const padded = new Int16Array(lead + pcm.samples.length + lead);
    padded.set(pcm.samples, lead);
    await writeFile(file, encodeWav({ samples: padded, sampleRate: pcm.sampleRate }));
    const child = spawn(BINARY, ["-infile", file, "-hmm", this.#model.hmm, "-lm", this.#model.lm, "-dict", this.#model.dict, "-time", "yes", "-logfn", "/dev/null"], { stdio: ["ignore", "pipe", "pipe"] });
    const kill = (): void => void child.kill("SIGKILL");
    signal.addEventListener("abort", kill, { once: true });
    let output = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => (output += d));
    child.stderr.resume();
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    signal.removeEventListener("abort", kill);
    signal.throwIfAborted();
    if (code !== 0) throw new Error(`pocketsphinx exited with code ${code}`);
    const length = pcm.samples.length / pcm.sampleRate;
    const at = (t: number): number => Number((offset + Math.min(length, Math.max(0, t - LEAD_IN_SECONDS))).toFixed(3));
    return parsePocketsphinxOutput(output).map((s) => ({ ...s, start: at(s.start), end: at(s.end), words: s.words.map((w) => ({ ...w, start: at(w.start), end: at(w.end) })) }));
  }
}

/** A counting semaphore whose waits end when `signal` aborts. */
class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  async acquire(signal: AbortSignal): Promise<() => void> {
    signal.throwIfAborted();
    if (this.#free > 0) this.#free--;
    else {
      await new Promise<void>((resolve, reject) => {
        const wake = (): void => {
          signal.removeEventListener("abort", abort);
          resolve();
        };
        const abort = (): void => {
          const i = this.#waiting.indexOf(wake);
          if (i >= 0) this.#waiting.splice(i, 1);
          reject(signal.reason);
        };
        this.#waiting.push(wake);
        signal.addEventListener("abort", abort, { once: true });
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#free++;
    };
  }
}
