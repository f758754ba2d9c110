import { num, PostgresDb, type PgListener, type SqlDb } from "./sql-db.ts";

/** The PostgreSQL channel on which every bump of the access version is announced. */
export const ACCESS_CHANNEL = "modelport_access";

/**
 * A listening connection names itself `modelport-access:<version it has heard>` (its
 * application_name, which every session can read in pg_stat_activity): a process that bumps the
 * version waits until no listener names an older one. A connection that is still priming has
 * another name and is not waited for: until primed, its process reads the version per request.
 */
const ACK_PREFIX = "modelport-access:";
const PRIMING_NAME = "modelport-access-priming";

/** How often a listening process proves its listener alive and compares versions (a safety net, not the path). */
const HEARTBEAT_MS = 2000;
/** A heartbeat unanswered this long means the listening connection is dead. */
const HEARTBEAT_TIMEOUT_MS = 2000;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5000;
/** How long a bump waits for every listener to acknowledge it before giving up on a stuck one. */
const ACK_TIMEOUT_MS = 2000;
const ACK_POLL_MS = 1;

/**
 * The version of everything that decides what a key may do (the `access_version` row): it moves in
 * the same transaction as a revoke, an archive or a new key, in any process. Caches of principals
 * hold only while it stands still.
 */
export interface AccessVersion {
  /**
   * The version now, as of every bump whose change has been reported done. A number when it is
   * known without a query (PostgreSQL with a live listener), else a promise of one read.
   */
  current(): number | Promise<number>;
  /** This process committed a bump to `version`: known here at once, before any notification. */
  advanced(version: number): void;
  close(): Promise<void>;
}

/** Reads the version row. */
export async function readAccessVersion(db: Pick<SqlDb, "all">): Promise<number> {
  const [row] = await db.all("SELECT version FROM access_version WHERE id = 1");
  return num(row?.version);
}

/**
 * Moves the version inside the caller's transaction; on PostgreSQL the notification goes out with
 * the commit (never before it, never for a rolled-back change). Returns the new version.
 */
export async function bumpAccessVersion(tx: SqlDb): Promise<number> {
  const [row] = await tx.all("UPDATE access_version SET version = version + 1 WHERE id = 1 RETURNING version");
  const version = num(row?.version);
  if (tx.dialect === "postgres") await tx.all("SELECT pg_notify(?, ?)", [ACCESS_CHANNEL, String(version)]);
  return version;
}

/**
 * After a committed bump: on PostgreSQL, waits until every live listener of every process has heard
 * it (false if one has not within two seconds: a stuck process, which catches up when its event
 * loop next runs, its notification being the first thing queued for it). A notification alone
 * is not enough for "at once": PostgreSQL signals listeners at commit, but a loaded machine can
 * schedule the committing process, its client and another server before a listener's backend.
 * SQLite needs no wait: every request reads the version from the file.
 */
export async function awaitAcknowledged(db: SqlDb, version: number): Promise<boolean> {
  if (db.dialect !== "postgres") return true;
  const deadline = Date.now() + ACK_TIMEOUT_MS;
  // CASE, not AND: PostgreSQL may evaluate the cast before the pattern test.
  const sql = `SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database()
    AND CASE WHEN application_name ~ '^${ACK_PREFIX}[0-9]{1,18}$' THEN CAST(substr(application_name, ${ACK_PREFIX.length + 1}) AS BIGINT) < CAST(? AS BIGINT) ELSE false END`;
  for (;;) {
    const [row] = await db.all(sql, [version]);
    if (num(row?.n) === 0) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, ACK_POLL_MS));
  }
}

/** Starts keeping the version for this process: a LISTEN connection on PostgreSQL, a read per call on SQLite. */
export async function watchAccessVersion(db: SqlDb): Promise<AccessVersion> {
  if (db instanceof PostgresDb) {
    const watch = new NotifiedAccessVersion(db);
    await watch.start();
    return watch;
  }
  return new ReadAccessVersion(db);
}

/**
 * SQLite: a prepared one-row read per call. The database is a file on this machine, so the read is
 * a few microseconds in process and sees every other process's commit: exact, and cheaper than the
 * key look-up it replaces (one integer by primary key, no row to decode).
 */
class ReadAccessVersion implements AccessVersion {
  readonly #db: SqlDb;
  constructor(db: SqlDb) {
    this.#db = db;
  }
  current(): Promise<number> {
    return readAccessVersion(this.#db);
  }
  advanced(): void {}
  async close(): Promise<void> {}
}

/**
 * PostgreSQL: a read per request would be a network round trip, so one connection LISTENs and the
 * version is known in memory; each notification heard is acknowledged (see `ACK_PREFIX`) so that
 * the bumping process can wait for it. While the listener is down (starting, lost, reconnecting)
 * every call reads the row instead: slower, never stale. A heartbeat on the listening connection
 * finds a silently dead one and catches any version missed.
 */
class NotifiedAccessVersion implements AccessVersion {
  readonly #db: PostgresDb;
  #listener: PgListener | undefined;
  /** Known only while the listener is live and primed. */
  #known: number | undefined;
  #acked = -1;
  #acking = false;
  #closed = false;
  #retryMs = RECONNECT_MIN_MS;
  #timer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(db: PostgresDb) {
    this.#db = db;
  }

  /** Connects once; a failure leaves the watch reading per call and retrying in the background. */
  async start(): Promise<void> {
    try {
      await this.#connect();
    } catch {
      this.#scheduleReconnect();
    }
  }

  current(): number | Promise<number> {
    return this.#known ?? readAccessVersion(this.#db);
  }

  advanced(version: number): void {
    if (this.#known === undefined || this.#listener === undefined || version <= this.#known) return;
    this.#known = version;
    this.#ack(this.#listener);
  }

  async #connect(): Promise<void> {
    let notified = -1;
    let live = true;
    const listener = await this.#db.listen(ACCESS_CHANNEL, {
      applicationName: PRIMING_NAME,
      onNotify: (payload) => {
        const version = Number(payload);
        if (!Number.isFinite(version)) return;
        notified = Math.max(notified, version);
        if (this.#known !== undefined && live && this.#listener !== undefined && version > this.#known) {
          this.#known = version;
          this.#ack(this.#listener);
        }
      },
      onEnd: () => {
        live = false;
        this.#lost();
      },
    });
    if (this.#closed) {
      await listener.close();
      return;
    }
    try {
      // Listening, then named as having heard what it read, then reading again: a bump committed
      // before the name was visible is in the second read; one after it waits for this listener.
      const first = await readAccessVersion(listener);
      await listener.all("SELECT set_config('application_name', ?, false)", [`${ACK_PREFIX}${Math.max(first, notified)}`]);
      const second = await readAccessVersion(listener);
      if (!live) return;
      this.#listener = listener;
      this.#acked = Math.max(first, notified);
      this.#known = Math.max(second, notified);
    } catch (error) {
      await listener.close();
      throw error;
    }
    this.#ack(listener);
    this.#retryMs = RECONNECT_MIN_MS;
    this.#heartbeat = setInterval(() => void this.#beat(listener), HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  /** Names the listener after the version known, one statement at a time, until it is current. */
  #ack(listener: PgListener): void {
    if (this.#acking) return;
    this.#acking = true;
    void (async () => {
      try {
        while (this.#listener === listener && this.#known !== undefined && this.#known > this.#acked) {
          const version = this.#known;
          await listener.all("SELECT set_config('application_name', ?, false)", [`${ACK_PREFIX}${version}`]);
          this.#acked = version;
        }
      } catch {
        // The connection is gone: its end handler falls back and reconnects.
      } finally {
        this.#acking = false;
      }
    })();
  }

  async #beat(listener: PgListener): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const read = await Promise.race([
        readAccessVersion(listener),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("heartbeat timed out")), HEARTBEAT_TIMEOUT_MS);
        }),
      ]);
      if (this.#listener === listener && this.#known !== undefined && read > this.#known) {
        this.#known = read;
        this.#ack(listener);
      }
    } catch {
      if (this.#listener === listener) {
        await listener.close();
        this.#lost();
      }
    } finally {
      clearTimeout(timer);
    }
  }

  #lost(): void {
    this.#known = undefined;
    this.#listener = undefined;
    this.#acked = -1;
    clearInterval(this.#heartbeat);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#connect().catch(() => this.#scheduleReconnect());
    }, this.#retryMs);
    this.#timer.unref();
    this.#retryMs = Math.min(this.#retryMs * 2, RECONNECT_MAX_MS);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#known = undefined;
    clearTimeout(this.#timer);
    clearInterval(this.#heartbeat);
    await this.#listener?.close();
    this.#listener = undefined;
  }
}
