import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { spawnServe, type ServeProcess } from "../helpers/cli.ts";
import { freshPostgres } from "../helpers/databases.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { raw, STORIES, startTestServer, type TestServer } from "../helpers/server.ts";

const ADMIN = "sk-admin-ratelimit-0123456789";
const REDIS_URL = process.env.MODELPORT_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** Creates a project with a key and a rate limit for the stories model through the admin API. */
async function projectWithLimit(server: { url: string }, model: string, limit: Record<string, number>): Promise<string> {
  const headers = { authorization: `Bearer ${ADMIN}` };
  const project = (await raw(server, "/v1/organization/projects", { body: JSON.stringify({ name: "limited" }), headers })).body as { id: string };
  const set = await raw(server, `/v1/organization/projects/${project.id}/rate_limits/rl-${model}`, { body: JSON.stringify(limit), headers });
  assert.equal(set.status, 200, set.text);
  assertSchema("ProjectRateLimit", set.body);
  const key = (await raw(server, `/v1/organization/projects/${project.id}/api_keys`, { body: JSON.stringify({ name: "k" }), headers })).body as { value: string };
  return key.value;
}

const ask = (server: { url: string }, key: string, model: string, maxTokens = 1) =>
  raw(server, "/v1/chat/completions", {
    body: JSON.stringify({ model, messages: [{ role: "user", content: "Hi" }], max_tokens: maxTokens }),
    headers: { authorization: `Bearer ${key}` },
  });

describe("rate limits in one process", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { MODELPORT_ADMIN_KEY: ADMIN, MODELPORT_QUEUE_SIZE: "256" } });
  });
  after(async () => {
    await server.close();
  });

  it("lets exactly the RPM limit through a burst of 200 concurrent requests; the rest get 429 with Retry-After", async () => {
    const key = await projectWithLimit(server, "stories", { max_requests_per_1_minute: 50 });
    const results = await Promise.all(Array.from({ length: 200 }, () => ask(server, key, "stories")));
    const ok = results.filter((r) => r.status === 200);
    const limited = results.filter((r) => r.status === 429);
    assert.equal(ok.length, 50);
    assert.equal(limited.length, 150);
    const sample = limited[0]!;
    assertSchema("ErrorResponse", sample.body);
    const error = (sample.body as { error: { type: string; code: string; message: string } }).error;
    assert.equal(error.type, "rate_limit_error");
    assert.equal(error.code, "rate_limit_exceeded");
    assert.match(error.message, /requests per min \(RPM\): Limit 50/);
    assert.ok(Number(sample.headers.get("retry-after")) >= 1);
    assert.ok(Number(sample.headers.get("retry-after-ms")) > 0);
    assert.equal(ok[0]!.headers.get("x-ratelimit-limit-requests"), "50");
  });

  it("sends x-ratelimit headers that count down, in OpenAI's formats", async () => {
    const key = await projectWithLimit(server, "stories", { max_requests_per_1_minute: 100, max_tokens_per_1_minute: 100_000 });
    const remaining: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await ask(server, key, "stories", 5);
      assert.equal(res.status, 200);
      for (const h of ["limit-requests", "limit-tokens", "remaining-requests", "remaining-tokens", "reset-requests", "reset-tokens"]) {
        assert.ok(res.headers.get(`x-ratelimit-${h}`) !== null, `x-ratelimit-${h}`);
      }
      assert.match(res.headers.get("x-ratelimit-reset-requests") ?? "", /^(\d+h)?(\d+m)?\d+(ms|s)$/);
      remaining.push(Number(res.headers.get("x-ratelimit-remaining-requests")));
    }
    assert.deepEqual(remaining, [99, 98, 97]);
  });

  it("refuses a request whose token estimate exceeds the TPM limit, naming it", async () => {
    const key = await projectWithLimit(server, "stories", { max_requests_per_1_minute: 100, max_tokens_per_1_minute: 300 });
    const first = await ask(server, key, "stories", 100);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("x-ratelimit-limit-tokens"), "300");
    const tooBig = await ask(server, key, "stories", 400);
    assert.equal(tooBig.status, 429);
    assert.match((tooBig.body as { error: { message: string } }).error.message, /tokens per min \(TPM\): Limit 300, Requested 40\d/);
  });
});

describe("rate limits shared through Redis by two server processes", () => {
  let postgres: Awaited<ReturnType<typeof freshPostgres>>;
  const servers: ServeProcess[] = [];
  before(async () => {
    postgres = await freshPostgres();
    const env = {
      MODELPORT_DATABASE_URL: postgres.url,
      MODELPORT_REDIS_URL: REDIS_URL,
      MODELPORT_ADMIN_KEY: ADMIN,
      MODELPORT_QUEUE_SIZE: "256",
    };
    const dir = mkdtempSync(join(tmpdir(), "modelport-rl-"));
    // Start one first so it runs the migrations; the second finds them done.
    servers.push(await spawnServe(["-m", STORIES, "--data-dir", join(dir, "a")], env));
    servers.push(await spawnServe(["-m", STORIES, "--data-dir", join(dir, "b")], env));
  });
  after(async () => {
    for (const s of servers) {
      s.child.kill("SIGTERM");
      await s.exited;
    }
    await postgres.drop();
  });

  it("enforces one combined RPM limit across both (within one request)", async () => {
    const [a, b] = servers as [ServeProcess, ServeProcess];
    const key = await projectWithLimit(a, "stories260K", { max_requests_per_1_minute: 40 });
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => ask(i % 2 ? a : b, key, "stories260K")));
    const ok = results.filter((r) => r.status === 200).length;
    assert.ok(Math.abs(ok - 40) <= 1, `${ok} requests got through a shared limit of 40`);
    assert.equal(results.filter((r) => r.status === 429).length, 200 - ok);
  });
});
