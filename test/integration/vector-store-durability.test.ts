import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import OpenAI, { toFile } from "openai";
import pg from "pg";
import { chunkText } from "../../src/retrieval/chunker.ts";
import { extractText } from "../../src/retrieval/extract-text.ts";
import { spawnServe, type ServeProcess } from "../helpers/cli.ts";
import { freshPostgres } from "../helpers/databases.ts";
import { STORIES } from "../helpers/server.ts";
import { random } from "../helpers/random.ts";

const KEY = "sk-vector-store-durability-key";
/**
 * Sized so indexing all files takes several seconds with the tiny model on a small machine: about 90 ms per
 * 100-token chunk on two cores (an 800-token `auto` chunk takes about a second, too slow for 20 files here).
 */
const WORDS_PER_FILE = 500;
const CHUNKING = { maxTokens: 100, overlapTokens: 50 };
const RELEASED = "vector store files returned to the indexing queue after a restart";
const INDEXED = "vector store file indexed";


const VOCABULARY = (
  "the a river stone lantern garden mountain quiet morning harbour ship sail wind rain cloud forest path " +
  "village market baker bread cheese window door table chair letter ink paper story child old new bright " +
  "dark warm cold summer winter autumn spring bridge tower bell clock road wheel horse field barn apple " +
  "orchard honey candle fire smoke kettle tea cup song dance night star moon sun shadow light and of to in " +
  "with under over near far beside through walked found carried opened closed watched remembered listened"
).split(" ");

/** The unique word planted at the end of file `i` (a letter code, so no two files share a stem). */
const marker = (i: number): string => `zorblat${String.fromCharCode(97 + i)}quexified`;

/** File `i`: a few hundred plain words in sentences, and its unique marker at the end. */
function document(i: number): string {
  const next = random(1_000 + i);
  const sentences: string[] = [];
  let words = 0;
  while (words < WORDS_PER_FILE) {
    const length = 8 + Math.floor(next() * 12);
    const sentence = Array.from({ length }, () => VOCABULARY[Math.floor(next() * VOCABULARY.length)] as string);
    sentences.push(`${sentence.join(" ")}.`);
    words += length;
  }
  sentences.push(`At last the keeper wrote the word ${marker(i)} in the ledger.`);
  return `Document ${i}\n\n${sentences.join(" ")}\n`;
}

type Counts = OpenAI.VectorStores.VectorStore["file_counts"];
type Row = Record<string, unknown>;

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what} not reached in ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Reads the server's database directly, outside the server: `?` placeholders on both backends. */
interface Inspector {
  all(sql: string, params: readonly string[]): Promise<Row[]>;
  close(): Promise<void>;
}

function sqliteInspector(dataDir: string): Inspector {
  const db = new DatabaseSync(join(dataDir, "modelport.db"), { readOnly: true });
  return {
    all: async (sql, params) => db.prepare(sql).all(...params) as Row[],
    close: async () => db.close(),
  };
}

async function postgresInspector(url: string): Promise<Inspector> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    all: async (sql, params) => {
      let n = 0;
      return (await client.query(sql.replace(/\?/g, () => `$${++n}`), [...params])).rows as Row[];
    },
    close: () => client.end(),
  };
}

interface Scenario {
  /** Server settings: data directory and database. */
  env: Record<string, string>;
  files: number;
  /** How the first server stops mid-indexing. */
  signal: "SIGKILL" | "SIGTERM";
  inspect(): Promise<Inspector>;
  /** Whether the restart reports returning a dead process's claims (SQLite, the sole process). */
  releasesOnStart: boolean;
}

/**
 * Uploads the files, attaches them in one file batch, stops the server with `signal` once one file is
 * indexed and several are not, restarts it on the same data, waits for indexing to finish, and checks
 * the API, the logs and the stored chunks.
 */
async function survive(s: Scenario): Promise<void> {
  const args = ["-m", STORIES];
  const env = { MODELPORT_API_KEYS: KEY, MODELPORT_LOG_LEVEL: "info", ...s.env };
  const texts = Array.from({ length: s.files }, (_, i) => document(i));
  const names = texts.map((_, i) => `doc-${String(i).padStart(2, "0")}.txt`);
  const fileIds: string[] = [];
  let storeId = "";
  let batchId = "";
  const started = performance.now();

  let serve: ServeProcess = await spawnServe(args, env);
  try {
    const client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: KEY, maxRetries: 0 });
    for (const [i, text] of texts.entries()) {
      const file = await client.files.create({ file: await toFile(Buffer.from(text), names[i]), purpose: "assistants" });
      fileIds.push(file.id);
    }
    storeId = (await client.vectorStores.create({ name: "durability" })).id;
    const batch = await client.vectorStores.fileBatches.create(storeId, {
      file_ids: fileIds,
      chunking_strategy: { type: "static", static: { max_chunk_size_tokens: CHUNKING.maxTokens, chunk_overlap_tokens: CHUNKING.overlapTokens } },
    });
    batchId = batch.id;
    assert.equal(batch.file_counts.total, s.files);
    const before = await until(async () => (await client.vectorStores.retrieve(storeId)).file_counts, (c: Counts) => c.completed >= 1, 30_000, "first file completed");
    assert.equal(before.failed, 0, JSON.stringify(before));
    assert.ok(before.in_progress >= 5, `stopped with several files still in progress: ${JSON.stringify(before)}`);
    // Into the next file (claimed a few ms after the last one finished), so the stop interrupts its indexing.
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    serve.child.kill(s.signal);
    await serve.exited;
  }
  const stoppedAt = performance.now();
  if (s.signal === "SIGTERM") {
    assert.equal(await serve.exited, 0, "a graceful stop");
    assert.ok(serve.logs.some((l) => l.msg === "stopped"));
  }

  // What the first process left: some files completed, the rest waiting; a killed process still holds the
  // one it was indexing (concurrency 1), a stopped one gave it back.
  let completedAtStop = 0;
  let claimedAtStop = 0;
  const atStop = await s.inspect();
  try {
    const rows = await atStop.all("SELECT status, claim FROM vector_store_files WHERE vector_store_id = ?", [storeId]);
    assert.equal(rows.length, s.files);
    completedAtStop = rows.filter((r) => r.status === "completed").length;
    claimedAtStop = rows.filter((r) => r.claim !== null).length;
    assert.ok(completedAtStop >= 1 && completedAtStop <= s.files - 5, `completed at the stop: ${completedAtStop}`);
    assert.ok(rows.every((r) => r.status === "completed" || r.status === "in_progress"), JSON.stringify(rows));
    // Concurrency 1: at most one claim; a graceful stop returns it (a kill landing between two files leaves none).
    assert.ok(claimedAtStop <= (s.signal === "SIGKILL" ? 1 : 0), `claims held at the stop: ${claimedAtStop}`);
  } finally {
    await atStop.close();
  }

  serve = await spawnServe(args, env);
  try {
    const restarted = serve;
    // A dead process's claim goes back to the queue at once, not after its lease (logged before "listening").
    const released = restarted.logs.find((l) => l.msg === RELEASED);
    if (s.releasesOnStart && claimedAtStop > 0) assert.equal(Number(released?.count), claimedAtStop, JSON.stringify(released));
    else assert.equal(released, undefined);
    const client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: KEY, maxRetries: 0 });
    const counts = await until(async () => (await client.vectorStores.retrieve(storeId)).file_counts, (c: Counts) => c.in_progress === 0, 45_000, "indexing finished");
    assert.deepEqual(counts, { in_progress: 0, completed: s.files, failed: 0, cancelled: 0, total: s.files });
    const batch = await client.vectorStores.fileBatches.retrieve(batchId, { vector_store_id: storeId });
    assert.equal(batch.status, "completed");
    assert.deepEqual(batch.file_counts, counts);
    assert.equal((await client.vectorStores.retrieve(storeId)).status, "completed");
    // Files completed before the stop are not indexed again; the others are indexed once each.
    const indexedAgain = serve.logs.filter((l) => l.msg === INDEXED).map((l) => String(l.file));
    assert.equal(indexedAgain.length, s.files - completedAtStop);
    assert.equal(new Set(indexedAgain).size, indexedAgain.length);

    // The last file queued (indexed by the second process) is found by its unique word.
    const late = s.files - 1;
    const hits = (await client.vectorStores.search(storeId, { query: marker(late), max_num_results: 3 })).data;
    assert.equal(hits[0]?.file_id, fileIds[late], JSON.stringify(hits.map((h) => h.filename)));
    assert.match(hits[0]?.content.map((c) => c.text).join("") ?? "", new RegExp(marker(late)));
  } finally {
    serve.child.kill("SIGTERM");
    await serve.exited;
  }
  const finishedAt = performance.now();

  // The database itself: each file's chunks are exactly what chunking its text gives, indexes 0..n-1 once each.
  const db = await s.inspect();
  try {
    const files = await db.all("SELECT file_id, status, claim, content FROM vector_store_files WHERE vector_store_id = ?", [storeId]);
    assert.equal(files.length, s.files, "no file lost or duplicated");
    const rows = await db.all("SELECT file_id, chunk_index, text, tokens, embedding FROM vector_store_chunks WHERE vector_store_id = ? ORDER BY file_id, chunk_index", [storeId]);
    const embeddingBytes = new Set(rows.map((r) => (r.embedding as Uint8Array).byteLength));
    assert.equal(embeddingBytes.size, 1, "every chunk has an embedding of the model's size");
    assert.ok([...embeddingBytes][0] as number > 0);
    for (const [i, fileId] of fileIds.entries()) {
      const file = files.find((f) => f.file_id === fileId);
      assert.ok(file !== undefined, `file ${i} attached`);
      assert.equal(file.status, "completed");
      assert.equal(file.claim, null, "no claim left behind");
      const text = await extractText(Buffer.from(texts[i] as string), names[i] as string);
      assert.equal(file.content, text);
      const expected = chunkText(text, CHUNKING);
      assert.ok(expected.length >= 5, `file ${i} has several chunks (${expected.length})`);
      const stored = rows.filter((r) => r.file_id === fileId);
      assert.deepEqual(
        stored.map((r) => Number(r.chunk_index)),
        expected.map((_, k) => k),
        `file ${i}: chunk indexes 0..${expected.length - 1}, each once`,
      );
      assert.deepEqual(
        stored.map((r) => ({ text: r.text, tokens: Number(r.tokens) })),
        expected.map((c) => ({ text: c.text, tokens: c.tokens })),
        `file ${i}: chunks as chunking gives them`,
      );
    }
    const [orphans] = await db.all(
      "SELECT COUNT(*) AS n FROM vector_store_chunks c WHERE c.vector_store_id = ? AND NOT EXISTS (SELECT 1 FROM vector_store_files f WHERE f.vector_store_id = c.vector_store_id AND f.file_id = c.file_id)",
      [storeId],
    );
    assert.equal(Number(orphans?.n), 0, "no chunks of unattached files");
  } finally {
    await db.close();
  }
  console.log(`# ${s.signal}: stopped after ${((stoppedAt - started) / 1000).toFixed(1)} s (${completedAtStop}/${s.files} indexed, ${claimedAtStop} claimed); done ${((finishedAt - stoppedAt) / 1000).toFixed(1)} s later`);
}

describe("Vector store indexing survives a crash", () => {
  it("SQLite: resumes after SIGKILL mid-indexing; every file completed once, chunks without gaps or duplicates", async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), "modelport-vs-kill-")), "data");
    await survive({ env: { MODELPORT_DATA_DIR: dataDir }, files: 12, signal: "SIGKILL", releasesOnStart: true, inspect: async () => sqliteInspector(dataDir) });
  });

  // On PostgreSQL a killed process's claims come back only when their lease runs out (another process may
  // still hold them; three-replicas.test.ts waits that out for a batch); a graceful stop gives them back at once.
  it("PostgreSQL: resumes after a graceful stop mid-indexing, without waiting for a lease", async () => {
    const db = await freshPostgres();
    try {
      const dataDir = join(mkdtempSync(join(tmpdir(), "modelport-vs-stop-")), "data");
      await survive({ env: { MODELPORT_DATA_DIR: dataDir, MODELPORT_DATABASE_URL: db.url }, files: 8, signal: "SIGTERM", releasesOnStart: false, inspect: () => postgresInspector(db.url) });
    } finally {
      await db.drop();
    }
  });
});
