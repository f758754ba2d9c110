import type { BlobInfo, BlobStore } from "./blob-store.ts";

/** The key prefixes that hold the server's bytes: files (uploaded, assembled, batch output) and upload parts. */
export const BLOB_PREFIXES = ["files/", "uploads/"] as const;

/** What a copy did. */
export interface CopyBlobsResult {
  copied: number;
  /** Already in the target with the same size (a copy run again after an interruption). */
  skipped: number;
  bytes: number;
}

/**
 * Copies every object under `prefixes` from one blob store to another, streamed one object at a
 * time, for switching backends. Objects the target already has with the same size are skipped,
 * so a copy that was interrupted is finished by running it again; nothing is deleted from either.
 */
export async function copyBlobs(
  from: BlobStore,
  to: BlobStore,
  options: { prefixes?: readonly string[]; onCopied?: (blob: BlobInfo) => void } = {},
): Promise<CopyBlobsResult> {
  const result: CopyBlobsResult = { copied: 0, skipped: 0, bytes: 0 };
  for (const prefix of options.prefixes ?? BLOB_PREFIXES) {
    for await (const blob of from.list(prefix)) {
      if ((await to.stat(blob.key))?.bytes === blob.bytes) {
        result.skipped++;
        continue;
      }
      const { bytes } = await to.put(blob.key, await from.get(blob.key));
      result.copied++;
      result.bytes += bytes;
      options.onCopied?.(blob);
    }
  }
  return result;
}
