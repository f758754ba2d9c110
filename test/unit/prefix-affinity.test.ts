import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ChatRequest } from "../../src/core/chat.ts";
import { parseChatCompletionRequest } from "../../src/protocol/openai/chat-completions-parse.ts";
import { openAiCompatibleAdapter } from "../../src/providers/openai-compatible/adapter.ts";
import { runAttempts } from "../../src/providers/upstream/attempt-loop.ts";
import type { Deployment } from "../../src/providers/upstream/deployment.ts";
import { DeploymentSelector, NONE, type RoutedDeployment } from "../../src/providers/upstream/deployment-selector.ts";
import { affinityPick, affinityScore, chatAffinityKey, forwardAffinityKey, type AffinityKey } from "../../src/providers/upstream/prefix-affinity.ts";
import type { RouterClock } from "../../src/providers/upstream/router-clock.ts";
import { UpstreamError } from "../../src/providers/upstream/upstream-error.ts";

/** Time that moves only when slept through, and chance that is always 0. */
class FakeClock implements RouterClock {
  t = 1_700_000_000_000;
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.t += ms;
  }
  random(): number {
    return 0;
  }
}

function deployment(id: string, options: Partial<Deployment> = {}): Deployment {
  return {
    id, baseUrl: "http://127.0.0.1:1/v1", apiKey: undefined, model: "m", apiVersion: undefined, defaultMaxTokens: 1024, adapter: openAiCompatibleAdapter,
    weight: 1, timeoutMs: 60_000, unsupportedParams: new Set(), dropUnsupportedParams: false, rpm: undefined, tpm: undefined, ...options,
  };
}

function selector(ids: string[], clock = new FakeClock(), loadFactor = 0.25, weights: number[] = []): DeploymentSelector {
  return new DeploymentSelector("routed", ids.map((id, i) => deployment(id, { weight: weights[i] ?? 1 })), { threshold: 1, cooldownMs: 1000 }, clock, loadFactor);
}

function all(s: DeploymentSelector): Map<RoutedDeployment, ReadonlySet<string>> {
  return new Map(s.deployments.map((d) => [d, NONE]));
}

function pickFor(s: DeploymentSelector, key: AffinityKey, exclude: RoutedDeployment[] = []): string {
  return s.pick(all(s), new Set(exclude), 0, key).state?.deployment.id ?? "none";
}

function byId(s: DeploymentSelector, id: string): RoutedDeployment {
  const found = s.deployments.find((d) => d.deployment.id === id);
  assert.ok(found);
  return found;
}

const chat = (messages: unknown[]): ChatRequest => parseChatCompletionRequest({ model: "routed", messages }).request;

/** The chat key of conversation `i`: its own system prompt and first question. */
const conversationKey = (i: number): AffinityKey => chatAffinityKey(chat([{ role: "system", content: `You help with case ${i}.` }, { role: "user", content: `Question ${i}` }])) as AffinityKey;

const KEYS = Array.from({ length: 3000 }, (_, i) => conversationKey(i));

describe("prefix-affinity keys", () => {
  it("gives every turn of a conversation the key of its system prompt and first user message", () => {
    const system = { role: "developer", content: "You are a careful assistant." };
    const turns: unknown[][] = [[system, { role: "user", content: "What is a prefix cache?" }]];
    turns.push([...(turns[0] as unknown[]), { role: "assistant", content: "It keeps the KV state of a prompt." }, { role: "user", content: "And why route by it?" }]);
    turns.push([...(turns[1] as unknown[]), { role: "assistant", content: "So the state is reused." }, { role: "user", content: "Thanks." }]);
    const keys = turns.map((t) => chatAffinityKey(chat(t)));
    assert.deepEqual(keys[1], keys[0]);
    assert.deepEqual(keys[2], keys[0]);
    // Another first question, or another system prompt: another conversation.
    assert.notDeepEqual(chatAffinityKey(chat([system, { role: "user", content: "What is a KV cache?" }])), keys[0]);
    assert.notDeepEqual(chatAffinityKey(chat([{ role: "system", content: "You are terse." }, { role: "user", content: "What is a prefix cache?" }])), keys[0]);
  });

  it("keys chat by its prompt_cache_key when it has one, the same key a relayed body with that name gets", () => {
    const keyed = (messages: unknown[], key: string): ChatRequest => parseChatCompletionRequest({ model: "routed", messages, prompt_cache_key: key }).request;
    const a = chatAffinityKey(keyed([{ role: "user", content: "Tell me about tides." }], "tenant-7"));
    assert.deepEqual(chatAffinityKey(keyed([{ role: "system", content: "Other prompt" }, { role: "user", content: "Anything else" }], "tenant-7")), a, "the name groups, not the text");
    assert.deepEqual(forwardAffinityKey("/responses", { prompt_cache_key: "tenant-7", input: "x" }), a);
    assert.notDeepEqual(chatAffinityKey(keyed([{ role: "user", content: "Tell me about tides." }], "tenant-8")), a);
    // An empty key names nothing: the prefix decides.
    assert.deepEqual(chatAffinityKey(keyed([{ role: "user", content: "Tell me about tides." }], "")), chatAffinityKey(chat([{ role: "user", content: "Tell me about tides." }])));
  });

  it("keys relayed bodies by prompt_cache_key, conversation, previous_response_id or the Responses prefix", () => {
    const named = forwardAffinityKey("/responses", { prompt_cache_key: "user-42", input: "Hi" });
    assert.deepEqual(forwardAffinityKey("/completions", { prompt_cache_key: "user-42", prompt: "other" }), named, "the client's own key wins, whatever the endpoint");
    assert.deepEqual(forwardAffinityKey("/responses", { conversation: "conv_1", input: "a" }), forwardAffinityKey("/responses", { conversation: { id: "conv_1" }, input: "b" }));
    assert.deepEqual(forwardAffinityKey("/responses", { previous_response_id: "resp_1", input: "a" }), forwardAffinityKey("/responses", { previous_response_id: "resp_1", input: "b" }));
    const first = [{ role: "user", content: "Hello" }];
    const later = [...first, { role: "assistant", content: "Hi" }, { role: "user", content: "More" }];
    assert.deepEqual(forwardAffinityKey("/responses", { instructions: "Be brief.", input: first }), forwardAffinityKey("/responses", { instructions: "Be brief.", input: later }));
    assert.notDeepEqual(forwardAffinityKey("/responses", { instructions: "Be long.", input: first }), forwardAffinityKey("/responses", { instructions: "Be brief.", input: first }));
    assert.equal(forwardAffinityKey("/embeddings", { input: "x" }), undefined);
    assert.equal(forwardAffinityKey("/audio/transcriptions", { kind: "form", fields: [] }), undefined);
  });
});

describe("prefix-affinity selection", () => {
  it("sends every turn of a conversation to the same deployment", () => {
    const s = selector(["a", "b", "c"]);
    const history: unknown[] = [{ role: "system", content: "You are a storyteller." }];
    const seen = new Set<string>();
    for (let turn = 0; turn < 6; turn++) {
      history.push({ role: "user", content: `Turn ${turn}: and then?` });
      seen.add(pickFor(s, chatAffinityKey(chat(history)) as AffinityKey));
      history.push({ role: "assistant", content: `Answer ${turn}.` });
    }
    assert.equal(seen.size, 1);
  });

  it("spreads conversations evenly over equal deployments, and by weight over unequal ones", () => {
    const s = selector(["a", "b", "c"]);
    const counts = { a: 0, b: 0, c: 0 } as Record<string, number>;
    for (const key of KEYS) counts[pickFor(s, key)]!++;
    const expected = KEYS.length / 3;
    const chiSquare = Object.values(counts).reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
    // 2 degrees of freedom: above 13.8 happens by chance once in a thousand.
    assert.ok(chiSquare < 13.8, `chi-square ${chiSquare.toFixed(2)} for ${JSON.stringify(counts)}`);

    const weighted = selector(["heavy", "light"], new FakeClock(), 0.25, [3, 1]);
    const heavy = KEYS.filter((key) => pickFor(weighted, key) === "heavy").length / KEYS.length;
    assert.ok(Math.abs(heavy - 0.75) < 0.03, `weight 3 of 4 took ${heavy}`);
  });

  it("diverts from a deployment over its load bound to the key's next deployment, and back once it cools", () => {
    const s = selector(["a", "b", "c"]);
    const key = KEYS[0] as AffinityKey;
    const ranked = ["a", "b", "c"].sort((x, y) => affinityScore(key, y, 1) - affinityScore(key, x, 1));
    const [first, second] = ranked as [string, string];
    assert.equal(pickFor(s, key), first);
    assert.equal(s.pick(all(s), new Set(), 0, key).affinityFirst, true);
    // 4 in flight: a deployment may hold ⌈1.25 × 4 / 3 + 1⌉ = 3 with this request; the first has 3 already.
    byId(s, first).inFlight = 3;
    byId(s, second).inFlight = 1;
    assert.equal(pickFor(s, key), second);
    assert.equal(s.pick(all(s), new Set(), 0, key).affinityFirst, false, "a diversion, for the metrics");
    assert.equal(s.pick(all(s), new Set(), 0).affinityFirst, undefined, "no key, nothing to count");
    // A deployment that cannot take the request at all (endpoint, parameters) is no diversion.
    const without = new Map([...all(s)].filter(([d]) => d.deployment.id !== first));
    byId(s, first).inFlight = 0;
    byId(s, second).inFlight = 0;
    assert.deepEqual(s.pick(without, new Set(), 0, key), { state: byId(s, second), affinityFirst: true });
    byId(s, first).inFlight = 3;
    byId(s, second).inFlight = 1;
    // 2 in flight: ⌈1.25 × 2 / 3 + 1⌉ = 2 each, this request included.
    byId(s, first).inFlight = 1;
    assert.equal(pickFor(s, key), first, "within the bound again");

    // A looser bound lets the hot deployment keep its conversations longer.
    const loose = selector(["a", "b", "c"], new FakeClock(), 2);
    byId(loose, first).inFlight = 3;
    byId(loose, second).inFlight = 1;
    assert.equal(pickFor(loose, key), first);
  });

  it("never lets one deployment take more than its bound, however the keys fall", () => {
    const s = selector(["a", "b", "c"]);
    // Every request of one conversation arrives while the earlier ones are still in flight.
    const key = KEYS[7] as AffinityKey;
    for (let i = 0; i < 30; i++) {
      const state = s.pick(all(s), new Set(), 0, key).state as RoutedDeployment;
      state.inFlight++;
    }
    // The last request saw 29 in flight: no deployment may then hold more than ⌈1.25 × 29 / 3 + 1⌉.
    const loads = s.deployments.map((d) => d.inFlight);
    assert.ok(Math.max(...loads) <= Math.ceil((1.25 * 29) / 3 + 1), `loads ${loads.join(", ")}`);
  });

  it("moves only a broken deployment's keys when it rests (at most about 1/N of them)", () => {
    const clock = new FakeClock();
    const s = selector(["a", "b", "c"], clock);
    const before = KEYS.map((key) => pickFor(s, key));
    byId(s, "b").breaker.failed(clock.now());
    const after = KEYS.map((key) => pickFor(s, key));
    let moved = 0;
    for (let i = 0; i < KEYS.length; i++) {
      if (before[i] === after[i]) continue;
      moved++;
      assert.equal(before[i], "b", "only the resting deployment's keys move");
    }
    assert.ok(after.every((id) => id !== "b"));
    assert.ok(moved / KEYS.length < 0.37, `${moved} of ${KEYS.length} moved`);
    // Once it is back, its keys come back to it.
    clock.t += 1000;
    assert.deepEqual(KEYS.map((key) => pickFor(s, key)), before);
  });

  it("retries on the key's next deployment, not the one that failed", async () => {
    const clock = new FakeClock();
    const s = new DeploymentSelector("routed", [deployment("a"), deployment("b"), deployment("c")], { threshold: 3, cooldownMs: 1000 }, clock);
    const key = KEYS[3] as AffinityKey;
    const ranked = ["a", "b", "c"].sort((x, y) => affinityScore(key, y, 1) - affinityScore(key, x, 1));
    const tried: string[] = [];
    const outcome = await runAttempts(s, { eligible: all(s), tokens: 0, maxRetries: 2, affinity: key }, new AbortController().signal, new AbortController().signal, clock, async (state) => {
      tried.push(state.deployment.id);
      if (tried.length === 1) throw new UpstreamError(503, "busy", { type: "server_error", code: "upstream_error", retryable: true });
      return "ok";
    });
    assert.equal(outcome.committed?.value, "ok");
    assert.deepEqual(tried, ranked.slice(0, 2));
  });

  it("falls back to the least loaded without a key, and ranks nothing when there is nothing to rank", () => {
    const s = selector(["a", "b"]);
    byId(s, "a").inFlight = 1;
    assert.equal(s.pick(all(s), new Set(), 0).state?.deployment.id, "b");
    assert.equal(affinityPick([], KEYS[0] as AffinityKey, 0.25), undefined);
  });
});
