import { createReadStream, createWriteStream, mkdirSync, type ReadStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable, Transform } from "node:stream";
import { ApiError } from "../core/errors.ts";
import { prefixedId, unixSeconds } from "../core/ids.ts";
import { nextSeq, type Page, type PageQuery } from "./object-store.ts";
import { num, numOrNull, str, type Param, type Row, type SqlDb } from "./sql-db.ts";

/** The purposes a file may have, as OpenAI lists them (plus what its own endpoints produce). */
export const FILE_PURPOSES = ["assistants", "assistants_output", "batch", "batch_output", "fine-tune", "fine-tune-results", "vision", "user_data", "evals"] as const;
export type FilePurpose = (typeof FILE_PURPOSES)[number];

/** A stored file's metadata; its bytes are `files/<id>` in the data directory. */
export interface FileRecord {
  id: string;
  projectId: string;
  /** Unix seconds. */
  createdAt: number;
  expiresAt: number | null;
  bytes: number;
  filename: string;
  purpose: FilePurpose;
  status: "processed" | "error";
}


function toFile(r: Row): FileRecord {
  return {
    id: str(r.id),
    projectId: str(r.project_id),
    createdAt: num(r.created_at),
    expiresAt: numOrNull(r.expires_at),
    bytes: num(r.bytes),
    filename: str(r.filename),
    purpose: str(r.purpose) as FilePurpose,
    status: str(r.status) as FileRecord["status"],
  };
}

/** 413 for an upload over the configured limit. */
export function fileTooLarge(limit: number): ApiError {
  return new ApiError(413, `The file is larger than this server's limit of ${limit} bytes.`, { type: "invalid_request_error", code: "file_too_large", param: "file" });
}

/**
 * Streams `source` to `dest` through `dest.part`, renamed into place once complete. Beyond
 * `maxBytes` it fails with `tooLarge()` (a 413 by default) and the partial bytes are removed, as they
 * are on any other failure. Returns the number of bytes written.
 */
export async function streamToFile(
  source: AsyncIterable<Uint8Array> | Readable,
  dest: string,
  maxBytes: number,
  tooLarge: () => Error = () => fileTooLarge(maxBytes),
): Promise<number> {
  const partial = `${dest}.part`;
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      if (bytes > maxBytes) callback(tooLarge());
      else callback(null, chunk);
    },
  });
  try {
    await pipeline(source instanceof Readable ? source : Readable.from(source), counter, createWriteStream(partial));
    await rename(partial, dest);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return bytes;
}

/**
 * Files owned by projects: bytes streamed to disk (never held in memory) and renamed into place
 * once complete, metadata in the database. Expired files are invisible and removed by `sweep`.
 */
export class FileStore {
  readonly #db: SqlDb;
  readonly #dir: string;

  constructor(db: SqlDb, dataDir: string) {
    this.#db = db;
    this.#dir = join(dataDir, "files");
    mkdirSync(this.#dir, { recursive: true });
  }

  /** Where a file's bytes are. */
  path(id: string): string {
    return join(this.#dir, id);
  }

  /**
   * Streams `source` to disk, counting bytes against `maxBytes` (413 beyond it, the partial bytes
   * removed), then records the file.
   */
  async create(
    projectId: string,
    meta: { filename: string; purpose: FilePurpose; expiresAt: number | null },
    source: AsyncIterable<Uint8Array> | Readable,
    maxBytes: number,
  ): Promise<FileRecord> {
    const { id, bytes } = await this.writeBytes(source, maxBytes);
    try {
      return await this.insert({ id, projectId, createdAt: unixSeconds(), expiresAt: meta.expiresAt, bytes, filename: meta.filename, purpose: meta.purpose, status: "processed" });
    } catch (error) {
      await this.discard(id);
      throw error;
    }
  }

  /**
   * Streams `source` to the bytes of a new file id without recording it, for callers that learn the
   * file's metadata only once its bytes are in (a form whose `purpose` follows its `file`): `insert`
   * records it, `discard` drops it.
   */
  async writeBytes(source: AsyncIterable<Uint8Array> | Readable, maxBytes: number, tooLarge?: () => Error): Promise<{ id: string; bytes: number }> {
    const id = prefixedId("file-", 24);
    const bytes = await streamToFile(source, this.path(id), maxBytes, tooLarge);
    return { id, bytes };
  }

  /** Removes the bytes of a file that was written but never recorded. */
  async discard(id: string): Promise<void> {
    await rm(this.path(id), { force: true });
  }

  /** Records a file whose bytes are already at `path(id)` (assembled uploads, batch outputs). */
  async insert(f: FileRecord): Promise<FileRecord> {
    await this.#db.run("INSERT INTO files (id, project_id, created_at, expires_at, bytes, filename, purpose, status, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
      f.id,
      f.projectId,
      f.createdAt,
      f.expiresAt,
      f.bytes,
      f.filename,
      f.purpose,
      f.status,
      nextSeq(),
    ]);
    return f;
  }

  /** A project's file, unless it has expired. */
  async get(projectId: string, id: string): Promise<FileRecord | undefined> {
    const [row] = await this.#db.all("SELECT * FROM files WHERE id = ? AND project_id = ? AND (expires_at IS NULL OR expires_at > ?)", [id, projectId, unixSeconds()]);
    return row === undefined ? undefined : toFile(row);
  }

  async list(projectId: string, q: PageQuery & { purpose?: string | undefined }): Promise<Page<FileRecord>> {
    const params: Param[] = [projectId, unixSeconds()];
    let where = "project_id = ? AND (expires_at IS NULL OR expires_at > ?)";
    if (q.purpose !== undefined) {
      where += " AND purpose = ?";
      params.push(q.purpose);
    }
    if (q.after !== undefined) {
      const [row] = await this.#db.all("SELECT seq FROM files WHERE id = ? AND project_id = ?", [q.after, projectId]);
      if (row === undefined) return { data: [], hasMore: false };
      where += q.order === "asc" ? " AND seq > ?" : " AND seq < ?";
      params.push(num(row.seq));
    }
    const rows = await this.#db.all(`SELECT * FROM files WHERE ${where} ORDER BY seq ${q.order === "asc" ? "ASC" : "DESC"} LIMIT ?`, [...params, q.limit + 1]);
    return { data: rows.slice(0, q.limit).map(toFile), hasMore: rows.length > q.limit };
  }

  async delete(projectId: string, id: string): Promise<boolean> {
    const deleted = (await this.#db.run("DELETE FROM files WHERE id = ? AND project_id = ?", [id, projectId])) > 0;
    if (deleted) await rm(this.path(id), { force: true });
    return deleted;
  }

  /** Reads a file's bytes. */
  read(id: string): ReadStream {
    return createReadStream(this.path(id));
  }

  /** Removes expired files and their bytes; returns how many. */
  async sweep(now = unixSeconds()): Promise<number> {
    const rows = await this.#db.all("SELECT id FROM files WHERE expires_at IS NOT NULL AND expires_at <= ?", [now]);
    for (const r of rows) {
      await this.#db.run("DELETE FROM files WHERE id = ?", [str(r.id)]);
      await rm(this.path(str(r.id)), { force: true });
    }
    return rows.length;
  }
}
