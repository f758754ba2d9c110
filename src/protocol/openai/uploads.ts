import type { FileRecord } from "../../storage/file-store.ts";
import { visibleStatus, type UploadPartRecord, type UploadRecord } from "../../storage/upload-store.ts";
import { renderFile } from "./files.ts";

/** The `upload` object; `file` once it is completed. */
export function renderUpload(u: UploadRecord, file: FileRecord | null = null): Record<string, unknown> {
  return {
    id: u.id,
    object: "upload",
    bytes: u.bytes,
    created_at: u.createdAt,
    filename: u.filename,
    purpose: u.purpose,
    status: visibleStatus(u),
    expires_at: u.expiresAt,
    file: file === null ? null : renderFile(file),
  };
}

/** The `upload.part` object. */
export function renderPart(p: UploadPartRecord): Record<string, unknown> {
  return { id: p.id, object: "upload.part", created_at: p.createdAt, upload_id: p.uploadId };
}
