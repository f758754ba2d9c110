import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { Readable } from "node:stream";
import { BlobNotFoundError, byteStream, checkBlobKey, checkBlobPrefix, countBytes, holdErrors, type BlobInfo, type BlobPutOptions, type BlobSource, type BlobStore } from "./blob-store.ts";

/** Where and how to reach the bucket (`blobs.s3`); credentials come from the SDK's default chain (`AWS_ACCESS_KEY_ID`, profiles, roles). */
export interface S3BlobOptions {
  /** An S3-compatible endpoint (MinIO, Ceph); AWS's own when absent. */
  endpoint?: string | undefined;
  bucket: string;
  /** Put before every key (`modelport/` keeps `files/…` under `modelport/files/…`). */
  prefix: string;
  region: string;
  /** `endpoint/bucket/key` instead of `bucket.endpoint/key`: what MinIO and most self-hosted servers need. */
  forcePathStyle: boolean;
  /** Bytes per part of a multipart upload (at least 5 MiB, S3's minimum). */
  partSize: number;
  /** Parts sent at once by one upload: memory per upload is about `partSize × (queueSize + 1)`. */
  queueSize: number;
}

/** A multipart upload that long unfinished is abandoned: S3 cannot tell one still being written from a dead one, so the bar is high. */
const MULTIPART_MAX_AGE_MS = 24 * 3_600_000;

function isNotFound(error: unknown): boolean {
  return error instanceof S3ServiceException && (error.name === "NoSuchKey" || error.name === "NotFound" || error.$metadata.httpStatusCode === 404);
}

/**
 * Blobs in an S3 bucket (AWS S3, MinIO, Ceph RGW), each key under the configured prefix. Puts
 * stream through a multipart upload (`@aws-sdk/lib-storage`), so an object of any size takes about
 * `partSize × (queueSize + 1)` of memory; a failed upload is aborted, and the sweep aborts ones a
 * dead process left.
 */
export class S3BlobStore implements BlobStore {
  readonly backend = "s3";
  readonly #client: S3Client;
  readonly #options: S3BlobOptions;

  constructor(options: S3BlobOptions, client?: S3Client) {
    this.#options = { ...options, prefix: checkBlobPrefix(options.prefix === "" || options.prefix.endsWith("/") ? options.prefix : `${options.prefix}/`) };
    this.#client =
      client ??
      new S3Client({
        region: options.region,
        forcePathStyle: options.forcePathStyle,
        ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
        // Checksums only where S3 requires them: several S3-compatible servers reject the newer default ones.
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
      });
  }

  #key(key: string): string {
    return `${this.#options.prefix}${checkBlobKey(key)}`;
  }

  async put(key: string, source: BlobSource, options: BlobPutOptions = {}): Promise<{ bytes: number }> {
    holdErrors(source);
    const counted = { bytes: 0 };
    // The body's own error (over the limit, a client gone) is what the caller hears, not the SDK's wrapping of it.
    let sourceError: unknown;
    const body = async function* (): AsyncGenerator<Uint8Array> {
      try {
        yield* countBytes(source, options, counted);
      } catch (error) {
        sourceError = error;
        throw error;
      }
    };
    const upload = new Upload({
      client: this.#client,
      params: { Bucket: this.#options.bucket, Key: this.#key(key), Body: byteStream(body()), ContentType: "application/octet-stream" },
      partSize: this.#options.partSize,
      queueSize: this.#options.queueSize,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      if (source instanceof Readable) source.destroy();
      throw sourceError ?? error;
    }
    return { bytes: counted.bytes };
  }

  async get(key: string): Promise<Readable> {
    try {
      const res = await this.#client.send(new GetObjectCommand({ Bucket: this.#options.bucket, Key: this.#key(key) }));
      if (!(res.Body instanceof Readable)) throw new Error(`S3 answered GetObject for '${key}' without a body stream.`);
      return res.Body;
    } catch (error) {
      if (isNotFound(error)) throw new BlobNotFoundError(key);
      throw error;
    }
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    try {
      const res = await this.#client.send(new HeadObjectCommand({ Bucket: this.#options.bucket, Key: this.#key(key) }));
      return { key, bytes: res.ContentLength ?? 0, modifiedAt: res.LastModified?.getTime() ?? 0 };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#options.bucket, Key: this.#key(key) }));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  async deletePrefix(prefix: string): Promise<void> {
    // Listed first, deleted after: deleting while paging could skip keys on some servers.
    const keys: string[] = [];
    for await (const blob of this.list(prefix)) keys.push(blob.key);
    for (const key of keys) await this.delete(key);
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    const full = `${this.#options.prefix}${checkBlobPrefix(prefix)}`;
    let token: string | undefined;
    do {
      const page = await this.#client.send(new ListObjectsV2Command({ Bucket: this.#options.bucket, Prefix: full, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        yield { key: o.Key.slice(this.#options.prefix.length), bytes: o.Size ?? 0, modifiedAt: o.LastModified?.getTime() ?? 0 };
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  /**
   * Aborts multipart uploads under `prefix` begun over a day ago, or `olderThanMs` if longer (an
   * upload still being written may be hours old). A server without ListMultipartUploads (some
   * S3-compatible ones) sweeps nothing: give the bucket a lifecycle rule instead.
   */
  async sweepIncomplete(prefix: string, olderThanMs: number): Promise<number> {
    const cutoff = Date.now() - Math.max(olderThanMs, MULTIPART_MAX_AGE_MS);
    const full = `${this.#options.prefix}${checkBlobPrefix(prefix)}`;
    let aborted = 0;
    let keyMarker: string | undefined;
    let uploadMarker: string | undefined;
    for (;;) {
      let page;
      try {
        page = await this.#client.send(new ListMultipartUploadsCommand({ Bucket: this.#options.bucket, Prefix: full, KeyMarker: keyMarker, UploadIdMarker: uploadMarker }));
      } catch (error) {
        if (error instanceof S3ServiceException && error.name === "NotImplemented") return aborted;
        throw error;
      }
      for (const u of page.Uploads ?? []) {
        if (u.Key === undefined || u.UploadId === undefined || (u.Initiated?.getTime() ?? 0) >= cutoff) continue;
        await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#options.bucket, Key: u.Key, UploadId: u.UploadId }));
        aborted++;
      }
      if (page.IsTruncated !== true) return aborted;
      keyMarker = page.NextKeyMarker;
      uploadMarker = page.NextUploadIdMarker;
    }
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }
}
