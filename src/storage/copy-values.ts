import { createHash, type Hash } from "node:crypto";
import { quoteIdent, type ColumnKind, type CopyColumn, type CopyTable } from "./copy-plan.ts";
import type { Param } from "./sql-db.ts";

/** A value whose column type it cannot be carried into. */
export class ValueError extends Error {}

function integer(v: unknown): bigint | undefined {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (typeof v === "string" && /^-?\d+$/.test(v)) return BigInt(v);
  return undefined;
}

function bad(column: CopyColumn, v: unknown): ValueError {
  const shown = v instanceof Uint8Array ? `${v.length} bytes` : JSON.stringify(typeof v === "bigint" ? v.toString() : v);
  return new ValueError(`column '${column.name}' (${column.kind}) cannot hold ${typeof v} ${shown}`);
}

/**
 * A value in one canonical text form per kind, the same whichever database it was read from:
 * integers in decimal (exact beyond 2^53), floats as JavaScript prints them, bytes in hex, booleans
 * as true/false (SQLite keeps them as 0/1). Checksums are taken over these.
 */
export function canonical(column: CopyColumn, v: unknown): string | null {
  if (v === null || v === undefined) return null;
  switch (column.kind) {
    case "int": {
      const n = integer(v);
      if (n === undefined) throw bad(column, v);
      return n.toString();
    }
    case "float": {
      const n = typeof v === "bigint" ? Number(v) : typeof v === "number" ? v : typeof v === "string" ? Number(v) : Number.NaN;
      if (Number.isNaN(n)) throw bad(column, v);
      // -0 and 0 compare equal in both databases; print them alike.
      return String(n === 0 ? 0 : n);
    }
    case "text":
      if (typeof v === "string") return v;
      if (typeof v === "number" || typeof v === "bigint") return String(v);
      throw bad(column, v);
    case "bytes":
      if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex");
      throw bad(column, v);
    case "bool":
      if (v === true || v === 1 || v === 1n) return "true";
      if (v === false || v === 0 || v === 0n) return "false";
      throw bad(column, v);
  }
}

/** A SQLite value as a parameter for the PostgreSQL column (integers as decimal text, so none rounds). */
export function toParam(column: CopyColumn, v: unknown): Param {
  const c = canonical(column, v);
  if (c === null) return null;
  switch (column.kind) {
    case "float":
      return Number(c);
    case "bytes":
      return Buffer.from(c, "hex");
    default:
      return c;
  }
}

/** A value read back from PostgreSQL as a keyset parameter for the next page. */
export function targetKeyParam(v: unknown): Param {
  if (v === null || v === undefined) return null;
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number" || typeof v === "string" || v instanceof Uint8Array) return v;
  return String(v);
}

/** The SHA-256 of a table's rows in key order, each as a JSON array of canonical values. */
export class TableDigest {
  readonly #hash: Hash = createHash("sha256");
  readonly #columns: readonly CopyColumn[];
  rows = 0;

  constructor(columns: readonly CopyColumn[]) {
    this.#columns = columns;
  }

  add(row: Record<string, unknown>): void {
    this.#hash.update(`${JSON.stringify(this.#columns.map((c) => canonical(c, row[c.name])))}\n`);
    this.rows++;
  }

  hex(): string {
    return this.#hash.digest("hex");
  }
}

/** Text columns compare by bytes in both: BINARY in SQLite, "C" in PostgreSQL (whatever the database's collation). */
function ordered(table: CopyTable, name: string, dialect: "sqlite" | "postgres"): string {
  const kind: ColumnKind | undefined = table.columns.find((c) => c.name === name)?.kind;
  if (kind !== "text") return quoteIdent(name);
  return `${quoteIdent(name)} COLLATE ${dialect === "sqlite" ? "BINARY" : '"C"'}`;
}

/**
 * One page of a table in the order both databases agree on: by primary key after `after` (the
 * previous page's last key), or, for a table without one, by every column from `offset`.
 * PostgreSQL's integers are selected as text, since its driver here reads BIGINT as a Number.
 */
export function pageSql(table: CopyTable, dialect: "sqlite" | "postgres", page: { afterKey: boolean; offset: boolean }): string {
  const columns = table.columns
    .map((c) => (dialect === "postgres" && c.kind === "int" ? `${quoteIdent(c.name)}::text AS ${quoteIdent(c.name)}` : quoteIdent(c.name)))
    .join(", ");
  const order = table.key.length > 0 ? table.key : table.columns.map((c) => c.name);
  // SQLite sorts NULL first; PostgreSQL must be told to.
  const nulls = dialect === "postgres" && table.key.length === 0 ? " NULLS FIRST" : "";
  const orderBy = order.map((n) => `${ordered(table, n, dialect)}${nulls}`).join(", ");
  const where = page.afterKey ? ` WHERE (${table.key.map((n) => ordered(table, n, dialect)).join(", ")}) > (${table.key.map(() => "?").join(", ")})` : "";
  return `SELECT ${columns} FROM ${quoteIdent(table.name)}${where} ORDER BY ${orderBy} LIMIT ?${page.offset ? " OFFSET ?" : ""}`;
}

/**
 * An upsert of `rows` rows: new keys are inserted, existing ones are set to the source's values
 * when they differ (a seeded row, or one changed since an earlier run) and left alone otherwise,
 * so a rerun writes nothing. `inserted` tells the two apart (xmax is 0 for a fresh row).
 */
export function upsertSql(table: CopyTable, rows: number): string {
  const names = table.columns.map((c) => quoteIdent(c.name));
  const row = `(${names.map(() => "?").join(", ")})`;
  const values = Array.from({ length: rows }, () => row).join(", ");
  const rest = table.columns.filter((c) => !table.key.includes(c.name)).map((c) => quoteIdent(c.name));
  const conflict =
    rest.length === 0
      ? "DO NOTHING"
      : `DO UPDATE SET ${rest.map((n) => `${n} = EXCLUDED.${n}`).join(", ")} WHERE ROW(${rest.map((n) => `${quoteIdent(table.name)}.${n}`).join(", ")}) IS DISTINCT FROM ROW(${rest.map((n) => `EXCLUDED.${n}`).join(", ")})`;
  return `INSERT INTO ${quoteIdent(table.name)} (${names.join(", ")}) VALUES ${values} ON CONFLICT (${table.key.map(quoteIdent).join(", ")}) ${conflict} RETURNING (xmax = 0) AS inserted`;
}

/** A plain insert, for a table without a primary key (copied whole, in one transaction). */
export function insertSql(table: CopyTable, rows: number): string {
  const row = `(${table.columns.map(() => "?").join(", ")})`;
  return `INSERT INTO ${quoteIdent(table.name)} (${table.columns.map((c) => quoteIdent(c.name)).join(", ")}) VALUES ${Array.from({ length: rows }, () => row).join(", ")}`;
}
