import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, describe, it } from "node:test";
import pg from "pg";
import { migrateSqliteToPostgres } from "../../src/storage/copy-database.ts";
import { openStorage } from "../../src/storage/open.ts";
import { randomBytes } from "node:crypto";
import { freshPostgres, PG_ADMIN_URL } from "../helpers/databases.ts";

/**
 * Tables a later version might add, of shapes today's schema lacks: a text key whose order differs
 * between collations, a serial key, a boolean, integers beyond 2^53, and no primary key at all. They
 * exist on both sides (as a migration would make them) and are copied without being named anywhere.
 */
const SQLITE_EXTRA = `
CREATE TABLE extra_keyed (name TEXT NOT NULL, n BIGINT NOT NULL, flag INTEGER NOT NULL, big BIGINT, ratio DOUBLE PRECISION, data BYTEA, PRIMARY KEY (name, n));
CREATE TABLE extra_serial (id INTEGER PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE extra_loose (a TEXT, b BIGINT);
`;
const PG_EXTRA = `
CREATE TABLE extra_keyed (name TEXT NOT NULL, n BIGINT NOT NULL, flag BOOLEAN NOT NULL, big BIGINT, ratio DOUBLE PRECISION, data BYTEA, PRIMARY KEY (name, n));
CREATE TABLE extra_serial (id BIGSERIAL PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE extra_loose (a TEXT, b BIGINT);
`;

/** Keys that sort differently by byte and by a language's collation; some repeat with another n. */
const NAMES = ["B", "a", "_x", "é", "Z", "ä", "a b", "ab", "A", "😀", "", "z"];

/**
 * A fresh database whose default collation is a language's (ICU en-US: "a" < "B"), unlike the C
 * collation of these machines' databases, so key order must not depend on it. Where ICU is missing,
 * a plain fresh database.
 */
async function languageCollatedPostgres(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `modelport_test_icu_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`);
  } catch {
    return freshPostgres();
  } finally {
    await admin.end();
  }
  return {
    url: PG_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

async function pgRows(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

describe("modelport migrate: tables it has never seen", () => {
  const drops: (() => Promise<void>)[] = [];
  after(async () => {
    for (const drop of drops) await drop();
  });

  it("copies any table exactly (collation-independent key order, booleans, 64-bit integers, bytes, serials, no key), idempotently", async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), "modelport-migrate-generic-")), "data");
    const storage = await openStorage({ databaseUrl: undefined, dataDir });
    await storage.close();
    const file = join(dataDir, "modelport.db");
    const source = new DatabaseSync(file);
    source.exec(SQLITE_EXTRA);
    const insert = source.prepare("INSERT INTO extra_keyed VALUES (?, ?, ?, ?, ?, ?)");
    let i = 0;
    for (const name of NAMES) {
      for (const n of [1, 2, 3]) {
        i++;
        insert.run(name, n, i % 2, i % 3 === 0 ? null : 9_007_199_254_740_993n + BigInt(i), i % 4 === 0 ? null : i / 7, i % 5 === 0 ? null : new Uint8Array([i, 0, 255, i]));
      }
    }
    for (let k = 1; k <= 7; k++) source.prepare("INSERT INTO extra_serial (id, v) VALUES (?, ?)").run(k * 10, `v${k}`);
    for (const [a, b] of [["x", 1], [null, 2], ["x", 1], ["y", null]] as const) source.prepare("INSERT INTO extra_loose VALUES (?, ?)").run(a, b);
    source.close();

    const target = await languageCollatedPostgres();
    drops.push(target.drop);
    await pgRows(target.url, PG_EXTRA);
    const order = (await pgRows(target.url, "SELECT v FROM (VALUES ('B'), ('a')) t(v) ORDER BY v")).map((r) => r.v);
    assert.deepEqual(order, ["a", "B"], "the database sorts text unlike SQLite");

    const run = () => migrateSqliteToPostgres({ sqliteFile: file, postgresUrl: target.url, dataDir, batchSize: 4 });
    const first = await run();
    assert.ok(first.ok, JSON.stringify(first.tables.filter((t) => !t.ok)));
    const table = (name: string) => first.tables.find((t) => t.table === name);
    assert.equal(table("extra_keyed")?.targetRows, NAMES.length * 3);
    assert.equal(table("extra_serial")?.targetRows, 7);
    assert.equal(table("extra_loose")?.targetRows, 4, "duplicate rows of a table without a key are kept");

    const [row] = await pgRows(target.url, "SELECT flag, big::text AS big, ratio, data FROM extra_keyed WHERE name = 'é' AND n = 2");
    assert.deepEqual(row, { flag: true, big: "9007199254741004", ratio: 11 / 7, data: Buffer.from([11, 0, 255, 11]) });
    const [fresh] = await pgRows(target.url, "INSERT INTO extra_serial (v) VALUES ('new') RETURNING id::int AS id");
    assert.equal(fresh?.id, 71, "the sequence was moved past the copied ids");
    await pgRows(target.url, "DELETE FROM extra_serial WHERE v = 'new'");

    const second = await run();
    assert.ok(second.ok);
    for (const t of second.tables) assert.equal(t.inserted + t.updated, 0, `${t.table} unchanged`);

    // Changed rows are put back: an updated keyed row, and a table without a key replaced whole.
    await pgRows(target.url, "UPDATE extra_keyed SET flag = NOT flag WHERE name = 'ä' AND n = 1; DELETE FROM extra_loose WHERE a = 'y'");
    const third = await run();
    assert.ok(third.ok, JSON.stringify(third.tables.filter((t) => !t.ok)));
    assert.equal(third.tables.find((t) => t.table === "extra_keyed")?.updated, 1);
    assert.equal(third.tables.find((t) => t.table === "extra_loose")?.inserted, 4);
  });
});
