import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { Redis } from "ioredis";
import { createLogger } from "../../src/logging/logger.ts";
import { openAiCompatibleAdapter } from "../../src/providers/openai-compatible/adapter.ts";
import type { Deployment } from "../../src/providers/upstream/deployment.ts";
import { DeploymentSelector, NONE, type RoutedDeployment } from "../../src/providers/upstream/deployment-selector.ts";
import { RedisDeploymentState } from "../../src/providers/upstream/redis-deployment-state.ts";
import { systemClock } from "../../src/providers/upstream/router-clock.ts";

/**
 * The Redis-backed per-deployment limits and breakers, against a real Redis: several state
 * instances (each its own connection) stand for several server processes.
 */
const REDIS_URL = process.env.MODELPORT_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
/** This run's keys only, deleted at the end. */
const PREFIX = `modelport-test:${randomBytes(6).toString("hex")}:`;

const opened: RedisDeploymentState[] = [];
const silent = createLogger("silent");

/** One "process": its own connection, all under this run's prefix plus `scope`. */
function processes(n: number, scope: string): RedisDeploymentState[] {
  return Array.from({ length: n }, () => {
    const state = new RedisDeploymentState(REDIS_URL, silent, `${PREFIX}${scope}:`);
    opened.push(state);
    return state;
  });
}

after(async () => {
  await Promise.all(opened.map((s) => s.close()));
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

const key = { model: "gpt-routed", deployment: "east" };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Redis deployment state", () => {
  it("reserves exactly the RPM across processes, however the calls interleave", async () => {
    const states = processes(3, "rpm");
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => (states[i % 3] as RedisDeploymentState).reserve(key, { rpm: 7, tpm: undefined }, 0, true)));
    const reserved = answers.filter((a) => a?.reserved === true);
    assert.equal(reserved.length, 7);
    const refused = answers.filter((a) => a?.reserved === false);
    assert.equal(refused.length, 23);
    for (const r of refused) {
      // One request's worth refills in 60 s / 7: the wait says about that long, the circuit is closed.
      assert.ok(r !== undefined && r.limitedForMs > 8000 && r.limitedForMs <= 8572, `waits ${r?.limitedForMs}`);
      assert.equal(r.openForMs, 0);
      assert.ok(r.rpmLevel !== undefined && r.rpmLevel < 1 && r.rpmLevel >= 0);
      assert.equal(r.tpmLevel, undefined);
    }
    // Relayed calls are checked, not counted: at the limit they are refused too.
    assert.equal((await states[0]?.reserve(key, { rpm: 7, tpm: undefined }, 0, false))?.reserved, false);
  });

  it("keeps TPM as one bucket: an estimate reserved, refunds reconciled, a request above the TPM waits for a full bucket", async () => {
    const [a, b] = processes(2, "tpm") as [RedisDeploymentState, RedisDeploymentState];
    const rates = { rpm: undefined, tpm: 100 };
    assert.equal((await a.reserve(key, rates, 60, true))?.reserved, true);
    const full = await b.reserve(key, rates, 60, true);
    assert.equal(full?.reserved, false, "40 left for 60");
    assert.ok(full !== undefined && full.limitedForMs > 11_000 && full.limitedForMs <= 12_000, `20 tokens refill in about 12 s: ${full?.limitedForMs}`);
    a.reconcile(key, 100, -30);
    // Not awaited: the next call on the same connection runs after it.
    await a.reserve({ model: "gpt-routed", deployment: "other" }, rates, 0, false);
    const after = await b.reserve(key, rates, 60, true);
    assert.equal(after?.reserved, true, "the refund of 30 made room");
    assert.ok(after !== undefined && after.tpmLevel !== undefined && Math.abs(after.tpmLevel - 10) < 0.1, `level ${after?.tpmLevel}`);
    const big = { model: "gpt-routed", deployment: "big" };
    const first = await a.reserve(big, rates, 150, true);
    assert.equal(first?.reserved, true, "a full bucket takes a request above the TPM");
    assert.ok(first !== undefined && first.tpmLevel !== undefined && first.tpmLevel < -49, "and owes the difference");
    assert.equal((await b.reserve(big, rates, 1, true))?.reserved, false);
  });

  it("opens a breaker for every process at the threshold, for the cooldown (a key's TTL), half-open after it", async () => {
    const [a, b, c] = processes(3, "breaker") as [RedisDeploymentState, RedisDeploymentState, RedisDeploymentState];
    const breaker = { threshold: 2, cooldownMs: 400 };
    const rates = { rpm: undefined, tpm: undefined };
    assert.deepEqual(await a.failed(key, breaker), { failures: 1, openForMs: 0 });
    assert.equal((await c.reserve(key, rates, 0, true))?.reserved, true, "one failure of two");
    const opened = await b.failed(key, breaker);
    assert.ok(opened !== undefined && opened.failures === 2 && opened.openForMs > 300 && opened.openForMs <= 400);
    for (const s of [a, b, c]) {
      const answer = await s.reserve(key, rates, 0, true);
      assert.ok(answer !== undefined && !answer.reserved && answer.openForMs > 0 && answer.failures === 2, JSON.stringify(answer));
    }
    await sleep(450);
    const halfOpen = await c.reserve(key, rates, 0, true);
    assert.deepEqual([halfOpen?.reserved, halfOpen?.failures], [true, 2], "the cooldown is over; the count stands");
    assert.ok(((await a.failed(key, breaker))?.openForMs ?? 0) > 0, "one more failure opens it again");
    b.succeeded(key);
    const closed = await c.reserve(key, rates, 0, true);
    assert.deepEqual([closed?.reserved, closed?.failures, closed?.openForMs], [true, 0, 0], "a success anywhere closes it");
  });

  it("keeps each routed model's deployments apart", async () => {
    const [a] = processes(1, "apart") as [RedisDeploymentState];
    const rates = { rpm: 1, tpm: undefined };
    assert.equal((await a.reserve({ model: "one", deployment: "d" }, rates, 0, true))?.reserved, true);
    assert.equal((await a.reserve({ model: "two", deployment: "d" }, rates, 0, true))?.reserved, true);
    assert.equal((await a.reserve({ model: "one", deployment: "d2" }, rates, 0, true))?.reserved, true);
    assert.equal((await a.reserve({ model: "one", deployment: "d" }, rates, 0, true))?.reserved, false);
  });
});

function deployment(id: string, options: Partial<Deployment> = {}): Deployment {
  return {
    id, baseUrl: "http://127.0.0.1:1/v1", apiKey: undefined, model: "m", apiVersion: undefined, defaultMaxTokens: 1024, adapter: openAiCompatibleAdapter,
    weight: 1, timeoutMs: 60_000, unsupportedParams: new Set(), dropUnsupportedParams: false, rpm: undefined, tpm: undefined, ...options,
  };
}

const all = (s: DeploymentSelector) => new Map(s.deployments.map((d) => [d, NONE]));
const byId = (s: DeploymentSelector, id: string) => s.deployments.find((d) => d.deployment.id === id) as RoutedDeployment;

describe("deployment selection over Redis", () => {
  it("moves on to the next deployment when the shared limit is reached, and answers how long the wait is when all are", async () => {
    const selectors = processes(3, "select").map((shared) => new DeploymentSelector("gpt-routed", [deployment("a", { rpm: 2 }), deployment("b", { rpm: 2 })], { threshold: 3, cooldownMs: 1000 }, systemClock, 0.25, shared));
    const picks: string[] = [];
    for (let i = 0; i < 6; i++) {
      const s = selectors[i % 3] as DeploymentSelector;
      const picked = await s.reserve(all(s), new Set(), 10);
      picks.push(picked.state?.deployment.id ?? `none ${picked.limitedForMs !== undefined && picked.limitedForMs > 0}`);
    }
    assert.deepEqual(picks.slice(0, 4).sort(), ["a", "a", "b", "b"], "two each, across three processes");
    assert.deepEqual(picks.slice(4), ["none true", "none true"]);
    // A process that has seen both full refuses without asking Redis again: its counters follow the shared ones.
    const last = selectors[1] as DeploymentSelector;
    assert.ok((last.pick(all(last), new Set(), 10).limitedForMs ?? 0) > 0);
  });

  it("rests a deployment on every process once its circuit opens on one", async () => {
    // Ties go to the first deployment (random 0), so only a resting `a` sends a request to `b`.
    const clock = { ...systemClock, random: () => 0 };
    const routed = (shared: RedisDeploymentState) => new DeploymentSelector("gpt-routed", [deployment("a"), deployment("b")], { threshold: 1, cooldownMs: 5000 }, clock, 0.25, shared);
    const [one, two] = processes(2, "rest").map(routed) as [DeploymentSelector, DeploymentSelector];
    assert.equal((await two.reserve(all(two), new Set(), 0)).state?.deployment.id, "a");
    await one.failed(byId(one, "a"));
    assert.equal((await two.reserve(all(two), new Set(), 0)).state?.deployment.id, "b", "two sends nothing to a, resting after one's failure");
    assert.equal(two.stats()["a.circuit_open"], 1, "and shows its circuit open");
    one.succeeded(byId(one, "a"));
    await sleep(20);
    const three = routed(processes(1, "rest")[0] as RedisDeploymentState);
    assert.equal((await three.reserve(all(three), new Set(), 0)).state?.deployment.id, "a", "a success closed it");
  });

  it("decides in the process, and logs once, while Redis is unreachable", async () => {
    const lines: string[] = [];
    const down = new RedisDeploymentState("redis://127.0.0.1:1", createLogger("warn", (l) => lines.push(l)), `${PREFIX}down:`);
    opened.push(down);
    const s = new DeploymentSelector("gpt-routed", [deployment("a", { rpm: 2 })], { threshold: 1, cooldownMs: 5000 }, systemClock, 0.25, down);
    const started = Date.now();
    const picks = [];
    for (let i = 0; i < 3; i++) picks.push((await s.reserve(all(s), new Set(), 0)).state?.deployment.id ?? "none");
    assert.deepEqual(picks, ["a", "a", "none"], "the process's own RPM holds");
    await s.failed(byId(s, "a"));
    assert.equal(byId(s, "a").breaker.isOpen(Date.now()), true, "and its own breaker");
    assert.ok(Date.now() - started < 2000, "without waiting on Redis per request");
    assert.equal(lines.filter((l) => l.includes("redis unavailable")).length, 1, lines.join(""));
  });
});
