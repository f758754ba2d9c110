import type { Readable } from "node:stream";
import type { BlobBackend, BlobInfo, BlobPutOptions, BlobSource, BlobStore } from "./blob-store.ts";

/**
 * A blob store made on first use: the S3 backend's SDK takes about 150 ms to import, which every
 * process (each CLI command, each server start) would pay at start even where bytes stay local.
 */
export class LazyBlobStore implements BlobStore {
  readonly backend: BlobBackend;
  readonly #make: () => Promise<BlobStore>;
  #store: Promise<BlobStore> | undefined;

  constructor(backend: BlobBackend, make: () => Promise<BlobStore>) {
    this.backend = backend;
    this.#make = make;
  }

  #ready(): Promise<BlobStore> {
    this.#store ??= this.#make();
    return this.#store;
  }

  async put(key: string, source: BlobSource, options?: BlobPutOptions): Promise<{ bytes: number }> {
    return (await this.#ready()).put(key, source, options);
  }

  async get(key: string): Promise<Readable> {
    return (await this.#ready()).get(key);
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    return (await this.#ready()).stat(key);
  }

  async delete(key: string): Promise<void> {
    return (await this.#ready()).delete(key);
  }

  async deletePrefix(prefix: string): Promise<void> {
    return (await this.#ready()).deletePrefix(prefix);
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    yield* (await this.#ready()).list(prefix);
  }

  async sweepIncomplete(prefix: string, olderThanMs: number): Promise<number> {
    return (await this.#ready()).sweepIncomplete(prefix, olderThanMs);
  }

  async close(): Promise<void> {
    // Never opened: nothing to close (and nothing to import just to close it).
    if (this.#store !== undefined) await (await this.#store).close();
  }
}
