import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { openStorage } from "../../src/storage/open.ts";
import type { Storage } from "../../src/storage/storage.ts";

/** PostgreSQL on these machines (trust auth); CI uses the same. */
export const PG_ADMIN_URL = process.env.MODELPORT_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** A fresh, empty PostgreSQL database for one test file, and how to drop it. */
export async function freshPostgres(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `modelport_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = PG_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
  return {
    url,
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** One storage backend under test. */
export interface Backend {
  name: "sqlite" | "postgres";
  /** Settings that make a server use this backend. */
  env(): Record<string, string>;
  open(): Promise<Storage>;
  cleanup(): Promise<void>;
}

/** SQLite in a temporary data directory, and PostgreSQL in a fresh database. */
export async function backends(): Promise<Backend[]> {
  const dataDir = mkdtempSync(join(tmpdir(), "modelport-db-"));
  const postgres = await freshPostgres();
  return [
    { name: "sqlite", env: () => ({ MODELPORT_DATA_DIR: dataDir }), open: () => openStorage({ databaseUrl: undefined, dataDir }), cleanup: async () => undefined },
    { name: "postgres", env: () => ({ MODELPORT_DATABASE_URL: postgres.url }), open: () => openStorage({ databaseUrl: postgres.url, dataDir }), cleanup: postgres.drop },
  ];
}
