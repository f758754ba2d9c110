import type { FileRecord } from "../../storage/file-store.ts";

/** The OpenAI `file` object of a record. */
export function renderFile(f: FileRecord): { id: string } & Record<string, unknown> {
  // The spec types `expires_at` as an integer (not nullable): a file that never expires leaves it out.
  return { id: f.id, object: "file", bytes: f.bytes, created_at: f.createdAt, ...(f.expiresAt === null ? {} : { expires_at: f.expiresAt }), filename: f.filename, purpose: f.purpose, status: f.status };
}
