import type { Readable } from "node:stream";
import { prefixedId, unixSeconds } from "../core/ids.ts";
import { LEFTOVER_AGE_MS, type BlobStore } from "./blob-store.ts";
import type { FilePurpose } from "./file-store.ts";
import { num, numOrNull, str, strOrNull, type Row, type SqlDb } from "./sql-db.ts";

/**
 * An upload's state as stored. `completing` is held while its parts are assembled into a file, so
 * that it is completed once and takes no parts meanwhile; it reads as `pending`.
 */
export type UploadStatus = "pending" | "completing" | "completed" | "cancelled" | "expired";

/** An upload: a file declared up front and sent in parts. */
export interface UploadRecord {
  id: string;
  projectId: string;
  /** Unix seconds. */
  createdAt: number;
  expiresAt: number;
  filename: string;
  purpose: FilePurpose;
  /** The size the assembled file must have. */
  bytes: number;
  mimeType: string;
  status: UploadStatus;
  /** The file made by completing it. */
  fileId: string | null;
  /** The `expires_after.seconds` the completed file gets. */
  fileExpiresAfter: number | null;
}

/** One part of an upload; its bytes are the blob `uploads/<upload id>/<part id>`. */
export interface UploadPartRecord {
  id: string;
  uploadId: string;
  createdAt: number;
  bytes: number;
}


function toUpload(r: Row): UploadRecord {
  const after = numOrNull(r.file_expires_after);
  return {
    id: str(r.id),
    projectId: str(r.project_id),
    createdAt: num(r.created_at),
    expiresAt: num(r.expires_at),
    filename: str(r.filename),
    purpose: str(r.purpose) as FilePurpose,
    bytes: num(r.bytes),
    mimeType: str(r.mime_type),
    status: str(r.status) as UploadStatus,
    fileId: strOrNull(r.file_id),
    fileExpiresAfter: after !== null && Number.isFinite(after) ? after : null,
  };
}

/** The status a client sees: `completing` is still `pending`, and a pending upload past its time has `expired`. */
export function visibleStatus(u: UploadRecord, now = unixSeconds()): "pending" | "completed" | "cancelled" | "expired" {
  if (u.status === "pending" || u.status === "completing") return u.expiresAt <= now ? "expired" : "pending";
  return u.status;
}

/** The blob key of a part's bytes. */
function partKey(uploadId: string, partId: string): string {
  return `uploads/${uploadId}/${partId}`;
}

/**
 * Uploads (OpenAI's Uploads API) owned by projects: the upload in the database, each part's bytes
 * streamed to its own blob until the upload is completed (assembled into a FileStore file),
 * cancelled or expired, when they are removed.
 */
export class UploadStore {
  readonly #db: SqlDb;
  readonly #blobs: BlobStore;

  constructor(db: SqlDb, blobs: BlobStore) {
    this.#db = db;
    this.#blobs = blobs;
  }

  /** A part's bytes as a stream; rejects with `BlobNotFoundError` when they are missing. */
  readPart(uploadId: string, partId: string): Promise<Readable> {
    return this.#blobs.get(partKey(uploadId, partId));
  }

  async create(u: UploadRecord): Promise<void> {
    await this.#db.run(
      "INSERT INTO uploads (id, project_id, created_at, expires_at, filename, purpose, bytes, mime_type, status, file_id, file_expires_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      [u.id, u.projectId, u.createdAt, u.expiresAt, u.filename, u.purpose, u.bytes, u.mimeType, u.status, u.fileId, u.fileExpiresAfter === null ? null : String(u.fileExpiresAfter)],
    );
  }

  /** A project's upload, whatever its status. */
  async get(projectId: string, id: string): Promise<UploadRecord | undefined> {
    const [row] = await this.#db.all("SELECT * FROM uploads WHERE id = ? AND project_id = ?", [id, projectId]);
    return row === undefined ? undefined : toUpload(row);
  }

  /** Streams a part's bytes to the blob store (at most `maxBytes`, else `tooLarge()`); not recorded yet. */
  async writePart(uploadId: string, source: Readable, maxBytes: number, tooLarge: () => Error): Promise<UploadPartRecord> {
    const id = prefixedId("part_", 24);
    const { bytes } = await this.#blobs.put(partKey(uploadId, id), source, { maxBytes, tooLarge });
    return { id, uploadId, createdAt: unixSeconds(), bytes };
  }

  /** Removes the bytes of a part that was written but not recorded. */
  async discardPart(part: UploadPartRecord): Promise<void> {
    await this.#blobs.delete(partKey(part.uploadId, part.id));
  }

  /** Records a written part, if its upload still takes parts (pending, not expired); false otherwise. */
  async addPart(part: UploadPartRecord): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      const [row] = await tx.all("SELECT status, expires_at FROM uploads WHERE id = ?", [part.uploadId]);
      if (row === undefined || str(row.status) !== "pending" || num(row.expires_at) <= unixSeconds()) return false;
      await tx.run("INSERT INTO upload_parts (id, upload_id, created_at, bytes) VALUES (?, ?, ?, ?)", [part.id, part.uploadId, part.createdAt, part.bytes]);
      return true;
    });
  }

  /** An upload's recorded parts. */
  async parts(uploadId: string): Promise<UploadPartRecord[]> {
    const rows = await this.#db.all("SELECT * FROM upload_parts WHERE upload_id = ? ORDER BY created_at, id", [uploadId]);
    return rows.map((r) => ({ id: str(r.id), uploadId: str(r.upload_id), createdAt: num(r.created_at), bytes: num(r.bytes) }));
  }

  /** Moves a pending, unexpired upload to `completing`; false if it was not (completed, cancelled, expired, or being completed). */
  async beginCompleting(id: string): Promise<boolean> {
    return (await this.#db.run("UPDATE uploads SET status = 'completing' WHERE id = ? AND status = 'pending' AND expires_at > ?", [id, unixSeconds()])) > 0;
  }

  /** Puts an upload whose completion failed back to `pending`. */
  async abandonCompleting(id: string): Promise<void> {
    await this.#db.run("UPDATE uploads SET status = 'pending' WHERE id = ? AND status = 'completing'", [id]);
  }

  /** Marks an upload completed with its file, and removes its parts. */
  async complete(id: string, fileId: string): Promise<void> {
    await this.#db.run("UPDATE uploads SET status = 'completed', file_id = ? WHERE id = ?", [fileId, id]);
    await this.#removeParts(id);
  }

  /** Cancels a pending, unexpired upload and removes its parts; false if it was not pending. */
  async cancel(projectId: string, id: string): Promise<boolean> {
    const cancelled = (await this.#db.run("UPDATE uploads SET status = 'cancelled' WHERE id = ? AND project_id = ? AND status = 'pending' AND expires_at > ?", [id, projectId, unixSeconds()])) > 0;
    if (cancelled) await this.#removeParts(id);
    return cancelled;
  }

  /**
   * Marks uploads past their time `expired` and removes their parts; returns how many. One left
   * `completing` (its process died while assembling it) is given an hour more, so a completion that
   * began just before the upload's end is never cut short.
   */
  async sweep(now = unixSeconds()): Promise<number> {
    const due = "(status = 'pending' AND expires_at <= ?) OR (status = 'completing' AND expires_at <= ?)";
    const rows = await this.#db.all(`SELECT id FROM uploads WHERE ${due}`, [now, now - 3600]);
    let expired = 0;
    for (const r of rows) {
      if ((await this.#db.run(`UPDATE uploads SET status = 'expired' WHERE id = ? AND (${due})`, [str(r.id), now, now - 3600])) === 0) continue;
      await this.#removeParts(str(r.id));
      expired++;
    }
    return expired;
  }

  /**
   * Removes what a crash left under `uploads/`: puts never finished, and parts of uploads that no
   * longer take them (completed, cancelled, expired, or gone) whose removal was cut short, once
   * untouched for `olderThanMs`. Returns how many blobs it removed.
   */
  async sweepLeftovers(olderThanMs = LEFTOVER_AGE_MS): Promise<number> {
    let removed = await this.#blobs.sweepIncomplete("uploads/", olderThanMs);
    const cutoff = Date.now() - olderThanMs;
    const byUpload = new Map<string, string[]>();
    for await (const blob of this.#blobs.list("uploads/")) {
      const [, uploadId] = blob.key.split("/");
      if (blob.modifiedAt >= cutoff || uploadId === undefined) continue;
      byUpload.set(uploadId, [...(byUpload.get(uploadId) ?? []), blob.key]);
    }
    for (const [uploadId, keys] of byUpload) {
      const [row] = await this.#db.all("SELECT status FROM uploads WHERE id = ?", [uploadId]);
      if (row !== undefined && (str(row.status) === "pending" || str(row.status) === "completing")) continue;
      for (const key of keys) await this.#blobs.delete(key);
      removed += keys.length;
    }
    return removed;
  }

  async #removeParts(uploadId: string): Promise<void> {
    await this.#db.run("DELETE FROM upload_parts WHERE upload_id = ?", [uploadId]);
    // Left to `sweepLeftovers` if it fails: the upload's state is what the client sees.
    await this.#blobs.deletePrefix(`uploads/${uploadId}/`).catch(() => undefined);
  }
}
