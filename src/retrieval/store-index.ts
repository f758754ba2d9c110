import { Bm25Index } from "./bm25-index.ts";
import type { Attributes, IndexHit } from "./types.ts";
import { VectorIndex } from "./vector-index.ts";

/** A chunk as the in-memory index knows it. */
export interface IndexedChunk {
  fileId: string;
  text: string;
}

/** A searchable file of a store. */
export interface IndexedFileInfo {
  filename: string;
  attributes: Attributes;
  /** Which attachment of the file these chunks come from: a re-attached file is indexed anew. */
  seq: number;
  chunkIds: number[];
}

/**
 * One vector store's in-memory search structures: a BM25 index over chunk text and an exact vector
 * index over chunk embeddings, under the same chunk ids. Built from the database, and updated file by
 * file when the store's version moves, so it is only ever a cache of what is stored.
 */
export class StoreIndex {
  /** The store version this index reflects. */
  version = -1;
  readonly #bm25 = new Bm25Index();
  #vectors: VectorIndex | undefined;
  readonly #chunks = new Map<number, IndexedChunk>();
  readonly files = new Map<string, IndexedFileInfo>();
  #nextId = 0;

  get chunkCount(): number {
    return this.#chunks.size;
  }

  chunk(id: number): IndexedChunk | undefined {
    return this.#chunks.get(id);
  }

  addFile(fileId: string, info: { filename: string; attributes: Attributes; seq: number }, chunks: readonly { text: string; embedding: Float32Array }[]): void {
    this.removeFile(fileId);
    const ids: number[] = [];
    for (const c of chunks) {
      const id = this.#nextId++;
      this.#chunks.set(id, { fileId, text: c.text });
      this.#bm25.add(id, c.text);
      if (c.embedding.length > 0) {
        this.#vectors ??= new VectorIndex(c.embedding.length);
        if (c.embedding.length === this.#vectors.dimensions) this.#vectors.add(id, c.embedding);
      }
      ids.push(id);
    }
    this.files.set(fileId, { ...info, chunkIds: ids });
  }

  removeFile(fileId: string): void {
    const info = this.files.get(fileId);
    if (info === undefined) return;
    for (const id of info.chunkIds) {
      this.#chunks.delete(id);
      this.#bm25.remove(id);
      this.#vectors?.remove(id);
    }
    this.files.delete(fileId);
  }

  /** Updates a file's attributes (filters read them at search time). */
  setAttributes(fileId: string, attributes: Attributes): void {
    const info = this.files.get(fileId);
    if (info !== undefined) info.attributes = attributes;
  }

  keyword(query: string, limit: number, accept?: (id: number) => boolean): IndexHit[] {
    return this.#bm25.search(query, limit, accept);
  }

  similarity(id: number, query: Float32Array): number | undefined {
    return this.#vectors?.similarity(id, query);
  }

  semantic(query: Float32Array, limit: number, accept?: (id: number) => boolean): IndexHit[] {
    return this.#vectors === undefined ? [] : this.#vectors.search(query, limit, accept);
  }
}
