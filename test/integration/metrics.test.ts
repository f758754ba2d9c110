import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createRequire } from "node:module";
import OpenAI from "openai";
import { raw, startTestServer, type TestServer } from "../helpers/server.ts";

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
