import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import OpenAI, { toFile } from "openai";
import pg from "pg";
import { copyBlobs } from "../../src/storage/copy-blobs.ts";
import { migrateSqliteToPostgres, type MigrationReport } from "../../src/storage/copy-database.ts";
import { LocalBlobStore } from "../../src/storage/local-blob-store.ts";
import { MIGRATIONS } from "../../src/storage/migrations.ts";
import { backupSqlite } from "../../src/storage/sqlite-backup.ts";
import { CLI, runCli } from "../helpers/cli.ts";
import { freshPostgres } from "../helpers/databases.ts";
import { startS3Server } from "../helpers/s3-server.ts";
import { raw, startTestServer, waitFor, type TestServer } from "../helpers/server.ts";

const ADMIN = "sk-admin-migrate-0123456789abcdef";

/** What the populated installation holds, by id. */
interface Ids {
  projectId: string;
  keyId: string;
  keyValue: string;
  fileId: string;
  secondFileId: string;
  batchId: string;
  batchOutputId: string;
  conversationId: string;
  responseIds: string[];
  chatId: string;
  vectorStoreId: string;
  fileBatchId: string;
  /** Unix seconds before anything was made; usage queries use a fixed window from it. */
  start: number;
}

/**
 * Every table the populated installation must have rows in: all but containers' (they need the
 * code interpreter) and batch_requests (a batch's lines are deleted once it completes).
 */
const POPULATED = [
  "access_version", "api_keys", "batches", "chat_completions", "conversation_items", "conversations", "files", "guardrail_policies",
  "projects", "rate_limits", "request_log", "responses", "upload_parts", "uploads", "usage_records", "vector_store_chunks", "vector_store_file_batches",
  "vector_store_files", "vector_stores",
];

async function populate(server: TestServer): Promise<Ids> {
  const start = Math.floor(Date.now() / 1000);
  const admin = (path: string, body?: unknown) => raw(server, path, { ...(body !== undefined ? { body: JSON.stringify(body) } : {}), headers: { authorization: `Bearer ${ADMIN}` } });
  const project = (await admin("/v1/organization/projects", { name: "Migrated team", monthly_budget_usd: 12.5, tier: "tier-2" })).body as { id: string };
  const key = (await admin(`/v1/organization/projects/${project.id}/api_keys`, { name: "migrated key" })).body as { id: string; value: string };
  assert.equal((await admin(`/v1/organization/projects/${project.id}/rate_limits/rl-stories`, { max_requests_per_1_minute: 120 })).status, 200);
  const guard = await admin(`/v1/organization/projects/${project.id}/guardrails`, { input: [{ type: "banned", name: "no-xylophone", action: "block", words: ["xylophone"] }] });
  assert.equal(guard.status, 200, guard.text);
  const client = new OpenAI({ baseURL: server.baseURL, apiKey: key.value, maxRetries: 0 });

  const chat = await client.chat.completions.create({ model: "stories", messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 8, seed: 1, store: true, metadata: { run: "migrate" } });
  await client.chat.completions.create({ model: "stories", messages: [{ role: "user", content: "A cat" }], max_tokens: 4 });
  const file = await client.files.create({ file: await toFile(Buffer.from("Volcanoes form where magma rises through the crust; basalt lava flows from shield volcanoes."), "volcanoes.txt"), purpose: "assistants" });
  const second = await client.files.create({ file: await toFile(Buffer.from("# Sourdough\n\nFeed the starter, fold the dough, bake the loaf in a hot oven."), "bread.md"), purpose: "assistants" });
  const lines = [0, 1].map((i) => JSON.stringify({ custom_id: `req-${i}`, method: "POST", url: "/v1/chat/completions", body: { model: "stories", messages: [{ role: "user", content: `Story ${i}` }], max_tokens: 4 } }));
  const input = await client.files.create({ file: await toFile(Buffer.from(`${lines.join("\n")}\n`), "input.jsonl"), purpose: "batch" });
  let batch = await client.batches.create({ input_file_id: input.id, endpoint: "/v1/chat/completions", completion_window: "24h", metadata: { run: "migrate" } });
  await waitFor(async () => ["completed", "failed"].includes((batch = await client.batches.retrieve(batch.id)).status), 120_000);
  assert.equal(batch.status, "completed");

  const conversation = await client.conversations.create({ metadata: { topic: "migration" } });
  const first = await client.responses.create({ model: "stories", input: "Tell me a story", max_output_tokens: 16, conversation: conversation.id });
  const followUp = await client.responses.create({ model: "stories", input: "Go on", max_output_tokens: 16, previous_response_id: first.id, store: true });

  const store = await client.vectorStores.create({ name: "Handbook", file_ids: [file.id], metadata: { team: "docs" } });
  const fileBatch = await client.vectorStores.fileBatches.create(store.id, { file_ids: [second.id] });
  await waitFor(async () => (await client.vectorStores.retrieve(store.id)).file_counts.completed === 2, 60_000);

  // A pending upload with one part: the part's bytes are a reference migrate checks.
  const upload = await client.uploads.create({ bytes: 10, filename: "pending.txt", mime_type: "text/plain", purpose: "assistants" });
  await client.uploads.parts.create(upload.id, { data: await toFile(Buffer.from("hello"), "part") });

  return {
    projectId: project.id,
    keyId: key.id,
    keyValue: key.value,
    fileId: file.id,
    secondFileId: second.id,
    batchId: batch.id,
    batchOutputId: batch.output_file_id ?? "",
    conversationId: conversation.id,
    responseIds: [first.id, followUp.id],
    chatId: chat.id,
    vectorStoreId: store.id,
    fileBatchId: fileBatch.id,
    start,
  };
}

/**
 * Every retrieve the populated data answers, as status and exact body text, in a fixed order. The
 * request log comes first (later requests add to it) and key lists before the project key is used
 * (its first use in a process records last_used_at); the search comes last (it records the store's
 * last_active_at). So each server answers from the state the migration left, and nothing is ignored.
 */
async function retrieveAll(server: TestServer, ids: Ids): Promise<Map<string, { status: number; text: string }>> {
  const out = new Map<string, { status: number; text: string }>();
  const get = async (path: string, key: string, body?: unknown) => {
    const res = await raw(server, path, { ...(body !== undefined ? { body: JSON.stringify(body) } : {}), headers: { authorization: `Bearer ${key}` } });
    out.set(`${body !== undefined ? "POST" : "GET"} ${path}`, { status: res.status, text: res.text });
  };
  const p = ids.projectId;
  const vs = `/v1/vector_stores/${ids.vectorStoreId}`;
  const window = `start_time=${ids.start - 86_400}&end_time=${ids.start + 2 * 86_400}`;
  for (const path of [
    `/v1/organization/requests?project_id=${p}&limit=100`,
    `/v1/organization/projects/${p}/api_keys`,
    `/v1/organization/projects/${p}/api_keys/${ids.keyId}`,
    "/v1/organization/projects?include_archived=true",
    `/v1/organization/projects/${p}`,
    `/v1/organization/projects/${p}/rate_limits`,
    `/v1/organization/projects/${p}/guardrails`,
    `/v1/organization/usage/completions?${window}&group_by[]=project_id&group_by[]=model&group_by[]=api_key_id&group_by[]=batch`,
    `/v1/organization/costs?${window}&group_by[]=project_id&group_by[]=line_item`,
  ]) {
    await get(path, ADMIN);
  }
  const k = ids.keyValue;
  for (const path of [
    "/v1/files?limit=100",
    `/v1/files/${ids.fileId}`,
    `/v1/files/${ids.fileId}/content`,
    `/v1/files/${ids.secondFileId}/content`,
    "/v1/batches",
    `/v1/batches/${ids.batchId}`,
    `/v1/files/${ids.batchOutputId}`,
    `/v1/files/${ids.batchOutputId}/content`,
    ...ids.responseIds.flatMap((id) => [`/v1/responses/${id}`, `/v1/responses/${id}/input_items`]),
    `/v1/conversations/${ids.conversationId}`,
    `/v1/conversations/${ids.conversationId}/items`,
    "/v1/chat/completions?limit=100",
    `/v1/chat/completions/${ids.chatId}`,
    `/v1/chat/completions/${ids.chatId}/messages`,
    "/v1/vector_stores",
    vs,
    `${vs}/files`,
    `${vs}/files/${ids.fileId}`,
    `${vs}/files/${ids.secondFileId}/content`,
    `${vs}/file_batches/${ids.fileBatchId}`,
    `${vs}/file_batches/${ids.fileBatchId}/files`,
  ]) {
    await get(path, k);
  }
  // The embeddings (BYTEA) are used here: equal scores mean equal vectors.
  await get(`${vs}/search`, k, { query: "lava from volcanoes", max_num_results: 5 });
  return out;
}

/** Row counts of every table in a PostgreSQL database but the migrations table. */
async function pgCounts(url: string): Promise<Map<string, number>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const tables = (await c.query<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'schema_migrations'")).rows.map((r) => r.t);
    const counts = new Map<string, number>();
    for (const t of tables) counts.set(t, Number((await c.query<{ n: string }>(`SELECT COUNT(*) AS n FROM "${t}"`)).rows[0]?.n));
    return counts;
  } finally {
    await c.end();
  }
}

async function pgQuery(url: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

const migrate = async (args: string[]) => {
  const res = await runCli(["migrate", ...args, "--json"], {}, 180_000);
  return { ...res, report: res.code === 0 || res.stdout.startsWith("{") ? (JSON.parse(res.stdout) as MigrationReport) : undefined };
};

describe("modelport migrate: SQLite to PostgreSQL", () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), "modelport-migrate-")), "data");
  const sqlite = join(dataDir, "modelport.db");
  const env = { MODELPORT_DATA_DIR: dataDir, MODELPORT_ADMIN_KEY: ADMIN };
  const drops: (() => Promise<void>)[] = [];
  const database = async () => {
    const db = await freshPostgres();
    drops.push(db.drop);
    return db.url;
  };
  let ids: Ids;

  before(async () => {
    const server = await startTestServer({ env });
    try {
      ids = await populate(server);
    } finally {
      await server.close();
    }
  });
  after(async () => {
    for (const drop of drops) await drop();
  });

  it("copies every table and verifies it; the server on PostgreSQL answers every retrieve as it did on SQLite; a second run changes nothing", async () => {
    const url = await database();
    const first = await migrate(["--from", `sqlite:${sqlite}`, "--to", url]);
    assert.equal(first.code, 0, first.stderr);
    const report = first.report as MigrationReport;
    const source = new DatabaseSync(sqlite, { readOnly: true });
    const sourceTables = source.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'schema_migrations' ORDER BY name").all().map((r) => String(r.name));
    const blobs = Number(source.prepare("SELECT (SELECT COUNT(*) FROM files) + (SELECT COUNT(*) FROM upload_parts) AS n").get()?.n);
    source.close();
    assert.deepEqual(report.tables.map((t) => t.table).sort(), sourceTables, "every table, found without being named");
    for (const t of report.tables) assert.ok(t.ok && t.sourceRows === t.targetRows && t.sourceSha256 === t.targetSha256, JSON.stringify(t));
    for (const name of POPULATED) assert.ok((report.tables.find((t) => t.table === name)?.sourceRows ?? 0) > 0, `${name} has rows to copy`);
    assert.ok(blobs >= 5, "two documents, the batch's input and output, one upload part");
    assert.equal(report.blobsChecked, blobs);
    assert.deepEqual(report.missingBlobs, []);
    assert.match(first.stderr, /copy projects: \d+\/\d+ rows/);
    assert.match(first.stderr, /verify vector_store_chunks/);

    // The second run, in the table format: nothing inserted or updated, the same checksums.
    const again = await runCli(["migrate", "--from", `sqlite:${dataDir}`, "--to", url], {}, 180_000);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^table +source +target +inserted +updated +sha256 +result$/m);
    for (const t of report.tables) {
      assert.match(again.stdout, new RegExp(`^${t.table} +${t.sourceRows} +${t.targetRows} +0 +0 +${t.targetSha256.slice(0, 12)} +ok$`, "m"), `${t.table} unchanged`);
    }
    assert.match(again.stdout, /PostgreSQL holds exactly the SQLite database's rows/);

    // Both servers start from the state the migration copied: SQLite's first, then PostgreSQL's.
    const onSqlite = await startTestServer({ env }).then(async (s) => {
      try {
        return await retrieveAll(s, ids);
      } finally {
        await s.close();
      }
    });
    for (const [path, res] of onSqlite) assert.equal(res.status, 200, `${path} on SQLite: ${res.text}`);
    const onPostgres = await startTestServer({ env: { ...env, MODELPORT_DATABASE_URL: url } }).then(async (s) => {
      try {
        return await retrieveAll(s, ids);
      } finally {
        await s.close();
      }
    });
    assert.deepEqual([...onPostgres.keys()], [...onSqlite.keys()]);
    for (const [path, res] of onSqlite) assert.equal(onPostgres.get(path)?.text, res.text, path);
    assert.ok(onSqlite.get(`GET /v1/organization/requests?project_id=${ids.projectId}&limit=100`)?.text.includes(ids.keyId), "the request log has the population's requests");
    assert.match(onSqlite.get(`POST /v1/vector_stores/${ids.vectorStoreId}/search`)?.text ?? "", /"score"/);
    assert.match([...onSqlite].find(([path]) => path.includes("/usage/completions"))?.[1].text ?? "", /"num_model_requests":[1-9]/);
  });

  it("finishes an interrupted copy when run again, without duplicating a row; corrects rows that differ and reports rows it cannot; checks file bytes in the configured blob store (local or S3)", async () => {
    const url = await database();
    let batches = 0;
    await assert.rejects(
      migrateSqliteToPostgres({
        sqliteFile: sqlite,
        postgresUrl: url,
        dataDir,
        batchSize: 2,
        onProgress: (e) => {
          if (e.phase === "copy" && ++batches === 5) throw new Error("interrupted");
        },
      }),
      /interrupted/,
    );
    const partial = [...(await pgCounts(url)).values()].reduce((a, b) => a + b, 0);
    const rerun = await migrate(["--from", `sqlite:${sqlite}`, "--to", url, "--batch-size", "3"]);
    assert.equal(rerun.code, 0, rerun.stderr);
    const tables = rerun.report?.tables ?? [];
    const total = tables.reduce((n, t) => n + t.sourceRows, 0);
    const inserted = tables.reduce((n, t) => n + t.inserted, 0);
    // access_version's seeded row counts in `partial` and was updated, not inserted, by the first run.
    assert.ok(partial > 1 && partial < total, `the first run stopped part way (${partial} of ${total} rows)`);
    assert.equal(inserted, total - partial, "the rerun inserted exactly the rows the first run had not");
    assert.ok(tables.every((t) => t.ok));

    // A row changed in PostgreSQL is put back.
    await pgQuery(url, `UPDATE files SET filename = 'tampered.txt' WHERE id = '${ids.fileId}'`);
    const fixed = await migrate(["--from", `sqlite:${sqlite}`, "--to", url]);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.equal(fixed.report?.tables.find((t) => t.table === "files")?.updated, 1);
    // A row only PostgreSQL has is reported, and so are file bytes missing from the data directory given.
    // A row PostgreSQL has under another key, clashing on a unique column, stops the copy with why.
    await pgQuery(url, `UPDATE api_keys SET id = 'key_clash' WHERE id = '${ids.keyId}'`);
    const clash = await runCli(["migrate", "--from", `sqlite:${sqlite}`, "--to", url], {}, 180_000);
    assert.equal(clash.code, 1);
    assert.match(clash.stderr, /Table 'api_keys': duplicate key value violates unique constraint .*clashes with the SQLite database's.*Migrate into an empty database/);
    await pgQuery(url, `UPDATE api_keys SET id = '${ids.keyId}' WHERE id = 'key_clash'`);
    await pgQuery(url, "INSERT INTO projects (id, name, created_at) VALUES ('proj_extra', 'Only in PostgreSQL', 0)");
    const empty = mkdtempSync(join(tmpdir(), "modelport-empty-"));
    const extra = await runCli(["migrate", "--from", `sqlite:${sqlite}`, "--to", url, "--data-dir", empty], {}, 180_000);
    assert.equal(extra.code, 1, extra.stderr);
    assert.match(extra.stdout, /^projects +(\d+) +\d+ +0 +0 +[0-9a-f]{12} +MISMATCH$/m);
    assert.match(extra.stdout, /PostgreSQL has rows the SQLite database lacks/);
    assert.match(extra.stderr, new RegExp(`missing: files ${ids.fileId}: .*absent, expected \\d+`));
    assert.match(extra.stdout, new RegExp(`Checked (\\d+) file\\(s\\) under ${empty}: \\1 missing or of the wrong size`));

    // With blobs.backend s3 the bytes are looked for in the bucket: missing there until copied with copyBlobs.
    const s3 = await startS3Server();
    try {
      const prefix = "migrated/";
      const inBucket = async () => (await runCli(["migrate", "--from", `sqlite:${sqlite}`, "--to", url], s3.env(prefix), 180_000)).stdout;
      const counted = /Checked (\d+) file\(s\) in s3:\/\/modelport-test\/migrated\/: (.*)\./.exec(await inBucket());
      assert.ok(counted !== null && Number(counted[1]) > 0, "the files were looked for in the bucket");
      assert.equal(counted[2], `${counted[1]} missing or of the wrong size`);
      const copied = await copyBlobs(new LocalBlobStore(dirname(sqlite)), s3.store(prefix));
      assert.ok(copied.copied >= Number(counted[1]), `copied ${copied.copied}`);
      assert.match(await inBucket(), /Checked \d+ file\(s\) in s3:\/\/modelport-test\/migrated\/: all present\./);
    } finally {
      await s3.close();
    }
  });

  it("carries on after being killed mid-copy", async () => {
    const url = await database();
    const child = spawn(process.execPath, [CLI, "migrate", "--from", `sqlite:${sqlite}`, "--to", url, "--batch-size", "1"], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    const killed = new Promise<void>((resolve) => child.on("close", () => resolve()));
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (/copy (api_keys|batch_requests)/.test(stderr)) child.kill("SIGKILL");
    });
    await killed;
    assert.equal(child.signalCode, "SIGKILL", "killed, not finished");
    const partial = [...(await pgCounts(url)).values()].reduce((a, b) => a + b, 0);
    const rerun = await migrate(["--from", `sqlite:${sqlite}`, "--to", url]);
    assert.equal(rerun.code, 0, rerun.stderr);
    const tables = rerun.report?.tables ?? [];
    assert.ok(tables.every((t) => t.ok));
    const total = tables.reduce((n, t) => n + t.sourceRows, 0);
    assert.ok(partial < total, `killed part way (${partial} of ${total} rows)`);
    assert.equal(tables.reduce((n, t) => n + t.inserted, 0), total - partial, "a transaction cut short left nothing half-written");
  });

  it("refuses when the schema versions differ, saying which is older, before touching PostgreSQL", async () => {
    const latest = Math.max(...MIGRATIONS.map((m) => m.version));
    const old = join(mkdtempSync(join(tmpdir(), "modelport-old-")), "old.db");
    await backupSqlite(sqlite, old);
    const db = new DatabaseSync(old);
    db.exec(`DELETE FROM schema_migrations WHERE version = ${latest}`);
    db.close();
    const url = await database();
    const res = await runCli(["migrate", "--from", `sqlite:${old}`, "--to", url], {}, 60_000);
    assert.equal(res.code, 1);
    const [, older, current] = /the SQLite database is at version (\d+), this modelport at (\d+)\./.exec(res.stderr) ?? [];
    assert.ok(Number(older) < Number(current), res.stderr);
    assert.match(res.stderr, /start the server on it once with this version/);
    assert.equal((await pgCounts(url)).size, 0, "PostgreSQL untouched");

    await pgQuery(url, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL); INSERT INTO schema_migrations SELECT v, 0 FROM generate_series(1, ${latest}) v; INSERT INTO schema_migrations VALUES (${latest + 1}, 0)`);
    const newer = await runCli(["migrate", "--from", `sqlite:${sqlite}`, "--to", url], {}, 60_000);
    assert.equal(newer.code, 1);
    assert.match(newer.stderr, new RegExp(`the PostgreSQL database at ${latest + 1}`));
  });

  it("documents itself", async () => {
    const [help, bad, top] = await Promise.all([runCli(["migrate", "--help"]), runCli(["migrate", "--to", "mysql://x"]), runCli(["--help"])]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: modelport migrate --to postgres:\/\//);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--to must be a PostgreSQL URL/);
    assert.match(top.stdout, /migrate +Copy a SQLite installation's database into PostgreSQL/);
  });
});
