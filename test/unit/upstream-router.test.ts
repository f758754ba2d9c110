import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ChatStreamPart, Usage } from "../../src/core/chat.ts";
import { ApiError } from "../../src/core/errors.ts";
import { runWithTrail, type RequestTrail } from "../../src/core/request-trail.ts";
import { parseChatCompletionRequest } from "../../src/protocol/openai/chat-completions-parse.ts";
import { anthropicAdapter } from "../../src/providers/anthropic/adapter.ts";
import { openAiCompatibleAdapter } from "../../src/providers/openai-compatible/adapter.ts";
import type { ChatModel } from "../../src/providers/provider.ts";
import { ChatOnlyModel } from "../helpers/chat-only-model.ts";
import { backoffMs, runAttempts, type AttemptPlan, type OpenAttempt } from "../../src/providers/upstream/attempt-loop.ts";
import { CircuitBreaker } from "../../src/providers/upstream/circuit-breaker.ts";
import type { Deployment } from "../../src/providers/upstream/deployment.ts";
import { DeploymentSelector, NONE, type RoutedDeployment } from "../../src/providers/upstream/deployment-selector.ts";
import type { RouterClock } from "../../src/providers/upstream/router-clock.ts";
import { RoutedChatModel } from "../../src/providers/upstream/routed-model.ts";
import { UpstreamError } from "../../src/providers/upstream/upstream-error.ts";

/** Time that moves only when slept through, and chance that comes from a list (0 once it runs out). */
class FakeClock implements RouterClock {
  t = 1_700_000_000_000;
  readonly sleeps: number[] = [];
  readonly randoms: number[] = [];
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.t += ms;
  }
  random(): number {
    return this.randoms.shift() ?? 0;
  }
}

function deployment(id: string, options: Partial<Deployment> = {}): Deployment {
  return {
    id, baseUrl: "http://127.0.0.1:1/v1", apiKey: undefined, model: "m", apiVersion: undefined, defaultMaxTokens: 1024, adapter: openAiCompatibleAdapter,
    weight: 1, timeoutMs: 60_000, unsupportedParams: new Set(), dropUnsupportedParams: false, rpm: undefined, tpm: undefined, ...options,
  };
}

function selector(deployments: Deployment[], clock: FakeClock, breaker = { threshold: 3, cooldownMs: 1000 }): DeploymentSelector {
  return new DeploymentSelector("routed", deployments, breaker, clock);
}

function all(s: DeploymentSelector): Map<RoutedDeployment, ReadonlySet<string>> {
  return new Map(s.deployments.map((d) => [d, NONE]));
}

/** The picked deployment's id, or what the pick said instead. */
function pickId(s: DeploymentSelector, exclude: RoutedDeployment[] = [], tokens = 0): string {
  const { state, limitedForMs } = s.pick(all(s), new Set(exclude), tokens);
  return state?.deployment.id ?? `none${limitedForMs === undefined ? "" : ` (limited ${limitedForMs} ms)`}`;
}

const chat = (body: Record<string, unknown> = {}) => parseChatCompletionRequest({ model: "routed", messages: [{ role: "user", content: "Hi" }], ...body }).request;

describe("deployment selection", () => {
  it("breaks ties at random in proportion to weight", () => {
    const clock = new FakeClock();
    const s = selector([deployment("a", { weight: 3 }), deployment("b", { weight: 1 })], clock);
    // The ticket is random × total weight (4): below 3 is a, from 3 on is b.
    clock.randoms.push(0, 0.74, 0.75, 0.999);
    assert.deepEqual([pickId(s), pickId(s), pickId(s), pickId(s)], ["a", "a", "b", "b"]);
    clock.randoms.push(...Array.from({ length: 1000 }, (_, i) => i / 1000));
    const picks = Array.from({ length: 1000 }, () => pickId(s));
    assert.equal(picks.filter((p) => p === "a").length, 750);
  });

  it("prefers the least loaded relative to weight, whatever the draw", () => {
    const clock = new FakeClock();
    const s = selector([deployment("a", { weight: 3 }), deployment("b", { weight: 1 })], clock);
    const [a, b] = s.deployments as [RoutedDeployment, RoutedDeployment];
    a.inFlight = 2; // 2/3 against 1/1
    b.inFlight = 1;
    clock.randoms.push(0.999);
    assert.equal(pickId(s), "a");
    a.inFlight = 3; // 3/3 against 1/1: a tie again
    clock.randoms.push(0.999);
    assert.equal(pickId(s), "b");
  });

  it("skips weight 0, open circuits and deployments tried already, but retries a tried one when nothing else is left", () => {
    const clock = new FakeClock();
    const s = selector([deployment("off", { weight: 0 }), deployment("broken"), deployment("ok")], clock, { threshold: 1, cooldownMs: 1000 });
    const [, broken, ok] = s.deployments as [RoutedDeployment, RoutedDeployment, RoutedDeployment];
    broken.breaker.failed(clock.now());
    assert.equal(pickId(s), "ok");
    assert.equal(pickId(s, [ok]), "ok", "the only ready one, tried or not");
    broken.breaker.succeeded();
    assert.equal(pickId(s, [ok]), "broken");
    assert.equal(s.pick(new Map([[broken, NONE]]), new Set(), 0).state, broken, "only eligible deployments are picked");
    assert.deepEqual(s.pick(new Map(), new Set(), 0), {});
  });

  it("skips a deployment at its own RPM/TPM and says how soon one frees up", () => {
    const clock = new FakeClock();
    const s = selector([deployment("rpm", { rpm: 2 }), deployment("tpm", { tpm: 600 })], clock);
    const [rpm, tpm] = s.deployments as [RoutedDeployment, RoutedDeployment];
    rpm.limits.take(0);
    rpm.limits.take(0);
    assert.equal(pickId(s, [], 100), "tpm");
    tpm.limits.take(600);
    // Two per minute: one request back in 30 s; 600 tokens per minute: 100 back in 10 s.
    assert.equal(pickId(s, [], 100), "none (limited 10000 ms)");
    clock.t += 10_000;
    assert.equal(pickId(s, [], 100), "tpm");
    assert.equal(pickId(s, [], 200), "none (limited 10000 ms)");
    clock.t += 20_000;
    assert.equal(pickId(s, [], 200), "rpm");
  });

  it("reports requests, failures, retries, load and open circuits", () => {
    const clock = new FakeClock();
    const s = selector([deployment("a"), deployment("b")], clock, { threshold: 1, cooldownMs: 500 });
    const [a, b] = s.deployments as [RoutedDeployment, RoutedDeployment];
    a.requests = 4;
    a.failures = 3;
    a.retries = 1;
    a.inFlight = 2;
    b.breaker.failed(clock.now());
    assert.deepEqual(s.stats(), { "a.requests": 4, "a.failures": 3, "a.retries": 1, "a.in_flight": 2, "a.circuit_open": 0, "b.requests": 0, "b.failures": 0, "b.retries": 0, "b.in_flight": 0, "b.circuit_open": 1 });
    clock.t += 500;
    assert.equal(s.stats()["b.circuit_open"], 0);
  });
});

describe("circuit breaker", () => {
  it("opens at the threshold, rests for the cooldown, then lets requests through half-open until one more failure", () => {
    const breaker = new CircuitBreaker(2, 1000);
    breaker.failed(0);
    assert.equal(breaker.isOpen(0), false, "one failure of two");
    breaker.failed(10);
    assert.deepEqual([breaker.isOpen(10), breaker.isOpen(1009), breaker.isOpen(1010)], [true, true, false]);
    // Half-open: the count is kept, so a single failure opens it again.
    breaker.failed(2000);
    assert.deepEqual([breaker.isOpen(2999), breaker.isOpen(3000), breaker.failures], [true, false, 3]);
    breaker.succeeded();
    assert.deepEqual([breaker.isOpen(3000), breaker.failures], [false, 0]);
    breaker.failed(4000);
    assert.equal(breaker.isOpen(4000), false, "a success starts the count again");
  });

  it("a success closes an open circuit at once", () => {
    const breaker = new CircuitBreaker(1, 1000);
    breaker.failed(0);
    assert.equal(breaker.isOpen(500), true);
    breaker.succeeded();
    assert.equal(breaker.isOpen(500), false);
  });
});

describe("eligibility by parameters and endpoints", () => {
  const clock = new FakeClock();

  it("leaves out deployments that lack a used parameter, or drops it where the deployment opted in", () => {
    const s = selector([deployment("no-seed", { unsupportedParams: new Set(["seed"]) }), deployment("dropper", { unsupportedParams: new Set(["seed", "stop"]), dropUnsupportedParams: true }), deployment("full")], clock);
    const ids = (m: Map<RoutedDeployment, ReadonlySet<string>>) => [...m].map(([d, dropped]) => [d.deployment.id, [...dropped]]);
    assert.deepEqual(ids(s.forChat(chat({ seed: 1, stop: "x" }))), [["dropper", ["seed", "stop"]], ["full", []]]);
    assert.deepEqual(ids(s.forChat(chat())), [["no-seed", []], ["dropper", []], ["full", []]], "a parameter at its default is not used");
  });

  it("is a 400 naming the parameter when no deployment can take it", () => {
    const s = selector([deployment("no-seed", { unsupportedParams: new Set(["seed"]) }), deployment("claude", { adapter: anthropicAdapter })], clock);
    assert.throws(() => s.forChat(chat({ seed: 1 })), (e: unknown) => e instanceof ApiError && e.status === 400 && e.code === "unsupported_parameter" && e.param === "seed" && e.message === "The model 'routed' does not support 'seed' as given: its openai-compatible upstream has no 'seed'.");
    const claude = selector([deployment("claude", { adapter: anthropicAdapter })], clock);
    assert.throws(() => claude.forChat(chat({ temperature: 1.5 })), (e: unknown) => e instanceof ApiError && e.param === "temperature" && e.message === "The model 'routed' does not support 'temperature' as given: Anthropic accepts temperatures from 0 to 1.");
    assert.throws(() => claude.forChat(chat({ n: 2 })), (e: unknown) => e instanceof ApiError && e.param === "n" && e.message === "The model 'routed' does not support 'n' as given: its anthropic upstream has no 'n'.");
  });

  it("relays an endpoint only to deployments whose provider has it", () => {
    const s = selector([deployment("claude", { adapter: anthropicAdapter }), deployment("gpt")], clock);
    assert.deepEqual([...s.forEndpoint("/embeddings").keys()].map((d) => d.deployment.id), ["gpt"]);
    assert.deepEqual([...selector([deployment("claude", { adapter: anthropicAdapter })], clock).forEndpoint("/responses").keys()], []);
  });
});

const retryable = (status = 502, retryAfterMs?: number) =>
  new UpstreamError(status, `failed ${status}`, { type: "server_error", code: "upstream_error", retryable: true, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });

/** An attempt opener that fails with the next queued error, or answers with the deployment's id once they run out. */
function scripted(errors: unknown[], calls: string[]): OpenAttempt<string> {
  return async (state, dropped, signal) => {
    assert.ok(signal instanceof AbortSignal);
    assert.equal(state.inFlight, 1, "in flight while open");
    calls.push(`${state.deployment.id}${dropped.size > 0 ? `-${[...dropped].join(",")}` : ""}`);
    const error = errors.shift();
    if (error !== undefined) throw error;
    return state.deployment.id;
  };
}

function plan(s: DeploymentSelector, maxRetries: number, tokens?: number): AttemptPlan {
  return { eligible: all(s), tokens, maxRetries };
}

const live = () => new AbortController().signal;

describe("attempt loop", () => {
  it("retries a retryable failure on another deployment after a backoff, and commits the first that answers", async () => {
    const clock = new FakeClock();
    const s = selector([deployment("a"), deployment("b")], clock);
    const [a, b] = s.deployments as [RoutedDeployment, RoutedDeployment];
    const calls: string[] = [];
    const trail: RequestTrail = { retries: 0 };
    const outcome = await runWithTrail(trail, () => runAttempts(s, plan(s, 2), live(), live(), clock, scripted([retryable()], calls)));
    assert.deepEqual(calls, ["a", "b"]);
    assert.deepEqual(clock.sleeps, [500], "0.5 s before the first retry (no jitter at random 0)");
    assert.ok(outcome.committed !== undefined);
    assert.equal(outcome.committed.value, "b");
    assert.deepEqual([a.inFlight, a.requests, a.breaker.failures, b.inFlight, b.requests], [0, 1, 1, 1, 1]);
    assert.deepEqual([a.failures, a.retries, b.failures, b.retries], [1, 0, 0, 1], "a failed; b was the retry, and answered");
    assert.deepEqual(trail, { retries: 1, deployment: "b" }, "the request's trail names the deployment that answered");
    outcome.committed.release();
    outcome.committed.release();
    assert.equal(b.inFlight, 0, "released once");
  });

  it("backs off 0.5, 1, 2 s (less jitter), or what Retry-After says, and gives up after maxRetries with the last error", async () => {
    const clock = new FakeClock();
    const s = selector([deployment("only")], clock, { threshold: 100, cooldownMs: 1000 });
    // Each pick draws too (for its tie-break), before each backoff's jitter.
    clock.randoms.push(0, 0, 0, 1, 0, 0.5, 0);
    const last = retryable(503);
    const calls: string[] = [];
    const outcome = await runAttempts(s, plan(s, 3), live(), live(), clock, scripted([retryable(), retryable(), retryable(), last], calls));
    assert.deepEqual(calls, ["only", "only", "only", "only"], "a tried deployment is tried again when it is the only one");
    assert.deepEqual(clock.sleeps, [500, 750, 1750]);
    assert.deepEqual(outcome, { committed: undefined, lastError: last });
    const honoured = new FakeClock();
    await runAttempts(s, plan(s, 1), live(), live(), honoured, scripted([retryable(429, 1234)], []));
    assert.deepEqual(honoured.sleeps, [1234]);
    assert.equal(backoffMs(6, undefined, () => 0), 8000, "capped at 8 s");
    assert.equal(backoffMs(1, 61_000, () => 0), 500, "a Retry-After over a minute is ignored");
  });

  it("stops when every circuit is open, and goes back to a deployment once its cooldown is over", async () => {
    const clock = new FakeClock();
    const s = selector([deployment("a"), deployment("b")], clock, { threshold: 1, cooldownMs: 5000 });
    const calls: string[] = [];
    const outcome = await runAttempts(s, plan(s, 5), live(), live(), clock, scripted([retryable(), retryable()], calls));
    assert.deepEqual(calls, ["a", "b"]);
    assert.equal(outcome.committed, undefined);
    assert.deepEqual(clock.sleeps, [500, 1000], "the second backoff is slept before finding nothing ready");
    clock.t += 3500;
    const resumed = await runAttempts(s, plan(s, 0), live(), live(), clock, scripted([], calls));
    assert.equal(resumed.committed?.value, "a", "half-open after the cooldown");
    assert.deepEqual([s.deployments[0]?.breaker.failures, s.deployments[0]?.breaker.isOpen(clock.now())], [0, false]);
  });

  it("throws a failure that is not retryable, or says the context is too long, without retrying or counting it against the breaker", async () => {
    const clock = new FakeClock();
    const s = selector([deployment("a"), deployment("b")], clock);
    const bad = new UpstreamError(400, "bad", { type: "invalid_request_error", retryable: false });
    const calls: string[] = [];
    await assert.rejects(runAttempts(s, plan(s, 3), live(), live(), clock, scripted([bad], calls)), (e) => e === bad);
    const tooLong = new UpstreamError(429, "too long", { type: "invalid_request_error", code: "context_length_exceeded", retryable: true });
    await assert.rejects(runAttempts(s, plan(s, 3), live(), live(), clock, scripted([tooLong], calls)), (e) => e === tooLong);
    assert.deepEqual([calls, clock.sleeps], [["a", "a"], []]);
    assert.deepEqual(s.deployments.map((d) => [d.inFlight, d.breaker.failures]), [[0, 1], [0, 0]], "only the retryable one counts");
  });

  it("turns any other failure into a retryable 502, and throws at once once the client has left", async () => {
    const clock = new FakeClock();
    const s = selector([deployment("a"), deployment("b")], clock);
    const calls: string[] = [];
    const outcome = await runAttempts(s, plan(s, 1), live(), live(), clock, scripted([new TypeError("boom"), new TypeError("boom")], calls));
    assert.ok(outcome.committed === undefined && outcome.lastError?.status === 502 && outcome.lastError.retryable);
    const failures = s.deployments.reduce((n, d) => n + d.failures, 0);
    assert.equal(failures, 2);
    const client = new AbortController();
    client.abort();
    await assert.rejects(runAttempts(s, plan(s, 3), client.signal, live(), clock, scripted([retryable(504)], calls)), (e) => e instanceof UpstreamError && e.status === 504);
    assert.equal(calls.length, 3);
    assert.equal(s.deployments.reduce((n, d) => n + d.failures, 0), failures, "an attempt the client left is not a failure");
  });

  it("makes no attempt once the deadline has passed", async () => {
    const clock = new FakeClock();
    const s = selector([deployment("a")], clock);
    const deadline = new AbortController();
    deadline.abort();
    const calls: string[] = [];
    assert.deepEqual(await runAttempts(s, plan(s, 3), live(), deadline.signal, clock, scripted([], calls)), { committed: undefined, lastError: undefined });
    assert.deepEqual(calls, []);
  });

  it("passes each deployment the parameters it must leave out", async () => {
    const clock = new FakeClock();
    const s = selector([deployment("dropper", { unsupportedParams: new Set(["seed"]), dropUnsupportedParams: true })], clock);
    const calls: string[] = [];
    await runAttempts(s, { eligible: s.forChat(chat({ seed: 3 })), tokens: 0, maxRetries: 0 }, live(), live(), clock, scripted([], calls));
    assert.deepEqual(calls, ["dropper-seed"]);
  });

  it("reserves estimated tokens against a deployment's own limits, settles them on release, and reports a 429 when all are full", async () => {
    const clock = new FakeClock();
    const s = selector([deployment("a", { rpm: 1, tpm: 1000 })], clock);
    const [a] = s.deployments as [RoutedDeployment];
    const first = await runAttempts(s, plan(s, 0, 900), live(), live(), clock, scripted([], []));
    assert.ok(first.committed !== undefined);
    assert.equal(a.limits.wait(0, clock.now()), 60_000, "the one request per minute is taken");
    first.committed.release(100);
    clock.t += 60_000;
    assert.equal(a.limits.wait(900, clock.now()), 0, "only 100 tokens were used");
    await runAttempts(s, plan(s, 0, 10), live(), live(), clock, scripted([], []));
    const full = await runAttempts(s, plan(s, 0, 10), live(), live(), clock, scripted([], []));
    assert.ok(full.committed === undefined && full.lastError !== undefined);
    assert.deepEqual(
      [full.lastError.status, full.lastError.code, full.lastError.retryAfterMs, full.lastError.message],
      [429, "rate_limit_exceeded", 60_000, "Every deployment of 'routed' is at its configured rate limit; retry in 60 s."],
    );
    // A relayed call (no token plan) neither takes from the limits nor reports a 429 of its own.
    assert.deepEqual(await runAttempts(s, plan(s, 0), live(), live(), clock, scripted([], [])), { committed: undefined, lastError: undefined });
  });

  it("a failed attempt gives its reserved tokens back", async () => {
    const clock = new FakeClock();
    const s = selector([deployment("a", { tpm: 1000 })], clock);
    const [a] = s.deployments as [RoutedDeployment];
    await runAttempts(s, plan(s, 0, 800), live(), live(), clock, scripted([retryable()], []));
    assert.equal(a.limits.wait(1000, clock.now()), 0);
  });
});

/** A fallback model that answers every request with one text part. */
class EchoModel extends ChatOnlyModel {
  readonly descriptor = { id: "echo", aliases: [], created: 0, ownedBy: "test", pricing: undefined };
  constructor() {
    super(100);
  }
  async *streamChat(_request: unknown, _signal: AbortSignal, onUsage?: (usage: Usage) => void): AsyncGenerator<ChatStreamPart> {
    yield { type: "text-delta", choice: 0, text: "echo" };
    onUsage?.({ promptTokens: 1, completionTokens: 1, cachedTokens: 0, reasoningTokens: 0 });
  }
}

describe("routed model", () => {
  const descriptor = { id: "routed", aliases: [], created: 1, ownedBy: "upstream", pricing: undefined };
  const policy = (fallbacks: ChatModel[] = []) => ({ maxRetries: 1, deadlineMs: 10_000, breakerThreshold: 1, breakerCooldownMs: 60_000, fallbacks: () => fallbacks, contextFallbacks: () => [] });

  it("declares what its deployments can do", () => {
    const claude = new RoutedChatModel(descriptor, [deployment("c", { adapter: anthropicAdapter })], policy());
    assert.deepEqual({ ...claude.capabilities, forwards: [...claude.capabilities.forwards] }, { contextSize: undefined, embeddings: "none", completions: "none", forwards: [], vision: true, speech: false, transcription: false });
    const mixed = new RoutedChatModel(descriptor, [deployment("c", { adapter: anthropicAdapter, unsupportedParams: new Set(["image_url"]) }), deployment("g", { unsupportedParams: new Set(["image_url"]) })], policy());
    assert.deepEqual({ ...mixed.capabilities, forwards: [...mixed.capabilities.forwards].sort() }, { contextSize: undefined, embeddings: "relay", completions: "relay", forwards: ["/audio/speech", "/audio/transcriptions", "/audio/translations", "/completions", "/embeddings", "/images/edits", "/images/generations", "/images/variations", "/moderations", "/realtime", "/responses"], vision: false, speech: false, transcription: false });
  });

  it("answers an endpoint no deployment has with a 400, before any attempt", async () => {
    const claude = new RoutedChatModel(descriptor, [deployment("c", { adapter: anthropicAdapter })], policy());
    await assert.rejects(claude.forward("/responses", { model: "routed" }, live()), (e) => e instanceof ApiError && e.status === 400 && e.code === "unsupported_endpoint" && e.message === "The model 'routed' does not support /v1/responses (its upstream speaks only chat).");
    await assert.rejects(claude.embed(["x"], { priority: "interactive" }, live()), (e) => e instanceof ApiError && e.code === "unsupported_endpoint");
    assert.deepEqual(claude.stats(), { "c.requests": 0, "c.failures": 0, "c.retries": 0, "c.in_flight": 0, "c.circuit_open": 0 });
  });

  it("falls back to the next model once every deployment failed, and opens their circuits", async () => {
    const clock = new FakeClock();
    // Port 1 refuses connections at once: a retryable network failure per attempt.
    const routed = new RoutedChatModel(descriptor, [deployment("a"), deployment("b")], policy([new EchoModel()]), clock);
    const usages: Usage[] = [];
    const parts: ChatStreamPart[] = [];
    for await (const part of routed.streamChat(chat(), live(), (u) => usages.push(u))) parts.push(part);
    assert.deepEqual(parts, [{ type: "served-by", model: "echo" }, { type: "text-delta", choice: 0, text: "echo" }]);
    assert.deepEqual(usages, [{ promptTokens: 1, completionTokens: 1, cachedTokens: 0, reasoningTokens: 0 }], "metered once, by the fallback");
    assert.deepEqual(clock.sleeps, [500]);
    // Both attempts failed; the second, at b, was a retry.
    assert.deepEqual(routed.stats(), { "a.requests": 1, "a.failures": 1, "a.retries": 0, "a.in_flight": 0, "a.circuit_open": 1, "b.requests": 1, "b.failures": 1, "b.retries": 1, "b.in_flight": 0, "b.circuit_open": 1 });
    // Both resting and no fallback: a 503 that says so, metered as nothing.
    const alone = new RoutedChatModel(descriptor, [deployment("a")], policy(), clock);
    const first = alone.streamChat(chat(), live())[Symbol.asyncIterator]();
    await assert.rejects(first.next(), (e) => e instanceof UpstreamError && e.code === "upstream_unreachable");
    const empty: Usage[] = [];
    const second = alone.streamChat(chat(), live(), (u) => empty.push(u))[Symbol.asyncIterator]();
    await assert.rejects(second.next(), (e) => e instanceof ApiError && e.status === 503 && e.code === "upstream_unavailable");
    assert.deepEqual(empty, [{ promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0 }]);
  });
});
