import { spawn, spawnSync } from "node:child_process";
import type { Pcm16, SpeechFormat } from "../../core/audio.ts";
import { invalidRequest } from "../../core/errors.ts";

let available: boolean | undefined;

/** Whether Debian's (or any) `ffmpeg` is on PATH; checked once. */
export function ffmpegAvailable(): boolean {
  available ??= spawnSync("ffmpeg", ["-hide_banner", "-version"], { stdio: "ignore", timeout: 10_000 }).status === 0;
  return available;
}

/** ffmpeg's output options per OpenAI format (opus in Ogg and AAC in ADTS, as OpenAI sends them). */
const OUTPUT_ARGS: Readonly<Record<Exclude<SpeechFormat, "pcm" | "wav">, readonly string[]>> = {
  mp3: ["-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"],
  opus: ["-c:a", "libopus", "-b:a", "32k", "-f", "ogg"],
  aac: ["-c:a", "aac", "-b:a", "64k", "-f", "adts"],
  flac: ["-c:a", "flac", "-f", "flac"],
};

/** ffmpeg's `atempo` takes 0.5–2 per stage: a chain reaches any factor. */
function atempoChain(factor: number): string {
  const stages: string[] = [];
  let rest = factor;
  while (rest > 2) {
    stages.push("atempo=2");
    rest /= 2;
  }
  while (rest < 0.5) {
    stages.push("atempo=0.5");
    rest /= 0.5;
  }
  stages.push(`atempo=${rest.toFixed(5)}`);
  return stages.join(",");
}

/**
 * Encodes a stream of 16-bit mono PCM into `format` with ffmpeg as a child process, yielding the
 * encoded bytes as ffmpeg writes them (so the first audio leaves before synthesis ends), at
 * `outputRate`. `stretch` changes the tempo without changing the pitch (ffmpeg's atempo), for speeds
 * beyond the engine's.
 */
export async function* ffmpegEncode(pcm: AsyncIterable<Int16Array>, sampleRate: number, format: SpeechFormat, stretch: number, signal: AbortSignal, outputRate: number): AsyncGenerator<Buffer> {
  const output = format === "pcm" ? ["-f", "s16le"] : format === "wav" ? ["-f", "wav"] : OUTPUT_ARGS[format];
  const filters = Math.abs(stretch - 1) > 0.001 ? ["-filter:a", atempoChain(stretch)] : [];
  const child = spawn("ffmpeg", ["-hide_banner", "-loglevel", "error", "-f", "s16le", "-ar", String(sampleRate), "-ac", "1", "-i", "pipe:0", ...filters, "-ar", String(outputRate), ...output, "pipe:1"], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const kill = (): void => void child.kill("SIGKILL");
  signal.addEventListener("abort", kill, { once: true });
  child.stdin.on("error", () => undefined);
  const feeding = (async () => {
    try {
      for await (const chunk of pcm) {
        if (signal.aborted) break;
        const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        if (!child.stdin.write(bytes)) await new Promise<void>((resolve) => child.stdin.once("drain", () => resolve()));
      }
    } finally {
      child.stdin.end();
    }
  })();
  feeding.catch(kill);
  try {
    for await (const data of child.stdout) yield data as Buffer;
    await feeding;
    const code = await exited;
    if (code !== 0 && !signal.aborted) throw new Error(`ffmpeg failed to encode ${format}: ${stderr.trim() || `exit code ${code}`}`);
  } finally {
    signal.removeEventListener("abort", kill);
    if (child.exitCode === null) kill();
  }
}

/**
 * Decodes an audio file of any format ffmpeg reads (flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm)
 * to 16-bit mono PCM at `sampleRate`. A file that is not audio (or is damaged beyond reading) is a
 * 400 naming `file`.
 */
export async function ffmpegDecode(path: string, sampleRate: number, signal: AbortSignal): Promise<Pcm16> {
  const child = spawn("ffmpeg", ["-hide_banner", "-loglevel", "error", "-nostdin", "-i", path, "-vn", "-ac", "1", "-ar", String(sampleRate), "-f", "s16le", "pipe:1"], { stdio: ["ignore", "pipe", "pipe"] });
  const kill = (): void => void child.kill("SIGKILL");
  signal.addEventListener("abort", kill, { once: true });
  const chunks: Buffer[] = [];
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => chunks.push(d));
  child.stderr.on("data", (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  signal.removeEventListener("abort", kill);
  signal.throwIfAborted();
  const bytes = Buffer.concat(chunks);
  if (code !== 0 || bytes.length < 2) {
    const reason = stderr.trim().split("\n").at(-1) ?? "";
    throw invalidRequest(`The audio file could not be decoded${reason === "" ? "" : ` (${reason.replace(/^.*?: /, "").slice(0, 200)})`}. Supported formats: flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm.`, "file", "invalid_value");
  }
  const samples = new Int16Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 2)).slice();
  return { samples, sampleRate };
}
