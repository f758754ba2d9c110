import { CharSet, DIGIT, DOT, SPACE, WORD } from "./char-set.ts";

/** A parsed regular expression. `max` of a repeat may be Infinity. */
export type RegexNode =
  | { kind: "set"; set: CharSet }
  | { kind: "seq"; items: RegexNode[] }
  | { kind: "alt"; options: RegexNode[] }
  | { kind: "repeat"; node: RegexNode; min: number; max: number }
  | { kind: "start" }
  | { kind: "end" };

/** A pattern that uses a regex feature the grammar compiler cannot express, or is malformed. */
export class RegexSyntaxError extends Error {}

/** Largest `{m,n}` bound accepted: bigger counts would blow up the grammar. */
const MAX_REPEAT = 1000;
const METACHARS = new Set([..."^$\\.*+?()[]{}|/-"]);

/**
 * Parses the regex subset the grammar compiler supports (ECMAScript syntax, as ajv runs `pattern`):
 * literals, classes (negated, ranges), `.`, escapes `\d \w \s \D \W \S`, control and hex escapes,
 * escaped metacharacters, groups `( )` and `(?: )`, alternation, the greedy quantifiers
 * `? * + {m} {m,} {m,n}` and the anchors `^ $`. Anything else (backreferences, lookaround, named
 * groups, `\b`, lazy quantifiers, Unicode property escapes) throws a RegexSyntaxError.
 */
export function parseRegex(source: string): RegexNode {
  const chars = [...source];
  let pos = 0;
  const peek = (): string | undefined => chars[pos];
  const fail = (what: string): never => {
    throw new RegexSyntaxError(`${what} (at position ${pos} of the pattern) is not supported`);
  };

  function alternation(): RegexNode {
    const options = [sequence()];
    while (peek() === "|") {
      pos++;
      options.push(sequence());
    }
    return options.length === 1 ? (options[0] as RegexNode) : { kind: "alt", options };
  }

  function sequence(): RegexNode {
    const items: RegexNode[] = [];
    while (pos < chars.length && peek() !== "|" && peek() !== ")") {
      const atom = atomNode();
      items.push(quantified(atom));
    }
    return items.length === 1 ? (items[0] as RegexNode) : { kind: "seq", items };
  }

  function readInt(): number | undefined {
    let digits = "";
    while (peek() !== undefined && /[0-9]/.test(peek() as string)) digits += chars[pos++];
    return digits === "" ? undefined : Number(digits);
  }

  function quantified(atom: RegexNode): RegexNode {
    let node = atom;
    for (;;) {
      const c = peek();
      let min: number;
      let max: number;
      if (c === "*") [min, max] = [0, Infinity];
      else if (c === "+") [min, max] = [1, Infinity];
      else if (c === "?") [min, max] = [0, 1];
      else if (c === "{") {
        const save = pos;
        pos++;
        const m = readInt();
        let n: number | undefined = m;
        if (m !== undefined && peek() === ",") {
          pos++;
          n = readInt() ?? Infinity;
        }
        if (m === undefined || peek() !== "}") {
          // Not a quantifier: a literal brace, as ECMAScript's Annex B reads it.
          pos = save;
          return node;
        }
        if (n === undefined || n < m) fail("a quantifier whose maximum is below its minimum");
        if (m > MAX_REPEAT || (n !== Infinity && (n as number) > MAX_REPEAT)) fail(`a repeat count above ${MAX_REPEAT}`);
        [min, max] = [m, n as number];
      } else return node;
      pos++;
      if (peek() === "?") fail("a lazy quantifier");
      if (node.kind === "start" || node.kind === "end") fail("a quantified anchor");
      node = { kind: "repeat", node, min, max };
    }
  }

  function atomNode(): RegexNode {
    const c = chars[pos++] as string;
    switch (c) {
      case "(": {
        if (peek() === "?") {
          pos++;
          const kind = chars[pos++];
          if (kind === "=" || kind === "!") fail("a lookahead");
          if (kind === "<") fail(peek() === "=" || peek() === "!" ? "a lookbehind" : "a named group");
          if (kind !== ":") fail("this group syntax");
        }
        const inner = alternation();
        if (chars[pos++] !== ")") fail("an unclosed group");
        return inner;
      }
      case ")":
        return fail("an unmatched ')'");
      case "[":
        return { kind: "set", set: charClass() };
      case ".":
        return { kind: "set", set: DOT };
      case "^":
        return { kind: "start" };
      case "$":
        return { kind: "end" };
      case "*":
      case "+":
      case "?":
        return fail("a quantifier with nothing to repeat");
      case "\\":
        return { kind: "set", set: escape(false) };
      default:
        return { kind: "set", set: CharSet.chars(c) };
    }
  }

  function hex(count: number): number {
    const digits = chars.slice(pos, pos + count).join("");
    if (digits.length !== count || !/^[0-9a-fA-F]+$/.test(digits)) fail("a malformed hex escape");
    pos += count;
    return Number.parseInt(digits, 16);
  }

  /** The set an escape (after its backslash) stands for. */
  function escape(inClass: boolean): CharSet {
    const c = chars[pos++];
    if (c === undefined) return fail("a trailing backslash");
    switch (c) {
      case "d": return DIGIT;
      case "D": return DIGIT.negate();
      case "w": return WORD;
      case "W": return WORD.negate();
      case "s": return SPACE;
      case "S": return SPACE.negate();
      case "n": return CharSet.char(0x0a);
      case "r": return CharSet.char(0x0d);
      case "t": return CharSet.char(0x09);
      case "f": return CharSet.char(0x0c);
      case "v": return CharSet.char(0x0b);
      case "0":
        if (peek() !== undefined && /[0-9]/.test(peek() as string)) fail("an octal escape");
        return CharSet.char(0);
      case "x": return CharSet.char(hex(2));
      case "u": {
        if (peek() === "{") {
          pos++;
          let digits = "";
          while (peek() !== undefined && peek() !== "}") digits += chars[pos++];
          pos++;
          if (!/^[0-9a-fA-F]{1,6}$/.test(digits)) fail("a malformed \\u{} escape");
          return CharSet.char(Number.parseInt(digits, 16));
        }
        return CharSet.char(hex(4));
      }
      case "c": {
        const letter = chars[pos++];
        if (letter === undefined || !/[a-zA-Z]/.test(letter)) return fail("a malformed \\c escape");
        return CharSet.char((letter.codePointAt(0) as number) % 32);
      }
      case "b":
        if (inClass) return CharSet.char(0x08);
        return fail("a word boundary (\\b)");
      case "B": return fail("a non-word boundary (\\B)");
      case "k": return fail("a named backreference");
      case "p":
      case "P": return fail("a Unicode property escape");
      default:
        if (/[1-9]/.test(c)) return fail("a backreference");
        if (METACHARS.has(c) || !/[a-zA-Z0-9]/.test(c)) return CharSet.chars(c);
        return fail(`the escape \\${c}`);
    }
  }

  function classAtom(): CharSet {
    const c = chars[pos++];
    if (c === undefined) return fail("an unclosed character class");
    if (c === "\\") return escape(true);
    return CharSet.chars(c);
  }

  function charClass(): CharSet {
    let negated = false;
    if (peek() === "^") {
      negated = true;
      pos++;
    }
    let set = CharSet.EMPTY;
    while (peek() !== "]") {
      if (pos >= chars.length) fail("an unclosed character class");
      const from = classAtom();
      if (peek() === "-" && chars[pos + 1] !== "]" && chars[pos + 1] !== undefined) {
        pos++;
        const to = classAtom();
        const [a] = from.ranges;
        const [b] = to.ranges;
        const single = (s: CharSet): boolean => s.ranges.length === 1 && s.ranges[0]?.[0] === s.ranges[0]?.[1];
        if (!single(from) || !single(to) || a === undefined || b === undefined) return fail("a range with a class escape as an end");
        if (a[0] > b[0]) fail("a class range out of order");
        set = set.union(CharSet.of([[a[0], b[0]]]));
      } else set = set.union(from);
    }
    pos++;
    return negated ? set.negate() : set;
  }

  const node = alternation();
  if (pos < chars.length) fail("an unmatched ')'");
  return node;
}

/** Shortest and longest string lengths a node matches (anchors are empty). */
export function lengthRange(node: RegexNode): [number, number] {
  switch (node.kind) {
    case "set": return [1, 1];
    case "start":
    case "end": return [0, 0];
    case "seq": return node.items.map(lengthRange).reduce(([a, b], [c, d]) => [a + c, b + d], [0, 0]);
    case "alt": {
      const ranges = node.options.map(lengthRange);
      return [Math.min(...ranges.map((r) => r[0])), Math.max(...ranges.map((r) => r[1]))];
    }
    case "repeat": {
      const [lo, hi] = lengthRange(node.node);
      return [lo * node.min, hi === 0 ? 0 : hi * node.max];
    }
  }
}

const ANY_STRING: RegexNode = { kind: "repeat", node: { kind: "set", set: CharSet.ALL }, min: 0, max: Infinity };

/**
 * Rewrites a pattern as a whole-string match: JSON Schema patterns are unanchored, so a side without
 * its anchor gets "anything" there. Anchors are supported at the start and end of each top-level
 * alternative (also through groups there); elsewhere they throw a RegexSyntaxError.
 */
export function wholeMatch(node: RegexNode): RegexNode {
  const options = node.kind === "alt" ? node.options : [node];
  const out = options.map((option) => {
    const items = option.kind === "seq" ? [...option.items] : [option];
    const anchoredStart = stripAnchor(items, "start");
    const anchoredEnd = stripAnchor(items, "end");
    for (const item of items) assertNoAnchor(item);
    if (!anchoredStart) items.unshift(ANY_STRING);
    if (!anchoredEnd) items.push(ANY_STRING);
    return items.length === 1 ? (items[0] as RegexNode) : { kind: "seq" as const, items };
  });
  return out.length === 1 ? (out[0] as RegexNode) : { kind: "alt", options: out };
}

/** Removes a leading `^` (or trailing `$`) from `items`, also inside a group whose every option has it. */
function stripAnchor(items: RegexNode[], anchor: "start" | "end"): boolean {
  const index = anchor === "start" ? 0 : items.length - 1;
  const item = items[index];
  if (item === undefined) return false;
  if (item.kind === anchor) {
    items.splice(index, 1);
    return true;
  }
  if (item.kind === "alt") {
    const stripped = item.options.map((o) => (o.kind === "seq" ? [...o.items] : [o]));
    if (stripped.every((s) => stripAnchor(s, anchor))) {
      items[index] = { kind: "alt", options: stripped.map((s) => (s.length === 1 ? (s[0] as RegexNode) : { kind: "seq", items: s })) };
      return true;
    }
  }
  if (item.kind === "seq") {
    const inner = [...item.items];
    if (stripAnchor(inner, anchor)) {
      items[index] = { kind: "seq", items: inner };
      return true;
    }
  }
  return false;
}

function assertNoAnchor(node: RegexNode): void {
  switch (node.kind) {
    case "start":
    case "end":
      throw new RegexSyntaxError("an anchor (^ or $) other than at the start or end of the pattern is not supported");
    case "seq": node.items.forEach(assertNoAnchor); break;
    case "alt": node.options.forEach(assertNoAnchor); break;
    case "repeat": assertNoAnchor(node.node); break;
    case "set": break;
  }
}
