import { gbnfClass, gbnfLiteral } from "./gbnf-builder.ts";

/** Inclusive code point range. */
export type CodeRange = readonly [number, number];

const MAX_CP = 0x10ffff;

/**
 * A set of Unicode code points as sorted, disjoint, non-adjacent ranges: the alphabet of regexes,
 * string formats and the automata built from them.
 */
export class CharSet {
  readonly ranges: readonly CodeRange[];

  private constructor(ranges: readonly CodeRange[]) {
    this.ranges = ranges;
  }

  static readonly EMPTY = new CharSet([]);
  static readonly ALL = new CharSet([[0, MAX_CP]]);

  /** Normalises any list of ranges. */
  static of(ranges: readonly CodeRange[]): CharSet {
    const sorted = ranges.filter(([lo, hi]) => lo <= hi).map(([lo, hi]) => [lo, hi] as [number, number]).sort((a, b) => a[0] - b[0]);
    const out: [number, number][] = [];
    for (const r of sorted) {
      const last = out[out.length - 1];
      if (last !== undefined && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
      else out.push(r);
    }
    return new CharSet(out);
  }

  static char(cp: number): CharSet {
    return new CharSet([[cp, cp]]);
  }

  /** Code points of a string, each on its own. */
  static chars(text: string): CharSet {
    return CharSet.of([...text].map((c) => [c.codePointAt(0) as number, c.codePointAt(0) as number]));
  }

  get isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  has(cp: number): boolean {
    return this.ranges.some(([lo, hi]) => cp >= lo && cp <= hi);
  }

  union(other: CharSet): CharSet {
    return CharSet.of([...this.ranges, ...other.ranges]);
  }

  negate(): CharSet {
    const out: [number, number][] = [];
    let next = 0;
    for (const [lo, hi] of this.ranges) {
      if (lo > next) out.push([next, lo - 1]);
      next = hi + 1;
    }
    if (next <= MAX_CP) out.push([next, MAX_CP]);
    return new CharSet(out);
  }

  intersect(other: CharSet): CharSet {
    const out: [number, number][] = [];
    for (const [a, b] of this.ranges) {
      for (const [c, d] of other.ranges) {
        const lo = Math.max(a, c);
        const hi = Math.min(b, d);
        if (lo <= hi) out.push([lo, hi]);
      }
    }
    return CharSet.of(out);
  }

  minus(other: CharSet): CharSet {
    return this.intersect(other.negate());
  }

  /** A stable key for maps. */
  get key(): string {
    return this.ranges.map(([lo, hi]) => `${lo}-${hi}`).join(",");
  }
}

export const DIGIT = CharSet.of([[0x30, 0x39]]);
export const WORD = CharSet.of([[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]]);
/** JavaScript's `\s` (what ajv's `pattern` uses). */
export const SPACE = CharSet.of([
  [0x09, 0x0d], [0x20, 0x20], [0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200a], [0x2028, 0x2029], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000], [0xfeff, 0xfeff],
]);
/** JavaScript's `.` without the `s` flag: anything but line terminators. */
export const DOT = CharSet.of([[0x0a, 0x0a], [0x0d, 0x0d], [0x2028, 0x2029]]).negate();

/** Characters written in a JSON string as a two-character escape. */
const SHORT_ESCAPES: ReadonlyMap<number, string> = new Map([
  [0x22, '\\"'], [0x5c, "\\\\"], [0x0a, "\\n"], [0x09, "\\t"], [0x0d, "\\r"], [0x08, "\\b"], [0x0c, "\\f"],
]);
/** What may appear raw inside a JSON string: no quote, backslash, control character or lone surrogate. */
const RAW = CharSet.of([[0x20, 0x21], [0x23, 0x5b], [0x5d, 0xd7ff], [0xe000, MAX_CP]]);

/** The characters of `set` that JSON text can carry (other control characters would need `\u` escapes, which are never generated). */
export function emittable(set: CharSet): CharSet {
  return set.intersect(RAW.union(CharSet.of([...SHORT_ESCAPES.keys()].map((c) => [c, c]))));
}

/**
 * GBNF for one character of `set` as it is written inside a JSON string: raw where JSON allows, a
 * short escape for quote, backslash, newline, tab, CR, backspace and form feed. `undefined` when
 * nothing of the set can be written.
 */
export function jsonCharGbnf(set: CharSet): string | undefined {
  const options: string[] = [];
  const raw = set.intersect(RAW);
  if (!raw.isEmpty) options.push(gbnfClass(raw.ranges));
  for (const [cp, escape] of SHORT_ESCAPES) if (set.has(cp)) options.push(gbnfLiteral(escape));
  if (options.length === 0) return undefined;
  return options.length === 1 ? (options[0] as string) : `(${options.join(" | ")})`;
}
