import { parseArgs } from "node:util";
import type { BlobBackend, BlobStore } from "../storage/blob-store.ts";
import { copyBlobs } from "../storage/copy-blobs.ts";
import { openBlobStore } from "../storage/open-blob-store.ts";
import { openStorage } from "../storage/open.ts";
import type { Storage } from "../storage/storage.ts";
import { COMMAND_OPTIONS, commandConfig, UsageError } from "./command-config.ts";

/** `modelport blobs --help`. */
export const BLOBS_HELP = `Usage: modelport blobs copy --from BACKEND --to BACKEND [options]

Copy the server's bytes (files, upload parts, batch output) from one blob backend to another, for
switching blobs.backend (see docs/blob-storage.md). BACKEND is local (the data directory), s3 or
postgres; their settings come from the same config file and environment as the server's
(MODELPORT_DATA_DIR, MODELPORT_DATABASE_URL, MODELPORT_S3_*, AWS credentials from the SDK's chain).
Objects the target already has with the same size are skipped, so running it again finishes an
interrupted copy. Nothing is deleted from the source.

Options:
      --from BACKEND      Where the bytes are now: local, s3 or postgres
      --to BACKEND        Where the server will look for them: local, s3 or postgres
  -c, --config FILE       YAML config file (env MODELPORT_CONFIG)
      --data-dir DIR      Data directory (env MODELPORT_DATA_DIR, default ./data)
  -h, --help              Show this help

Exit status: 0 when everything is in the target, 1 when a backend failed, 2 on bad usage.
`;

const BACKENDS: readonly BlobBackend[] = ["local", "s3", "postgres"];

function backend(name: string, value: string | undefined): BlobBackend {
  const found = BACKENDS.find((b) => b === value);
  if (found === undefined) throw new UsageError(`--${name} must be one of ${BACKENDS.join(", ")}${value === undefined ? "" : `, got '${value}'`}.`);
  return found;
}

/** `modelport blobs copy …`; returns the exit code. */
export async function blobsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ...COMMAND_OPTIONS,
      from: { type: "string" },
      to: { type: "string" },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(BLOBS_HELP);
    return 0;
  }
  let storage: Storage | undefined;
  const opened: BlobStore[] = [];
  try {
    const [sub, ...extra] = positionals;
    if (sub !== "copy") throw new UsageError(sub === undefined ? "name a subcommand: copy." : `unknown subcommand '${sub}'.`);
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'.`);
    const from = backend("from", values.from);
    const to = backend("to", values.to);
    if (from === to) throw new UsageError("--from and --to name the same backend.");
    const config = commandConfig(values);
    if ((from === "postgres" || to === "postgres") && config.databaseUrl === undefined) {
      throw new UsageError("the postgres backend keeps bytes in the server's PostgreSQL database: set MODELPORT_DATABASE_URL.");
    }
    // PostgreSQL blobs live in the server's database, migrated as the server would.
    if (from === "postgres" || to === "postgres") storage = await openStorage({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
    const open = (b: BlobBackend): BlobStore => {
      const store = openBlobStore({ ...config.blobs, backend: b }, { dataDir: config.dataDir, db: storage?.db });
      opened.push(store);
      return store;
    };
    const source = open(from);
    const target = open(to);
    let shown = 0;
    const result = await copyBlobs(source, target, {
      onCopied: (blob) => {
        if (++shown % 100 === 0) process.stderr.write(`copied ${shown} objects (last ${blob.key})\n`);
      },
    });
    process.stdout.write(`copied ${result.copied} objects (${result.bytes} bytes) from ${from} to ${to}; ${result.skipped} already there\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`modelport blobs: ${error instanceof Error ? error.message : String(error)}\n`);
    if (error instanceof UsageError) return 2;
    // A backend that cannot be reached or refuses a write: what it said is the answer.
    process.stderr.write("Nothing was deleted: running the copy again carries on where it stopped.\n");
    return 1;
  } finally {
    for (const store of opened) await store.close().catch(() => undefined);
    await storage?.close();
  }
}
