import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import { spawnServe, type ServeProcess } from "../helpers/cli.ts";
import { startFakeUpstream, type FakeUpstream } from "../helpers/fake-upstream.ts";
import { raw, STORIES, waitFor } from "../helpers/server.ts";

const ADMIN = "sk-admin-usage-journal-0123456789";
const LOCAL = "stories260K";
const UPSTREAM = "gpt-journal";
const REQUESTS = 200;

// Usage records are written to the database in batches about a second apart: these servers are killed
// with SIGKILL right after their last answers, before that write, and what they answered must still
// be counted (once) after a restart on the same data directory.
let upstream: FakeUpstream;
let dir: string;
before(async () => {
  upstream = await startFakeUpstream();
  upstream.script(() => ({ kind: "stream", text: "Hello from upstream", usage: { prompt_tokens: 7, completion_tokens: 4 } }));
  dir = mkdtempSync(join(tmpdir(), "modelport-usage-journal-"));
});
after(() => upstream.close());

/** `modelport serve` over `dataDir` with the local model and one upstream model. */
async function serve(dataDir: string, workers = 1): Promise<ServeProcess> {
  const config = join(dir, "config.yaml");
  // JSON is YAML.
  writeFileSync(
    config,
    JSON.stringify({
      upstreams: {
        deployments: [{ id: "fake", provider: "openai-compatible", baseUrl: upstream.url, model: "fake-model", timeoutMs: 10_000, endpoints: [] }],
        models: [{ name: UPSTREAM, deployments: ["fake"], pricing: { input: 1, output: 2 } }],
      },
    }),
  );
  return spawnServe(["-m", STORIES, "--models-dir", join(dir, "models"), "--config", config, "--workers", String(workers)], {
    MODELPORT_DATA_DIR: dataDir,
    MODELPORT_ADMIN_KEY: ADMIN,
    MODELPORT_LOG_LEVEL: "info",
  });
}

async function projectKey(server: ServeProcess, name: string): Promise<{ id: string; key: string }> {
  const admin = (path: string, body: unknown) => raw(server, path, { body: JSON.stringify(body), headers: { authorization: `Bearer ${ADMIN}` } });
  const project = (await admin("/v1/organization/projects", { name })).body as { id: string };
  const key = ((await admin(`/v1/organization/projects/${project.id}/api_keys`, { name })).body as { value: string }).value;
  return { id: project.id, key };
}

/**
 * Requests the usage API counts for a project today. A kept-alive connection to a killed worker is
 * reset on its next request: such a request is tried again (on a new connection).
 */
async function usageApiCount(server: ServeProcess, projectId: string): Promise<number> {
  const start = Math.floor(Date.now() / 1000) - 86_400;
  const get = () => raw(server, `/v1/organization/usage/completions?start_time=${start}&bucket_width=1d&project_ids[]=${projectId}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  const res = await get().catch(get).catch(get);
  assert.equal(res.status, 200, res.text);
  const page = res.body as { data: { results: { num_model_requests: number }[] }[] };
  return page.data.reduce((sum, b) => sum + b.results.reduce((s, r) => s + r.num_model_requests, 0), 0);
}

/**
 * `count` chat completions, 8 at a time: local and upstream, streamed and not, in turn. `onLast` runs
 * as soon as the last answer is in, before any other callback of this process.
 */
async function answerAll(server: ServeProcess, key: string, count: number, onLast: () => void): Promise<void> {
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < count) {
        const i = next++;
        const stream = i % 4 >= 2;
        const model = i % 2 === 0 ? LOCAL : UPSTREAM;
        const res = await fetch(`${server.url}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify({ model, messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 2, stream }),
        });
        const text = await res.text();
        if (++done === count) onLast();
        assert.equal(res.status, 200, text);
        if (stream) assert.match(text, /data: \[DONE\]/);
      }
    }),
  );
}

/** Usage rows in the SQLite database a killed server left (the database the restart opens). */
function rowsOnDisk(dataDir: string, projectId: string): number {
  const db = new DatabaseSync(join(dataDir, "modelport.db"), { readOnly: true });
  try {
    return Number((db.prepare("SELECT COUNT(*) AS n FROM usage_records WHERE project_id = ?").get(projectId) as { n: number }).n);
  } finally {
    db.close();
  }
}

/** Pids of a process's children (Linux). */
function childPids(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
}

describe("usage survives SIGKILL", () => {
  it("counts all 200 requests (streamed and not, local and upstream) after a kill right after the last answer, and no more", async (t) => {
    const dataDir = join(dir, "single");
    let server = await serve(dataDir);
    const { id, key } = await projectKey(server, "killed");
    await answerAll(server, key, REQUESTS, () => server.child.kill("SIGKILL"));
    await server.exited;
    const journal = readdirSync(join(dataDir, "usage-journal"));
    t.diagnostic(`in the database at the kill: ${rowsOnDisk(dataDir, id)} of ${REQUESTS}; journal files left: ${journal.length}`);

    server = await serve(dataDir);
    try {
      await waitFor(async () => (await usageApiCount(server, id)) >= REQUESTS, 30_000);
      assert.equal(await usageApiCount(server, id), REQUESTS);
      // Replayed once: another flush interval later, still no more.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await usageApiCount(server, id), REQUESTS);
      assert.deepEqual(readdirSync(join(dataDir, "usage-journal")), [], "the replayed journal is deleted");
    } finally {
      server.child.kill("SIGTERM");
      await server.exited;
    }
  });

  it("with --workers 2: a killed worker's records are written by its replacement, the live worker's journal is left to it", async (t) => {
    const dataDir = join(dir, "workers");
    const server = await serve(dataDir, 2);
    try {
      const { id, key } = await projectKey(server, "worker-killed");
      const workers = childPids(server.child.pid as number);
      assert.equal(workers.length, 2, `workers: ${workers.join(", ")}`);
      await answerAll(server, key, REQUESTS, () => process.kill(workers[0] as number, "SIGKILL"));
      t.diagnostic(`in the database at the kill: ${rowsOnDisk(dataDir, id)} of ${REQUESTS}`);
      // The primary starts a new worker, which replays the dead one's journal and none of the live one's.
      await waitFor(async () => (await usageApiCount(server, id)) >= REQUESTS, 60_000);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await usageApiCount(server, id), REQUESTS);
      const replayed = server.logs.filter((l) => l.msg === "usage journal replayed").map((l) => Number(l.records));
      t.diagnostic(`replayed by the new worker: ${replayed.join(", ") || "none"}`);
      assert.ok(replayed.length <= 1 && replayed.every((n) => n <= REQUESTS), `replays: ${JSON.stringify(replayed)}`);
      assert.ok(server.logs.every((l) => l.msg !== "usage flush failed; will retry"), "no worker inserted a record another had written");
    } finally {
      server.child.kill("SIGTERM");
      await server.exited;
    }
  });
});
