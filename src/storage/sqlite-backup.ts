import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { backup, DatabaseSync } from "node:sqlite";
import { MIGRATIONS_TABLE } from "./copy-plan.ts";
import { MIGRATIONS } from "./migrations.ts";

/** A backup or restore that cannot be done as asked; the message says why. */
export class BackupError extends Error {}

/** The database file of a SQLite installation (open.ts keeps it in the data directory). */
export function sqliteFile(dataDir: string): string {
  return join(dataDir, "modelport.db");
}

/**
 * Whether another process has the database open. A server keeps its connection open for its whole
 * life, and a WAL-mode connection holds a shared lock on the WAL index while open, so an exclusive
 * lock (which in WAL mode needs every other connection gone) is refused exactly while one runs.
 */
export function sqliteInUse(file: string): boolean {
  if (!existsSync(file)) return false;
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(file);
  } catch {
    // Not writable by us (a read-only copy): nothing to lock, and no server writes to it either.
    return false;
  }
  try {
    db.exec("PRAGMA busy_timeout = 0; PRAGMA locking_mode = EXCLUSIVE");
    try {
      db.exec("BEGIN EXCLUSIVE");
    } catch (error) {
      // SQLITE_BUSY: another connection holds a lock. Anything else is not about other processes.
      if ((error as { errcode?: number }).errcode === 5) return true;
      throw error;
    }
    db.exec("COMMIT");
    return false;
  } finally {
    db.close();
  }
}

/** What a database file holds, as far as a backup or restore needs to know. */
export interface SqliteInfo {
  schemaVersion: number;
  tables: number;
}

/**
 * Checks that `file` is an intact Modelport database and turns it into one self-contained file
 * (rollback journal, no -wal beside it), so it can be copied or moved as it is.
 */
function settle(file: string): SqliteInfo {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(file);
  } catch (error) {
    throw new BackupError(`${file} cannot be opened as a SQLite database: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    const check = db.prepare("PRAGMA quick_check").all().map((r) => String(Object.values(r)[0]));
    if (check.join() !== "ok") throw new BackupError(`${file} is damaged: ${check.slice(0, 3).join("; ")}`);
    db.exec("PRAGMA journal_mode = DELETE");
    if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(MIGRATIONS_TABLE) === undefined) {
      throw new BackupError(`${file} is not a Modelport database (it has no ${MIGRATIONS_TABLE} table).`);
    }
    const version = Number(db.prepare(`SELECT COALESCE(MAX(version), 0) AS v FROM ${MIGRATIONS_TABLE}`).get()?.v ?? 0);
    const tables = Number(db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table'").get()?.n ?? 0);
    return { schemaVersion: version, tables };
  } catch (error) {
    if (error instanceof BackupError) throw error;
    throw new BackupError(`${file} cannot be read as a SQLite database: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    db.close();
  }
}

function removeWithSidecars(file: string): void {
  for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(`${file}${suffix}`, { force: true });
}

/**
 * Copies a live database to `dest` with SQLite's online backup API, safe while a server writes: all
 * pages are copied in one step, which is one read transaction, so the copy is one consistent
 * snapshot and the server's writers (WAL) never wait for it. The copy is written beside `dest`
 * and renamed into place once checked, so `dest` is either absent or complete.
 */
export async function backupSqlite(sourceFile: string, dest: string): Promise<SqliteInfo & { bytes: number }> {
  if (!existsSync(sourceFile)) throw new BackupError(`No database at ${sourceFile}.`);
  if (existsSync(dest)) throw new BackupError(`${dest} exists; give a new file name (a backup never overwrites one).`);
  const partial = `${dest}.part`;
  removeWithSidecars(partial);
  const db = new DatabaseSync(sourceFile, { readOnly: true });
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    // `rate` is pages per step; more than any database has makes it one step.
    await backup(db, partial, { rate: 2 ** 31 - 1 });
  } catch (error) {
    removeWithSidecars(partial);
    throw new BackupError(`Backup of ${sourceFile} failed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    db.close();
  }
  try {
    const info = settle(partial);
    renameSync(partial, dest);
    return { ...info, bytes: statSync(dest).size };
  } finally {
    removeWithSidecars(partial);
  }
}

/**
 * Replaces the data directory's database with a backup. Refuses while another process (a server)
 * has the database open. The backup is copied beside the database, checked (it opens, is intact,
 * has the migrations table, is not newer than this modelport) and renamed into place; the database
 * it replaces is kept as `modelport.db.before-restore-<time>`.
 */
export function restoreSqlite(backupFile: string, dataDir: string): SqliteInfo & { previous: string | undefined } {
  if (!existsSync(backupFile)) throw new BackupError(`No backup at ${backupFile}.`);
  const dbFile = sqliteFile(dataDir);
  if (sqliteInUse(dbFile)) throw new BackupError(`${dbFile} is open in another process, most likely a running server: stop it, then restore.`);
  mkdirSync(dataDir, { recursive: true });
  const staging = `${dbFile}.restoring`;
  removeWithSidecars(staging);
  let info: SqliteInfo;
  try {
    copyFileSync(backupFile, staging);
    // A database copied while in use may have committed pages only in its WAL: bring that along.
    if (existsSync(`${backupFile}-wal`)) copyFileSync(`${backupFile}-wal`, `${staging}-wal`);
    info = settle(staging);
    const latest = Math.max(...MIGRATIONS.map((m) => m.version));
    if (info.schemaVersion > latest) throw new BackupError(`${backupFile} is at schema version ${info.schemaVersion}, newer than this modelport's ${latest}: restore it with the version that made it.`);
  } catch (error) {
    removeWithSidecars(staging);
    throw error;
  }
  let previous: string | undefined;
  if (existsSync(dbFile)) {
    previous = `${dbFile}.before-restore-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    renameSync(dbFile, previous);
    // The WAL belongs with the file it was written for; the shared-memory index is rebuilt on open.
    if (existsSync(`${dbFile}-wal`)) renameSync(`${dbFile}-wal`, `${previous}-wal`);
  }
  rmSync(`${dbFile}-shm`, { force: true });
  rmSync(`${dbFile}-wal`, { force: true });
  renameSync(staging, dbFile);
  return { ...info, previous };
}
