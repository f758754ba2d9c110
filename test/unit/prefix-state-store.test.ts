import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { Token } from "node-llama-cpp";
import { PrefixStateStore } from "../../src/providers/local/prefix-state-store.ts";

const options = { minTokens: 256, block: 128, maxBytes: 2500, minHits: 2 };

describe("PrefixStateStore", () => {
  it("evicts the least recently used state files beyond its byte budget, and drops partial files", () => {
    const dir = mkdtempSync(join(tmpdir(), "modelport-store-"));
    const names = ["a", "b", "c"].map((c) => `${c.repeat(32)}-256.state`);
    names.forEach((name, i) => {
      writeFileSync(join(dir, name), Buffer.alloc(1000));
      utimesSync(join(dir, name), 1000 + i, 1000 + i);
    });
    writeFileSync(join(dir, "half-written.state.tmp"), "x");
    const store = new PrefixStateStore({ ...options, dir });
    assert.equal(store.size, 2);
    assert.equal(store.bytes, 2000);
    assert.deepEqual(readdirSync(dir).sort(), names.slice(1).sort(), "the oldest file and the partial one are gone");
  });

  it("rounds prefixes down to blocks, and calls a prefix hot on its second use", () => {
    const store = new PrefixStateStore({ ...options, dir: mkdtempSync(join(tmpdir(), "modelport-store-")) });
    const tokens = Array.from({ length: 700 }, (_, i) => (i % 500) as Token);
    assert.equal(store.candidateLength(tokens), 640);
    assert.equal(store.candidateLength(tokens.slice(0, 200)), 0, "too short to be worth a file");
    assert.equal(store.noteUse(tokens), false);
    assert.equal(store.noteUse([...tokens.slice(0, 690), 1, 2, 3] as Token[]), true, "same 640-token prefix, different tail");
    assert.equal(store.lookup(tokens), undefined, "nothing stored yet");
  });
});
