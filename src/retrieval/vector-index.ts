import type { IndexHit } from "./types.ts";

/**
 * Exact nearest-neighbour search by inner product over unit vectors (cosine), with the vectors
 * packed in one Float32Array. An exact scan of 10,000 × 384 floats takes a few milliseconds, and it
 * never misses a neighbour, so approximate indexes (HNSW) are not worth their build time and memory
 * at the sizes one server's stores reach.
 */
export class VectorIndex {
  readonly dimensions: number;
  #data: Float32Array;
  #ids: number[] = [];
  readonly #slot = new Map<number, number>();

  constructor(dimensions: number, capacity = 256) {
    this.dimensions = dimensions;
    this.#data = new Float32Array(dimensions * Math.max(1, capacity));
  }

  get size(): number {
    return this.#ids.length;
  }

  add(id: number, vector: Float32Array): void {
    if (vector.length !== this.dimensions) throw new Error(`vector of ${vector.length} dimensions added to an index of ${this.dimensions}`);
    if (this.#slot.has(id)) this.remove(id);
    const slot = this.#ids.length;
    if ((slot + 1) * this.dimensions > this.#data.length) {
      const grown = new Float32Array(this.#data.length * 2);
      grown.set(this.#data);
      this.#data = grown;
    }
    this.#data.set(vector, slot * this.dimensions);
    this.#ids.push(id);
    this.#slot.set(id, slot);
  }

  /** Removes a vector by moving the last one into its slot. */
  remove(id: number): void {
    const slot = this.#slot.get(id);
    if (slot === undefined) return;
    const last = this.#ids.length - 1;
    if (slot !== last) {
      const lastId = this.#ids[last] as number;
      this.#data.copyWithin(slot * this.dimensions, last * this.dimensions, (last + 1) * this.dimensions);
      this.#ids[slot] = lastId;
      this.#slot.set(lastId, slot);
    }
    this.#ids.pop();
    this.#slot.delete(id);
  }

  /** The cosine similarity of one indexed vector to `query` (undefined when absent). */
  similarity(id: number, query: Float32Array): number | undefined {
    const slot = this.#slot.get(id);
    if (slot === undefined || query.length !== this.dimensions) return undefined;
    let dot = 0;
    const base = slot * this.dimensions;
    for (let d = 0; d < this.dimensions; d++) dot += (this.#data[base + d] as number) * (query[d] as number);
    return dot;
  }

  /** The `limit` vectors most similar to `query` (cosine, best first; ties to the lower id), among those `accept` lets through. */
  search(query: Float32Array, limit: number, accept?: (id: number) => boolean): IndexHit[] {
    const dims = this.dimensions;
    if (query.length !== dims || limit <= 0) return [];
    const data = this.#data;
    // A small sorted buffer of the best so far: limits are ≤ a few hundred, so insertion beats a heap.
    const best: IndexHit[] = [];
    let floor = -Infinity;
    for (let slot = 0; slot < this.#ids.length; slot++) {
      const id = this.#ids[slot] as number;
      let dot = 0;
      const base = slot * dims;
      for (let d = 0; d < dims; d++) dot += (data[base + d] as number) * (query[d] as number);
      if (best.length >= limit && dot < floor) continue;
      if (accept !== undefined && !accept(id)) continue;
      let at = best.length;
      while (at > 0) {
        const prev = best[at - 1] as IndexHit;
        if (prev.score > dot || (prev.score === dot && prev.id < id)) break;
        at--;
      }
      if (at >= limit) continue;
      best.splice(at, 0, { id, score: dot });
      if (best.length > limit) best.pop();
      if (best.length >= limit) floor = (best[best.length - 1] as IndexHit).score;
    }
    return best;
  }
}
