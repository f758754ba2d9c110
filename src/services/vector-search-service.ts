import { ApiError, invalidRequest, objectNotFound } from "../core/errors.ts";
import { unixSeconds } from "../core/ids.ts";
import { matchesFilter } from "../retrieval/attribute-filter.ts";
import { fuseScores, type Candidate } from "../retrieval/fusion.ts";
import { rewriteQuery } from "../retrieval/query-rewrite.ts";
import { StoreIndex } from "../retrieval/store-index.ts";
import type { SearchHit, SearchRequest, SearchResult, VectorSearch } from "../retrieval/types.ts";
import type { VectorStoreRecord, VectorStoreStore } from "../storage/vector-store-store.ts";
import type { ModelRegistry } from "./model-registry.ts";

/** How deep each ranked list goes before fusion. */
const CANDIDATES = 100;
/** Chunk ids of different stores share one number space: store position × 2³² + chunk id. */
const STORE_STRIDE = 2 ** 32;

/** Whether a store has expired: `expires_after` days after its last activity. */
export function storeExpiresAt(store: VectorStoreRecord): number | null {
  return store.expiresAfterDays === null ? null : store.lastActiveAt + store.expiresAfterDays * 86_400;
}

/**
 * Hybrid search over a project's vector stores: BM25 over chunk text and cosine similarity over
 * chunk embeddings, fused into 0–1 scores (see `fuseScores`). Each store's index lives
 * in memory and is brought up to date from the database (by the store's version) before a search,
 * so it is rebuilt after a restart and follows changes other processes make.
 */
export class VectorSearchService implements VectorSearch {
  readonly #store: VectorStoreStore;
  readonly #registry: ModelRegistry;
  readonly #indexes = new Map<string, StoreIndex>();
  readonly #syncing = new Map<string, Promise<StoreIndex>>();

  constructor(store: VectorStoreStore, registry: ModelRegistry) {
    this.#store = store;
    this.#registry = registry;
  }

  async search(projectId: string, request: SearchRequest, signal: AbortSignal): Promise<SearchResult> {
    const now = unixSeconds();
    const stores: VectorStoreRecord[] = [];
    for (const id of new Set(request.vectorStoreIds)) {
      const store = await this.#store.getStore(projectId, id);
      if (store === undefined) throw objectNotFound("Vector store", id, "vector_store_id", "vector_store_not_found");
      const expiresAt = storeExpiresAt(store);
      if (expiresAt !== null && expiresAt <= now) throw invalidRequest(`Vector store '${id}' has expired.`, "vector_store_id", "vector_store_expired");
      stores.push(store);
    }
    const queries = request.queries.map((q) => (request.rewriteQuery ? rewriteQuery(q) : q));
    const indexes = await Promise.all(stores.map((s) => this.#index(s)));
    // Activity is kept to the second: a store searched again within it needs no write.
    for (const s of stores) if (s.lastActiveAt < now) await this.#store.touch(s.id, now);

    // Queries are embedded once per embedding model among the stores.
    const vectors = new Map<string, Float32Array[]>();
    if (request.weights.embedding > 0) {
      for (const model of new Set(stores.map((s) => s.embeddingModel))) {
        vectors.set(model, await this.#embed(model, queries, signal));
      }
    }

    const best = new Map<number, number>();
    for (const [qi, query] of queries.entries()) {
      // Candidates: the best keyword and the best semantic matches of every store, each with both signals.
      const candidates = new Map<number, Candidate>();
      indexes.forEach((index, si) => {
        const store = stores[si] as VectorStoreRecord;
        const accept = request.filter === undefined ? undefined : this.#accept(index, request.filter);
        const vector = vectors.get(store.embeddingModel)?.[qi];
        const keyword = request.weights.text > 0 ? index.keyword(query, CANDIDATES, accept) : [];
        const semantic = vector !== undefined && vector.length > 0 ? index.semantic(vector, CANDIDATES, accept) : [];
        for (const hit of keyword) {
          const id = si * STORE_STRIDE + hit.id;
          candidates.set(id, { id, keyword: hit.score, cosine: vector !== undefined && vector.length > 0 ? (index.similarity(hit.id, vector) ?? 0) : 0 });
        }
        for (const hit of semantic) {
          const id = si * STORE_STRIDE + hit.id;
          if (!candidates.has(id)) candidates.set(id, { id, keyword: 0, cosine: hit.score });
        }
      });
      for (const hit of fuseScores([...candidates.values()], request.weights)) best.set(hit.id, Math.max(best.get(hit.id) ?? 0, hit.score));
    }

    const hits: SearchHit[] = [];
    const ranked = [...best.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    for (const [key, score] of ranked) {
      if (hits.length >= request.maxResults) break;
      if (score < request.scoreThreshold) break;
      const si = Math.floor(key / STORE_STRIDE);
      const index = indexes[si] as StoreIndex;
      const chunk = index.chunk(key - si * STORE_STRIDE);
      const file = chunk === undefined ? undefined : index.files.get(chunk.fileId);
      if (chunk === undefined || file === undefined) continue;
      hits.push({ fileId: chunk.fileId, filename: file.filename, score, attributes: file.attributes, text: chunk.text, vectorStoreId: (stores[si] as VectorStoreRecord).id });
    }
    return { queries, hits };
  }

  /** Chunk filter for a store's index: the chunk's file attributes must pass. */
  #accept(index: StoreIndex, filter: NonNullable<SearchRequest["filter"]>): (id: number) => boolean {
    const verdicts = new Map<string, boolean>();
    return (id) => {
      const chunk = index.chunk(id);
      if (chunk === undefined) return false;
      let ok = verdicts.get(chunk.fileId);
      if (ok === undefined) {
        const file = index.files.get(chunk.fileId);
        ok = file !== undefined && matchesFilter(filter, file.attributes);
        verdicts.set(chunk.fileId, ok);
      }
      return ok;
    };
  }

  async #embed(modelName: string, texts: readonly string[], signal: AbortSignal): Promise<Float32Array[]> {
    if (!this.#registry.has(modelName)) {
      throw new ApiError(503, `The embedding model '${modelName}' of this vector store is not served any more.`, { type: "server_error", code: "model_not_available" });
    }
    const model = this.#registry.resolve(modelName);
    if (model.capabilities.embeddings === "none") throw new ApiError(503, `The model '${modelName}' cannot embed.`, { type: "server_error", code: "model_not_available" });
    // Empty queries (all punctuation) have no embedding; they still search by keywords.
    const nonEmpty = texts.map((t) => t.trim() !== "");
    const result = await model.embed(
      texts.filter((_, i) => nonEmpty[i]),
      { priority: "interactive" },
      signal,
    );
    let next = 0;
    return texts.map((_, i) => (nonEmpty[i] ? (result.vectors[next++] as Float32Array) : new Float32Array(0)));
  }

  /** The store's index, brought up to the stored version (one load at a time per store). */
  async #index(store: VectorStoreRecord): Promise<StoreIndex> {
    const cached = this.#indexes.get(store.id);
    if (cached !== undefined && cached.version === store.version) return cached;
    let pending = this.#syncing.get(store.id);
    if (pending === undefined) {
      pending = this.#sync(store, cached ?? new StoreIndex()).finally(() => this.#syncing.delete(store.id));
      this.#syncing.set(store.id, pending);
    }
    return pending;
  }

  async #sync(store: VectorStoreRecord, index: StoreIndex): Promise<StoreIndex> {
    // The version was read with the store, before the files: a change made while loading moves it
    // again, and the next search catches up.
    const id = store.id;
    const files = await this.#store.searchableFiles(id);
    const wanted = new Map(files.map((f) => [f.fileId, f]));
    for (const [fileId, info] of [...index.files]) if (wanted.get(fileId)?.seq !== info.seq) index.removeFile(fileId);
    const missing: string[] = [];
    for (const f of files) {
      if (index.files.has(f.fileId)) index.setAttributes(f.fileId, f.attributes);
      else missing.push(f.fileId);
    }
    if (missing.length > 0) {
      const chunks = await this.#store.chunks(id, missing);
      const byFile = new Map<string, { text: string; embedding: Float32Array }[]>();
      for (const c of chunks) {
        let list = byFile.get(c.fileId);
        if (list === undefined) byFile.set(c.fileId, (list = []));
        list.push({ text: c.text, embedding: c.embedding });
      }
      for (const fileId of missing) {
        const f = wanted.get(fileId);
        if (f !== undefined) index.addFile(fileId, { filename: f.filename, attributes: f.attributes, seq: f.seq }, byFile.get(fileId) ?? []);
      }
    }
    index.version = store.version;
    this.#indexes.set(id, index);
    return index;
  }

  /** Forgets a deleted store's index. */
  drop(id: string): void {
    this.#indexes.delete(id);
  }
}
