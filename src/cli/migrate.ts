import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { CopyConflictError, migrateSqliteToPostgres, SchemaMismatchError, ValueError, type CopyProgress, type MigrationReport } from "../storage/copy-database.ts";
import { openBlobStore } from "../storage/open-blob-store.ts";
import type { SqlDb } from "../storage/sql-db.ts";
import { sqliteInUse } from "../storage/sqlite-backup.ts";
import { COMMAND_OPTIONS, commandConfig, UsageError } from "./command-config.ts";

/** `modelport migrate --help`. */
export const MIGRATE_HELP = `Usage: modelport migrate --to postgres://… [--from sqlite:PATH] [options]

Copy a SQLite installation's database into PostgreSQL, then verify it table by table (row counts
and SHA-256 over every row). PostgreSQL first gets this version's schema, as a server would; the
two must then be at the same schema version. Every table is copied in primary-key order, a batch of
rows per transaction; rows already there are kept, or corrected where they differ, so a second
run changes nothing and an interrupted run is finished by running it again.

File bytes are not copied: they stay where the blob store keeps them (the data directory, which the
server on PostgreSQL must use too, or blobs.backend's bucket). migrate checks that every file the
database names is there, in the blob store the config names.
Stop the server first: what it writes after the copy has begun is not copied.

Options:
      --from sqlite:PATH  The SQLite database: its file, or the data directory holding modelport.db
                          (default: the data directory's)
      --to URL            The PostgreSQL database, postgres://… (default: MODELPORT_DATABASE_URL)
      --batch-size N      Rows per transaction (default 1000)
      --json              Print the report as JSON
  -c, --config FILE       YAML config file (env MODELPORT_CONFIG)
      --data-dir DIR      Where the file bytes are (env MODELPORT_DATA_DIR; default: the directory
                          of the SQLite file given with --from, else ./data)
  -h, --help              Show this help

Exit status: 0 when every table matches and every file is present, 1 when not (or when the schema
versions differ), 2 on bad usage. See docs/operations.md.
`;

function sqlitePath(from: string): string {
  if (!from.startsWith("sqlite:")) throw new UsageError(`--from must be sqlite:PATH, got '${from}'.`);
  const path = resolve(from.slice("sqlite:".length).replace(/^\/\/(?=\/)/, ""));
  return existsSync(path) && statSync(path).isDirectory() ? join(path, "modelport.db") : path;
}

/** Prints progress to stderr: every table's start and end, and at most a line a second between. */
function progressPrinter(): (event: CopyProgress) => void {
  let last = 0;
  let lastTable = "";
  return (e) => {
    const now = Date.now();
    const changed = `${e.phase}:${e.table}` !== lastTable;
    if (!changed && e.rows < e.total && now - last < 1000) return;
    last = now;
    lastTable = `${e.phase}:${e.table}`;
    process.stderr.write(`${e.phase} ${e.table}: ${e.rows}/${e.total} rows\n`);
  };
}

function printReport(report: MigrationReport, where: string): void {
  const widths = [Math.max(5, ...report.tables.map((t) => t.table.length)), 10, 10, 10, 10];
  const line = (cells: string[]) => `${cells.map((c, i) => (i === 0 ? c.padEnd(widths[0] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ")}\n`;
  let out = line(["table", "source", "target", "inserted", "updated", "sha256", "result"]);
  for (const t of report.tables) {
    out += line([t.table, String(t.sourceRows), String(t.targetRows), String(t.inserted), String(t.updated), t.targetSha256.slice(0, 12), t.ok ? "ok" : "MISMATCH"]);
  }
  const rows = report.tables.reduce((n, t) => n + t.sourceRows, 0);
  const bad = report.tables.filter((t) => !t.ok);
  out +=
    bad.length === 0
      ? `\nVerified ${report.tables.length} tables, ${rows} rows, schema version ${report.schemaVersion}: PostgreSQL holds exactly the SQLite database's rows.\n`
      : `\n${bad.length} table(s) differ: ${bad.map((t) => t.table).join(", ")}.` +
        (bad.some((t) => t.targetRows > t.sourceRows) ? " PostgreSQL has rows the SQLite database lacks: migrate into a database no server has used yet." : "") +
        "\n";
  out += `Checked ${report.blobsChecked} file(s) ${where}: ${report.missingBlobs.length === 0 ? "all present" : `${report.missingBlobs.length} missing or of the wrong size`}.\n`;
  process.stdout.write(out);
  for (const m of report.missingBlobs.slice(0, 20)) {
    process.stderr.write(`missing: ${m.table} ${m.id}: ${m.key} (${m.actualBytes === null ? "absent" : `${m.actualBytes} bytes`}, expected ${m.expectedBytes})\n`);
  }
  if (report.missingBlobs.length > 0) {
    process.stderr.write("The database copy is complete, but the server would not find these bytes: run the server with the data directory the SQLite installation used (or copy it here), or copy them into the configured blob store (docs/blob-storage.md).\n");
  }
}

/** `modelport migrate …`; returns the exit code. */
export async function migrateCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ...COMMAND_OPTIONS,
      from: { type: "string" },
      to: { type: "string" },
      "batch-size": { type: "string" },
      json: { type: "boolean" },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(MIGRATE_HELP);
    return 0;
  }
  try {
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'.`);
    const config = commandConfig(values);
    const to = values.to ?? config.databaseUrl;
    if (to === undefined || !/^postgres(ql)?:\/\//.test(to)) throw new UsageError("--to must be a PostgreSQL URL (postgres://…), or MODELPORT_DATABASE_URL must be set.");
    const file = values.from !== undefined ? sqlitePath(values.from) : join(config.dataDir, "modelport.db");
    const dataDir = values["data-dir"] !== undefined || values.from === undefined ? config.dataDir : dirname(file);
    const batch = values["batch-size"] ?? "1000";
    if (!/^\d+$/.test(batch) || Number(batch) < 1 || Number(batch) > 100_000) throw new UsageError(`--batch-size must be a number from 1 to 100000, got '${batch}'.`);
    if (!existsSync(file)) throw new UsageError(`No SQLite database at ${file}.`);
    if (sqliteInUse(file)) {
      process.stderr.write(`warning: ${file} is open in another process (a running server?); what it writes from now on will not be copied. Stop it and run migrate again to be sure.\n`);
    }
    process.stderr.write(`migrating ${file} to ${to.replace(/\/\/[^@/]*@/, "//…@")}\n`);
    // The bytes are checked where the server on PostgreSQL will look for them: the data directory, or
    // the bucket (or the PostgreSQL database itself) that blobs.backend names.
    const { backend } = config.blobs;
    const where = backend === "local" ? `under ${dataDir}` : backend === "s3" ? `in s3://${config.blobs.s3.bucket}/${config.blobs.s3.prefix}` : "in the PostgreSQL blob store";
    const blobs = backend === "local" ? {} : { blobs: (target: SqlDb) => openBlobStore(config.blobs, { dataDir, db: target }) };
    const report = await migrateSqliteToPostgres({ sqliteFile: file, postgresUrl: to, dataDir, batchSize: Number(batch), onProgress: progressPrinter(), ...blobs });
    if (values.json) process.stdout.write(`${JSON.stringify({ ...report, dataDir, blobBackend: backend }, null, 2)}\n`);
    else printReport(report, where);
    return report.ok ? 0 : 1;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`modelport migrate: ${error.message}\n`);
      return 2;
    }
    if (error instanceof SchemaMismatchError || error instanceof ValueError || error instanceof CopyConflictError) {
      process.stderr.write(`modelport migrate: ${error.message}\n`);
      return 1;
    }
    // A database that cannot be reached or refuses a statement: what the driver says is the answer.
    process.stderr.write(`modelport migrate: ${error instanceof Error ? error.message : String(error)}\n`);
    process.stderr.write("Nothing is lost: what was copied stays, and running migrate again carries on.\n");
    return 1;
  }
}
