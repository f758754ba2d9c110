/**
 * Copies the server's bytes (files, upload parts) from one blob backend to another, for switching
 * `blobs.backend` (docs/blob-storage.md). Settings come from the same config file and environment
 * as the server's (data directory, MODELPORT_DATABASE_URL, MODELPORT_S3_*, AWS credentials):
 *   node scripts/copy-blobs.ts --from local --to s3 [--config modelport.yaml]
 * Objects already in the target with the same size are skipped: run it again to finish an
 * interrupted copy. Nothing is deleted from the source.
 */
import { loadConfig } from "../src/config/load.ts";
import type { BlobBackend, BlobStore } from "../src/storage/blob-store.ts";
import { copyBlobs } from "../src/storage/copy-blobs.ts";
import { openBlobStore } from "../src/storage/open-blob-store.ts";
import { openStorage } from "../src/storage/open.ts";
import type { Storage } from "../src/storage/storage.ts";

const BACKENDS: readonly BlobBackend[] = ["local", "s3", "postgres"];

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

function backendFlag(name: string): BlobBackend {
  const value = flag(name);
  const found = BACKENDS.find((b) => b === value);
  if (found === undefined) throw new Error(`--${name} must be one of ${BACKENDS.join(", ")} (got ${value ?? "nothing"}).`);
  return found;
}

const from = backendFlag("from");
const to = backendFlag("to");
if (from === to) throw new Error("--from and --to name the same backend.");
const configFile = flag("config");
const config = loadConfig(process.env, configFile === undefined ? {} : { configFile });
// PostgreSQL blobs live in the server's database, migrated as the server would.
let storage: Storage | undefined;
if (from === "postgres" || to === "postgres") storage = await openStorage({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
const open = (backend: BlobBackend): BlobStore => openBlobStore({ ...config.blobs, backend }, { dataDir: config.dataDir, db: storage?.db });
const source = open(from);
const target = open(to);
try {
  let shown = 0;
  const result = await copyBlobs(source, target, {
    onCopied: (blob) => {
      if (++shown % 100 === 0) process.stderr.write(`copied ${shown} objects (last ${blob.key})\n`);
    },
  });
  process.stdout.write(`copied ${result.copied} objects (${result.bytes} bytes) from ${from} to ${to}; ${result.skipped} already there\n`);
} finally {
  await source.close();
  await target.close();
  await storage?.close();
}
