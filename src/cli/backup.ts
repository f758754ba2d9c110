import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { BackupError, backupSqlite, restoreSqlite, sqliteFile } from "../storage/sqlite-backup.ts";
import { commandConfig, UsageError } from "./command-config.ts";

const OPTIONS_HELP = `Options:
  -c, --config FILE       YAML config file (env MODELPORT_CONFIG)
      --data-dir DIR      Data directory (env MODELPORT_DATA_DIR, default ./data)
  -h, --help              Show this help`;

/** `modelport backup --help`. */
export const BACKUP_HELP = `Usage: modelport backup --to FILE [options]

Copy the SQLite database (DATA_DIR/modelport.db) to FILE with SQLite's online backup API. Safe
while the server runs: the copy is one consistent snapshot and the server keeps writing meanwhile.
FILE is a single self-contained database file, written under a temporary name and renamed once
checked; an existing FILE is never overwritten.

The database holds metadata only: file bytes (DATA_DIR/files, uploads, containers) and the admin
key (DATA_DIR/admin-key) are files in the data directory; back them up with it. For PostgreSQL
(MODELPORT_DATABASE_URL) use pg_dump; see docs/operations.md.

${OPTIONS_HELP}
`;

/** `modelport restore --help`. */
export const RESTORE_HELP = `Usage: modelport restore --from FILE [options]

Replace the SQLite database (DATA_DIR/modelport.db) with a backup made by 'modelport backup'.
Stop the server first: restore refuses while another process has the database open. The backup
is checked (it opens, is intact, is a Modelport database no newer than this version) before it
replaces anything; the database it replaces is kept beside it as modelport.db.before-restore-TIME.
A backup from an older version is upgraded when the server next starts.

${OPTIONS_HELP}
`;

function parse(args: string[], fileOption: "to" | "from") {
  return parseArgs({
    args,
    options: { config: { type: "string", short: "c" }, "data-dir": { type: "string" }, help: { type: "boolean", short: "h" }, [fileOption]: { type: "string" } },
    allowPositionals: false,
  });
}

/** The data directory, refusing when the configured database is PostgreSQL (these commands are SQLite's). */
function sqliteDataDir(values: Record<string, unknown>, command: string): string {
  const config = commandConfig(values);
  if (config.databaseUrl) {
    throw new BackupError(`'modelport ${command}' is for SQLite; the configured database is PostgreSQL (MODELPORT_DATABASE_URL). Use pg_dump and pg_restore: see docs/operations.md.`);
  }
  return config.dataDir;
}

async function run(command: string, fn: () => Promise<void>): Promise<number> {
  try {
    await fn();
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`modelport ${command}: ${error.message}\n`);
      return 2;
    }
    if (error instanceof BackupError) {
      process.stderr.write(`modelport ${command}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

/** `modelport backup --to FILE`; returns the exit code. */
export async function backupCommand(args: string[]): Promise<number> {
  const { values } = parse(args, "to");
  if (values.help) {
    process.stdout.write(BACKUP_HELP);
    return 0;
  }
  return run("backup", async () => {
    if (typeof values.to !== "string") throw new UsageError("--to FILE is required.");
    const dataDir = sqliteDataDir(values, "backup");
    const dest = resolve(values.to);
    const info = await backupSqlite(sqliteFile(dataDir), dest);
    process.stdout.write(`Backed up ${sqliteFile(dataDir)} to ${dest} (${info.bytes} bytes, ${info.tables} tables, schema version ${info.schemaVersion}).\n`);
    process.stderr.write(`File bytes and the admin key are not in it: back up ${dataDir} (files/, uploads/, containers/, admin-key) as well.\n`);
  });
}

/** `modelport restore --from FILE`; returns the exit code. */
export async function restoreCommand(args: string[]): Promise<number> {
  const { values } = parse(args, "from");
  if (values.help) {
    process.stdout.write(RESTORE_HELP);
    return 0;
  }
  return run("restore", async () => {
    if (typeof values.from !== "string") throw new UsageError("--from FILE is required.");
    const dataDir = sqliteDataDir(values, "restore");
    const info = restoreSqlite(resolve(values.from), dataDir);
    process.stdout.write(`Restored ${sqliteFile(dataDir)} from ${resolve(values.from)} (${info.tables} tables, schema version ${info.schemaVersion}).\n`);
    if (info.previous !== undefined) process.stdout.write(`The database it replaced is kept as ${info.previous}.\n`);
  });
}
