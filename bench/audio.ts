/**
 * bench/audio: the built-in speech and transcription models through the real server, with the
 * engines run directly beside them as the reference, in one run:
 *   speech     — real-time factor (seconds of audio per second of wall time) of a 300-character
 *                English paragraph as wav, for a Flite voice (coral) and an eSpeak NG voice (id en-us)
 *   first byte — time to the first audio byte of the same paragraph streamed (stream_format audio, pcm)
 *   transcribe — real-time factor of jfk.wav (11 s) and of a 69 s recording (jfk.wav six times with
 *                pauses), through the server (VAD pieces recognised in parallel) and through one
 *                pocketsphinx_continuous process on the whole file (the engine alone, the reference)
 * Targets (issue 17): speech ≥ 50× real time for wav, first byte ≤ 300 ms, transcription ≥ 2×.
 *
 *   npm run bench:audio [-- --rounds 5]
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { appendResults, machineFacts, median } from "./machine.ts";
import { BENCH_KEY, startBenchServer, type BenchServer } from "./server.ts";
import { wordErrorRate } from "../test/helpers/wer.ts";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" } } });
const ROUNDS = Number(values.rounds);
const JFK = fileURLToPath(new URL("../../shared/models/jfk.wav", import.meta.url));
const MODEL_DIR = "/usr/share/pocketsphinx/model/en-us";
const PARAGRAPH =
  "The quick brown fox jumps over the lazy dog. Modelport speaks every answer out loud on this machine. " +
  "It reads the text sentence by sentence, so the first sound leaves quickly. The rest follows while the listener hears the start. " +
  "Nothing is sent anywhere else.";

const auth = { authorization: `Bearer ${BENCH_KEY}` };

/** Seconds of 24 kHz 16-bit mono audio in a WAV file. */
function wavSeconds(bytes: Buffer): number {
  return (bytes.length - 44) / 2 / 24_000;
}

async function speech(server: BenchServer, voice: unknown): Promise<{ rtf: number }> {
  const started = performance.now();
  const res = await fetch(`${server.url}/v1/audio/speech`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ model: "tts-1", voice, input: PARAGRAPH, response_format: "wav" }) });
  const bytes = Buffer.from(await res.arrayBuffer());
  if (!res.ok) throw new Error(`speech: HTTP ${res.status} ${bytes.toString()}`);
  return { rtf: wavSeconds(bytes) / ((performance.now() - started) / 1000) };
}

async function firstByte(server: BenchServer, voice: unknown): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${server.url}/v1/audio/speech`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ model: "tts-1", voice, input: PARAGRAPH, response_format: "pcm", stream_format: "audio" }) });
  const reader = res.body!.getReader();
  await reader.read();
  const ms = performance.now() - started;
  await reader.cancel();
  return ms;
}

async function transcribe(server: BenchServer, file: string, seconds: number): Promise<{ rtf: number; text: string }> {
  const form = new FormData();
  form.set("model", "whisper-1");
  form.set("file", new Blob([readFileSync(file)], { type: "audio/wav" }), "speech.wav");
  const started = performance.now();
  const res = await fetch(`${server.url}/v1/audio/transcriptions`, { method: "POST", headers: auth, body: form });
  const json = (await res.json()) as { text: string };
  if (!res.ok) throw new Error(`transcription: HTTP ${res.status} ${JSON.stringify(json)}`);
  return { rtf: seconds / ((performance.now() - started) / 1000), text: json.text };
}

/** The engine alone: one pocketsphinx_continuous process on the whole file. */
function pocketsphinxDirect(file: string, seconds: number): { rtf: number; text: string } {
  const started = performance.now();
  const out = spawnSync("pocketsphinx_continuous", ["-infile", file, "-hmm", join(MODEL_DIR, "en-us"), "-lm", join(MODEL_DIR, "en-us.lm.bin"), "-dict", join(MODEL_DIR, "cmudict-en-us.dict"), "-logfn", "/dev/null"], { encoding: "utf8" });
  return { rtf: seconds / ((performance.now() - started) / 1000), text: out.stdout.trim().split("\n").join(" ") };
}


async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "modelport-bench-audio-"));
  const padded = join(dir, "jfk-padded.wav");
  const long = join(dir, "jfk6.wav");
  execFileSync("ffmpeg", ["-v", "error", "-y", "-i", JFK, "-af", "apad=pad_dur=0.5", padded]);
  writeFileSync(join(dir, "list.txt"), Array.from({ length: 6 }, () => `file '${padded}'\n`).join(""));
  execFileSync("ffmpeg", ["-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", join(dir, "list.txt"), "-c", "copy", long]);
  const JFK_TEXT = "And so my fellow Americans ask not what your country can do for you ask what you can do for your country";
  const files = [
    { name: "jfk.wav (11 s)", path: JFK, seconds: 11, reference: JFK_TEXT },
    { name: "jfk.wav × 6 (69 s)", path: long, seconds: 69, reference: Array.from({ length: 6 }, () => JFK_TEXT).join(" ") },
  ];
  const server = await startBenchServer({});
  try {
    // Warm-up: the speech worker thread and voices load on first use.
    await speech(server, "coral");
    await speech(server, { id: "en-us" });
    const rows: string[] = [];
    const verdicts: string[] = [];
    for (const [label, voice] of [["Flite (coral)", "coral"], ["eSpeak NG (en-us)", { id: "en-us" }]] as const) {
      const rtfs: number[] = [];
      const firsts: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        rtfs.push((await speech(server, voice)).rtf);
        firsts.push(await firstByte(server, voice));
      }
      rows.push(`| speech, ${label}, wav | ${median(rtfs).toFixed(1)}× real time | first byte streamed ${median(firsts).toFixed(0)} ms |`);
      verdicts.push(`speech ${label}: ${median(rtfs).toFixed(1)}× real time (target ≥ 50×: ${median(rtfs) >= 50 ? "met" : "**not met**"}), first byte ${median(firsts).toFixed(0)} ms (target ≤ 300 ms: ${median(firsts) <= 300 ? "met" : "**not met**"})`);
    }
    for (const file of files) {
      const served: { rtf: number; text: string }[] = [];
      const direct: { rtf: number; text: string }[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        served.push(await transcribe(server, file.path, file.seconds));
        direct.push(pocketsphinxDirect(file.path, file.seconds));
      }
      const s = median(served.map((x) => x.rtf));
      const d = median(direct.map((x) => x.rtf));
      const werServed = wordErrorRate(file.reference, served[0]!.text);
      const werDirect = wordErrorRate(file.reference, direct[0]!.text);
      rows.push(`| transcribe ${file.name} | server ${s.toFixed(2)}× real time, WER ${(werServed * 100).toFixed(0)} % | pocketsphinx alone ${d.toFixed(2)}× (server / alone ${(s / d).toFixed(2)}), WER ${(werDirect * 100).toFixed(0)} % |`);
      verdicts.push(`transcription ${file.name}: ${s.toFixed(2)}× real time (target ≥ 2×: ${s >= 2 ? "met" : "**not met**"})`);
    }
    const section = `## audio: built-in speech and transcription through the server, engines alone beside them (${new Date().toISOString()})

${machineFacts()}; ${ROUNDS} rounds per row, medians. Speech: a ${PARAGRAPH.length}-character paragraph.

| case | result | beside it |
|---|---|---|
${rows.join("\n")}

${verdicts.map((v) => `- ${v}`).join("\n")}
`;
    console.log(section);
    appendResults(section);
  } finally {
    await server.stop();
  }
}

await main();
