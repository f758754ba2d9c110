import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { spawnServe, type ServeProcess } from "../helpers/cli.ts";
import { freshPostgres } from "../helpers/databases.ts";

/**
 * Servers cache principals by key hash (services/principal-cache.ts). These tests hold them to what
 * the database says: a revoked key, or a key of an archived project, is refused by the very next
 * request, in the process that made the change and in another process sharing the database, with
 * both processes' caches warm. On PostgreSQL the news travels by LISTEN/NOTIFY; a lost listener
 * falls back to reading the version per request.
 */
const ADMIN = "sk-admin-principal-cache-0123456789";

interface Admin {
  project(name: string): Promise<string>;
  key(projectId: string): Promise<{ id: string; value: string }>;
}

function adminOf(server: ServeProcess): Admin {
  const call = async (path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 200, `${path}: ${JSON.stringify(json)}`);
    return json;
  };
  return {
    project: async (name) => String((await call("/v1/organization/projects", { name })).id),
    key: async (projectId) => {
      const k = await call(`/v1/organization/projects/${projectId}/api_keys`, { name: "k" });
      return { id: String(k.id), value: String(k.value) };
    },
  };
}

async function status(server: ServeProcess, key: string): Promise<number> {
  const res = await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  await res.arrayBuffer();
  return res.status;
}

async function revoke(server: ServeProcess, projectId: string, keyId: string): Promise<void> {
  const res = await fetch(`${server.url}/v1/organization/projects/${projectId}/api_keys/${keyId}`, { method: "DELETE", headers: { authorization: `Bearer ${ADMIN}` } });
  await res.arrayBuffer();
  assert.equal(res.status, 200);
}

async function archive(server: ServeProcess, projectId: string): Promise<void> {
  const res = await fetch(`${server.url}/v1/organization/projects/${projectId}/archive`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` } });
  await res.arrayBuffer();
  assert.equal(res.status, 200);
}

/** Warms both caches with the key (twice each: the second is a cache hit). */
async function warm(servers: readonly ServeProcess[], key: string): Promise<void> {
  for (const s of servers) for (let i = 0; i < 2; i++) assert.equal(await status(s, key), 200);
}

/**
 * Two `modelport serve` processes on one database, each with one upstream model that is never
 * called (nothing here runs a model: /v1/models is enough to authenticate).
 */
async function twoServers(env: Record<string, string>, dataDirs: [string, string]): Promise<[ServeProcess, ServeProcess]> {
  const dir = mkdtempSync(join(tmpdir(), "modelport-pc-"));
  mkdirSync(join(dir, "models"));
  const config = join(dir, "config.yaml");
  // JSON is YAML.
  writeFileSync(
    config,
    JSON.stringify({ upstreams: { deployments: [{ id: "unused", provider: "openai-compatible", baseUrl: "http://127.0.0.1:9/v1", model: "m" }], models: [{ name: "gpt-unused", deployments: ["unused"] }] } }),
  );
  const args = (dataDir: string) => ["--config", config, "--models-dir", join(dir, "models"), "--data-dir", dataDir];
  // One first, so it runs the migrations; the second finds them done.
  const a = await spawnServe(args(dataDirs[0]), { MODELPORT_ADMIN_KEY: ADMIN, MODELPORT_API_KEYS: "", ...env });
  const b = await spawnServe(args(dataDirs[1]), { MODELPORT_ADMIN_KEY: ADMIN, MODELPORT_API_KEYS: "", ...env });
  return [a, b];
}

async function stop(servers: readonly ServeProcess[]): Promise<void> {
  for (const s of servers) {
    s.child.kill("SIGTERM");
    await s.exited;
  }
}

/** The checks both databases must pass. */
function sharedChecks(servers: () => [ServeProcess, ServeProcess]): void {
  it("refuses a revoked key at once, in the revoking process and in the other, both caches warm", async () => {
    const [a, b] = servers();
    const admin = adminOf(a);
    const project = await admin.project("revocations");
    const keeper = await admin.key(project);
    await warm([a, b], keeper.value);
    // Many rounds, alternating which process revokes: a race between the change and the next
    // request would show up as a 200.
    for (let round = 0; round < 20; round++) {
      const [revoker, other] = round % 2 === 0 ? [a, b] : [b, a];
      const key = await admin.key(project);
      await warm([a, b], key.value);
      await revoke(revoker, project, key.id);
      assert.equal(await status(other, key.value), 401, `round ${round}: another process served a revoked key`);
      assert.equal(await status(revoker, key.value), 401, `round ${round}: the revoking process served a revoked key`);
    }
    // Dropping the cache dropped nobody else's rights.
    for (const s of [a, b]) assert.equal(await status(s, keeper.value), 200);
  });

  it("refuses the keys of an archived project at once, in both processes; other projects' keys still work", async () => {
    const [a, b] = servers();
    const admin = adminOf(a);
    const archived = await admin.project("to archive");
    const kept = await admin.project("kept");
    const gone = [await admin.key(archived), await admin.key(archived)];
    const stays = await admin.key(kept);
    for (const k of [...gone, stays]) await warm([a, b], k.value);
    await archive(b, archived);
    for (const k of gone) for (const s of [a, b]) assert.equal(await status(s, k.value), 401);
    for (const s of [a, b]) assert.equal(await status(s, stays.value), 200);
    // The admin key lives in the default project: archiving that does not lock admins out.
    await archive(a, "proj_default");
    assert.equal((await fetch(`${b.url}/v1/organization/projects`, { headers: { authorization: `Bearer ${ADMIN}` } })).status, 200);
  });

  it("answers unknown keys 401 every time, cache or not", async () => {
    const [a, b] = servers();
    for (const s of [a, b]) for (let i = 0; i < 3; i++) assert.equal(await status(s, "sk-proj-not-a-key"), 401);
  });
}

describe("principal cache on SQLite: two processes on one database file", () => {
  let servers: [ServeProcess, ServeProcess];
  before(async () => {
    const data = mkdtempSync(join(tmpdir(), "modelport-pc-sqlite-"));
    servers = await twoServers({}, [data, data]);
  });
  after(() => stop(servers));
  sharedChecks(() => servers);
});

describe("principal cache on PostgreSQL: two processes, LISTEN/NOTIFY", () => {
  let servers: [ServeProcess, ServeProcess];
  let postgres: Awaited<ReturnType<typeof freshPostgres>>;
  before(async () => {
    postgres = await freshPostgres();
    const dir = mkdtempSync(join(tmpdir(), "modelport-pc-pg-"));
    servers = await twoServers({ MODELPORT_DATABASE_URL: postgres.url }, [join(dir, "a"), join(dir, "b")]);
  });
  after(async () => {
    await stop(servers);
    await postgres.drop();
  });
  sharedChecks(() => servers);

  it("still refuses a revoked key at once while its listeners are lost, and listens again", async () => {
    const [a, b] = servers;
    const admin = adminOf(a);
    const project = await admin.project("listener lost");
    const db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
    const LISTENERS = "FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'modelport-access%'";
    const listeners = async () => Number((await db.query(`SELECT COUNT(*) AS n ${LISTENERS}`)).rows[0].n);
    const waitFor = async (n: number) => {
      const deadline = Date.now() + 10_000;
      while ((await listeners()) !== n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.equal(await listeners(), n);
    };
    try {
      assert.equal(await listeners(), 2, "each server listens");
      for (let round = 0; round < 5; round++) {
        const key = await admin.key(project);
        await warm([a, b], key.value);
        await db.query(`SELECT pg_terminate_backend(pid) ${LISTENERS}`);
        await waitFor(0);
        // With no listener to hear it, each server reads the version per request until it listens again.
        await revoke(round % 2 === 0 ? a : b, project, key.id);
        for (const s of [a, b]) assert.equal(await status(s, key.value), 401, `round ${round}`);
        // They reconnect (first retry after 100 ms) and serve from the cache again.
        await waitFor(2);
      }
      const next = await admin.key(project);
      await warm([a, b], next.value);
      await revoke(b, project, next.id);
      for (const s of [a, b]) assert.equal(await status(s, next.value), 401);
    } finally {
      await db.end();
    }
  });
});
