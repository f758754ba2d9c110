import type { DatabaseSync } from "node:sqlite";
import type { SqlDb } from "./sql-db.ts";

/**
 * How a column's values are carried from SQLite to PostgreSQL, from the PostgreSQL column's type
 * (the target's schema is the server's own, so it says what the server will read back).
 */
export type ColumnKind = "int" | "float" | "text" | "bytes" | "bool";

/** One column of a table to copy. */
export interface CopyColumn {
  name: string;
  kind: ColumnKind;
}

/** One table to copy: its columns (in the source's order) and primary key (empty when it has none). */
export interface CopyTable {
  name: string;
  columns: CopyColumn[];
  key: string[];
}

/** The table that records applied migrations: each side keeps its own, so it is never copied. */
export const MIGRATIONS_TABLE = "schema_migrations";

/** A source and target whose tables do not correspond. */
export class SchemaMismatchError extends Error {}

/** Double-quotes an identifier for either dialect. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function kindOf(pgType: string): ColumnKind {
  switch (pgType) {
    case "bigint":
    case "integer":
    case "smallint":
      return "int";
    case "double precision":
    case "real":
    case "numeric":
      return "float";
    case "bytea":
      return "bytes";
    case "boolean":
      return "bool";
    default:
      return "text";
  }
}

interface SqliteColumnInfo {
  name: string;
  pk: number;
}

/**
 * The tables to copy, discovered from the source (so tables added by later migrations are copied
 * without naming them here) and typed by the target, ordered so that a table comes after the
 * tables its foreign keys reference (PostgreSQL checks them on every insert).
 */
export async function planCopy(source: DatabaseSync, target: SqlDb): Promise<CopyTable[]> {
  const names = source
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")
    .all()
    .map((r) => String(r.name))
    .filter((n) => n !== MIGRATIONS_TABLE);
  const targetColumns = new Map<string, Map<string, ColumnKind>>();
  for (const r of await target.all("SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position")) {
    const table = String(r.table_name);
    if (!targetColumns.has(table)) targetColumns.set(table, new Map());
    targetColumns.get(table)?.set(String(r.column_name), kindOf(String(r.data_type)));
  }
  const targetKeys = new Map<string, string[]>();
  const keyRows = await target.all(
    `SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc
     JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema AND kcu.table_name = tc.table_name
     WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema() ORDER BY tc.table_name, kcu.ordinal_position`,
  );
  for (const r of keyRows) targetKeys.set(String(r.table_name), [...(targetKeys.get(String(r.table_name)) ?? []), String(r.column_name)]);

  const tables: CopyTable[] = [];
  for (const name of names) {
    const kinds = targetColumns.get(name);
    if (kinds === undefined) throw new SchemaMismatchError(`Table '${name}' is in the SQLite database but not in PostgreSQL.`);
    const info = source.prepare(`PRAGMA table_info(${quoteIdent(name)})`).all() as unknown as SqliteColumnInfo[];
    const columns = info.map((c): CopyColumn => {
      const kind = kinds.get(c.name);
      if (kind === undefined) throw new SchemaMismatchError(`Column '${name}.${c.name}' is in the SQLite database but not in PostgreSQL.`);
      return { name: c.name, kind };
    });
    const missing = [...kinds.keys()].filter((c) => !info.some((s) => s.name === c));
    if (missing.length > 0) throw new SchemaMismatchError(`PostgreSQL's '${name}' has columns the SQLite database lacks: ${missing.join(", ")}.`);
    const key = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
    const pgKey = targetKeys.get(name) ?? [];
    if (key.join(",") !== pgKey.join(",")) throw new SchemaMismatchError(`Table '${name}' has primary key (${key.join(", ")}) in SQLite but (${pgKey.join(", ")}) in PostgreSQL.`);
    tables.push({ name, columns, key });
  }
  return orderByReferences(tables, await foreignKeys(target));
}

/** Child → parents, from the target's foreign keys (the constraints that will be enforced). */
async function foreignKeys(target: SqlDb): Promise<Map<string, Set<string>>> {
  const rows = await target.all(
    `SELECT child.relname AS child, parent.relname AS parent FROM pg_constraint c
     JOIN pg_class child ON child.oid = c.conrelid JOIN pg_class parent ON parent.oid = c.confrelid
     JOIN pg_namespace n ON n.oid = c.connamespace
     WHERE c.contype = 'f' AND n.nspname = current_schema()`,
  );
  const parents = new Map<string, Set<string>>();
  for (const r of rows) {
    const child = String(r.child);
    const parent = String(r.parent);
    // A table that references itself is copied in key order; nothing to order it against.
    if (child === parent) continue;
    if (!parents.has(child)) parents.set(child, new Set());
    parents.get(child)?.add(parent);
  }
  return parents;
}

/** Tables sorted so parents come first; ties keep name order, so runs copy in the same order. */
function orderByReferences(tables: CopyTable[], parents: Map<string, Set<string>>): CopyTable[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const ordered: CopyTable[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, path: string[]): void => {
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") throw new SchemaMismatchError(`Foreign keys form a cycle (${[...path, name].join(" → ")}); such tables cannot be copied one after another.`);
    state.set(name, "visiting");
    for (const parent of [...(parents.get(name) ?? [])].sort()) if (byName.has(parent)) visit(parent, [...path, name]);
    state.set(name, "done");
    const table = byName.get(name);
    if (table !== undefined) ordered.push(table);
  };
  for (const t of tables) visit(t.name, []);
  return ordered;
}
