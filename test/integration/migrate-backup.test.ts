import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import OpenAI, { toFile } from "openai";
import { BackupError, backupSqlite, restoreSqlite, sqliteFile } from "../../src/storage/sqlite-backup.ts";
import { runCli } from "../helpers/cli.ts";
import { raw, startTestServer, waitFor, type TestServer } from "../helpers/server.ts";

const ADMIN = "sk-admin-backup-0123456789abcdef";
const tmp = (prefix: string) => mkdtempSync(join(tmpdir(), prefix));

const admin = (server: TestServer, path: string, body?: unknown) =>
  raw(server, path, { ...(body !== undefined ? { body: JSON.stringify(body) } : {}), headers: { authorization: `Bearer ${ADMIN}` } });

const projectNames = (db: DatabaseSync): string[] => db.prepare("SELECT name FROM projects ORDER BY created_at, rowid").all().map((r) => String(r.name));

describe("modelport backup and restore (SQLite)", () => {
  it("backs up while the server writes, refuses to restore under a running server, and restores once it has stopped", async () => {
    const dataDir = join(tmp("modelport-backup-"), "data");
    const env = { MODELPORT_DATA_DIR: dataDir, MODELPORT_ADMIN_KEY: ADMIN };
    const backupFile = join(tmp("modelport-backup-out-"), "modelport-backup.db");
    let server = await startTestServer({ env });
    let fileId = "";
    let made = 0;
    let madeBefore = 0;
    let madeAfter = 0;
    let beforeId = "";
    let afterId = "";
    try {
      const project = (await admin(server, "/v1/organization/projects", { name: "Before backup" })).body as { id: string };
      beforeId = project.id;
      const key = (await admin(server, `/v1/organization/projects/${project.id}/api_keys`, { name: "k" })).body as { value: string };
      const client = new OpenAI({ baseURL: server.baseURL, apiKey: key.value, maxRetries: 0 });
      fileId = (await client.files.create({ file: await toFile(Buffer.from("kept in the data directory"), "notes.txt"), purpose: "assistants" })).id;

      // The server keeps writing, one project after another, for the whole backup.
      let writing = true;
      const writer = (async () => {
        while (writing) {
          assert.equal((await admin(server, "/v1/organization/projects", { name: `busy ${made}` })).status, 200);
          made++;
        }
      })();
      await waitFor(() => made >= 3, 10_000);
      madeBefore = made;
      const backup = await runCli(["backup", "--to", backupFile, "--data-dir", dataDir]);
      madeAfter = made;
      writing = false;
      await writer;
      assert.equal(backup.code, 0, backup.stderr);
      assert.match(backup.stdout, /^Backed up .*modelport\.db to .*modelport-backup\.db \(\d+ bytes, \d+ tables, schema version \d+\)/);
      assert.match(backup.stderr, /back up .* \(files\/, uploads\/, containers\/, admin-key\) as well/);
      assert.ok(madeAfter > madeBefore, "the server wrote while the backup ran");

      // One self-contained file holding one consistent moment: every project up to some point, none after.
      assert.ok(!existsSync(`${backupFile}-wal`) && !existsSync(`${backupFile}.part`));
      const copy = new DatabaseSync(backupFile, { readOnly: true });
      assert.equal(copy.prepare("PRAGMA quick_check").get()?.quick_check, "ok");
      const names = projectNames(copy).filter((n) => n.startsWith("busy "));
      copy.close();
      assert.ok(names.length >= madeBefore && names.length <= madeAfter + 1, `${names.length} busy projects in the backup`);
      assert.deepEqual(names, names.map((_, i) => `busy ${i}`));

      const refused = await runCli(["restore", "--from", backupFile, "--data-dir", dataDir]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /is open in another process, most likely a running server: stop it, then restore/);
      const after = await admin(server, "/v1/organization/projects", { name: "After backup" });
      assert.equal(after.status, 200);
      afterId = (after.body as { id: string }).id;
    } finally {
      await server.close();
    }

    const restored = await runCli(["restore", "--from", backupFile, "--data-dir", dataDir]);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /^Restored .*modelport\.db from .*modelport-backup\.db/);
    const kept = /kept as (.*before-restore-[^\s]+)\.\n/.exec(restored.stdout)?.[1] ?? "";
    assert.ok(existsSync(kept), restored.stdout);
    assert.deepEqual(readdirSync(dataDir).filter((f) => /^modelport\.db-(wal|shm)$/.test(f)), [], "no stale WAL beside the restored database");
    const previous = new DatabaseSync(kept, { readOnly: true });
    assert.ok(projectNames(previous).includes("After backup"), "the replaced database is kept whole");
    previous.close();

    server = await startTestServer({ env });
    try {
      // By id: the busy writer may have made more projects than one list page holds.
      const before = await admin(server, `/v1/organization/projects/${beforeId}`);
      assert.equal(before.status, 200);
      assert.equal((before.body as { name: string }).name, "Before backup");
      assert.equal((await admin(server, `/v1/organization/projects/${afterId}`)).status, 404, "back to the moment of the backup");
      const key = (await admin(server, `/v1/organization/projects/${beforeId}/api_keys`, { name: "after restore" })).body as { value: string };
      const content = await raw(server, `/v1/files/${fileId}/content`, { headers: { authorization: `Bearer ${key.value}` } });
      assert.equal(content.status, 200);
      assert.equal(content.text, "kept in the data directory");
    } finally {
      await server.close();
    }
  });

  it("refuses what it cannot do safely, leaving the database as it was", async () => {
    const dataDir = join(tmp("modelport-backup-refuse-"), "data");
    const made = await runCli(["projects", "create", "--name", "Keep me", "--data-dir", dataDir]);
    assert.equal(made.code, 0, made.stderr);
    const out = tmp("modelport-backup-refuse-out-");
    const good = join(out, "good.db");
    const info = await backupSqlite(sqliteFile(dataDir), good);
    assert.ok(info.tables > 10 && info.schemaVersion > 0);
    await assert.rejects(backupSqlite(sqliteFile(dataDir), good), (e: unknown) => e instanceof BackupError && /never overwrites/.test(e.message));

    const garbage = join(out, "garbage.db");
    writeFileSync(garbage, "this is not a database, just text long enough to look like one".repeat(100));
    assert.throws(() => restoreSqlite(garbage, dataDir), (e: unknown) => e instanceof BackupError && /cannot be (opened|read) as a SQLite database|damaged/.test(e.message));
    const foreign = join(out, "foreign.db");
    const other = new DatabaseSync(foreign);
    other.exec("CREATE TABLE t (x INTEGER)");
    other.close();
    assert.throws(() => restoreSqlite(foreign, dataDir), (e: unknown) => e instanceof BackupError && /not a Modelport database/.test(e.message));
    assert.throws(() => restoreSqlite(join(out, "absent.db"), dataDir), /No backup at/);
    const db = new DatabaseSync(sqliteFile(dataDir), { readOnly: true });
    assert.ok(projectNames(db).includes("Keep me"), "the database was not replaced");
    db.close();
    assert.deepEqual(readdirSync(dataDir).filter((f) => f.includes("restor")), [], "no staging file left behind");

    const [onPostgres, ...helps] = await Promise.all([
      runCli(["backup", "--to", join(out, "pg.db"), "--data-dir", dataDir], { MODELPORT_DATABASE_URL: "postgres://postgres@127.0.0.1:5432/postgres" }),
      ...["backup", "restore"].map((command) => runCli([command, "--help"])),
    ]);
    assert.equal(onPostgres?.code, 1);
    assert.match(onPostgres?.stderr ?? "", /is for SQLite.*pg_dump and pg_restore: see docs\/operations\.md/);
    for (const [i, command] of ["backup", "restore"].entries()) {
      assert.equal(helps[i]?.code, 0);
      assert.match(helps[i]?.stdout ?? "", new RegExp(`^Usage: modelport ${command} --(to|from) FILE`));
    }
  });
});
