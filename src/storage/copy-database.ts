import { statSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync, type SQLOutputValue } from "node:sqlite";
import { MIGRATIONS_TABLE, planCopy, quoteIdent, SchemaMismatchError, type CopyTable } from "./copy-plan.ts";
import { insertSql, pageSql, TableDigest, targetKeyParam, toParam, upsertSql, ValueError } from "./copy-values.ts";
import { MIGRATIONS } from "./migrations.ts";
import { openStorage } from "./open.ts";
import type { Param, Row, SqlDb } from "./sql-db.ts";

export { SchemaMismatchError } from "./copy-plan.ts";
export { ValueError } from "./copy-values.ts";

/** PostgreSQL holds a row that clashes with one being copied (on a unique column other than the key). */
export class CopyConflictError extends Error {}

/** Progress of a migration, one event per batch copied and per table verified. */
export interface CopyProgress {
  phase: "copy" | "verify";
  table: string;
  /** Source rows read so far (copy), or target rows checked (verify). */
  rows: number;
  /** The table's rows in the source. */
  total: number;
}

/** What happened to one table, and whether the target now holds exactly the source's rows. */
export interface TableReport {
  table: string;
  sourceRows: number;
  targetRows: number;
  /** Rows this run added to the target. */
  inserted: number;
  /** Rows this run changed in the target (seeded rows, or rows changed since an earlier run). */
  updated: number;
  sourceSha256: string;
  targetSha256: string;
  ok: boolean;
}

/** A row that names bytes that are not there (or not all there). */
export interface MissingBlob {
  table: string;
  id: string;
  /** The bytes' key (`files/<id>`, `uploads/<upload id>/<part id>`), a path under the data directory when they are kept there. */
  key: string;
  expectedBytes: number;
  /** The size found; null when the file is missing. */
  actualBytes: number | null;
}

/** The outcome of `migrateSqliteToPostgres`. */
export interface MigrationReport {
  schemaVersion: number;
  tables: TableReport[];
  /** Byte objects looked for; 0 when the check was skipped. */
  blobsChecked: number;
  missingBlobs: MissingBlob[];
  /** Every table verified and every referenced byte present. */
  ok: boolean;
}

/** Where the bytes are looked up: anything with a blob store's `stat`. */
export interface BlobChecker {
  stat(key: string): Promise<{ bytes: number } | undefined>;
  close?(): Promise<void>;
}

/** Options of `migrateSqliteToPostgres`. */
export interface MigrateOptions {
  sqliteFile: string;
  postgresUrl: string;
  /** The data directory the server will run with, where file bytes are (they are not copied). */
  dataDir: string;
  /**
   * Where the bytes the database names are checked: by default files under `dataDir`; a function
   * gets the target database, for bytes kept elsewhere (object storage, the database); null skips.
   */
  blobs?: ((target: SqlDb) => BlobChecker) | null;
  /** Rows per target transaction (default 1000). */
  batchSize?: number;
  /** Called after each batch and table; an exception thrown here stops the run (tests interrupt it so). */
  onProgress?(event: CopyProgress): void;
}

/** PostgreSQL accepts at most 65,535 parameters a statement; stay well below. */
const MAX_PARAMS = 30_000;

/**
 * Bytes the database refers to by row, by key: a file's are `files/<id>`, an upload part's
 * `uploads/<upload id>/<part id>` (in the data directory, or under the same keys in another blob
 * store). Rows are recorded only after their bytes are in and deleted before them, so a row without
 * its bytes means the bytes are not where the server will look.
 */
const BLOB_REFERENCES: readonly { table: string; sql: string; key(r: Row): string }[] = [
  { table: "files", sql: "SELECT id, bytes FROM files ORDER BY id", key: (r) => `files/${String(r.id)}` },
  { table: "upload_parts", sql: "SELECT id, upload_id, bytes FROM upload_parts ORDER BY id", key: (r) => `uploads/${String(r.upload_id)}/${String(r.id)}` },
];

/** Bytes kept as files in the data directory, each key a relative path. */
function dataDirChecker(dataDir: string): BlobChecker {
  return {
    stat: async (key) => {
      const size = statSync(join(dataDir, ...key.split("/")), { throwIfNoEntry: false })?.size;
      return size === undefined ? undefined : { bytes: size };
    },
  };
}

function describeVersions(versions: readonly number[]): string {
  return versions.length === 0 ? "none" : String(Math.max(...versions));
}

/** Refuses unless both databases have applied exactly the same migrations. */
function checkVersions(source: readonly number[], target: readonly number[], what: string): void {
  const same = source.length === target.length && source.every((v, i) => v === target[i]);
  if (same) return;
  const s = Math.max(0, ...source);
  const t = Math.max(0, ...target);
  const older = s < t ? "SQLite database" : what;
  throw new SchemaMismatchError(
    `Schema versions differ: the SQLite database is at version ${describeVersions(source)}, ${what} at ${describeVersions(target)}. ` +
      (older === "SQLite database"
        ? "Upgrade the SQLite database first: start the server on it once with this version of modelport (it applies its migrations at start), stop it, then migrate."
        : `The ${what} is older: run migrate with the modelport version that last wrote the SQLite database, or start that database's server once with this version.`),
  );
}

function sourceVersions(source: DatabaseSync, file: string): number[] {
  if (source.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(MIGRATIONS_TABLE) === undefined) {
    throw new SchemaMismatchError(`${file} is not a Modelport database (it has no ${MIGRATIONS_TABLE} table).`);
  }
  return source.prepare(`SELECT version FROM ${MIGRATIONS_TABLE} ORDER BY version`).all().map((r) => Number(r.version));
}

/** A table's source rows, page by page, in the order the checksum is taken. */
function* sourcePages(source: DatabaseSync, table: CopyTable, size: number): Generator<Record<string, SQLOutputValue>[]> {
  const keyed = table.key.length > 0;
  const first = source.prepare(pageSql(table, "sqlite", { afterKey: false, offset: !keyed }));
  const next = source.prepare(pageSql(table, "sqlite", { afterKey: keyed, offset: !keyed }));
  // Exact integers, whatever their size: they are compared and copied as decimal text.
  first.setReadBigInts(true);
  next.setReadBigInts(true);
  let after: SQLOutputValue[] | undefined;
  let offset = 0;
  for (;;) {
    const rows = !keyed ? first.all(size, offset) : after === undefined ? first.all(size) : next.all(...after, size);
    if (rows.length > 0) yield rows;
    if (rows.length < size) return;
    const last = rows[rows.length - 1] ?? {};
    after = table.key.map((k) => last[k] ?? null);
    offset += rows.length;
  }
}

/** The same for the target. */
async function* targetPages(target: SqlDb, table: CopyTable, size: number): AsyncGenerator<Row[]> {
  const keyed = table.key.length > 0;
  const first = pageSql(table, "postgres", { afterKey: false, offset: !keyed });
  const next = pageSql(table, "postgres", { afterKey: keyed, offset: !keyed });
  let after: Param[] | undefined;
  let offset = 0;
  for (;;) {
    const rows = !keyed ? await target.all(first, [size, offset]) : await target.all(after === undefined ? first : next, [...(after ?? []), size]);
    if (rows.length > 0) yield rows;
    if (rows.length < size) return;
    const last = rows[rows.length - 1] ?? {};
    after = table.key.map((k) => targetKeyParam(last[k]));
    offset += rows.length;
  }
}

function rowParams(table: CopyTable, rows: readonly Record<string, SQLOutputValue>[]): Param[] {
  return rows.flatMap((row) =>
    table.columns.map((c) => {
      try {
        return toParam(c, row[c.name]);
      } catch (error) {
        const key = table.key.map((k) => String(row[k])).join(", ");
        throw new ValueError(`Table '${table.name}', row (${key}): ${error instanceof Error ? error.message : String(error)}`);
      }
    }),
  );
}

/** Writes one page in statements of at most MAX_PARAMS parameters; returns rows inserted and updated. */
async function writePage(tx: SqlDb, table: CopyTable, rows: readonly Record<string, SQLOutputValue>[]): Promise<{ inserted: number; updated: number }> {
  const per = Math.max(1, Math.floor(MAX_PARAMS / table.columns.length));
  let inserted = 0;
  let updated = 0;
  for (let i = 0; i < rows.length; i += per) {
    const chunk = rows.slice(i, i + per);
    if (table.key.length === 0) {
      inserted += await tx.run(insertSql(table, chunk.length), rowParams(table, chunk));
      continue;
    }
    let written: Row[];
    try {
      written = await tx.all(upsertSql(table, chunk.length), rowParams(table, chunk));
    } catch (error) {
      const e = error as { code?: string; detail?: string; message?: string };
      // unique_violation: the key is handled by ON CONFLICT, so another unique column clashes.
      if (e.code !== "23505") throw error;
      throw new CopyConflictError(
        `Table '${table.name}': ${e.message ?? "unique violation"}${e.detail ? ` (${e.detail})` : ""}. PostgreSQL holds a row that clashes with the SQLite database's, ` +
          "so it is not a copy of it: was a server started on it? Migrate into an empty database that no server has used.",
      );
    }
    for (const r of written) {
      if (r.inserted === true) inserted++;
      else updated++;
    }
  }
  return { inserted, updated };
}

async function targetDigest(target: SqlDb, table: CopyTable, size: number, onPage?: (rows: number) => void): Promise<TableDigest> {
  const digest = new TableDigest(table.columns);
  for await (const page of targetPages(target, table, size)) {
    for (const row of page) digest.add(row);
    onPage?.(digest.rows);
  }
  return digest;
}

/**
 * Copies one table; returns the source's digest (taken over the rows as they were read) and what
 * the target gained. A keyed table is upserted a page per transaction, so an interrupted run keeps
 * what it committed and a rerun carries on without duplicating anything. A table without a primary
 * key cannot be matched row by row: unless it is already equal, it is replaced whole in one
 * transaction.
 */
async function copyTable(source: DatabaseSync, target: SqlDb, table: CopyTable, size: number, onProgress: MigrateOptions["onProgress"]) {
  const total = Number(source.prepare(`SELECT COUNT(*) AS n FROM ${quoteIdent(table.name)}`).get()?.n ?? 0);
  const digest = new TableDigest(table.columns);
  let inserted = 0;
  let updated = 0;
  if (table.key.length > 0) {
    for (const page of sourcePages(source, table, size)) {
      for (const row of page) digest.add(row);
      const written = await target.transaction((tx) => writePage(tx, table, page));
      inserted += written.inserted;
      updated += written.updated;
      onProgress?.({ phase: "copy", table: table.name, rows: digest.rows, total });
    }
  } else {
    for (const page of sourcePages(source, table, size)) for (const row of page) digest.add(row);
    const [sourceSha, targetSha] = [digest.hex(), (await targetDigest(target, table, size)).hex()];
    if (targetSha !== sourceSha) {
      inserted = await target.transaction(async (tx) => {
        await tx.run(`DELETE FROM ${quoteIdent(table.name)}`);
        let n = 0;
        for (const page of sourcePages(source, table, size)) n += (await writePage(tx, table, page)).inserted;
        return n;
      });
    }
    onProgress?.({ phase: "copy", table: table.name, rows: total, total });
    await advanceSequences(target, table);
    return { sha: sourceSha, rows: digest.rows, inserted, updated };
  }
  await advanceSequences(target, table);
  return { sha: digest.hex(), rows: digest.rows, inserted, updated };
}

/** Moves any sequence behind a column (serial, identity) past the copied values, so new rows do not collide. */
async function advanceSequences(target: SqlDb, table: CopyTable): Promise<void> {
  for (const c of table.columns) {
    const [row] = await target.all("SELECT pg_get_serial_sequence(?, ?) AS seq", [quoteIdent(table.name), c.name]);
    if (row?.seq === null || row?.seq === undefined) continue;
    await target.all(`SELECT setval(?::regclass, COALESCE((SELECT MAX(${quoteIdent(c.name)}) FROM ${quoteIdent(table.name)}), 0) + 1, false)`, [String(row.seq)]);
  }
}

/** Checks that every byte object the database refers to is there, at its recorded size. */
async function checkBlobs(target: SqlDb, blobs: BlobChecker): Promise<{ checked: number; missing: MissingBlob[] }> {
  const tables = new Set((await target.all("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")).map((r) => String(r.table_name)));
  let checked = 0;
  const missing: MissingBlob[] = [];
  for (const ref of BLOB_REFERENCES) {
    if (!tables.has(ref.table)) continue;
    for (const r of await target.all(ref.sql)) {
      checked++;
      const key = ref.key(r);
      const expectedBytes = Number(r.bytes);
      const actualBytes = (await blobs.stat(key))?.bytes ?? null;
      if (actualBytes !== expectedBytes) missing.push({ table: ref.table, id: String(r.id), key, expectedBytes, actualBytes });
    }
  }
  return { checked, missing };
}

/**
 * Copies a SQLite installation's database into PostgreSQL and verifies the copy. The target is
 * migrated to this version's schema first (the server's own), and both must then be at the same
 * version. Tables are discovered from the source, copied in primary-key order from one read
 * snapshot, and compared by row count and SHA-256 over canonical rows. Reruns are safe: they
 * insert what is missing, correct what differs and leave equal rows untouched.
 */
export async function migrateSqliteToPostgres(options: MigrateOptions): Promise<MigrationReport> {
  const size = options.batchSize ?? 1000;
  if (!Number.isInteger(size) || size < 1) throw new RangeError("batchSize must be a positive integer.");
  const source = new DatabaseSync(options.sqliteFile, { readOnly: true });
  try {
    const versions = sourceVersions(source, options.sqliteFile);
    // Refuse before touching the target when this version's schema is not the source's.
    checkVersions(versions, MIGRATIONS.map((m) => m.version).sort((a, b) => a - b), "this modelport");
    const storage = await openStorage({ databaseUrl: options.postgresUrl, dataDir: options.dataDir });
    try {
      const target = storage.db;
      const targetVersions = (await target.all(`SELECT version FROM ${MIGRATIONS_TABLE} ORDER BY version`)).map((r) => Number(r.version));
      checkVersions(versions, targetVersions, "the PostgreSQL database");
      // One read transaction: every table is read from the same snapshot, even if a server writes meanwhile.
      source.exec("BEGIN");
      const tables = await planCopy(source, target);
      const copied: { table: CopyTable; sha: string; rows: number; inserted: number; updated: number }[] = [];
      for (const table of tables) copied.push({ table, ...(await copyTable(source, target, table, size, options.onProgress)) });
      const reports: TableReport[] = [];
      for (const c of copied) {
        const digest = await targetDigest(target, c.table, size, (rows) => options.onProgress?.({ phase: "verify", table: c.table.name, rows, total: c.rows }));
        const targetSha256 = digest.hex();
        reports.push({
          table: c.table.name,
          sourceRows: c.rows,
          targetRows: digest.rows,
          inserted: c.inserted,
          updated: c.updated,
          sourceSha256: c.sha,
          targetSha256,
          ok: c.rows === digest.rows && c.sha === targetSha256,
        });
      }
      let blobs: { checked: number; missing: MissingBlob[] } = { checked: 0, missing: [] };
      if (options.blobs !== null) {
        const checker = options.blobs === undefined ? dataDirChecker(options.dataDir) : options.blobs(target);
        try {
          blobs = await checkBlobs(target, checker);
        } finally {
          await checker.close?.();
        }
      }
      return {
        schemaVersion: Math.max(0, ...versions),
        tables: reports,
        blobsChecked: blobs.checked,
        missingBlobs: blobs.missing,
        ok: reports.every((r) => r.ok) && blobs.missing.length === 0,
      };
    } finally {
      await storage.close();
    }
  } finally {
    if (source.isTransaction) source.exec("ROLLBACK");
    source.close();
  }
}
