import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Pcm16, Transcript, TranscriptSegment } from "../../core/audio.ts";
import { encodeWav } from "./pcm.ts";

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

/**
 * Speech to text with CMU PocketSphinx (Debian's `pocketsphinx` and `pocketsphinx-en-us`: a real
 * English acoustic model, language model and dictionary), one managed child process per recording.
 */
export class PocketsphinxRecognizer {
  readonly #model: { hmm: string; lm: string; dict: string };

  constructor(model: { hmm: string; lm: string; dict: string }) {
    this.#model = model;
  }

  /** Transcribes 16 kHz mono PCM written to `workDir`; the file is the caller's to remove. */
  async transcribe(pcm: Pcm16, workDir: string, signal: AbortSignal): Promise<Transcript> {
    const file = join(workDir, "speech.wav");
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
    const duration = pcm.samples.length / pcm.sampleRate;
    const at = (t: number): number => Number(Math.min(duration, Math.max(0, t - LEAD_IN_SECONDS)).toFixed(3));
    const segments = parsePocketsphinxOutput(output).map((s) => ({ ...s, start: at(s.start), end: at(s.end), words: s.words.map((w) => ({ ...w, start: at(w.start), end: at(w.end) })) }));
    return { language: "english", duration, segments };
  }
}
