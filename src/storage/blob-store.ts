import { Readable } from "node:stream";

/** Where bytes are kept (`blobs.backend`): the data directory, S3-compatible object storage, or PostgreSQL. */
export type BlobBackend = "local" | "s3" | "postgres";

/** Bytes to store, read as they come: never gathered whole first. */
export type BlobSource = AsyncIterable<Uint8Array> | Readable;

/** Limits on one `put`. */
export interface BlobPutOptions {
  /** Most bytes accepted; beyond it the put fails with `tooLarge()` and nothing is stored. */
  maxBytes?: number;
  /** The error a put over `maxBytes` fails with. */
  tooLarge?: () => Error;
}

/** A stored object. */
export interface BlobInfo {
  key: string;
  bytes: number;
  /** When it was written (Unix milliseconds). */
  modifiedAt: number;
}

/**
 * Everything that is bytes (files, upload parts, batch outputs) behind one interface. Keys are
 * `/`-separated paths such as `files/<id>` or `uploads/<upload id>/<part id>`, the same layout on
 * every backend. A put is all or nothing: its object is visible only once every byte is in, and
 * a failed put leaves nothing behind (a crashed one leaves what `sweepIncomplete` removes).
 */
export interface BlobStore {
  readonly backend: BlobBackend;
  /** Streams `source` in under `key` (replacing what was there) and returns how many bytes it had. */
  put(key: string, source: BlobSource, options?: BlobPutOptions): Promise<{ bytes: number }>;
  /** The object's bytes as a stream; rejects with `BlobNotFoundError` when there is none. */
  get(key: string): Promise<Readable>;
  /** The object's size and time, or undefined when there is none. */
  stat(key: string): Promise<BlobInfo | undefined>;
  /** Removes the object; nothing happens when there is none. */
  delete(key: string): Promise<void>;
  /** Removes every object whose key starts with `prefix`. */
  deletePrefix(prefix: string): Promise<void>;
  /** Every complete object whose key starts with `prefix`, in no set order. */
  list(prefix: string): AsyncIterable<BlobInfo>;
  /**
   * Removes what puts under `prefix` left unfinished (a process that died mid-write) and untouched
   * for `olderThanMs`; returns how many it removed.
   */
  sweepIncomplete(prefix: string, olderThanMs: number): Promise<number>;
  close(): Promise<void>;
}

/** The object a `get` asked for does not exist. */
export class BlobNotFoundError extends Error {
  override name = "BlobNotFoundError";
  readonly key: string;
  constructor(key: string) {
    super(`No blob '${key}'.`);
    this.key = key;
  }
}

/** Unfinished writes are left alone this long: one still being written is never taken for a crash's leftover. */
export const LEFTOVER_AGE_MS = 3_600_000;

const KEY = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;

/**
 * Checks a key: `/`-separated segments of letters, digits, `._-`, none starting with a dot (so no
 * `..`, no hidden files), and none ending in `.part`, the local backend's name for a write in progress.
 */
export function checkBlobKey(key: string): string {
  if (key.length > 512 || !KEY.test(key) || key.endsWith(".part")) throw new Error(`Bad blob key '${key}'.`);
  return key;
}

/** Checks a prefix: empty, or a key optionally followed by `/`. */
export function checkBlobPrefix(prefix: string): string {
  if (prefix !== "") checkBlobKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
  return prefix;
}

/**
 * Passes `source` through, counting its bytes into `counted.bytes`; beyond `maxBytes` it throws
 * `tooLarge()`. Chunks are passed on as they come, so nothing is held.
 */
export async function* countBytes(source: BlobSource, options: BlobPutOptions, counted: { bytes: number }): AsyncGenerator<Uint8Array> {
  const max = options.maxBytes ?? Number.MAX_SAFE_INTEGER;
  for await (const chunk of source as AsyncIterable<Uint8Array | string>) {
    // A Readable in string mode yields strings; bytes are what is stored.
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    counted.bytes += bytes.length;
    if (counted.bytes > max) throw options.tooLarge?.() ?? new Error(`More than ${max} bytes.`);
    yield bytes;
  }
}

/**
 * Keeps a Readable source's error from going uncaught while a put has not begun to read it (it
 * first awaits a directory, a row or a connection) and nothing else listens: the error still
 * reaches the put when it reads, since an errored stream's reader fails with its error.
 */
export function holdErrors(source: BlobSource): BlobSource {
  if (source instanceof Readable) source.on("error", () => undefined);
  return source;
}

/**
 * Reads a whole object into memory, for the callers that need all of it at once (text extraction,
 * batch validation); over `maxBytes` it rejects.
 */
export async function readBlob(blobs: BlobStore, key: string, maxBytes = Number.MAX_SAFE_INTEGER): Promise<Buffer> {
  const pieces: Buffer[] = [];
  let total = 0;
  for await (const piece of await blobs.get(key)) {
    const buffer = Buffer.isBuffer(piece) ? piece : Buffer.from(piece as Uint8Array);
    total += buffer.length;
    if (total > maxBytes) throw new Error(`Blob '${key}' is larger than ${maxBytes} bytes.`);
    pieces.push(buffer);
  }
  return Buffer.concat(pieces, total);
}

/** A source as a byte stream (not object mode), so what waits in its buffer is bounded in bytes. */
export function byteStream(source: AsyncIterable<Uint8Array>, highWaterMark = 1024 * 1024): Readable {
  return Readable.from(source, { objectMode: false, highWaterMark });
}
