import { CharSet, emittable, jsonCharGbnf } from "./char-set.ts";
import { GbnfBuilder, GrammarTooLargeError, UnsatisfiableError } from "./gbnf-builder.ts";
import type { RegexNode } from "./regex-parser.ts";

/** Most NFA states one pattern may expand to (counted repeats are unrolled). */
const MAX_NFA_STATES = 20_000;
/** Most DFA states per pattern, and product states in all. */
const MAX_DFA_STATES = 4_000;
const MAX_PRODUCT_STATES = 60_000;

interface NfaState {
  eps: number[];
  edges: { set: CharSet; to: number }[];
}

/** Thompson construction of a whole-match node; only characters JSON text can carry are kept. */
function buildNfa(b: GbnfBuilder, root: RegexNode): { states: NfaState[]; start: number; accept: number } {
  const states: NfaState[] = [];
  const add = (): number => {
    if (states.length >= MAX_NFA_STATES) throw new GrammarTooLargeError("the pattern expands to too many states");
    b.spend(1);
    states.push({ eps: [], edges: [] });
    return states.length - 1;
  };
  const eps = (from: number, to: number): void => void (states[from] as NfaState).eps.push(to);
  function build(node: RegexNode): [number, number] {
    const s = add();
    const a = add();
    switch (node.kind) {
      case "set": {
        const set = emittable(node.set);
        if (!set.isEmpty) (states[s] as NfaState).edges.push({ set, to: a });
        break;
      }
      case "start":
      case "end":
        eps(s, a);
        break;
      case "seq": {
        let at = s;
        for (const item of node.items) {
          const [is, ia] = build(item);
          eps(at, is);
          at = ia;
        }
        eps(at, a);
        break;
      }
      case "alt":
        for (const option of node.options) {
          const [os, oa] = build(option);
          eps(s, os);
          eps(oa, a);
        }
        break;
      case "repeat": {
        let at = s;
        for (let i = 0; i < node.min; i++) {
          const [is, ia] = build(node.node);
          eps(at, is);
          at = ia;
        }
        if (node.max === Infinity) {
          const [is, ia] = build(node.node);
          eps(at, is);
          eps(ia, is);
          eps(ia, a);
        } else {
          for (let i = node.min; i < node.max; i++) {
            const [is, ia] = build(node.node);
            eps(at, is);
            eps(at, a);
            at = ia;
          }
        }
        eps(at, a);
        break;
      }
    }
    return [s, a];
  }
  const [start, accept] = build(root);
  return { states, start, accept };
}

/** A deterministic automaton: per state, disjoint character sets to next states. */
interface Dfa {
  start: number;
  accepting: boolean[];
  edges: { set: CharSet; to: number }[][];
}

/**
 * The transitions out of a set of NFA edges: the alphabet cut at every range boundary, each piece
 * mapped to the NFA states it reaches, pieces with the same targets merged. A sweep over sorted
 * boundaries keeps this near-linear in the number of ranges (a filter per piece was quadratic).
 */
function transitions(b: GbnfBuilder, edges: readonly { set: CharSet; to: number }[]): { targets: number[]; ranges: [number, number][] }[] {
  const events: [number, number, number][] = [];
  for (const e of edges) for (const [lo, hi] of e.set.ranges) events.push([lo, 1, e.to], [hi + 1, -1, e.to]);
  b.spend(events.length);
  events.sort((x, y) => x[0] - y[0]);
  const active = new Map<number, number>();
  const byTarget = new Map<string, { targets: number[]; ranges: [number, number][] }>();
  for (let i = 0; i < events.length; ) {
    const at = (events[i] as [number, number, number])[0];
    for (; i < events.length && (events[i] as [number, number, number])[0] === at; i++) {
      const [, delta, to] = events[i] as [number, number, number];
      const count = (active.get(to) ?? 0) + delta;
      if (count === 0) active.delete(to);
      else active.set(to, count);
    }
    if (active.size === 0 || i >= events.length) continue;
    const next = (events[i] as [number, number, number])[0];
    b.spend(active.size);
    const targets = [...active.keys()].sort((x, y) => x - y);
    const key = targets.join(",");
    const entry = byTarget.get(key) ?? { targets, ranges: [] };
    entry.ranges.push([at, next - 1]);
    byTarget.set(key, entry);
  }
  return [...byTarget.values()];
}

function determinize(b: GbnfBuilder, root: RegexNode): Dfa {
  const nfa = buildNfa(b, root);
  const closure = (seeds: Iterable<number>): number[] => {
    const seen = new Set<number>();
    const stack = [...seeds];
    while (stack.length > 0) {
      const s = stack.pop() as number;
      if (seen.has(s)) continue;
      seen.add(s);
      const eps = (nfa.states[s] as NfaState).eps;
      b.spend(1 + eps.length);
      for (const t of eps) stack.push(t);
    }
    return [...seen].sort((x, y) => x - y);
  };
  const ids = new Map<string, number>();
  const sets: number[][] = [];
  const dfa: Dfa = { start: 0, accepting: [], edges: [] };
  const intern = (set: number[]): number => {
    b.spend(set.length);
    const key = set.join(",");
    let id = ids.get(key);
    if (id === undefined) {
      if (sets.length >= MAX_DFA_STATES) throw new GrammarTooLargeError("the pattern needs too many automaton states");
      id = sets.length;
      ids.set(key, id);
      sets.push(set);
      dfa.accepting.push(set.includes(nfa.accept));
      dfa.edges.push([]);
    }
    return id;
  };
  intern(closure([nfa.start]));
  for (let d = 0; d < sets.length; d++) {
    const edges = (sets[d] as number[]).flatMap((s) => (nfa.states[s] as NfaState).edges);
    if (edges.length === 0) continue;
    for (const { targets, ranges } of transitions(b, edges)) {
      (dfa.edges[d] as Dfa["edges"][number]).push({ set: CharSet.of(ranges), to: intern(closure(targets)) });
    }
  }
  return dfa;
}

/**
 * GBNF (the content of a JSON string, without its quotes) for the strings every pattern matches
 * whole and whose length in characters lies in [minLength, maxLength]: the product of the patterns'
 * automata with a length counter, pruned of dead ends so sampling can never get stuck.
 */
export function automatonGrammar(b: GbnfBuilder, patterns: readonly RegexNode[], minLength: number, maxLength: number): string {
  const dfas = patterns.map((p) => determinize(b, p));
  const cap = maxLength === Infinity ? minLength : maxLength;
  type Node = { dfa: number[]; count: number; accepting: boolean; edges: { set: CharSet; to: number }[] };
  const nodes: Node[] = [];
  const ids = new Map<string, number>();
  const intern = (dfa: number[], count: number): number => {
    const key = `${dfa.join(",")}/${count}`;
    let id = ids.get(key);
    if (id === undefined) {
      if (nodes.length >= MAX_PRODUCT_STATES) throw new GrammarTooLargeError("the combination of pattern, format and length needs too many states");
      id = nodes.length;
      ids.set(key, id);
      const accepting = count >= minLength && dfa.every((s, i) => (dfas[i] as Dfa).accepting[s] === true);
      nodes.push({ dfa, count, accepting, edges: [] });
    }
    return id;
  };
  intern(dfas.map((d) => d.start), 0);
  for (let n = 0; n < nodes.length; n++) {
    const node = nodes[n] as Node;
    if (maxLength !== Infinity && node.count >= maxLength) continue;
    const next = Math.min(node.count + 1, cap);
    // Every combination of one edge per automaton whose sets overlap.
    let combos: { set: CharSet; to: number[] }[] = [{ set: CharSet.ALL, to: [] }];
    node.dfa.forEach((s, i) => {
      const out: typeof combos = [];
      for (const c of combos) {
        const outEdges = (dfas[i] as Dfa).edges[s] ?? [];
        b.spend(outEdges.length);
        for (const e of outEdges) {
          const set = c.set.intersect(e.set);
          if (!set.isEmpty) out.push({ set, to: [...c.to, e.to] });
        }
      }
      combos = out;
    });
    for (const c of combos) node.edges.push({ set: c.set, to: intern(c.to, next) });
  }
  // Keep only states from which an accepting state is reachable.
  const live = nodes.map((n) => n.accepting);
  for (let changed = true; changed; ) {
    changed = false;
    nodes.forEach((n, i) => {
      if (!live[i] && n.edges.some((e) => live[e.to])) {
        live[i] = true;
        changed = true;
      }
    });
  }
  if (!live[0]) throw new UnsatisfiableError("no string satisfies both the pattern/format and the length limits (among strings without control characters)");
  const names = nodes.map((_, i) => (live[i] ? b.reserve(`s${i}`) : ""));
  nodes.forEach((n, i) => {
    if (!live[i]) return;
    const byTarget = new Map<number, CharSet>();
    for (const e of n.edges) if (live[e.to]) byTarget.set(e.to, (byTarget.get(e.to) ?? CharSet.EMPTY).union(e.set));
    const options = [...byTarget].map(([to, set]) => `${b.rule("c", jsonCharGbnf(set) as string)} ${names[to]}`);
    if (n.accepting) options.push('""');
    b.define(names[i] as string, options.join(" | "));
  });
  return names[0] as string;
}
