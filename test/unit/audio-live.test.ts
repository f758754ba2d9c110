import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { transcriptText } from "../../src/core/audio.ts";
import { NoiseFilter } from "../../src/providers/audio/noise-filter.ts";
import { decodeWav } from "../../src/providers/audio/pcm.ts";
import { findPocketsphinx, PocketsphinxRecognizer } from "../../src/providers/audio/pocketsphinx.ts";
import { speechCut } from "../../src/services/realtime-session.ts";
import { MODELS_DIR } from "../helpers/server.ts";


function sine(hz: number, seconds: number, rate = 24_000, amplitude = 10_000): Int16Array {
  return Int16Array.from({ length: Math.round(seconds * rate) }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate)));
}

function rms(samples: Int16Array): number {
  // The first 0.1 s is the filter settling.
  const tail = samples.subarray(2400);
  return Math.sqrt(tail.reduce((sum, x) => sum + x * x, 0) / tail.length);
}

describe("realtime input audio", () => {
  it("noise_reduction's high-pass filter takes out hum and rumble and keeps the voice band, across chunk boundaries", () => {
    for (const type of ["near_field", "far_field"] as const) {
      const hum = sine(50, 1);
      const voice = sine(1000, 1);
      const filter = new NoiseFilter(type, 24_000);
      // Filtered in 20 ms chunks, as appends arrive: the state carries over.
      const chunks: Int16Array[] = [];
      for (let at = 0; at < hum.length; at += 480) chunks.push(filter.process(hum.subarray(at, at + 480)));
      const humOut = Int16Array.from(chunks.flatMap((c) => [...c]));
      const db = (out: Int16Array, input: Int16Array): number => 20 * Math.log10(rms(out) / rms(input));
      assert.ok(db(humOut, hum) < -6, `${type}: 50 Hz hum only ${db(humOut, hum).toFixed(1)} dB down`);
      assert.ok(Math.abs(db(new NoiseFilter(type, 24_000).process(voice), voice)) < 0.5, `${type}: 1 kHz changed`);
    }
    // A room microphone's filter cuts more of the low band than a close one's.
    const low = sine(120, 1);
    assert.ok(rms(new NoiseFilter("far_field", 24_000).process(low)) < rms(new NoiseFilter("near_field", 24_000).process(low)));
  });

  it("recognises speech fed while it is spoken as the whole clip is recognised, and cancels cleanly", { skip: findPocketsphinx() === undefined ? "PocketSphinx is not installed" : false }, async () => {
    const recognizer = new PocketsphinxRecognizer(findPocketsphinx()!);
    const full = decodeWav(readFileSync(join(MODELS_DIR, "jfk.wav")))!;
    // The last four seconds ("…what you can do for your country"), short enough to recognise twice quickly.
    const jfk = { samples: full.samples.subarray(7 * full.sampleRate), sampleRate: full.sampleRate };
    const live = recognizer.live(new AbortController().signal);
    // 20 ms chunks, as a realtime client appends them.
    for (let at = 0; at < jfk.samples.length; at += 320) live.write(jfk.samples.subarray(at, at + 320));
    const heard = await live.end();
    const dir = await mkdtemp(join(tmpdir(), "modelport-live-"));
    try {
      const whole = await recognizer.transcribe(jfk, dir, new AbortController().signal);
      // The same audio, fed in pieces or read from a file, is decoded the same.
      assert.equal(transcriptText(heard), transcriptText(whole));
      assert.match(transcriptText(heard), /your country/);
      assert.ok(Math.abs(heard.duration - jfk.samples.length / 16_000) < 0.01);
      assert.ok((heard.segments.at(-1)?.end ?? 0) <= heard.duration);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const cancelled = recognizer.live(new AbortController().signal);
    cancelled.write(jfk.samples.subarray(0, 16_000));
    cancelled.cancel();
    const aborted = new AbortController();
    const stopped = recognizer.live(aborted.signal);
    stopped.write(jfk.samples.subarray(0, 16_000));
    aborted.abort(new Error("session closed"));
    await assert.rejects(stopped.end(), /session closed/);
  });

  it("speaks an answer sentence by sentence, and its first words sooner: at a clause or after eight words", () => {
    const cut = (text: string, first: boolean): string => {
      const at = speechCut(text, first);
      return at > 0 ? text.slice(0, at + 1) : "";
    };
    assert.equal(cut("Once upon a time. There was", false), "Once upon a time.");
    assert.equal(cut("Once upon a time, there", false), "");
    assert.equal(cut("Once upon a time, there", true), "Once upon a time,");
    assert.equal(cut("one two three four five six seven", true), "");
    assert.equal(cut("one two three four five six seven eight nine", true), "one two three four five six seven eight ");
    assert.equal(cut("Hi! How are you? I", true), "Hi! How are you?");
  });
});
