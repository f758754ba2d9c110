import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sortableId } from "../../src/core/ids.ts";
import { createLogger } from "../../src/logging/logger.ts";
import { UsageMeter, type MeteredRequest } from "../../src/services/usage-meter.ts";
import { openStorage } from "../../src/storage/open.ts";
import type { Storage, UsageRecord } from "../../src/storage/storage.ts";
import { UsageJournal } from "../../src/storage/usage-journal.ts";
import { freshPostgres } from "../helpers/databases.ts";

const logger = createLogger("silent");
const request: MeteredRequest = {
  principal: { projectId: "proj_journal", keyId: "key_1", admin: false, models: null },
  model: "m",
  endpoint: "/v1/chat/completions",
  usage: { promptTokens: 1000, completionTokens: 10, cachedTokens: 0, reasoningTokens: 0 },
  latencyMs: 1,
  status: 200,
  batch: false,
  pricing: { input: 1, cachedInput: 0.5, output: 2 },
};

/** A record as a meter makes it, $0.001 each. */
function usageRecord(): UsageRecord {
  return {
    id: `usage_${sortableId(24)}`, createdAt: Math.floor(Date.now() / 1000), projectId: "proj_journal", keyId: "key_1", model: "m", endpoint: "/v1/chat/completions",
    inputTokens: 1000, cachedTokens: 0, outputTokens: 0, reasoningTokens: 0, inputAudioTokens: 0, outputAudioTokens: 0, audioSeconds: 0, characters: 0,
    images: 0, imageSize: null, latencyMs: 1, status: 200, costUsd: 0.001, batch: false,
  };
}

/** A process id no process has now: a child that has exited. */
const deadPid = (): number => spawnSync(process.execPath, ["-e", ""]).pid as number;

let root: string;
let storage: Storage;
let postgres: { storage: Storage; drop(): Promise<void> };
before(async () => {
  root = mkdtempSync(join(tmpdir(), "modelport-usage-journal-"));
  storage = await openStorage({ databaseUrl: undefined, dataDir: join(root, "data") });
  const db = await freshPostgres();
  postgres = { storage: await openStorage({ databaseUrl: db.url, dataDir: join(root, "data") }), drop: db.drop };
});
after(async () => {
  await storage.close();
  await postgres.storage.close();
  await postgres.drop();
  rmSync(root, { recursive: true, force: true });
});

async function counted(storage: Storage): Promise<{ records: number; ids: number }> {
  const [row] = await storage.db.all("SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS ids FROM usage_records WHERE project_id = 'proj_journal'");
  return { records: Number(row?.n), ids: Number(row?.ids) };
}

describe("usage journal", () => {
  it("has each record on disk when record() returns, and deletes it once the database has it", async () => {
    await storage.db.run("DELETE FROM usage_records");
    const dir = join(root, "live");
    const meter = new UsageMeter(storage, logger, { intervalMs: 60_000, journal: new UsageJournal(dir) });
    const ids = [meter.record(request).id, meter.record(request).id];
    const files = readdirSync(dir);
    assert.equal(files.length, 1);
    const lines = readFileSync(join(dir, files[0] as string), "utf8").trim().split("\n");
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as UsageRecord).id), ids);
    await meter.flush();
    assert.deepEqual(readdirSync(dir), [], "a committed segment is deleted");
    // A record made during a flush goes to the next segment, which stays until it is written.
    const flushing = meter.flush();
    meter.record(request);
    await flushing;
    assert.equal(readdirSync(dir).length, 1);
    await meter.close();
    assert.deepEqual(readdirSync(dir), []);
    assert.deepEqual(await counted(storage), { records: 3, ids: 3 });
  });

  it("leaves another host's journal alone while it is being written, and adopts it once abandoned", async () => {
    const dir = join(root, "foreign");
    const live = new UsageJournal(dir);
    live.append(usageRecord());
    live.seal();
    const [file] = readdirSync(dir);
    // The same file as another container's (another host name, so its pid cannot be checked here).
    const foreign = (file as string).replace(/^usage-[0-9a-f]+-/, "usage-0000000000-");
    renameSync(join(dir, file as string), join(dir, foreign));
    assert.equal(new UsageJournal(dir).recover().length, 0, "written just now: its owner may be alive");
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(join(dir, foreign), old, old);
    assert.equal(new UsageJournal(dir).recover().length, 1, "not written for minutes: abandoned, adopted");
  });

  for (const backend of ["sqlite", "postgres"] as const) {
    it(`replays a dead process's journal once: records already written are not counted twice (${backend})`, async () => {
      const db = backend === "sqlite" ? storage : postgres.storage;
      await db.db.run("DELETE FROM usage_records");
      const dir = join(root, `dead-${backend}`);
      // A process that journaled 250 records and wrote 120 of them before it was killed.
      const dead = new UsageJournal(dir, { pid: deadPid() });
      const records = Array.from({ length: 250 }, usageRecord);
      for (const r of records) dead.append(r);
      await db.insertUsage(records.slice(0, 120));
      // The same file as a second dead process's: a replay that wrote everything and was killed before deleting it.
      const [file] = readdirSync(dir);
      const copy = (file as string).replace(/^usage-([0-9a-f]+)-\d+-\d+-[A-Za-z0-9]+-/, (_m, host: string) => `usage-${host}-${deadPid()}-0-copy-`);
      copyFileSync(join(dir, file as string), join(dir, copy));

      const meter = new UsageMeter(db, logger, { intervalMs: 60_000, journal: new UsageJournal(dir) });
      // Budgets see the replayed records' cost until they are written.
      assert.ok(Math.abs(meter.pendingSpend("proj_journal") - 0.5) < 1e-9, `pending ${meter.pendingSpend("proj_journal")}`);
      await meter.flush();
      assert.equal(meter.pendingSpend("proj_journal"), 0);
      assert.deepEqual(await counted(db), { records: 250, ids: 250 });
      assert.deepEqual(readdirSync(dir), [], "both files were adopted and deleted once written");
      await meter.close();
    });

    it(`a batch refused for an id already written is written without it next time (${backend})`, async () => {
      const db = backend === "sqlite" ? storage : postgres.storage;
      await db.db.run("DELETE FROM usage_records");
      const meter = new UsageMeter(db, logger, { intervalMs: 60_000, journal: new UsageJournal(join(root, `dup-${backend}`)) });
      // As if a commit had landed though the meter heard it fail.
      await db.insertUsage([meter.record(request)]);
      meter.record(request);
      await meter.flush();
      assert.equal(meter.pending, 2, "the batch failed on the duplicate and is kept");
      await meter.close();
      assert.equal(meter.pending, 0);
      assert.deepEqual(await counted(db), { records: 2, ids: 2 });
      assert.deepEqual(readdirSync(join(root, `dup-${backend}`)), []);
    });
  }

  it("leaves a live process's journal alone", async () => {
    const dir = join(root, "alive");
    const live = new UsageJournal(dir);
    live.append(usageRecord());
    const parent = new UsageJournal(dir, { pid: process.ppid });
    parent.append(usageRecord());
    assert.deepEqual(new UsageJournal(dir).recover(), []);
    assert.equal(readdirSync(dir).length, 2);
    live.close();
    // Closed: its owner is gone, and the next journal takes its file.
    assert.equal(new UsageJournal(dir).recover().length, 1);
  });

  it("skips a line cut short and replays the rest", () => {
    const dir = join(root, "torn");
    const dead = new UsageJournal(dir, { pid: deadPid() });
    const record = usageRecord();
    const segment = dead.append(record);
    writeFileSync(segment.path, '{"id":"usage_tor', { flag: "a" });
    const skipped: number[] = [];
    const recovered = new UsageJournal(dir).recover((_file, lines) => skipped.push(lines));
    assert.deepEqual(recovered.map((r) => r.record.id), [record.id]);
    assert.deepEqual(skipped, [1]);
  });
});
