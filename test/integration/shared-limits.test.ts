import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { spawnServe, type ServeProcess } from "../helpers/cli.ts";
import { freshPostgres } from "../helpers/databases.ts";
import { startFakeUpstream, type FakeUpstream } from "../helpers/fake-upstream.ts";

/**
 * Three `modelport serve` processes, as three replicas behind a load balancer: one PostgreSQL
 * database, one Redis. A routed model's deployment allows 10 requests a minute; the replicas
 * together send it no more, however the requests are spread. A key revoked through one replica
 * is refused at once by all three.
 */
const ADMIN = "sk-admin-shared-limits-0123456789";
const REDIS_URL = process.env.MODELPORT_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
/** This run's own routed model: its name is in every key the replicas keep for it in Redis. */
const MODEL = `gpt-shared-${randomBytes(4).toString("hex")}`;

let upstream: FakeUpstream;
let postgres: Awaited<ReturnType<typeof freshPostgres>>;
let servers: ServeProcess[] = [];
const projects: string[] = [];

before(async () => {
  upstream = await startFakeUpstream();
  postgres = await freshPostgres();
  const dir = mkdtempSync(join(tmpdir(), "modelport-shared-"));
  mkdirSync(join(dir, "models"));
  const config = join(dir, "config.yaml");
  // JSON is YAML. Retries would only hide a refusal: none, so each request is one reservation.
  writeFileSync(
    config,
    JSON.stringify({
      upstreams: {
        deployments: [{ id: "limited", provider: "openai-compatible", baseUrl: upstream.url, model: "gpt-4o-mini", rpm: 10 }],
        models: [{ name: MODEL, deployments: ["limited"], maxRetries: 0 }],
      },
    }),
  );
  const env = { MODELPORT_ADMIN_KEY: ADMIN, MODELPORT_API_KEYS: "", MODELPORT_DATABASE_URL: postgres.url, MODELPORT_REDIS_URL: REDIS_URL };
  const serve = (name: string) => spawnServe(["--config", config, "--models-dir", join(dir, "models"), "--data-dir", join(dir, name)], env);
  // One first, so it runs the migrations; the others find them done.
  const first = await serve("a");
  servers = [first, ...(await Promise.all([serve("b"), serve("c")]))];
});

after(async () => {
  for (const s of servers) {
    s.child.kill("SIGTERM");
    await s.exited;
  }
  await upstream?.close();
  await postgres?.drop();
  // Only this run's keys: its model's deployment state, its projects' rate-limit counters.
  const redis = new Redis(REDIS_URL);
  const keys = (await Promise.all([`modelport:deployment:{${MODEL}/*`, ...projects.map((p) => `modelport:rl:{${p}:*`)].map((pattern) => redis.keys(pattern)))).flat();
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

async function admin(server: ServeProcess, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, 200, `${path}: ${JSON.stringify(json)}`);
  return json;
}

async function project(server: ServeProcess, name: string): Promise<string> {
  const id = String((await admin(server, "POST", "/v1/organization/projects", { name })).id);
  projects.push(id);
  return id;
}

async function key(server: ServeProcess, projectId: string): Promise<{ id: string; value: string }> {
  const k = await admin(server, "POST", `/v1/organization/projects/${projectId}/api_keys`, { name: "k" });
  return { id: String(k.id), value: String(k.value) };
}

async function status(server: ServeProcess, value: string): Promise<number> {
  const res = await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${value}` } });
  await res.arrayBuffer();
  return res.status;
}

describe("three replicas sharing PostgreSQL and Redis", () => {
  it("holds a deployment's RPM across all three: 30 requests spread over them, 10 reach the upstream, the rest get 429", async () => {
    const value = (await key(servers[0] as ServeProcess, await project(servers[0] as ServeProcess, "shared rpm"))).value;
    upstream.seen.length = 0;
    // All at once, round-robin: each replica races the others for the same ten slots.
    const answers = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const res = await fetch(`${(servers[i % 3] as ServeProcess).url}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${value}`, "content-type": "application/json" },
          body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: `request ${i}` }] }),
        });
        return { status: res.status, retryAfter: res.headers.get("retry-after"), body: (await res.json()) as { error?: { type: string; code: string; message: string } } };
      }),
    );
    const served = answers.filter((a) => a.status === 200).length;
    const refused = answers.filter((a) => a.status === 429);
    // The bucket starts full (10) and refills one request every 6 s: at most one more within the test.
    assert.ok(served === 10 || served === 11, `served ${served}: ${answers.map((a) => a.status).join(",")}`);
    assert.equal(upstream.seen.length, served, "each request the replicas let through reached the upstream once");
    assert.equal(refused.length, 30 - served, `statuses: ${answers.map((a) => a.status).join(",")}`);
    for (const r of refused) {
      assert.equal(r.body.error?.type, "rate_limit_error");
      assert.equal(r.body.error?.code, "rate_limit_exceeded");
      assert.match(r.body.error?.message ?? "", /at its configured rate limit/);
      assert.ok(Number(r.retryAfter) >= 1 && Number(r.retryAfter) <= 6, `retry-after ${r.retryAfter}`);
    }
    for (const s of servers) assert.equal(s.logs.filter((l) => String(l.msg).startsWith("redis unavailable")).length, 0, "Redis answered throughout");
  });

  it("refuses a key revoked through one replica at once on every replica, all caches warm", async () => {
    const [a, b, c] = servers as [ServeProcess, ServeProcess, ServeProcess];
    const projectId = await project(a, "shared revocations");
    const keeper = await key(a, projectId);
    for (let round = 0; round < 6; round++) {
      const revoker = servers[round % 3] as ServeProcess;
      const k = await key(a, projectId);
      // Twice each: the second is served from each replica's principal cache.
      for (const s of [a, b, c]) for (let i = 0; i < 2; i++) assert.equal(await status(s, k.value), 200);
      await admin(revoker, "DELETE", `/v1/organization/projects/${projectId}/api_keys/${k.id}`);
      for (const s of [b, c, a]) assert.equal(await status(s, k.value), 401, `round ${round}: ${s.url} served a key revoked through ${revoker.url}`);
    }
    for (const s of [a, b, c]) assert.equal(await status(s, keeper.value), 200, "the other key still works");
  });
});
