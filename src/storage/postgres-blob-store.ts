import type { Readable } from "node:stream";
import { randomHex } from "../core/ids.ts";
import { BlobNotFoundError, byteStream, checkBlobKey, checkBlobPrefix, countBytes, holdErrors, type BlobInfo, type BlobPutOptions, type BlobSource, type BlobStore } from "./blob-store.ts";
import { num, str, type SqlDb } from "./sql-db.ts";

/** Bytes per stored chunk: a row small enough to move in one round trip, large enough that a GiB is a thousand rows. */
export const BLOB_CHUNK_BYTES = 1024 * 1024;

/** How often a put in progress marks itself alive; far below the hour after which the sweep takes it for dead. */
const TOUCH_EVERY_MS = 60_000;

/** Keys listed per query. */
const LIST_PAGE = 1000;

/** `WHERE` text matching keys that start with the parameter after the length: no LIKE, whose `_` is a wildcard. */
const HAS_PREFIX = "substr(blob_key, 1, ?) = ?";

/**
 * Blobs in the database, for installations that have only PostgreSQL: an object is a
 * `blob_objects` row and its bytes are `blob_chunks` rows of 1 MiB, written one statement per chunk
 * as they stream in (nothing held beyond a chunk) and read back one chunk at a time. The row is
 * marked complete only once every chunk is in, and readers see complete rows only; a replaced
 * object's chunks go with it (ON DELETE CASCADE). PostgreSQL only (chunks are read with `encode`).
 */
export class PostgresBlobStore implements BlobStore {
  readonly backend = "postgres";
  readonly #db: SqlDb;
  readonly #chunkBytes: number;

  constructor(db: SqlDb, chunkBytes = BLOB_CHUNK_BYTES) {
    this.#db = db;
    this.#chunkBytes = chunkBytes;
  }

  async put(key: string, source: BlobSource, options: BlobPutOptions = {}): Promise<{ bytes: number }> {
    holdErrors(source);
    checkBlobKey(key);
    const id = randomHex(16);
    const now = Date.now();
    await this.#db.run("INSERT INTO blob_objects (id, blob_key, bytes, complete, created_at, touched_at) VALUES (?, ?, 0, 0, ?, ?)", [id, key, now, now]);
    const counted = { bytes: 0 };
    let touched = now;
    try {
      let seq = 0;
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = async (size: number): Promise<void> => {
        const all = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingBytes);
        const data = all.subarray(0, size);
        // A fresh copy of what remains, so the chunk just written is not kept alive by a view into it.
        const rest = Buffer.from(all.subarray(size));
        pending = rest.length > 0 ? [rest] : [];
        pendingBytes = rest.length;
        await this.#db.run("INSERT INTO blob_chunks (object_id, seq, data) VALUES (?, ?, ?)", [id, seq++, data]);
        // Touched each minute while it runs: a long put still going is never taken for a dead one by the sweep.
        if (Date.now() - touched >= TOUCH_EVERY_MS) {
          touched = Date.now();
          await this.#db.run("UPDATE blob_objects SET bytes = ?, touched_at = ? WHERE id = ?", [counted.bytes - pendingBytes, touched, id]);
        }
      };
      for await (const piece of countBytes(source, options, counted)) {
        pending.push(Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
        pendingBytes += piece.byteLength;
        while (pendingBytes >= this.#chunkBytes) await flush(this.#chunkBytes);
      }
      if (pendingBytes > 0) await flush(pendingBytes);
      await this.#db.transaction(async (tx) => {
        await tx.run("UPDATE blob_objects SET bytes = ?, complete = 1, touched_at = ? WHERE id = ?", [counted.bytes, Date.now(), id]);
        // The object it replaces, if any, goes in the same transaction: readers see one or the other.
        await tx.run("DELETE FROM blob_objects WHERE blob_key = ? AND id <> ? AND complete = 1", [key, id]);
      });
    } catch (error) {
      await this.#db.run("DELETE FROM blob_objects WHERE id = ?", [id]).catch(() => undefined);
      throw error;
    }
    return { bytes: counted.bytes };
  }

  async #find(key: string): Promise<{ id: string; bytes: number; modifiedAt: number } | undefined> {
    const [row] = await this.#db.all("SELECT id, bytes, touched_at FROM blob_objects WHERE blob_key = ? AND complete = 1 ORDER BY touched_at DESC LIMIT 1", [checkBlobKey(key)]);
    return row === undefined ? undefined : { id: str(row.id), bytes: num(row.bytes), modifiedAt: num(row.touched_at) };
  }

  async get(key: string): Promise<Readable> {
    const found = await this.#find(key);
    if (found === undefined) throw new BlobNotFoundError(key);
    const db = this.#db;
    const { id, bytes } = found;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      let sent = 0;
      for (let seq = 0; sent < bytes; seq++) {
        // As base64, not bytea's hex text: a third less to move and parse, and half the garbage per chunk.
        const [row] = await db.all("SELECT encode(data, 'base64') AS data FROM blob_chunks WHERE object_id = ? AND seq = ?", [id, seq]);
        if (row === undefined) throw new BlobNotFoundError(key);
        const data = Buffer.from(str(row.data), "base64");
        sent += data.byteLength;
        yield data;
      }
    }
    return byteStream(chunks(), this.#chunkBytes);
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    const found = await this.#find(key);
    return found === undefined ? undefined : { key, bytes: found.bytes, modifiedAt: found.modifiedAt };
  }

  /** Removes the object, and any put to its key still going (which then fails). */
  async delete(key: string): Promise<void> {
    await this.#db.run("DELETE FROM blob_objects WHERE blob_key = ?", [checkBlobKey(key)]);
  }

  async deletePrefix(prefix: string): Promise<void> {
    await this.#db.run(`DELETE FROM blob_objects WHERE ${HAS_PREFIX}`, [checkBlobPrefix(prefix).length, prefix]);
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    checkBlobPrefix(prefix);
    let after = "";
    for (;;) {
      const rows = await this.#db.all(`SELECT blob_key, bytes, touched_at FROM blob_objects WHERE complete = 1 AND ${HAS_PREFIX} AND blob_key > ? ORDER BY blob_key LIMIT ?`, [
        prefix.length,
        prefix,
        after,
        LIST_PAGE,
      ]);
      for (const r of rows) yield { key: str(r.blob_key), bytes: num(r.bytes), modifiedAt: num(r.touched_at) };
      if (rows.length < LIST_PAGE) return;
      after = str(rows.at(-1)?.blob_key);
    }
  }

  async sweepIncomplete(prefix: string, olderThanMs: number): Promise<number> {
    return this.#db.run(`DELETE FROM blob_objects WHERE complete = 0 AND touched_at < ? AND ${HAS_PREFIX}`, [Date.now() - olderThanMs, checkBlobPrefix(prefix).length, prefix]);
  }

  /** The database is the server's own: closed with its storage, not here. */
  async close(): Promise<void> {}
}
