/**
 * Aho–Corasick automaton over UTF-16 units: finds every occurrence of any of many literals in one pass,
 * in time linear in the text whatever the number of literals.
 *
 * Units are first mapped to a small alphabet (those the literals use; any other unit sends the automaton
 * back to its root). When states × alphabet fits {@link DENSE_LIMIT} the transitions are a full DFA table,
 * one typed-array read per unit; larger sets (tens of thousands of CJK words, whose alphabet is large)
 * keep the trie's edges in an open-addressing table and follow failure links while scanning: slower per
 * unit, bounded in memory.
 */

/** Most cells of a dense transition table (4 bytes each): 16 MiB. */
export const DENSE_LIMIT = 1 << 22;

/** Called per occurrence: the literal's index and the offset just past its end. */
export type OccurrenceHandler = (literal: number, end: number) => void;

/** Options for an {@link AhoCorasick} automaton. */
export interface AhoCorasickOptions {
  /** Most cells of a dense table (default {@link DENSE_LIMIT}); beyond it, the sparse form is used. */
  denseLimit?: number;
  /**
   * Report only occurrences that stand as whole words: not preceded by a word unit where the literal starts
   * with one, nor followed by one where it ends with one. Checked inside the scan loop, because most raw
   * occurrences of short literals ("a", "the") are inside longer words.
   */
  isWordUnit?: (unit: number) => boolean;
}

/** The trie's edges in open addressing: (state, symbol) → child, for the sparse form. */
class EdgeTable {
  readonly #states: Int32Array;
  readonly #symbols: Int32Array;
  readonly #children: Int32Array;
  readonly #mask: number;

  constructor(edges: number) {
    let size = 16;
    while (size < edges * 2) size *= 2;
    this.#states = new Int32Array(size);
    this.#symbols = new Int32Array(size);
    this.#children = new Int32Array(size); // 0 = empty: no edge leads back to the root
    this.#mask = size - 1;
  }

  #slot(state: number, symbol: number): number {
    return (Math.imul(state, 0x9e3779b1) ^ Math.imul(symbol, 0x85ebca6b)) & this.#mask;
  }

  set(state: number, symbol: number, child: number): void {
    let i = this.#slot(state, symbol);
    while (this.#children[i] !== 0) i = (i + 1) & this.#mask;
    this.#states[i] = state;
    this.#symbols[i] = symbol;
    this.#children[i] = child;
  }

  /** The child, or 0 when there is no such edge. */
  get(state: number, symbol: number): number {
    const children = this.#children;
    for (let i = this.#slot(state, symbol); ; i = (i + 1) & this.#mask) {
      const child = children[i] as number;
      if (child === 0 || (this.#states[i] === state && this.#symbols[i] === symbol)) return child;
    }
  }
}

/** A growable Int32 array (the trie's per-state columns while it is built). */
class IntColumn {
  data = new Int32Array(1024);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) {
      const bigger = new Int32Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }
}

/** The automaton for one fixed set of literals; occurrences are reported by literal index. */
export class AhoCorasick {
  /** Per literal: its length in units. */
  readonly lengths: Int32Array;
  readonly #symbols = new Uint16Array(0x10000);
  /** Alphabet size including symbol 0 (a unit no literal uses). */
  readonly #width: number;
  /** Dense mode: next state per (state × width + symbol). */
  readonly #delta: Int32Array | undefined;
  /** Sparse mode: the trie's edges. */
  readonly #edges: EdgeTable | undefined;
  readonly #fail: Int32Array;
  /** Per state: the literal ending exactly there, or -1. */
  readonly #literalAt: Int32Array;
  /** Per state: the nearest state on its failure chain (itself included) where a literal ends, or 0. */
  readonly #firstOutput: Int32Array;
  /** Per output state: the next output state on its failure chain, or 0. */
  readonly #nextOutput: Int32Array;
  readonly #isWordUnit: ((unit: number) => boolean) | undefined;

  /** Builds the automaton for `literals` (non-empty, distinct). */
  constructor(literals: readonly string[], options: AhoCorasickOptions = {}) {
    const denseLimit = options.denseLimit ?? DENSE_LIMIT;
    this.#isWordUnit = options.isWordUnit;
    const symbols = this.#symbols;
    this.lengths = Int32Array.from(literals, (l) => l.length);
    let width = 1;
    for (const literal of literals) {
      for (let i = 0; i < literal.length; i++) {
        const unit = literal.charCodeAt(i);
        if (symbols[unit] === 0) symbols[unit] = width++;
      }
    }
    this.#width = width;

    // The trie: edges in one map; per state its first child, next sibling and the symbol leading to it.
    const edges = new Map<number, number>();
    const firstChild = new IntColumn();
    const nextSibling = new IntColumn();
    const symbolTo = new IntColumn();
    const literalAt = new IntColumn();
    const parentOf = new IntColumn();
    parentOf.push(0);
    firstChild.push(-1);
    nextSibling.push(-1);
    symbolTo.push(0);
    literalAt.push(-1);
    literals.forEach((literal, index) => {
      if (literal.length === 0) throw new Error("an empty literal cannot be matched");
      let state = 0;
      for (let i = 0; i < literal.length; i++) {
        const symbol = symbols[literal.charCodeAt(i)] as number;
        const key = state * width + symbol;
        let next = edges.get(key);
        if (next === undefined) {
          next = literalAt.length;
          edges.set(key, next);
          firstChild.push(-1);
          nextSibling.push(firstChild.data[state] as number);
          firstChild.data[state] = next;
          symbolTo.push(symbol);
          literalAt.push(-1);
          parentOf.push(state);
        }
        state = next;
      }
      literalAt.data[state] = index;
    });
    const states = literalAt.length;
    this.#literalAt = literalAt.data.slice(0, states);

    // Breadth first, so every state's failure target (shallower) is finished before the state itself.
    const dense = states * width <= denseLimit;
    const delta = dense ? new Int32Array(states * width) : undefined;
    let sparse: EdgeTable | undefined;
    if (!dense) {
      sparse = new EdgeTable(states);
      for (let child = 1; child < states; child++) sparse.set(parentOf.data[child] as number, symbolTo.data[child] as number, child);
    }
    const fail = new Int32Array(states);
    const firstOutput = new Int32Array(states);
    const nextOutput = new Int32Array(states);
    const order = new Int32Array(states);
    let queued = 0;
    for (let child = firstChild.data[0] as number; child !== -1; child = nextSibling.data[child] as number) {
      order[queued++] = child;
      if (delta !== undefined) delta[symbolTo.data[child] as number] = child;
    }
    for (let q = 0; q < queued; q++) {
      const state = order[q] as number;
      const f = fail[state] as number;
      nextOutput[state] = firstOutput[f] as number;
      firstOutput[state] = this.#literalAt[state] !== -1 ? state : (firstOutput[f] as number);
      if (delta !== undefined) delta.copyWithin(state * width, f * width, f * width + width);
      for (let child = firstChild.data[state] as number; child !== -1; child = nextSibling.data[child] as number) {
        const symbol = symbolTo.data[child] as number;
        // The failure target of a child: where the parent's failure state goes on the same symbol.
        fail[child] = delta !== undefined ? (delta[f * width + symbol] as number) : this.#sparseStep(sparse as EdgeTable, fail, f, symbol);
        if (delta !== undefined) delta[state * width + symbol] = child;
        order[queued++] = child;
      }
    }
    this.#delta = delta;
    this.#edges = sparse;
    this.#fail = fail;
    this.#firstOutput = firstOutput;
    this.#nextOutput = nextOutput;
  }

  /** Whether transitions are a full table (else a table of trie edges and failure links). */
  get dense(): boolean {
    return this.#delta !== undefined;
  }

  /** The goto-or-fail transition in sparse mode. */
  #sparseStep(edges: EdgeTable, fail: Int32Array, from: number, symbol: number): number {
    for (let state = from; ; state = fail[state] as number) {
      const next = edges.get(state, symbol);
      if (next !== 0) return next;
      if (state === 0) return 0;
    }
  }

  /** Reports every occurrence of every literal in `codes[0, length)`, in order of end offset. */
  scan(codes: Uint16Array, length: number, onOccurrence: OccurrenceHandler): void {
    const symbols = this.#symbols;
    const firstOutput = this.#firstOutput;
    const width = this.#width;
    const delta = this.#delta;
    let state = 0;
    if (delta !== undefined) {
      for (let i = 0; i < length; i++) {
        const symbol = symbols[codes[i] as number] as number;
        state = symbol === 0 ? 0 : (delta[state * width + symbol] as number);
        if (firstOutput[state] !== 0) this.#report(codes, length, state, i + 1, onOccurrence);
      }
      return;
    }
    const edges = this.#edges as EdgeTable;
    for (let i = 0; i < length; i++) {
      const symbol = symbols[codes[i] as number] as number;
      state = symbol === 0 ? 0 : this.#sparseStep(edges, this.#fail, state, symbol);
      if (firstOutput[state] !== 0) this.#report(codes, length, state, i + 1, onOccurrence);
    }
  }

  #report(codes: Uint16Array, length: number, state: number, end: number, onOccurrence: OccurrenceHandler): void {
    const isWord = this.#isWordUnit;
    // Every literal reported here ends at `end` with the same last unit: if a word goes on past it, none stands alone.
    if (isWord !== undefined && end < length && isWord(codes[end] as number) && isWord(codes[end - 1] as number)) return;
    for (let out = this.#firstOutput[state] as number; out !== 0; out = this.#nextOutput[out] as number) {
      const literal = this.#literalAt[out] as number;
      if (isWord !== undefined) {
        const start = end - (this.lengths[literal] as number);
        if (start > 0 && isWord(codes[start] as number) && isWord(codes[start - 1] as number)) continue;
      }
      onOccurrence(literal, end);
    }
  }
}
