import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Config } from "../../src/config/schema.ts";
import { backends } from "../helpers/databases.ts";
import { startFakeUpstream, type FakeUpstream } from "../helpers/fake-upstream.ts";
import { raw, STORIES, startTestServer, waitFor, type TestServer } from "../helpers/server.ts";

const ADMIN = "sk-admin-test-0123456789abcdef";
const PRICING = { input: 2, cachedInput: 0.5, output: 8 };
/** A secret-looking string a client pastes into a prompt. */
const LEAKED = "sk-proj-ABCDEFGHijklmnop1234567890";
const list = await backends();
// Two upstreams for the routed model: the first attempt of each request fails with a 500, wherever
// it lands, and the retry goes to the other deployment, which answers.
const upstreams: Record<"one" | "two", FakeUpstream> = { one: await startFakeUpstream(), two: await startFakeUpstream() };
after(async () => {
  for (const b of list) await b.cleanup();
  for (const u of Object.values(upstreams)) await u.close();
});

interface LoggedItem {
  object: string;
  id: string;
  created_at: number;
  project_id: string;
  api_key_id: string | null;
  model: string | null;
  endpoint: string | null;
  method: string;
  status: number;
  error_code: string | null;
  latency_ms: number;
  ttft_ms: number | null;
  usage: { input_tokens: number; output_tokens: number; cached_tokens: number } | null;
  cost_usd: number | null;
  deployment: string | null;
  retries: number;
  body?: unknown;
}
interface LoggedList {
  object: string;
  data: LoggedItem[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

const call = (server: TestServer, path: string, key: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
  raw(server, path, {
    ...(init.method ? { method: init.method } : {}),
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    headers: { authorization: `Bearer ${key}`, ...init.headers },
  });

const chat = (content: string, extra: Record<string, unknown> = {}) => ({ model: "stories", messages: [{ role: "user", content }], max_tokens: 4, ...extra });

for (const backend of list) {
  describe(`request log on ${backend.name}`, () => {
    let server: TestServer;
    const start = (requestLog: Partial<Config["requestLog"]> = {}) =>
      startTestServer({
        env: { ...backend.env(), MODELPORT_ADMIN_KEY: ADMIN },
        models: [{ id: "stories", path: STORIES, aliases: [], pricing: PRICING }],
        requestLog: { enabled: true, retentionDays: 7, maxRows: 100_000, maxBodyBytes: 4096, ...requestLog },
      });
    before(async () => {
      server = await start();
    });
    after(async () => {
      await server.close();
    });

    const admin = (path: string, init: { method?: string; body?: unknown } = {}) => call(server, path, ADMIN, init);
    const listed = async (query: string): Promise<LoggedList> => {
      const res = await admin(`/v1/organization/requests${query}`);
      assert.equal(res.status, 200, res.text);
      return res.body as LoggedList;
    };

    let projectA = "";
    let projectB = "";
    let keyA = "";
    let keyAId = "";
    let keyB = "";
    const ids: Record<string, string> = {};

    it("logs every request of a project key: model calls, streams, 400s and unknown routes", async () => {
      projectA = ((await admin("/v1/organization/projects", { method: "POST", body: { name: "Log A" } })).body as { id: string }).id;
      projectB = ((await admin("/v1/organization/projects", { method: "POST", body: { name: "Log B" } })).body as { id: string }).id;
      const a = (await admin(`/v1/organization/projects/${projectA}/api_keys`, { method: "POST", body: { name: "a" } })).body as { id: string; value: string };
      keyA = a.value;
      keyAId = a.id;
      keyB = ((await admin(`/v1/organization/projects/${projectB}/api_keys`, { method: "POST", body: { name: "b" } })).body as { value: string }).value;

      const plain = await call(server, "/v1/chat/completions", keyA, { body: chat("Once upon a time") });
      assert.equal(plain.status, 200, plain.text);
      ids.plain = plain.headers.get("x-request-id") ?? "";
      const streamed = await call(server, "/v1/chat/completions", keyA, { body: chat("A cat", { stream: true, stream_options: { include_usage: true } }), headers: { "x-request-id": "client-chosen-1" } });
      assert.equal(streamed.status, 200);
      ids.streamed = "client-chosen-1";
      const bad = await call(server, "/v1/chat/completions", keyA, { body: chat("x", { temperature: "hot" }) });
      assert.equal(bad.status, 400);
      ids.bad = bad.headers.get("x-request-id") ?? "";
      const unknown = await call(server, "/v1/no/such/route", keyB);
      assert.equal(unknown.status, 404);
      ids.unknown = unknown.headers.get("x-request-id") ?? "";
      // Not logged: admin routes, and requests that authenticate as nobody.
      assert.equal((await call(server, "/v1/models", "sk-wrong-key-0000000000000000")).status, 401);
      await server.requestLog.flush();

      const page = await listed("");
      assert.equal(page.object, "list");
      assert.deepEqual(page.data.map((r) => r.id), [ids.unknown, ids.bad, ids.streamed, ids.plain], "newest first, nothing else");
      assert.equal(page.first_id, ids.unknown);
      assert.equal(page.last_id, ids.plain);
      assert.equal(page.has_more, false);
      const byId = Object.fromEntries(page.data.map((r) => [r.id, r]));

      const p = byId[ids.plain!]!;
      assert.equal(p.object, "organization.request");
      assert.deepEqual([p.project_id, p.api_key_id, p.model, p.endpoint, p.method, p.status, p.error_code, p.ttft_ms, p.deployment, p.retries], [projectA, keyAId, "stories", "/v1/chat/completions", "POST", 200, null, null, null, 0]);
      assert.ok(p.usage !== null && p.usage.input_tokens > 0 && p.usage.output_tokens > 0);
      const expected = ((p.usage.input_tokens - p.usage.cached_tokens) * 2 + p.usage.cached_tokens * 0.5 + p.usage.output_tokens * 8) / 1e6;
      assert.ok(Math.abs((p.cost_usd ?? 0) - expected) < 1e-8);
      assert.ok(p.latency_ms >= 0 && Number.isInteger(p.created_at));
      assert.equal("body" in p, false, "lists leave bodies out");

      const s = byId[ids.streamed!]!;
      assert.equal(s.status, 200);
      assert.ok(typeof s.ttft_ms === "number" && s.ttft_ms >= 0 && s.ttft_ms <= s.latency_ms, "a stream has its time to first token");
      assert.ok(s.usage !== null && s.usage.output_tokens > 0);

      const b = byId[ids.bad!]!;
      assert.deepEqual([b.status, b.endpoint, b.usage, b.cost_usd], [400, "/v1/chat/completions", null, null]);
      assert.ok(b.error_code !== null);

      const u = byId[ids.unknown!]!;
      assert.deepEqual([u.project_id, u.status, u.endpoint, u.error_code, u.model, u.method], [projectB, 404, null, "unknown_url", null, "GET"]);
    });

    it("filters by project, key, model, status and time, and pages newest first", async () => {
      assert.deepEqual((await listed(`?project_id=${projectA}`)).data.map((r) => r.id), [ids.bad, ids.streamed, ids.plain]);
      assert.deepEqual((await listed(`?project_id=${projectB}`)).data.map((r) => r.id), [ids.unknown]);
      assert.deepEqual((await listed(`?api_key_id=${keyAId}&status=200`)).data.map((r) => r.id), [ids.streamed, ids.plain]);
      assert.deepEqual((await listed("?status=4xx")).data.map((r) => r.id), [ids.unknown, ids.bad]);
      assert.deepEqual((await listed("?status=404")).data.map((r) => r.id), [ids.unknown]);
      assert.deepEqual((await listed("?status=5xx")).data, []);
      assert.deepEqual((await listed("?model=stories")).data.map((r) => r.id), [ids.streamed, ids.plain]);
      const now = Math.floor(Date.now() / 1000);
      assert.equal((await listed(`?start_time=${now - 600}&end_time=${now + 5}`)).data.length, 4);
      assert.equal((await listed(`?start_time=${now + 5}`)).data.length, 0);

      const seen: string[] = [];
      let after = "";
      for (;;) {
        const page = await listed(`?limit=1${after ? `&after=${after}` : ""}`);
        assert.equal(page.data.length, 1);
        seen.push(page.data[0]!.id);
        if (!page.has_more) break;
        after = page.last_id!;
      }
      assert.deepEqual(seen, [ids.unknown, ids.bad, ids.streamed, ids.plain]);

      for (const [query, param] of [["?status=abc", "status"], ["?status=6xx", "status"], ["?limit=0", "limit"], ["?limit=101", "limit"], ["?start_time=yesterday", "start_time"], ["?end_time=-1", "end_time"], [`?start_time=${now}&end_time=${now}`, "end_time"], ["?project_id=", "project_id"]] as const) {
        const res = await admin(`/v1/organization/requests${query}`);
        assert.equal(res.status, 400, `${query}: ${res.text}`);
        assert.equal((res.body as { error: { param: string } }).error.param, param, query);
      }
    });

    it("shows one request's detail to admins only; no body unless the project opted in", async () => {
      const detail = await admin(`/v1/organization/requests/${ids.plain}`);
      assert.equal(detail.status, 200, detail.text);
      assert.equal((detail.body as LoggedItem).id, ids.plain);
      assert.equal((detail.body as LoggedItem).body, null);
      const missing = await admin("/v1/organization/requests/req_nope");
      assert.equal(missing.status, 404);
      assert.equal((missing.body as { error: { code: string } }).error.code, "not_found");
      for (const path of ["/v1/organization/requests", `/v1/organization/requests/${ids.plain}`]) {
        const denied = await call(server, path, keyA);
        assert.equal(denied.status, 403, path);
        assert.equal((denied.body as { error: { code: string } }).error.code, "insufficient_permissions");
      }
    });

    it("keeps an opted-in project's request and answer, with secrets redacted", async () => {
      const opted = await admin(`/v1/organization/projects/${projectA}`, { method: "POST", body: { log_bodies: true } });
      assert.equal(opted.status, 200, opted.text);
      assert.equal((opted.body as { log_bodies: boolean }).log_bodies, true);
      const bad = await admin(`/v1/organization/projects/${projectA}`, { method: "POST", body: { log_bodies: "yes" } });
      assert.equal(bad.status, 400);
      assert.equal((bad.body as { error: { param: string } }).error.param, "log_bodies");

      const ok = await call(server, "/v1/chat/completions", keyA, { body: chat(`My key is ${LEAKED}, keep it safe.`) });
      assert.equal(ok.status, 200, ok.text);
      const refused = await call(server, "/v1/chat/completions", keyA, { body: chat("hi", { api_key: "hunter2-plain" }) });
      assert.equal(refused.status, 400);
      const other = await call(server, "/v1/chat/completions", keyB, { body: chat("Project B is not opted in") });
      assert.equal(other.status, 200);
      await server.requestLog.flush();

      const kept = (await admin(`/v1/organization/requests/${ok.headers.get("x-request-id")}`)).body as LoggedItem;
      const body = kept.body as { request: { messages: { content: string }[]; max_tokens: number }; response: { object: string; choices: unknown[] }; truncated: boolean };
      assert.equal(body.request.messages[0]!.content, "My key is [redacted], keep it safe.");
      assert.equal(body.request.max_tokens, 4, "token counts are not secrets");
      assert.equal(body.response.object, "chat.completion");
      assert.equal(body.truncated, false);
      const refusedBody = ((await admin(`/v1/organization/requests/${refused.headers.get("x-request-id")}`)).body as LoggedItem).body as { request: { api_key: string }; response: { error: { code: string } } };
      assert.equal(refusedBody.request.api_key, "[redacted]");
      assert.ok(refusedBody.response.error !== undefined, "the error answer is kept too");
      assert.equal(((await admin(`/v1/organization/requests/${other.headers.get("x-request-id")}`)).body as LoggedItem).body, null);
      const rows = await server.storage.db.all("SELECT body FROM request_log");
      const stored = JSON.stringify(rows);
      assert.ok(!stored.includes(LEAKED) && !stored.includes("hunter2") && !stored.includes(keyA) && !stored.includes(ADMIN), "no secret reaches the database");

      // A long prompt (too long for the model: a 400 is logged as any request is) is cut to maxBodyBytes.
      const long = await call(server, "/v1/chat/completions", keyA, { body: chat("word ".repeat(2000), { max_tokens: 1 }) });
      assert.equal(long.status, 400, long.text);
      await server.requestLog.flush();
      const [row] = await server.storage.db.all("SELECT body FROM request_log WHERE id = ?", [long.headers.get("x-request-id")]);
      const text = String(row!.body);
      assert.equal((JSON.parse(text) as { truncated: boolean }).truncated, true);
      assert.ok(Buffer.byteLength(text) < 2 * 4096 + 200, "each part is cut to maxBodyBytes");
    });

    it("writes what is buffered at shutdown, and trims to maxRows when a sweep runs", async () => {
      const last = await call(server, "/v1/models", keyA);
      const lastId = last.headers.get("x-request-id") ?? "";
      const before = await server.storage.requestLog.count();
      await server.close();
      server = await start({ maxRows: 3 });
      // The sweep runs as the server starts.
      await waitFor(async () => (await server.storage.requestLog.count()) === 3);
      assert.ok(before > 3);
      const kept = await listed("");
      assert.equal(kept.data[0]!.id, lastId, "the newest rows stay; the one written at shutdown is among them");
      for (let i = 0; i < 3; i++) await call(server, "/v1/models", keyB);
      await server.requestLog.flush();
      assert.equal(await server.storage.requestLog.count(), 6);
      assert.equal(await server.requestLog.sweep(), 3);
      assert.deepEqual((await listed("")).data.map((r) => r.project_id), [projectB, projectB, projectB]);
    });

    it("logs nothing with requestLog.enabled false", async () => {
      await server.close();
      server = await start({ enabled: false });
      const before = await server.storage.requestLog.count();
      await call(server, "/v1/chat/completions", keyA, { body: chat("Hello") });
      await call(server, "/v1/nope", keyA);
      await server.requestLog.flush();
      assert.equal(await server.storage.requestLog.count(), before);
    });

    it("names the upstream deployment that answered a routed request and counts its retries", async () => {
      // One server at a time on the backend's database.
      await server.close();
      server = await startTestServer({
        env: { ...backend.env(), MODELPORT_ADMIN_KEY: ADMIN },
        models: [],
        requestLog: { enabled: true, retentionDays: 7, maxRows: 100_000, maxBodyBytes: 4096 },
        upstreams: {
          deployments: [
            { id: "dep-one", provider: "openai-compatible", baseUrl: upstreams.one.url, model: "m", timeoutMs: 10_000 },
            { id: "dep-two", provider: "openai-compatible", baseUrl: upstreams.two.url, model: "m", timeoutMs: 10_000 },
          ],
          models: [{ name: "routed", deployments: ["dep-one", "dep-two"], maxRetries: 2, deadlineMs: 20_000, breakerThreshold: 100, breakerCooldownMs: 0 }],
        },
      });
      const project = ((await call(server, "/v1/organization/projects", ADMIN, { method: "POST", body: { name: "Routed" } })).body as { id: string }).id;
      const key = ((await call(server, `/v1/organization/projects/${project}/api_keys`, ADMIN, { method: "POST", body: { name: "routed" } })).body as { value: string }).value;
      /** Which deployment failed, and which answered, each request, in order. */
      const failedAt: string[] = [];
      const answeredBy: string[] = [];
      let attempts = 0;
      for (const [name, upstream] of Object.entries(upstreams)) {
        upstream.script((_n, req) => {
          if (++attempts % 2 === 1) {
            failedAt.push(`dep-${name}`);
            return { kind: "json", status: 500, body: { error: { message: "first attempt fails" } }, headers: { "retry-after-ms": "1" } };
          }
          answeredBy.push(`dep-${name}`);
          if (req.url.endsWith("/embeddings")) return { kind: "json", status: 200, body: { object: "list", data: [{ object: "embedding", index: 0, embedding: [0.5, 0.5] }], model: "m", usage: { prompt_tokens: 2, total_tokens: 2 } } };
          return { kind: "stream", text: "second attempt answers" };
        });
      }
      const message = { model: "routed", messages: [{ role: "user", content: "Hi" }] };
      const plain = await call(server, "/v1/chat/completions", key, { body: message });
      assert.equal(plain.status, 200, plain.text);
      const streamed = await call(server, "/v1/chat/completions", key, { body: { ...message, stream: true } });
      assert.equal(streamed.status, 200, streamed.text);
      const embedded = await call(server, "/v1/embeddings", key, { body: { model: "routed", input: "hello" } });
      assert.equal(embedded.status, 200, embedded.text);
      assert.equal(attempts, 6, "two attempts each");
      // An attempt that does not fail: no retry, and still its deployment.
      attempts = 1;
      const once = await call(server, "/v1/chat/completions", key, { body: message });
      assert.equal(once.status, 200, once.text);
      assert.equal(attempts, 2);
      await server.requestLog.flush();
      const logged = async (res: { headers: Headers }): Promise<LoggedItem> => {
        const detail = await call(server, `/v1/organization/requests/${res.headers.get("x-request-id")}`, ADMIN);
        assert.equal(detail.status, 200, detail.text);
        return detail.body as LoggedItem;
      };
      const rows = await Promise.all([plain, streamed, embedded, once].map(logged));
      assert.deepEqual(
        rows.map((r) => [r.endpoint, r.status, r.deployment, r.retries]),
        [
          ["/v1/chat/completions", 200, answeredBy[0], 1],
          ["/v1/chat/completions", 200, answeredBy[1], 1],
          ["/v1/embeddings", 200, answeredBy[2], 1],
          ["/v1/chat/completions", 200, answeredBy[3], 0],
        ],
      );
      // Each retry went to the deployment the failed attempt had not tried.
      assert.deepEqual(failedAt.map((d) => (d === "dep-one" ? "dep-two" : "dep-one")), answeredBy.slice(0, 3));
    });
  });
}
