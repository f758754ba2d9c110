import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeSseFrame, encodeSseJson, SSE_DONE } from "../../src/core/sse.ts";

describe("SSE encoder", () => {
  it("frames JSON as one data line and a blank line", () => {
    assert.equal(encodeSseJson({ a: "x\ny" }), 'data: {"a":"x\\ny"}\n\n');
    assert.equal(SSE_DONE, "data: [DONE]\n\n");
  });

  it("splits multi-line data and refuses event names with line breaks", () => {
    assert.equal(encodeSseFrame("a\nb\r\nc", "msg"), "event: msg\ndata: a\ndata: b\ndata: c\n\n");
    assert.throws(() => encodeSseFrame("x", "bad\nevent"));
  });
});
