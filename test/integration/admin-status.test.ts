import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { raw, startTestServer, waitFor, type TestServer } from "../helpers/server.ts";

const ADMIN = "sk-admin-status-test-0123456789";
const KEY = "sk-status-test-project-key";

interface StatsGroup {
  model?: string | null;
  requests: number;
  errors: number;
  server_errors: number;
  latency_ms: { p50: number; p95: number; p99: number } | null;
  ttft_ms: { p50: number; p95: number; p99: number } | null;
}
interface StatsPage {
  object: string;
  data: { object: string; start_time: number; end_time: number; results: StatsGroup[] }[];
  total: StatsGroup;
  truncated: boolean;
}

describe("admin status, request statistics and the admin UI's files", () => {
  let server: TestServer;
  let modelsDir: string;
  const admin = (path: string) => raw(server, path, { headers: { authorization: `Bearer ${ADMIN}` } });
  before(async () => {
    modelsDir = mkdtempSync(join(tmpdir(), "modelport-status-models-"));
    server = await startTestServer({ env: { MODELPORT_API_KEYS: KEY, MODELPORT_ADMIN_KEY: ADMIN }, modelsDir });
  });
  after(async () => {
    await server?.close();
  });

  it("serves /admin under a strict Content-Security-Policy, with no inline script, and its hashed assets as immutable", async () => {
    const page = await fetch(`${server.url}/admin`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    assert.equal(page.headers.get("cache-control"), "no-cache");
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    const html = await page.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.ok(scripts.length > 0);
    for (const [, attrs, body] of scripts) {
      assert.match(attrs ?? "", /src="\/admin\/assets\/[^"]+\.js"/, "every script is a file of the bundle");
      assert.equal((body ?? "").trim(), "", "no inline script");
    }
    assert.doesNotMatch(html, /<style|style="/, "no inline styles");
    const asset = /src="(\/admin\/assets\/[^"]+\.js)"/.exec(html)?.[1] as string;
    const js = await fetch(`${server.url}${asset}`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get("content-type") ?? "", /^text\/javascript/);
    assert.equal(js.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.ok((await js.arrayBuffer()).byteLength > 1000);
    assert.equal((await fetch(`${server.url}/admin/assets/nope.js`)).status, 404);
    assert.equal((await fetch(`${server.url}/admin/assets/..%2Fpackage.json`)).status, 404);
  });

  it("says how to build the UI when it is not built", async () => {
    const empty = mkdtempSync(join(tmpdir(), "modelport-noui-"));
    const bare = await startTestServer({ env: { MODELPORT_API_KEYS: KEY }, adminUi: { enabled: true, dir: empty } });
    try {
      const res = await raw(bare, "/admin");
      assert.equal(res.status, 404);
      assert.equal((res.body as { error: { code: string } }).error.code, "admin_ui_not_built");
      assert.match((res.body as { error: { message: string } }).error.message, /npm run build/);
    } finally {
      await bare.close();
    }
  });

  it("reports models with their live load and the downloads under way, to admin keys only", async () => {
    writeFileSync(join(modelsDir, "big-model.Q4_K_M.gguf.part"), Buffer.alloc(12_345));
    writeFileSync(join(modelsDir, "big-model.Q4_K_M.gguf.part.json"), JSON.stringify({ url: "https://example.invalid/big", etag: "x", size: 50_000 }));
    const res = await admin("/v1/organization/status");
    assert.equal(res.status, 200);
    const body = res.body as {
      object: string;
      state: string;
      version: string;
      uptime_seconds: number;
      models: { id: string; kind: string; aliases: string[]; context_length: number | null; stats: Record<string, number>; deployments: unknown[] }[];
      pulls: { file: string; bytes: number; total_bytes: number | null }[];
    };
    assert.equal(body.object, "organization.status");
    assert.equal(body.state, "ready");
    assert.ok(body.uptime_seconds >= 0);
    const stories = body.models.find((m) => m.id === "stories");
    assert.ok(stories);
    assert.equal(stories.kind, "local");
    assert.deepEqual(stories.aliases, ["gpt-5.4-mini", "中文模型"]);
    assert.equal(stories.context_length, 2048);
    assert.ok((stories.stats.sequences ?? 0) >= 1);
    assert.equal(stories.stats.busy, 0);
    assert.deepEqual(stories.deployments, []);
    assert.deepEqual(body.pulls, [{ file: "big-model.Q4_K_M.gguf", bytes: 12_345, total_bytes: 50_000 }]);
    const asProject = await raw(server, "/v1/organization/status", { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(asProject.status, 403);
  });

  it("counts requests, errors and latency percentiles per bucket and model from the request log", async () => {
    const start = Math.floor(Date.now() / 1000) - 5;
    for (let i = 0; i < 2; i++) await server.client.chat.completions.create({ model: "stories", messages: [{ role: "user", content: "Once" }], max_tokens: 4 });
    const stream = await server.client.chat.completions.create({ model: "tiny-random", messages: [{ role: "user", content: "Hi" }], max_tokens: 4, stream: true });
    for await (const _ of stream) void _;
    const bad = await raw(server, "/v1/chat/completions", { body: JSON.stringify({ model: "stories", messages: [], temperature: 9 }), headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(bad.status, 400);
    const end = Math.floor(Date.now() / 1000) + 60;
    let page: StatsPage | undefined;
    await waitFor(async () => {
      page = (await admin(`/v1/organization/request_stats?start_time=${start}&end_time=${end}&bucket_width=1m`)).body as StatsPage;
      return page.total?.requests === 4;
    }, 10_000);
    assert.ok(page);
    assert.equal(page.object, "page");
    assert.equal(page.truncated, false);
    assert.equal(page.total.errors, 1);
    assert.equal(page.total.server_errors, 0);
    assert.ok(page.total.latency_ms !== null && page.total.latency_ms.p50 > 0 && page.total.latency_ms.p50 <= page.total.latency_ms.p95);
    assert.ok(page.total.ttft_ms !== null, "the streamed answer has a time to first token");
    assert.equal(page.data[0]?.start_time, start);
    assert.equal(page.data.reduce((n, b) => n + b.results.reduce((m, r) => m + r.requests, 0), 0), 4);
    const byModel = (await admin(`/v1/organization/request_stats?start_time=${start}&end_time=${end}&bucket_width=1h&group_by=model`)).body as StatsPage;
    const results = byModel.data.flatMap((b) => b.results);
    assert.equal(results.find((r) => r.model === "stories")?.requests, 2);
    assert.equal(results.find((r) => r.model === "stories")?.errors, 0);
    // The refused request never got as far as naming a model.
    assert.deepEqual(results.filter((r) => r.model === null).map((r) => [r.requests, r.errors]), [[1, 1]]);
    assert.equal(results.find((r) => r.model === "tiny-random")?.requests, 1);
    assert.ok(results.find((r) => r.model === "tiny-random")?.ttft_ms !== null);
  });

  it("clears a project's budgets and tier with null", async () => {
    const post = (path: string, body: unknown) => raw(server, path, { body: JSON.stringify(body), headers: { authorization: `Bearer ${ADMIN}` } });
    const made = (await post("/v1/organization/projects", { name: "Budgeted", tier: "tier-2", monthly_budget_usd: 5, soft_budget_usd: 1 })).body as { id: string };
    const cleared = await post(`/v1/organization/projects/${made.id}`, { tier: null, monthly_budget_usd: null, soft_budget_usd: null });
    assert.equal(cleared.status, 200, cleared.text);
    const p = cleared.body as { tier: string | null; monthly_budget_usd: number | null; soft_budget_usd: number | null; budget_exceeded: boolean };
    assert.deepEqual([p.tier, p.monthly_budget_usd, p.soft_budget_usd, p.budget_exceeded], [null, null, null, false]);
    const bad = await post(`/v1/organization/projects/${made.id}`, { monthly_budget_usd: "lots" });
    assert.equal(bad.status, 400);
    assert.equal((bad.body as { error: { param: string } }).error.param, "monthly_budget_usd");
  });

  it("refuses bad statistics parameters by name", async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, string][] = [
      ["", "start_time"],
      [`start_time=${now}&bucket_width=2h`, "bucket_width"],
      [`start_time=${now}&group_by=api_key_id`, "group_by"],
      [`start_time=${now}&end_time=${now - 10}`, "end_time"],
      [`start_time=${now - 86_400 * 30}&bucket_width=1m`, "bucket_width"],
      [`start_time=${now}&colour=red`, "colour"],
    ];
    for (const [query, param] of cases) {
      const res = await admin(`/v1/organization/request_stats?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal((res.body as { error: { param: string } }).error.param, param, query);
    }
  });
});
