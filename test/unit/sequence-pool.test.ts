import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApiError } from "../../src/core/errors.ts";
import { SequencePool } from "../../src/providers/local/sequence-pool.ts";

describe("SequencePool", () => {
  it("lends free sequences, preferring the best score", async () => {
    const pool = new SequencePool(["a", "b", "c"], 2);
    const lease = await pool.acquire(new AbortController().signal, (s) => (s === "b" ? 10 : 0));
    assert.equal(lease.sequence, "b");
    assert.equal(pool.stats().busy, 1);
    lease.release();
    lease.release();
    assert.equal(pool.stats().busy, 0, "release is idempotent");
  });

  it("queues in FIFO order up to the bound, then refuses with a 503 and Retry-After", async () => {
    const pool = new SequencePool(["a"], 2);
    const signal = new AbortController().signal;
    const first = await pool.acquire(signal);
    const order: number[] = [];
    const w1 = pool.acquire(signal).then((l) => (order.push(1), l));
    const w2 = pool.acquire(signal).then((l) => (order.push(2), l));
    assert.equal(pool.canAccept(1), false);
    await assert.rejects(pool.acquire(signal), (e: unknown) => e instanceof ApiError && e.status === 503 && e.headers["retry-after"] === "1");
    first.release();
    (await w1).release();
    (await w2).release();
    assert.deepEqual(order, [1, 2]);
    assert.deepEqual(pool.stats(), { total: 1, busy: 0, queued: 0, queueSize: 2 });
  });

  it("drops a waiter whose signal aborts, and hands the sequence to the next one", async () => {
    const pool = new SequencePool(["a"], 4);
    const holder = await pool.acquire(new AbortController().signal);
    const gone = new AbortController();
    const leaving = pool.acquire(gone.signal);
    const staying = pool.acquire(new AbortController().signal);
    gone.abort(new Error("client left"));
    await assert.rejects(leaving, /client left/);
    assert.equal(pool.stats().queued, 1);
    holder.release();
    assert.equal((await staying).sequence, "a");
  });

  it("counts a multi-choice request against the queue before admitting it", () => {
    const pool = new SequencePool(["a", "b"], 1);
    assert.equal(pool.canAccept(3), true);
    assert.equal(pool.canAccept(4), false);
    assert.equal(pool.capacity, 3);
  });
});

describe("SequencePool priorities", () => {
  it("serves queued interactive requests before queued background work", async () => {
    const pool = new SequencePool(["a"], 8);
    const signal = new AbortController().signal;
    const holder = await pool.acquire(signal);
    const order: string[] = [];
    const wait = (name: string, background: boolean) =>
      pool.acquire(signal, () => 0, background).then((lease) => {
        order.push(name);
        lease.release();
      });
    const all = [wait("batch-1", true), wait("batch-2", true), wait("chat-1", false), wait("chat-2", false)];
    holder.release();
    await Promise.all(all);
    assert.deepEqual(order, ["chat-1", "chat-2", "batch-1", "batch-2"]);
  });
});
