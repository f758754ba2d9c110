/**
 * A small GBNF writer: named rules (deduplicated by body, so shared shapes are emitted once) and the
 * escaping of literals and character classes. Pure: knows nothing of JSON Schema or the engine.
 */

/** Thrown when a grammar would exceed the size the engine can use; the caller reports a 400. */
export class GrammarTooLargeError extends Error {}

/** Most rules one grammar may hold: larger grammars slow every sampled token. */
export const MAX_RULES = 100_000;

/**
 * Most units of work (automaton states visited, transitions computed) one grammar may take to
 * compile. Compiling runs on the server's event loop, so a schema whose patterns would take long
 * to turn into automata is refused (a 400) well within a second instead of stalling every request.
 */
export const MAX_WORK = 2_500_000;

function escapeCodePoint(cp: number, inClass: boolean): string {
  const isAlnum = (cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a);
  if (isAlnum) return String.fromCodePoint(cp);
  if (!inClass && cp >= 0x20 && cp < 0x7f && cp !== 0x22 && cp !== 0x5c) return String.fromCodePoint(cp);
  if (cp <= 0xff) return `\\x${cp.toString(16).padStart(2, "0")}`;
  if (cp <= 0xffff) return `\\u${cp.toString(16).padStart(4, "0")}`;
  return `\\U${cp.toString(16).padStart(8, "0")}`;
}

/** A GBNF string literal matching `text` exactly. */
export function gbnfLiteral(text: string): string {
  let out = '"';
  for (const ch of text) out += escapeCodePoint(ch.codePointAt(0) as number, false);
  return `${out}"`;
}

/** A GBNF character class over inclusive code point ranges (assumed non-empty). */
export function gbnfClass(ranges: readonly (readonly [number, number])[]): string {
  let out = "[";
  for (const [lo, hi] of ranges) {
    out += escapeCodePoint(lo, true);
    if (hi > lo) out += (hi > lo + 1 ? "-" : "") + escapeCodePoint(hi, true);
  }
  return `${out}]`;
}

/** llama.cpp's grammar parser refuses a repetition count above this (its MAX_REPETITION_THRESHOLD). */
export const MAX_REPETITION = 2000;

function quantifier(min: number, max: number): string {
  if (max === Infinity) return min === 0 ? "*" : min === 1 ? "+" : `{${min},}`;
  if (min === 0 && max === 1) return "?";
  return min === max ? `{${min}}` : `{${min},${max}}`;
}

/** Collects the rules of one grammar. */
export class GbnfBuilder {
  readonly #rules = new Map<string, string>();
  readonly #byBody = new Map<string, string>();
  readonly #used = new Set<string>();
  /** Next suffix to try per base name, so naming stays linear in the number of rules. */
  readonly #next = new Map<string, number>();
  #work = 0;

  /** Counts `units` of compile work against {@link MAX_WORK}; throws GrammarTooLargeError past it. */
  spend(units: number): void {
    this.#work += units;
    if (this.#work > MAX_WORK) throw new GrammarTooLargeError("the schema's patterns, formats and lengths are too complex to compile into a grammar");
  }

  /** A fresh rule name starting with `hint` (letters, digits and dashes only). */
  reserve(hint: string): string {
    const base = hint.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40) || "r";
    let name = base;
    let i = this.#next.get(base) ?? 1;
    while (this.#used.has(name) || name === "root") name = `${base}-${i++}`;
    this.#next.set(base, i);
    this.#used.add(name);
    if (this.#used.size > MAX_RULES) throw new GrammarTooLargeError(`the grammar would need more than ${MAX_RULES} rules`);
    return name;
  }

  /** Gives a reserved name its body. */
  define(name: string, body: string): string {
    this.#rules.set(name, body);
    return name;
  }

  /** A rule with this body: an existing one when the same body was added before. */
  rule(hint: string, body: string): string {
    const known = this.#byBody.get(body);
    if (known !== undefined) return known;
    const name = this.define(this.reserve(hint), body);
    this.#byBody.set(body, name);
    return name;
  }

  /**
   * `body` repeated `min` to `max` times (max may be Infinity), written as llama.cpp accepts it: the
   * repeated part is always a rule of its own (llama.cpp refuses a repetition whose operand expands
   * to many rules, such as a nested counted repeat), and runs longer than {@link MAX_REPETITION} are
   * chained in blocks, so `minLength: 5000` or `maxItems: 10000` still compile.
   */
  repeat(body: string, min: number, max: number): string {
    if (max === 0) return '""';
    const atom = /^[a-z0-9-]+$/.test(body) ? body : this.rule("rep", body);
    const parts: string[] = [];
    let lo = min;
    let hi = max;
    for (; lo > MAX_REPETITION; lo -= MAX_REPETITION, hi -= MAX_REPETITION) parts.push(`${atom}{${MAX_REPETITION}}`);
    if (hi === Infinity || hi <= MAX_REPETITION) {
      parts.push(`${atom}${quantifier(lo, hi)}`);
      return parts.join(" ");
    }
    if (lo > 0) parts.push(`${atom}${quantifier(lo, lo)}`);
    // Up to `extra` more: a full block and then up to the rest, or fewer than a block.
    const upTo = (extra: number): string =>
      extra <= MAX_REPETITION ? `${atom}${quantifier(0, extra)}` : this.rule("upto", `${atom}{${MAX_REPETITION}} ${upTo(extra - MAX_REPETITION)} | ${atom}${quantifier(0, MAX_REPETITION - 1)}`);
    parts.push(upTo(hi - lo));
    return parts.join(" ");
  }

  /** The grammar text with `root ::= rootBody` first. */
  render(rootBody: string): string {
    const lines = [`root ::= ${rootBody}`];
    for (const [name, body] of this.#rules) lines.push(`${name} ::= ${body}`);
    return `${lines.join("\n")}\n`;
  }
}

/** Thrown when no value satisfies a schema's constraints (or none the grammar can write). */
export class UnsatisfiableError extends Error {}
