import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import { S3BlobStore } from "../../src/storage/s3-blob-store.ts";

/** s3rver's fixed credentials; the server's S3 client reads them from the environment, as the AWS SDK's default chain does. */
const ACCESS_KEY = "S3RVER";

/** An S3-compatible server (s3rver) on loopback with one bucket, files in a temporary directory. */
export interface TestS3 {
  endpoint: string;
  bucket: string;
  /** Settings that make a Modelport server keep its blobs here, under `prefix`. */
  env(prefix: string): Record<string, string>;
  /** A blob store on this bucket under `prefix`, as a server with `env(prefix)` has. */
  store(prefix: string, partSize?: number): S3BlobStore;
  close(): Promise<void>;
}

/** Starts s3rver on 127.0.0.1 (a free port) and points the AWS credential chain of this process at it. */
export async function startS3Server(): Promise<TestS3> {
  const dir = mkdtempSync(join(tmpdir(), "modelport-s3-"));
  const bucket = "modelport-test";
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: dir, configureBuckets: [{ name: bucket, configs: [] }] });
  const { port } = await server.run();
  process.env.AWS_ACCESS_KEY_ID = ACCESS_KEY;
  process.env.AWS_SECRET_ACCESS_KEY = ACCESS_KEY;
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    env: (prefix) => ({
      MODELPORT_BLOB_BACKEND: "s3",
      MODELPORT_S3_ENDPOINT: endpoint,
      MODELPORT_S3_BUCKET: bucket,
      MODELPORT_S3_PREFIX: prefix,
      MODELPORT_S3_REGION: "us-east-1",
      MODELPORT_S3_FORCE_PATH_STYLE: "true",
    }),
    store: (prefix, partSize = 5 * 1024 * 1024) => new S3BlobStore({ endpoint, bucket, prefix, region: "us-east-1", forcePathStyle: true, partSize, queueSize: 2 }),
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
