import { DatabaseSync, type StatementSync } from "node:sqlite";
import pg from "pg";

/** A row as the driver returns it. */
export type Row = Record<string, unknown>;
/** Values bound to `?` placeholders; bytes go to BLOB (SQLite) or BYTEA (PostgreSQL) columns. */
export type Param = string | number | null | Uint8Array;

/** Row value readers: drivers return numbers, bigints as numbers, or null, depending on the column and database. */
export const num = (v: unknown): number => Number(v ?? 0);
export const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
export const str = (v: unknown): string => String(v ?? "");
export const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/**
 * The little SQL surface the storage layer needs, over SQLite (node:sqlite) and PostgreSQL (pg).
 * Statements use `?` placeholders and SQL both databases accept.
 */
export interface SqlDb {
  readonly dialect: "sqlite" | "postgres";
  all(sql: string, params?: readonly Param[]): Promise<Row[]>;
  run(sql: string, params?: readonly Param[]): Promise<number>;
  exec(sql: string): Promise<void>;
  /** Runs `fn` in a transaction (serialised across processes on PostgreSQL by an advisory lock when `lockKey` is given). */
  transaction<T>(fn: (db: SqlDb) => Promise<T>, lockKey?: number): Promise<T>;
  close(): Promise<void>;
}

/** Most ids per `IN (…)` list: well under SQLite's and PostgreSQL's bound-parameter limits. */
const ID_BATCH = 500;

/**
 * Which of `ids` the `id` column of `table` holds, asked in batches of 500. `table` is a name from
 * our own code, never from a request.
 */
export async function existingIds(db: SqlDb, table: string, ids: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let start = 0; start < ids.length; start += ID_BATCH) {
    const batch = ids.slice(start, start + ID_BATCH);
    const rows = await db.all(`SELECT id FROM ${table} WHERE id IN (${batch.map(() => "?").join(", ")})`, batch);
    for (const row of rows) found.add(str(row.id));
  }
  return found;
}

/** Prepared statements kept per SQL text: compiling one costs more than running most of ours. */
const MAX_STATEMENTS = 256;

/** SQLite through Node's built-in driver, in WAL mode so readers never wait for the writer. */
export class SqliteDb implements SqlDb {
  readonly dialect = "sqlite";
  readonly #db: DatabaseSync;
  /** Least recently used first (a Map keeps insertion order; a hit moves to the end). */
  readonly #statements = new Map<string, StatementSync>();
  #chain: Promise<unknown> = Promise.resolve();

  constructor(file: string) {
    this.#db = new DatabaseSync(file);
    this.#db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;");
  }

  /**
   * The prepared statement for `sql`. Statements built from variable parts (IN lists, optional
   * filters) come in few shapes; the bound keeps odd ones from piling up.
   */
  #prepare(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement !== undefined) {
      this.#statements.delete(sql);
    } else {
      statement = this.#db.prepare(sql);
      if (this.#statements.size >= MAX_STATEMENTS) this.#statements.delete(this.#statements.keys().next().value as string);
    }
    this.#statements.set(sql, statement);
    return statement;
  }

  async all(sql: string, params: readonly Param[] = []): Promise<Row[]> {
    return this.#prepare(sql).all(...params) as Row[];
  }

  async run(sql: string, params: readonly Param[] = []): Promise<number> {
    return Number(this.#prepare(sql).run(...params).changes);
  }

  async exec(sql: string): Promise<void> {
    // Cached statements survive schema changes: SQLite re-prepares them when the schema moves.
    this.#db.exec(sql);
  }

  transaction<T>(fn: (db: SqlDb) => Promise<T>): Promise<T> {
    // One connection: transactions are queued so their statements never interleave.
    const next = this.#chain.then(async () => {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        const result = await fn(this);
        this.#db.exec("COMMIT");
        return result;
      } catch (error) {
        this.#db.exec("ROLLBACK");
        throw error;
      }
    });
    this.#chain = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.#chain;
    this.#statements.clear();
    this.#db.close();
  }
}

function toPg(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** Statements over anything pg can query: the pool, or one client inside a transaction. */
abstract class PgQueries {
  readonly dialect = "postgres";
  protected abstract query(sql: string, params: Param[]): Promise<pg.QueryResult>;
  async all(sql: string, params: readonly Param[] = []): Promise<Row[]> {
    return (await this.query(toPg(sql), [...params])).rows as Row[];
  }
  async run(sql: string, params: readonly Param[] = []): Promise<number> {
    return (await this.query(toPg(sql), [...params])).rowCount ?? 0;
  }
  async exec(sql: string): Promise<void> {
    await this.query(sql, []);
  }
}

/** One pooled client inside a transaction; nested transactions join it. */
class PgClientDb extends PgQueries implements SqlDb {
  readonly #client: pg.PoolClient;
  constructor(client: pg.PoolClient) {
    super();
    this.#client = client;
  }
  protected query(sql: string, params: Param[]): Promise<pg.QueryResult> {
    return this.#client.query(sql, params);
  }
  transaction<T>(fn: (db: SqlDb) => Promise<T>): Promise<T> {
    return fn(this);
  }
  async close(): Promise<void> {}
}

/** PostgreSQL through a connection pool. */
export class PostgresDb extends PgQueries implements SqlDb {
  readonly #pool: pg.Pool;
  readonly #url: string;

  constructor(url: string) {
    super();
    this.#url = url;
    this.#pool = new pg.Pool({ connectionString: url, max: 10 });
    // An idle client whose connection the server drops (a restart, a failover) must not crash the
    // process: the pool discards it and the next query connects afresh.
    this.#pool.on("error", () => undefined);
    // BIGINT columns hold seconds and token counts, well inside Number's exact range.
    pg.types.setTypeParser(20, (v) => Number(v));
    pg.types.setTypeParser(1700, (v) => Number(v));
  }

  protected query(sql: string, params: Param[]): Promise<pg.QueryResult> {
    return this.#pool.query(sql, params);
  }

  async transaction<T>(fn: (db: SqlDb) => Promise<T>, lockKey?: number): Promise<T> {
    const client = await this.#pool.connect();
    try {
      await client.query("BEGIN");
      if (lockKey !== undefined) await client.query("SELECT pg_advisory_xact_lock($1)", [lockKey]);
      const result = await fn(new PgClientDb(client));
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * A connection of its own that LISTENs on `channel` (a pooled client cannot: the pool hands it to
   * other queries, and a notification arrives only on the connection that listens). `onEnd` is
   * called once, when the connection is lost or closed; `query` runs on the same connection, so a
   * query that answers proves the listener is still alive.
   */
  async listen(channel: string, options: { applicationName: string; onNotify(payload: string): void; onEnd(error: Error | undefined): void }): Promise<PgListener> {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`Bad channel name '${channel}'.`);
    const handlers = options;
    const client = new pg.Client({ connectionString: this.#url, keepAlive: true, application_name: options.applicationName });
    let ended = false;
    const end = (error: Error | undefined): void => {
      if (ended) return;
      ended = true;
      handlers.onEnd(error);
    };
    client.on("notification", (n) => {
      if (n.channel === channel) handlers.onNotify(n.payload ?? "");
    });
    client.on("error", (error) => {
      end(error);
      client.end().catch(() => undefined);
    });
    client.on("end", () => end(undefined));
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
    } catch (error) {
      ended = true;
      await client.end().catch(() => undefined);
      throw error;
    }
    return {
      all: async (sql, params = []) => (await client.query(toPg(sql), [...params])).rows as Row[],
      close: async () => {
        ended = true;
        await client.end().catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

/** A listening PostgreSQL connection (see `PostgresDb.listen`). */
export interface PgListener {
  /** Runs a query on the listening connection itself. */
  all(sql: string, params?: readonly Param[]): Promise<Row[]>;
  close(): Promise<void>;
}
