import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StopBuffer } from "../../src/providers/local/stop-buffer.ts";

function feed(stops: string[], pieces: string[]): { emitted: string; stopped: boolean; rest: string } {
  const buffer = new StopBuffer(stops);
  let emitted = "";
  for (const piece of pieces) {
    const { emit, stopped } = buffer.push(piece);
    emitted += emit;
    if (stopped) return { emitted, stopped, rest: "" };
  }
  return { emitted, stopped: false, rest: buffer.flush() };
}

describe("StopBuffer", () => {
  it("stops at a sequence split across pieces and never emits any of it", () => {
    assert.deepEqual(feed(["END"], ["Hello E", "N", "D more"]), { emitted: "Hello ", stopped: true, rest: "" });
  });

  it("holds back only a possible stop prefix, then releases it when it turns out not to be one", () => {
    const buffer = new StopBuffer(["###"]);
    assert.deepEqual(buffer.push("a #"), { emit: "a ", stopped: false });
    assert.deepEqual(buffer.push("#b"), { emit: "##b", stopped: false });
  });

  it("picks the earliest of several stops, with multi-byte text", () => {
    assert.deepEqual(feed(["世界", "！"], ["你好，世", "界！再见"]), { emitted: "你好，", stopped: true, rest: "" });
  });

  it("flushes held text when generation ends for another reason", () => {
    assert.deepEqual(feed(["STOP"], ["abc ST"]), { emitted: "abc ", stopped: false, rest: "ST" });
  });

  it("passes text straight through without stops", () => {
    assert.deepEqual(feed([], ["a", "b"]), { emitted: "ab", stopped: false, rest: "" });
  });
});
