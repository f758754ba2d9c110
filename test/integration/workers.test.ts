import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import { spawnServe, type ServeProcess } from "../helpers/cli.ts";
import { raw, STORIES } from "../helpers/server.ts";

const ADMIN = "sk-admin-workers-0123456789";
const MODEL = "stories260K";

// `serve --workers 2` as a user runs it: the real CLI, one engine host and two HTTP workers sharing
// the port, SQLite in a fresh data directory.
let server: ServeProcess;
let dataDir: string;
before(async () => {
  const dir = mkdtempSync(join(tmpdir(), "modelport-workers-"));
  dataDir = join(dir, "data");
  server = await spawnServe(["-m", STORIES, "--models-dir", join(dir, "models"), "--workers", "2"], {
    MODELPORT_DATA_DIR: dataDir,
    MODELPORT_ADMIN_KEY: ADMIN,
    MODELPORT_LOG_LEVEL: "info",
  });
});
after(async () => {
  if (server.child.exitCode === null) {
    server.child.kill("SIGTERM");
    await server.exited;
  }
});

const admin = (path: string, body: unknown) => raw(server, path, { body: JSON.stringify(body), headers: { authorization: `Bearer ${ADMIN}` } });

async function projectKey(name: string, limit?: Record<string, number>): Promise<{ id: string; key: string }> {
  const project = (await admin("/v1/organization/projects", { name })).body as { id: string };
  if (limit !== undefined) assert.equal((await admin(`/v1/organization/projects/${project.id}/rate_limits/rl-${MODEL}`, limit)).status, 200);
  const key = ((await admin(`/v1/organization/projects/${project.id}/api_keys`, { name })).body as { value: string }).value;
  return { id: project.id, key };
}

const ask = (key: string) =>
  raw(server, "/v1/chat/completions", {
    body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 2 }),
    headers: { authorization: `Bearer ${key}` },
  });

/** Runs `count` calls of `task`, `concurrency` at a time. */
async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

/** Which worker logged each completed chat request. */
function workersServing(): Map<unknown, number> {
  const counts = new Map<unknown, number>();
  for (const line of server.logs) {
    if (line.msg === "request" && line.path === "/v1/chat/completions") counts.set(line.worker, (counts.get(line.worker) ?? 0) + 1);
  }
  return counts;
}

describe("serve --workers 2", () => {
  it("serves through both workers from one copy of the model", async () => {
    const { key } = await projectKey("spread");
    const answers = await pool(40, 8, () => ask(key));
    assert.ok(answers.every((a) => a.status === 200));
    const serving = workersServing();
    assert.deepEqual([...serving.keys()].sort(), [1, 2], `requests per worker: ${JSON.stringify([...serving])}`);
    assert.equal(server.logs.filter((l) => l.msg === "model loaded").length, 1, "the model is loaded once, by the engine host");
  });

  it("shares rate limits across workers exactly", async () => {
    const { key } = await projectKey("limited", { max_requests_per_1_minute: 30 });
    const answers = await pool(50, 10, () => ask(key));
    const statuses = answers.map((a) => a.status);
    assert.equal(statuses.filter((s) => s === 200).length, 30, `statuses: ${statuses.join(",")}`);
    assert.equal(statuses.filter((s) => s === 429).length, 20);
  });

  it("meters 500 requests exactly once", async () => {
    const { id, key } = await projectKey("metered");
    const answers = await pool(500, 16, () => ask(key));
    assert.ok(answers.every((a) => a.status === 200), `statuses: ${[...new Set(answers.map((a) => a.status))].join(",")}`);
    const tokens = answers.reduce((sum, a) => sum + (a.body as { usage: { completion_tokens: number } }).usage.completion_tokens, 0);
    // Stopping drains every worker and flushes its metering.
    server.child.kill("SIGTERM");
    assert.equal(await server.exited, 0);
    const db = new DatabaseSync(join(dataDir, "modelport.db"), { readOnly: true });
    const row = db.prepare("SELECT COUNT(*) AS n, SUM(output_tokens) AS tokens FROM usage_records WHERE project_id = ? AND endpoint = '/v1/chat/completions'").get(id) as { n: number; tokens: number };
    db.close();
    assert.equal(row.n, 500);
    assert.equal(row.tokens, tokens);
  });
});
