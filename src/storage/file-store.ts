import type { Readable } from "node:stream";
import { ApiError } from "../core/errors.ts";
import { prefixedId, unixSeconds } from "../core/ids.ts";
import { LEFTOVER_AGE_MS, readBlob, type BlobSource, type BlobStore } from "./blob-store.ts";
import { nextSeq, type Page, type PageQuery } from "./object-store.ts";
import { existingIds, num, numOrNull, str, type Param, type Row, type SqlDb } from "./sql-db.ts";

/** The purposes a file may have, as OpenAI lists them (plus what its own endpoints produce). */
export const FILE_PURPOSES = ["assistants", "assistants_output", "batch", "batch_output", "fine-tune", "fine-tune-results", "vision", "user_data", "evals"] as const;
export type FilePurpose = (typeof FILE_PURPOSES)[number];

/** A stored file's metadata; its bytes are the blob `files/<id>`. */
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

/** The blob key of a file's bytes. */
export function fileBlobKey(id: string): string {
  return `files/${id}`;
}

/**
 * Files owned by projects: bytes streamed to the blob store (never held in memory), visible once
 * complete, metadata in the database. Expired files are invisible and removed by `sweep`.
 */
export class FileStore {
  readonly #db: SqlDb;
  readonly #blobs: BlobStore;

  constructor(db: SqlDb, blobs: BlobStore) {
    this.#db = db;
    this.#blobs = blobs;
  }

  /**
   * Streams `source` to the blob store, counting bytes against `maxBytes` (413 beyond it, the
   * partial bytes removed), then records the file.
   */
  async create(
    projectId: string,
    meta: { filename: string; purpose: FilePurpose; expiresAt: number | null },
    source: BlobSource,
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
  async writeBytes(source: BlobSource, maxBytes: number, tooLarge: () => Error = () => fileTooLarge(maxBytes)): Promise<{ id: string; bytes: number }> {
    const id = prefixedId("file-", 24);
    const { bytes } = await this.#blobs.put(fileBlobKey(id), source, { maxBytes, tooLarge });
    return { id, bytes };
  }

  /** Removes the bytes of a file that was written but never recorded. */
  async discard(id: string): Promise<void> {
    await this.#blobs.delete(fileBlobKey(id));
  }

  /** Records a file whose bytes `writeBytes` has stored (assembled uploads, batch outputs). */
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
    if (deleted) await this.#dropBytes(id);
    return deleted;
  }

  /** A file's bytes as a stream; rejects with `BlobNotFoundError` when they are missing. */
  read(id: string): Promise<Readable> {
    return this.#blobs.get(fileBlobKey(id));
  }

  /** A file's bytes whole, for readers that need all of them (text extraction, batch validation); `BlobNotFoundError` when missing. */
  readBytes(id: string): Promise<Buffer> {
    return readBlob(this.#blobs, fileBlobKey(id));
  }

  /** Removes expired files and their bytes; returns how many. */
  async sweep(now = unixSeconds()): Promise<number> {
    const rows = await this.#db.all("SELECT id FROM files WHERE expires_at IS NOT NULL AND expires_at <= ?", [now]);
    for (const r of rows) {
      await this.#db.run("DELETE FROM files WHERE id = ?", [str(r.id)]);
      await this.#dropBytes(str(r.id));
    }
    return rows.length;
  }

  /**
   * Removes what a crash left under `files/`: puts never finished, and bytes whose file was never
   * recorded (or whose removal failed), once untouched for `olderThanMs`. Returns how many.
   */
  async sweepLeftovers(olderThanMs = LEFTOVER_AGE_MS): Promise<number> {
    let removed = await this.#blobs.sweepIncomplete("files/", olderThanMs);
    const cutoff = Date.now() - olderThanMs;
    const candidates: string[] = [];
    for await (const blob of this.#blobs.list("files/")) {
      const id = blob.key.slice("files/".length);
      if (blob.modifiedAt < cutoff && !id.includes("/")) candidates.push(id);
    }
    // Listed first, removed after: some backends page their listing, and deleting under it may skip keys.
    const known = await existingIds(this.#db, "files", candidates);
    for (const id of candidates) {
      if (known.has(id)) continue;
      await this.#blobs.delete(fileBlobKey(id));
      removed++;
    }
    return removed;
  }

  /**
   * Removes the bytes of a file whose record is gone. A failure is not the caller's: the file is
   * deleted, and `sweepLeftovers` removes bytes left without a record.
   */
  async #dropBytes(id: string): Promise<void> {
    await this.#blobs.delete(fileBlobKey(id)).catch(() => undefined);
  }
}
