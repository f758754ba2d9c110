import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { decodeWav } from "../../src/providers/audio/pcm.ts";
import { fliteGroups } from "../../src/providers/audio/speech-engine.ts";
import { splitAtPauses, voicedFrames } from "../../src/providers/audio/vad.ts";
import { MODELS_DIR } from "../helpers/server.ts";

const jfk = decodeWav(readFileSync(join(MODELS_DIR, "jfk.wav")))!;

/** jfk.wav `times` times with half a second of silence after each. */
function repeated(times: number): { samples: Int16Array; sampleRate: number } {
  const gap = jfk.sampleRate / 2;
  const samples = new Int16Array(times * (jfk.samples.length + gap));
  for (let i = 0; i < times; i++) samples.set(jfk.samples, i * (jfk.samples.length + gap));
  return { samples, sampleRate: jfk.sampleRate };
}

describe("voice activity detection (libfvad, WebAssembly)", () => {
  it("finds speech in real speech and none in silence", async () => {
    const voiced = await voicedFrames(jfk);
    assert.equal(voiced.length, Math.floor(jfk.samples.length / 480));
    const share = voiced.filter(Boolean).length / voiced.length;
    assert.ok(share > 0.6 && share < 0.99, `${share} of jfk.wav voiced`);
    assert.ok((await voicedFrames({ samples: new Int16Array(16_000), sampleRate: 16_000 })).every((v) => !v));
  });

  it("cuts long recordings at pauses into pieces that cover them exactly, and leaves short ones whole", async () => {
    const long = repeated(6);
    const pieces = await splitAtPauses(long, 15, 15);
    assert.ok(pieces.length >= 3, `${pieces.length} pieces`);
    assert.equal(pieces[0]!.start, 0);
    assert.equal(pieces.at(-1)!.end, long.samples.length);
    const voiced = await voicedFrames(long);
    for (let i = 1; i < pieces.length; i++) {
      assert.equal(pieces[i]!.start, pieces[i - 1]!.end);
      assert.ok(pieces[i - 1]!.end - pieces[i - 1]!.start >= 15 * 16_000 * 0.99, "no piece shorter than the minimum");
      // Every cut is in a pause: the frame it falls in holds no speech.
      assert.equal(voiced[Math.floor(pieces[i]!.start / 480)], false, `cut ${i} at ${pieces[i]!.start / 16_000} s is in speech`);
    }
    assert.deepEqual(await splitAtPauses(jfk, 15, 15), [{ start: 0, end: jfk.samples.length }]);
  });
});

describe("Flite's runs", () => {
  it("speaks the first sentence alone and the rest in groups of at most 400 characters", () => {
    const sentences = Array.from({ length: 30 }, (_, i) => `Sentence number ${i} is here.`);
    const groups = fliteGroups(sentences);
    assert.equal(groups[0], sentences[0]);
    assert.equal(groups.join(" "), sentences.join(" "));
    assert.ok(groups.every((g) => g.length <= 400));
    assert.ok(groups.length < 6);
    assert.deepEqual(fliteGroups([]), []);
  });
});
