import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { randomId, randomHex, sortableId } from "../../src/core/ids.ts";
import { createLogger } from "../../src/logging/logger.ts";
import { SseDataDecoder } from "../../src/core/sse-reader.ts";
import { UsageMeter } from "../../src/services/usage-meter.ts";
import type { Storage, UsageRecord } from "../../src/storage/storage.ts";

/** Feeds `text` to a decoder split at `cuts` (byte offsets) and returns every event's data. */
function decode(text: string, cuts: readonly number[] = []): string[] {
  const bytes = Buffer.from(text, "utf8");
  const decoder = new SseDataDecoder();
  const out: string[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(...decoder.push(bytes.subarray(from, cut)));
    from = cut;
  }
  return [...out, ...decoder.end()];
}

describe("SSE data decoder", () => {
  it("joins data lines, skips comments and other fields, and takes LF, CRLF and CR endings", () => {
    assert.deepEqual(decode('data: {"a":1}\n\n: keep-alive\n\nevent: x\nid: 3\ndata: one\ndata:two\n\n'), ['{"a":1}', "one\ntwo"]);
    assert.deepEqual(decode("data: a\r\n\r\ndata: b\r\rdata\n\ndatax: no\n\n"), ["a", "b", ""]);
    assert.deepEqual(decode("data: [DONE]\n\n"), ["[DONE]"]);
  });

  it("reassembles lines, CRLFs and multi-byte characters split across chunks, and drops a leading BOM", () => {
    const text = "\uFEFFdata: héllo ✓ 😀\r\ndata: more\r\n\r\n";
    const whole = decode(text);
    assert.deepEqual(whole, ["héllo ✓ 😀\nmore"]);
    const length = Buffer.byteLength(text);
    for (let a = 0; a <= length; a++) {
      for (let b = a; b <= length; b += 3) assert.deepEqual(decode(text, [a, b]), whole, `cut at ${a} and ${b}`);
    }
  });

  it("yields an event the stream ends in without its blank line", () => {
    assert.deepEqual(decode("data: x\n\ndata: tail"), ["x", "tail"]);
  });
});

describe("ids", () => {
  it("are alphanumeric of the asked length, and sortable ids sort by time", async () => {
    assert.match(randomId(48), /^[A-Za-z0-9]{48}$/);
    assert.match(randomHex(16), /^[0-9a-f]{32}$/);
    const ids = new Set(Array.from({ length: 5000 }, () => randomId(24)));
    assert.equal(ids.size, 5000);
    const first = sortableId(24);
    await new Promise((r) => setTimeout(r, 5));
    const second = sortableId(24);
    assert.match(first, /^[a-z0-9]{9}[A-Za-z0-9]{15}$/);
    assert.ok(first < second);
  });
});

describe("usage meter", () => {
  const principal = { projectId: "proj_a", keyId: null, admin: false, models: null };
  const usage = { promptTokens: 1_000_000, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0 };
  const pricing = { input: 2, cachedInput: 1, output: 8 };

  it("counts unwritten spend per project until written, and writes big batches in chunks", async () => {
    const writes: number[] = [];
    let fail = false;
    const storage = {
      insertUsage: async (records: readonly UsageRecord[]) => {
        if (fail) throw new Error("database is locked");
        writes.push(records.length);
      },
    } as unknown as Storage;
    const meter = new UsageMeter(storage, createLogger("silent"), { intervalMs: 60_000, maxBuffer: 1000 });
    for (let i = 0; i < 250; i++) meter.record({ principal, model: "m", endpoint: "/v1/chat/completions", usage, latencyMs: 1, status: 200, batch: false, pricing });
    meter.record({ principal: { ...principal, projectId: "proj_b" }, model: "m", endpoint: "/v1/chat/completions", usage, latencyMs: 1, status: 200, batch: true, pricing });
    assert.equal(meter.pendingSpend("proj_a"), 500);
    assert.equal(meter.pendingSpend("proj_b"), 1);
    assert.equal(meter.pendingSpend("proj_c"), 0);
    await meter.flush();
    assert.deepEqual(writes, [100, 100, 51]);
    assert.equal(meter.pendingSpend("proj_a"), 0);
    assert.equal(meter.pendingSpend("proj_b"), 0);

    // A failed write keeps the records, and their spend, for the next attempt.
    fail = true;
    meter.record({ principal, model: "m", endpoint: "/v1/chat/completions", usage, latencyMs: 1, status: 200, batch: false, pricing });
    await meter.flush();
    assert.equal(meter.pendingSpend("proj_a"), 2);
    fail = false;
    await meter.close();
    assert.deepEqual(writes, [100, 100, 51, 1]);
    assert.equal(meter.pendingSpend("proj_a"), 0);
  });
});
