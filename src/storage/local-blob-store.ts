import { createWriteStream } from "node:fs";
import { mkdir, open, opendir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { randomHex } from "../core/ids.ts";
import { BlobNotFoundError, checkBlobKey, checkBlobPrefix, holdErrors, type BlobInfo, type BlobPutOptions, type BlobSource, type BlobStore } from "./blob-store.ts";

/** A write in progress ends in this; renamed to its key once complete. */
const PARTIAL = ".part";

/**
 * Streams `source` to `dest` through a `.part` file beside it, renamed into place once complete.
 * Beyond `maxBytes` it fails with `tooLarge()` and the partial bytes are removed, as they are on any
 * other failure. Returns the number of bytes written.
 */
export async function streamToFile(source: BlobSource, dest: string, maxBytes: number, tooLarge: () => Error): Promise<number> {
  // Named per write, so two writes to one key never share a partial file.
  const partial = `${dest}.${randomHex(6)}${PARTIAL}`;
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      if (bytes > maxBytes) callback(tooLarge());
      else callback(null, chunk);
    },
  });
  try {
    await pipeline(source instanceof Readable ? source : Readable.from(source), counter, createWriteStream(partial));
    await rename(partial, dest);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return bytes;
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR";
}

/**
 * Blobs as files in the data directory, the key being the path under it (`files/<id>`,
 * `uploads/<upload id>/<part id>`): the layout installations had before blob stores, so they keep
 * working. The default backend; a single machine's or a shared volume's.
 */
export class LocalBlobStore implements BlobStore {
  readonly backend = "local";
  readonly #root: string;

  constructor(root: string) {
    this.#root = root;
  }

  #path(key: string): string {
    return join(this.#root, ...checkBlobKey(key).split("/"));
  }

  async put(key: string, source: BlobSource, options: BlobPutOptions = {}): Promise<{ bytes: number }> {
    holdErrors(source);
    const path = this.#path(key);
    await mkdir(dirname(path), { recursive: true });
    const max = options.maxBytes ?? Number.MAX_SAFE_INTEGER;
    return { bytes: await streamToFile(source, path, max, options.tooLarge ?? (() => new Error(`More than ${max} bytes.`))) };
  }

  async get(key: string): Promise<Readable> {
    try {
      // Opened before it is returned, so a missing file is known before anything is sent.
      const handle = await open(this.#path(key), "r");
      if (!(await handle.stat()).isFile()) {
        await handle.close();
        throw new BlobNotFoundError(key);
      }
      return handle.createReadStream({ highWaterMark: 256 * 1024 });
    } catch (error) {
      if (isMissing(error)) throw new BlobNotFoundError(key);
      throw error;
    }
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    try {
      const st = await stat(this.#path(key));
      return st.isFile() ? { key, bytes: st.size, modifiedAt: st.mtimeMs } : undefined;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.#path(key), { force: true });
  }

  async deletePrefix(prefix: string): Promise<void> {
    checkBlobPrefix(prefix);
    // A whole directory goes at once; a partial name goes file by file.
    if (prefix.endsWith("/")) await rm(join(this.#root, ...prefix.slice(0, -1).split("/")), { recursive: true, force: true });
    else for await (const blob of this.list(prefix)) await this.delete(blob.key);
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    for await (const file of this.#walk(prefix)) if (!file.key.endsWith(PARTIAL)) yield file;
  }

  async sweepIncomplete(prefix: string, olderThanMs: number): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    for await (const file of this.#walk(prefix)) {
      if (!file.key.endsWith(PARTIAL) || file.modifiedAt >= cutoff) continue;
      await rm(join(this.#root, ...file.key.split("/")), { force: true });
      removed++;
    }
    return removed;
  }

  async close(): Promise<void> {}

  /** Every regular file under the directory holding `prefix` whose key starts with it, partial ones too. */
  async *#walk(prefix: string): AsyncGenerator<BlobInfo> {
    checkBlobPrefix(prefix);
    const cut = prefix.lastIndexOf("/");
    const base = cut < 0 ? "" : prefix.slice(0, cut);
    yield* this.#walkDir(base, prefix);
  }

  async *#walkDir(relative: string, prefix: string): AsyncGenerator<BlobInfo> {
    let dir;
    try {
      dir = await opendir(relative === "" ? this.#root : join(this.#root, ...relative.split("/")));
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    for await (const entry of dir) {
      const key = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) {
        // Only into directories that can hold keys with the prefix.
        if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) yield* this.#walkDir(key, prefix);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        const st = await stat(join(this.#root, ...key.split("/"))).catch(() => undefined);
        if (st !== undefined) yield { key, bytes: st.size, modifiedAt: st.mtimeMs };
      }
    }
  }
}
