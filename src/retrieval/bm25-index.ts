import { analyze } from "./text-analyzer.ts";
import type { IndexHit } from "./types.ts";

/** Okapi BM25's term-frequency saturation. */
export const BM25_K1 = 1.2;
/** Okapi BM25's document-length normalization. */
export const BM25_B = 0.75;

/** One term's postings: the slots of the documents holding it and how often each does, in insertion order. */
interface Posting {
  slots: Int32Array;
  tfs: Int32Array;
  /** Entries in use, including those of removed documents not yet compacted away. */
  length: number;
  /** Live documents holding the term. */
  df: number;
}

const INITIAL_POSTING = 4;
/** Compaction runs once removed documents outnumber both this and the live ones. */
const COMPACT_MIN_DEAD = 1024;

/**
 * An in-memory Okapi BM25 index over chunks (k1 = 1.2, b = 0.75, idf = ln(1 + (N − df + 0.5) / (df + 0.5)),
 * terms from {@link analyze}). Documents live in dense slots; a removed document's postings stay until a
 * compaction drops them, but N, df and the average length are kept exact at every step, so scores always
 * equal those of an index built from the live documents alone.
 */
export class Bm25Index {
  readonly #postings = new Map<string, Posting>();
  readonly #slotOf = new Map<number, number>();
  /** Per slot: the document id. */
  #ids = new Float64Array(64);
  /** Per slot: the document's length in terms, or -1 once removed. */
  #lengths = new Int32Array(64);
  /** Per slot: the postings the document appears in, to update df on removal. */
  #terms: (Posting[] | undefined)[] = [];
  /** Slots handed out (live and removed). */
  #slots = 0;
  #dead = 0;
  #totalLength = 0;
  /** Per slot: the running score of the search in progress (all zero between searches). */
  #scores = new Float64Array(64);

  /** Live documents. */
  get size(): number {
    return this.#slotOf.size;
  }

  /** Indexes a document (a chunk) under `id`, replacing any document already under it. */
  add(id: number, text: string): void {
    this.remove(id);
    const counts = new Map<string, number>();
    const terms = analyze(text);
    for (const term of terms) counts.set(term, (counts.get(term) ?? 0) + 1);
    const slot = this.#slots++;
    this.#ensureCapacity(this.#slots);
    this.#ids[slot] = id;
    this.#lengths[slot] = terms.length;
    const postings: Posting[] = [];
    for (const [term, tf] of counts) {
      let posting = this.#postings.get(term);
      if (posting === undefined) {
        posting = { slots: new Int32Array(INITIAL_POSTING), tfs: new Int32Array(INITIAL_POSTING), length: 0, df: 0 };
        this.#postings.set(term, posting);
      }
      if (posting.length === posting.slots.length) {
        posting.slots = grow(posting.slots, posting.length * 2);
        posting.tfs = grow(posting.tfs, posting.length * 2);
      }
      posting.slots[posting.length] = slot;
      posting.tfs[posting.length] = tf;
      posting.length++;
      posting.df++;
      postings.push(posting);
    }
    this.#terms[slot] = postings;
    this.#slotOf.set(id, slot);
    this.#totalLength += terms.length;
  }

  /** Removes the document under `id`, if any. */
  remove(id: number): void {
    const slot = this.#slotOf.get(id);
    if (slot === undefined) return;
    this.#slotOf.delete(id);
    this.#totalLength -= this.#lengths[slot] as number;
    this.#lengths[slot] = -1;
    for (const posting of this.#terms[slot] ?? []) posting.df--;
    this.#terms[slot] = undefined;
    this.#dead++;
    if (this.#dead >= COMPACT_MIN_DEAD && this.#dead > this.#slotOf.size) this.#compact();
  }

  /**
   * The `limit` best documents for the query by BM25, best first, ties broken by the lower id. Only
   * documents sharing at least one term with the query score; `accept`, when given, is asked once about
   * each of those and the ones it refuses are left out (before the limit applies).
   */
  search(query: string, limit: number, accept?: (id: number) => boolean): IndexHit[] {
    const n = this.#slotOf.size;
    if (limit <= 0 || n === 0) return [];
    const averageLength = this.#totalLength / n;
    const scores = this.#scores;
    const lengths = this.#lengths;
    const touched: number[] = [];
    for (const term of new Set(analyze(query))) {
      const posting = this.#postings.get(term);
      if (posting === undefined || posting.df === 0) continue;
      const idf = Math.log(1 + (n - posting.df + 0.5) / (posting.df + 0.5));
      const { slots, tfs, length } = posting;
      // tf·(k1+1) / (tf + k1·(1 − b + b·dl/avgdl)), with the length part folded into two constants.
      const base = BM25_K1 * (1 - BM25_B);
      const perLength = (BM25_K1 * BM25_B) / (averageLength || 1);
      for (let i = 0; i < length; i++) {
        const slot = slots[i] as number;
        const dl = lengths[slot] as number;
        if (dl < 0) continue;
        const tf = tfs[i] as number;
        const score = (idf * tf * (BM25_K1 + 1)) / (tf + base + perLength * dl);
        if (scores[slot] === 0) touched.push(slot);
        scores[slot] = (scores[slot] as number) + score;
      }
    }
    const top = new TopK(limit);
    try {
      for (const slot of touched) {
        const id = this.#ids[slot] as number;
        if (accept === undefined || accept(id)) top.offer(id, scores[slot] as number);
      }
    } finally {
      // Leave the accumulator zeroed for the next search, even if `accept` threw.
      for (const slot of touched) scores[slot] = 0;
    }
    return top.sorted();
  }

  #ensureCapacity(slots: number): void {
    if (slots <= this.#ids.length) return;
    const capacity = Math.max(slots, this.#ids.length * 2);
    this.#ids = grow(this.#ids, capacity);
    this.#lengths = grow(this.#lengths, capacity);
    this.#scores = new Float64Array(capacity);
  }

  /** Renumbers the live documents into dense slots and drops removed ones' postings. */
  #compact(): void {
    const remap = new Int32Array(this.#slots).fill(-1);
    let next = 0;
    for (let slot = 0; slot < this.#slots; slot++) {
      if ((this.#lengths[slot] as number) < 0) continue;
      remap[slot] = next;
      this.#ids[next] = this.#ids[slot] as number;
      this.#lengths[next] = this.#lengths[slot] as number;
      this.#terms[next] = this.#terms[slot];
      this.#slotOf.set(this.#ids[next] as number, next);
      next++;
    }
    this.#terms.length = next;
    this.#slots = next;
    this.#dead = 0;
    for (const [term, posting] of this.#postings) {
      if (posting.df === 0) {
        this.#postings.delete(term);
        continue;
      }
      let kept = 0;
      for (let i = 0; i < posting.length; i++) {
        const slot = remap[posting.slots[i] as number] as number;
        if (slot < 0) continue;
        posting.slots[kept] = slot;
        posting.tfs[kept] = posting.tfs[i] as number;
        kept++;
      }
      posting.length = kept;
      if (posting.slots.length > 2 * kept + INITIAL_POSTING) {
        posting.slots = posting.slots.slice(0, kept + INITIAL_POSTING);
        posting.tfs = posting.tfs.slice(0, kept + INITIAL_POSTING);
      }
    }
  }
}

function grow<T extends Int32Array | Float64Array>(array: T, capacity: number): T {
  const bigger = new (array.constructor as new (length: number) => T)(capacity);
  bigger.set(array);
  return bigger;
}

/** Keeps the k best (score, id) pairs in a min-heap: higher score is better, then lower id. */
class TopK {
  readonly #k: number;
  readonly #ids: number[] = [];
  readonly #scores: number[] = [];
  constructor(k: number) {
    this.#k = k;
  }

  offer(id: number, score: number): void {
    const ids = this.#ids;
    const scores = this.#scores;
    if (ids.length < this.#k) {
      ids.push(id);
      scores.push(score);
      this.#up(ids.length - 1);
    } else if (better(score, id, scores[0] as number, ids[0] as number)) {
      ids[0] = id;
      scores[0] = score;
      this.#down(0);
    }
  }

  sorted(): IndexHit[] {
    const hits = this.#ids.map((id, i) => ({ id, score: this.#scores[i] as number }));
    return hits.sort((x, y) => y.score - x.score || x.id - y.id);
  }

  /** The heap's root is its worst entry. */
  #worse(i: number, j: number): boolean {
    return better(this.#scores[j] as number, this.#ids[j] as number, this.#scores[i] as number, this.#ids[i] as number);
  }

  #swap(i: number, j: number): void {
    const ids = this.#ids;
    const scores = this.#scores;
    [ids[i], ids[j]] = [ids[j] as number, ids[i] as number];
    [scores[i], scores[j]] = [scores[j] as number, scores[i] as number];
  }

  #up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#worse(i, parent)) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const size = this.#ids.length;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let worst = i;
      if (left < size && this.#worse(left, worst)) worst = left;
      if (right < size && this.#worse(right, worst)) worst = right;
      if (worst === i) return;
      this.#swap(i, worst);
      i = worst;
    }
  }
}

function better(score: number, id: number, otherScore: number, otherId: number): boolean {
  return score > otherScore || (score === otherScore && id < otherId);
}
