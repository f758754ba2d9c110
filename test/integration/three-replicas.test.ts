import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import OpenAI, { toFile } from "openai";
import { openStorage } from "../../src/storage/open.ts";
import { spawnServe, type ServeProcess } from "../helpers/cli.ts";
import { freshPostgres } from "../helpers/databases.ts";
import { startFakeUpstream, type FakeUpstream } from "../helpers/fake-upstream.ts";
import { startS3Server, type TestS3 } from "../helpers/s3-server.ts";
import { STORIES } from "../helpers/server.ts";

/**
 * Three `modelport serve` processes, as three replicas behind a load balancer: one PostgreSQL
 * database, one Redis, one S3 bucket (s3rver) for the bytes, each with a data directory of its own.
 * A routed model's deployment allows 10 requests a minute; the replicas together send it no more,
 * however the requests are spread. A key revoked through one replica is refused at once by all
 * three. A file uploaded through one is read through the others. A batch runs on all three, and
 * when one is killed mid-run the other two finish it: every custom_id once, every line metered once.
 */
const ADMIN = "sk-admin-shared-limits-0123456789";
const REDIS_URL = process.env.MODELPORT_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
/** This run's own routed model: its name is in every key the replicas keep for it in Redis. */
const MODEL = `gpt-shared-${randomBytes(4).toString("hex")}`;

let upstream: FakeUpstream;
let postgres: Awaited<ReturnType<typeof freshPostgres>>;
let s3: TestS3;
/** This run's own folder in the bucket. */
const PREFIX = `replicas-${randomBytes(4).toString("hex")}/`;
/**
 * Short, so the replicas take a killed one's batch requests over within seconds (default 60 s); renewed
 * every third of it, so a live replica keeps its claims through a stall of over 5 s on a busy machine.
 */
const LEASE_MS = 8000;
let servers: ServeProcess[] = [];
const projects: string[] = [];

before(async () => {
  upstream = await startFakeUpstream();
  postgres = await freshPostgres();
  s3 = await startS3Server();
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
  const env = {
    MODELPORT_ADMIN_KEY: ADMIN,
    MODELPORT_API_KEYS: "",
    MODELPORT_DATABASE_URL: postgres.url,
    MODELPORT_REDIS_URL: REDIS_URL,
    ...s3.env(PREFIX),
    MODELPORT_JOB_LEASE_MS: String(LEASE_MS),
    MODELPORT_BATCH_CONCURRENCY: "2",
    MODELPORT_LOG_LEVEL: "debug",
  };
  const serve = (name: string) => spawnServe(["-m", STORIES, "--config", config, "--models-dir", join(dir, "models"), "--data-dir", join(dir, name)], env);
  // One first, so it runs the migrations; the others find them done.
  const first = await serve("a");
  servers = [first, ...(await Promise.all([serve("b"), serve("c")]))];
});

after(async () => {
  for (const s of servers) {
    if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGTERM");
    await s.exited;
  }
  await upstream?.close();
  await postgres?.drop();
  await s3?.close();
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

describe("three replicas sharing PostgreSQL, Redis and S3", () => {
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

  it("reads a file uploaded through one replica through the others, its bytes in the bucket, and deletes it through a third", async () => {
    const [a, b, c] = servers as [ServeProcess, ServeProcess, ServeProcess];
    const value = (await key(a, await project(a, "shared files"))).value;
    const client = (s: ServeProcess) => new OpenAI({ baseURL: `${s.url}/v1`, apiKey: value, maxRetries: 0 });
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const file = await client(a).files.create({ file: await toFile(bytes, "shared.bin"), purpose: "user_data" });
    assert.equal(file.bytes, bytes.length);
    for (const s of [b, c]) {
      assert.equal((await client(s).files.retrieve(file.id)).bytes, bytes.length);
      assert.ok(Buffer.from(await (await client(s).files.content(file.id)).arrayBuffer()).equals(bytes), `${s.url} served other bytes`);
    }
    assert.equal((await s3.store(PREFIX).stat(`files/${file.id}`))?.bytes, bytes.length, "the bytes are in the bucket");
    await client(c).files.delete(file.id);
    await assert.rejects(client(b).files.content(file.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
    assert.equal(await s3.store(PREFIX).stat(`files/${file.id}`), undefined, "and gone from it");
  });

  // Last: it kills a replica.
  it("runs one batch on all three; after one is killed with SIGKILL mid-run the others finish it, every custom_id once, every line metered once", async () => {
    const [a, b, c] = servers as [ServeProcess, ServeProcess, ServeProcess];
    const projectId = await project(a, "shared batch");
    const value = (await key(a, projectId)).value;
    const client = (s: ServeProcess) => new OpenAI({ baseURL: `${s.url}/v1`, apiKey: value, maxRetries: 0 });
    const total = 150;
    const lines = Array.from({ length: total }, (_, i) =>
      JSON.stringify({ custom_id: `req-${i}`, method: "POST", url: "/v1/chat/completions", body: { model: "stories260K", messages: [{ role: "user", content: `Once upon a time ${i}` }], max_tokens: 24 } }),
    );
    const input = await client(a).files.create({ file: await toFile(Buffer.from(`${lines.join("\n")}\n`), "input.jsonl"), purpose: "batch" });
    const batch = await client(b).batches.create({ input_file_id: input.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    const claimed = (s: ServeProcess) => s.logs.filter((l) => l.msg === "claimed batch requests").reduce((n, l) => n + Number(l.count), 0);
    const poll = async (s: ServeProcess, done: (b: OpenAI.Batch) => boolean): Promise<OpenAI.Batch> => {
      const deadline = Date.now() + 120_000;
      for (;;) {
        const now = await client(s).batches.retrieve(batch.id);
        if (done(now)) return now;
        assert.ok(Date.now() < deadline, `batch stuck in ${now.status}: ${JSON.stringify(now.request_counts)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    // Until every replica has run some of it and a third is done; then the one that holds the most dies.
    await poll(c, (now) => (now.request_counts?.completed ?? 0) >= total / 3 && [a, b, c].every((s) => claimed(s) > 0));
    const victim = [a, b, c].reduce((m, s) => (claimed(s) > claimed(m) ? s : m));
    victim.child.kill("SIGKILL");
    await victim.exited;
    const killedAt = (await client(victim === a ? b : a).batches.retrieve(batch.id)).request_counts?.completed ?? 0;
    assert.ok(killedAt < total, "killed mid-run");
    const survivors = [a, b, c].filter((s) => s !== victim);
    const done = await poll(survivors[0] as ServeProcess, (now) => now.status === "completed");
    assert.deepEqual(done.request_counts, { total, completed: total, failed: 0 });
    for (const s of survivors) {
      const output = (await (await client(s).files.content(done.output_file_id as string)).text()).trim().split("\n").map((l) => JSON.parse(l) as { custom_id: string; response: { status_code: number } });
      assert.equal(output.length, total, "no line lost or written twice");
      assert.equal(new Set(output.map((l) => l.custom_id)).size, total);
      assert.ok(output.every((l) => l.response.status_code === 200));
    }
    // Every line was claimed once, but for those the killed replica held (at most its concurrency, 2),
    // which another claimed again once their lease ran out: no line is ever claimed by two at once.
    const counts = [a, b, c].map(claimed);
    const claims = counts.reduce((x, y) => x + y, 0);
    assert.ok(claims >= total && claims <= total + 2, `claims: ${counts.join(" + ")}`);
    const storage = await openStorage({ databaseUrl: postgres.url, dataDir: mkdtempSync(join(tmpdir(), "modelport-replicas-check-")) });
    try {
      const [row] = await storage.db.all("SELECT COUNT(*) AS n FROM usage_records WHERE batch = 1 AND project_id = ?", [projectId]);
      assert.equal(Number(row?.n), total, "each line metered exactly once");
    } finally {
      await storage.close();
    }
  });
});
