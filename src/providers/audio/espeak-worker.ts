/**
 * The eSpeak NG worker thread: eSpeak NG compiled to WebAssembly (`@echogarden/espeak-ng-emscripten`,
 * which ships its voice data) runs synchronously, so it runs here, off the server's event loop.
 * Messages in: `{ id, text, voice, rate, pitch }`; out: `{ id, samples }` chunks (22,050 Hz 16-bit
 * mono), then `{ id, done: true }` or `{ id, error }`.
 */
import { parentPort } from "node:worker_threads";

interface SynthesisJob {
  id: number;
  text: string;
  voice: string;
  /** Words per minute, 80–450. */
  rate: number;
  /** 0–99, 50 normal. */
  pitch: number;
}

interface EspeakInstance {
  set_voice(voice: string): void;
  set_rate(rate: number): void;
  set_pitch(pitch: number): void;
  synthesize(text: string, callback: (samples: Int16Array | undefined) => void): void;
  list_voices(): { identifier: string; name: string; languages: { name: string }[] }[];
}

// The package ships no types: its module is described by EspeakInstance above.
const specifier = "@echogarden/espeak-ng-emscripten";
const { default: initialize } = (await import(specifier)) as { default: () => Promise<{ eSpeakNGWorker: new () => EspeakInstance }> };
const module = await initialize();
const espeak = new module.eSpeakNGWorker();
const port = parentPort;
if (port === null) throw new Error("espeak-worker.ts runs as a worker thread");
port.postMessage({ ready: true, voices: espeak.list_voices().map((v) => v.identifier) });
port.on("message", (job: SynthesisJob) => {
  try {
    espeak.set_voice(job.voice);
    espeak.set_rate(job.rate);
    espeak.set_pitch(job.pitch);
    espeak.synthesize(job.text, (samples) => {
      // The callback's array is a view of WebAssembly memory: copy it out before the next call.
      if (samples !== undefined && samples.length > 0) {
        const copy = samples.slice();
        port.postMessage({ id: job.id, samples: copy }, [copy.buffer]);
      }
    });
    port.postMessage({ id: job.id, done: true });
  } catch (error) {
    port.postMessage({ id: job.id, error: error instanceof Error ? error.message : String(error) });
  }
});
