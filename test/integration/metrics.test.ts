import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createRequire } from "node:module";
import OpenAI, { toFile } from "openai";
import { startFakeUpstream, type Behavior, type FakeUpstream } from "../helpers/fake-upstream.ts";
import { raw, startTestServer, waitFor, type TestServer } from "../helpers/server.ts";

// GET /metrics on the real server: scraped before and after a known workload, parsed with a
// Prometheus text-format parser (parse-prometheus-text-format, from the npm registry).

type Family = { name: string; type: string; metrics: { value?: string; count?: string; labels?: Record<string, string> }[] };
const parse = createRequire(import.meta.url)("parse-prometheus-text-format") as (text: string) => Family[];

let server: TestServer;
let client: OpenAI;
before(async () => {
  server = await startTestServer({});
  client = new OpenAI({ baseURL: server.baseURL, apiKey: server.apiKey, maxRetries: 0 });
});
after(async () => {
  await server?.close();
});

async function scrape(s: TestServer, headers: Record<string, string> = {}): Promise<Family[]> {
  const res = await raw(s, "/metrics", { headers });
  assert.equal(res.status, 200, res.text);
  const families = parse(res.text);
  // That parser drops a histogram's labelled counts (prom-client writes `le` first): read them from the text.
  for (const m of res.text.matchAll(/^(\w+)_count\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    families.push({ name: m[1] ?? "", type: "HISTOGRAM_COUNT", metrics: [{ count: m[3], labels }] });
  }
  return families;
}

/** The value of `name` for the series whose labels include `labels` (0 when there is none yet). */
function value(families: Family[], name: string, labels: Record<string, string>, field: "value" | "count" = "value"): number {
  const family = families.find((f) => f.name === name && (field === "count") === (f.type === "HISTOGRAM_COUNT"));
  const series = families
    .filter((f) => f.name === family?.name && f.type === family.type)
    .flatMap((f) => f.metrics)
    .find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return Number(series?.[field] ?? 0);
}

describe("GET /metrics", () => {
  it("counts exactly the requests made, by route pattern and status; tokens, time to first token, engine gauges; parses as Prometheus text", async () => {
    const before = await scrape(server);
    let completion = 0;
    let prompt = 0;
    for (let i = 0; i < 3; i++) {
      const r = await client.chat.completions.create({ model: "stories", messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 6 });
      completion += r.usage!.completion_tokens;
      prompt += r.usage!.prompt_tokens;
    }
    for (let i = 0; i < 2; i++) {
      const stream = await client.chat.completions.create({ model: "stories", messages: [{ role: "user", content: "Once" }], max_tokens: 4, stream: true, stream_options: { include_usage: true } });
      for await (const chunk of stream) if (chunk.usage) (completion += chunk.usage.completion_tokens), (prompt += chunk.usage.prompt_tokens);
    }
    await raw(server, "/v1/no/such/route", { headers: { authorization: `Bearer ${server.apiKey}` } });
    await raw(server, "/v1/chat/completions", { body: "{", headers: { authorization: `Bearer ${server.apiKey}` } });
    const after = await scrape(server);
    const diff = (name: string, labels: Record<string, string>, field: "value" | "count" = "value"): number => value(after, name, labels, field) - value(before, name, labels, field);
    assert.equal(diff("modelport_http_requests_total", { method: "POST", route: "/v1/chat/completions", status: "200" }), 5);
    assert.equal(diff("modelport_http_requests_total", { method: "POST", route: "/v1/chat/completions", status: "400" }), 1);
    // The unknown path is counted under "unmatched": raw paths never become labels.
    assert.equal(diff("modelport_http_requests_total", { route: "unmatched", status: "404" }), 1);
    assert.ok(!after.some((f) => f.metrics.some((m) => Object.values(m.labels ?? {}).some((v) => v.includes("no/such")))));
    assert.equal(diff("modelport_tokens_total", { model: "stories", kind: "completion" }), completion);
    assert.equal(diff("modelport_tokens_total", { model: "stories", kind: "prompt" }), prompt);
    assert.equal(diff("modelport_time_to_first_token_seconds", { model: "stories" }, "count"), 2);
    assert.equal(diff("modelport_http_request_duration_seconds", { route: "/v1/chat/completions" }, "count"), 6);
    assert.ok(value(after, "modelport_engine_sequences", { model: "stories" }) >= 1);
    assert.equal(value(after, "modelport_engine_sequences_busy", { model: "stories" }), 0);
    assert.ok(after.some((f) => f.name === "modelport_process_resident_memory_bytes"));
    assert.ok(after.some((f) => f.name === "modelport_nodejs_eventloop_lag_seconds"));
    assert.ok(after.some((f) => f.name === "modelport_usage_meter_pending"));
  });

  it("needs its token when one is configured", async () => {
    const guarded = await startTestServer({ env: { MODELPORT_METRICS_TOKEN: "metrics-token-0123456789" } });
    try {
      assert.equal((await raw(guarded, "/metrics")).status, 401);
      assert.equal((await raw(guarded, "/metrics", { headers: { authorization: "Bearer wrong-token-0123456789" } })).status, 401);
      const families = await scrape(guarded, { authorization: "Bearer metrics-token-0123456789" });
      assert.ok(families.some((f) => f.name === "modelport_http_requests_total"));
    } finally {
      await guarded.close();
    }
  });
});

describe("GET /metrics: upstream attempts and background queues", () => {
  let flaky: FakeUpstream;
  let held: FakeUpstream;
  let routed: TestServer;
  let routedClient: OpenAI;
  /** Held upstream requests wait for this; each test makes its own and releases it. */
  let gate: { promise: Promise<void>; open(): void } = openGate();
  function openGate(): { promise: Promise<void>; open(): void } {
    let open = (): void => undefined;
    const promise = new Promise<void>((resolve) => (open = resolve));
    return { promise, open };
  }
  before(async () => {
    flaky = await startFakeUpstream();
    held = await startFakeUpstream();
    held.script((_n, req): Behavior => {
      const input = req.body.input;
      const count = Array.isArray(input) ? input.length : 1;
      const answer: Behavior = req.url.endsWith("/embeddings")
        ? { kind: "json", status: 200, body: { object: "list", data: Array.from({ length: count }, (_, index) => ({ object: "embedding", index, embedding: [1, 0.5, 0.25] })), model: "m", usage: { prompt_tokens: 1, total_tokens: 1 } } }
        : { kind: "stream", text: "held answer" };
      return { kind: "held", until: gate.promise, then: answer };
    });
    routed = await startTestServer({
      models: [],
      vectorStores: { embeddingModel: "held-model", indexingConcurrency: 1 },
      upstreams: {
        deployments: [
          { id: "flaky-dep", provider: "openai-compatible", baseUrl: flaky.url, model: "m", timeoutMs: 10_000 },
          { id: "held-dep", provider: "openai-compatible", baseUrl: held.url, model: "m", timeoutMs: 60_000 },
        ],
        models: [
          { name: "flaky-model", deployments: ["flaky-dep"], maxRetries: 3, deadlineMs: 30_000, breakerThreshold: 100, breakerCooldownMs: 0 },
          { name: "held-model", deployments: ["held-dep"], maxRetries: 0, deadlineMs: 60_000 },
        ],
      },
    });
    routedClient = new OpenAI({ baseURL: routed.baseURL, apiKey: routed.apiKey, maxRetries: 0 });
  });
  after(async () => {
    gate.open();
    await routed?.close();
    await flaky?.close();
    await held?.close();
  });

  it("counts a deployment's attempts, failures and retries exactly", async () => {
    const series = { model: "flaky-model", deployment: "flaky-dep" };
    const before = await scrape(routed);
    // Two 500s, then an answer: three attempts, two failed, two of them retries.
    flaky.seen.length = 0;
    flaky.script((n) => (n <= 2 ? { kind: "json", status: 500, body: { error: { message: "boom" } }, headers: { "retry-after-ms": "1" } } : { kind: "stream", text: "third time lucky" }));
    const answered = await routedClient.chat.completions.create({ model: "flaky-model", messages: [{ role: "user", content: "Hi" }] });
    assert.equal(answered.choices[0]!.message.content, "third time lucky");
    const middle = await scrape(routed);
    const moved = (from: Family[], to: Family[], name: string): number => value(to, name, series) - value(from, name, series);
    assert.deepEqual(
      ["modelport_upstream_requests", "modelport_upstream_failures", "modelport_upstream_retries"].map((name) => moved(before, middle, name)),
      [3, 2, 2],
    );
    // A request error is a failure that is not retried.
    flaky.script(() => ({ kind: "json", status: 400, body: { error: { message: "bad", type: "invalid_request_error", param: null, code: null } } }));
    const refused = await raw(routed, "/v1/chat/completions", { body: JSON.stringify({ model: "flaky-model", messages: [{ role: "user", content: "Hi" }] }) });
    assert.equal(refused.status, 400);
    const after = await scrape(routed);
    assert.deepEqual(
      ["modelport_upstream_requests", "modelport_upstream_failures", "modelport_upstream_retries"].map((name) => moved(middle, after, name)),
      [1, 1, 0],
    );
    assert.equal(value(after, "modelport_upstream_failures", { model: "held-model", deployment: "held-dep" }), 0, "every deployment has its series");
    assert.ok(after.some((f) => f.name === "modelport_upstream_retries" && f.metrics.some((m) => m.labels?.deployment === "held-dep")));
  });

  it("reports the batch queue's depth while its requests wait, and 0 once the batch is done", async () => {
    const depth = async (): Promise<number> => {
      const families = await scrape(routed);
      assert.ok(families.some((f) => f.name === "modelport_batch_queue_depth"));
      return value(families, "modelport_batch_queue_depth", {});
    };
    assert.equal(await depth(), 0);
    gate = openGate();
    held.seen.length = 0;
    const line = (i: number) => JSON.stringify({ custom_id: `q-${i}`, method: "POST", url: "/v1/chat/completions", body: { model: "held-model", messages: [{ role: "user", content: `n ${i}` }] } });
    const file = await routedClient.files.create({ file: await toFile(Buffer.from(`${[0, 1, 2].map(line).join("\n")}\n`), "queue.jsonl"), purpose: "batch" });
    const batch = await routedClient.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    // Two run at once (batches.concurrency) and are held upstream; the third waits its turn.
    await waitFor(() => held.seen.length === 2, 20_000);
    assert.equal(await depth(), 3);
    gate.open();
    await waitFor(async () => (await routedClient.batches.retrieve(batch.id)).status === "completed", 30_000);
    assert.equal(await depth(), 0);
    assert.equal(held.seen.length, 3);
  });

  it("reports the indexing queue's depth while files wait to be embedded, and 0 once they are indexed", async () => {
    const depth = async (): Promise<number> => {
      const families = await scrape(routed);
      assert.ok(families.some((f) => f.name === "modelport_indexing_queue_depth"));
      return value(families, "modelport_indexing_queue_depth", {});
    };
    assert.equal(await depth(), 0);
    gate = openGate();
    held.seen.length = 0;
    const files = await Promise.all(["alpha", "beta"].map(async (name) => (await routedClient.files.create({ file: await toFile(Buffer.from(`The ${name} file says hello.`), `${name}.txt`), purpose: "assistants" })).id));
    const store = await routedClient.vectorStores.create({ name: "queued", file_ids: files });
    // One file at a time (indexingConcurrency 1), its embedding held upstream: both are in progress.
    await waitFor(() => held.seen.some((r) => r.url.endsWith("/embeddings")), 20_000);
    assert.equal(await depth(), 2);
    gate.open();
    await waitFor(async () => (await routedClient.vectorStores.retrieve(store.id)).file_counts.completed === 2, 30_000);
    assert.equal(await depth(), 0);
  });
});
