import { ConfigError } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import type { BlobStore } from "./blob-store.ts";
import { LocalBlobStore } from "./local-blob-store.ts";
import { PostgresBlobStore } from "./postgres-blob-store.ts";
import { LazyBlobStore } from "./lazy-blob-store.ts";
import type { SqlDb } from "./sql-db.ts";

/**
 * The configured blob store: files in the data directory (the default), an S3 bucket, or the
 * PostgreSQL database the server already uses (a ConfigError on SQLite: the data directory is
 * then the better place for bytes).
 */
export function openBlobStore(config: Config["blobs"], deps: { dataDir: string; db?: SqlDb | undefined }): BlobStore {
  switch (config.backend) {
    case "local":
      return new LocalBlobStore(deps.dataDir);
    case "postgres":
      if (deps.db?.dialect !== "postgres") throw new ConfigError("blobs.backend 'postgres' keeps bytes in the PostgreSQL database: set MODELPORT_DATABASE_URL (or choose 'local').");
      return new PostgresBlobStore(deps.db);
    case "s3": {
      const { bucket } = config.s3;
      if (bucket === undefined) throw new ConfigError("blobs.backend 's3' needs blobs.s3.bucket (MODELPORT_S3_BUCKET).");
      const options = {
        endpoint: config.s3.endpoint,
        bucket,
        prefix: config.s3.prefix,
        region: config.s3.region ?? (process.env.AWS_REGION || "us-east-1"),
        forcePathStyle: config.s3.forcePathStyle,
        partSize: config.s3.partSizeMiB * 1024 * 1024,
        queueSize: config.s3.queueSize,
      };
      // The AWS SDK is imported when the store is first used, not by every process that starts.
      return new LazyBlobStore("s3", async () => new (await import("./s3-blob-store.ts")).S3BlobStore(options));
    }
  }
}
