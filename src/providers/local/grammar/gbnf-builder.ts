/**
 * A small GBNF writer: named rules (deduplicated by body, so shared shapes are emitted once) and the
 * escaping of literals and character classes. Pure: knows nothing of JSON Schema or the engine.
 */

/** Thrown when a grammar would exceed the size the engine can use; the caller reports a 400. */
export class GrammarTooLargeError extends Error {}

/** Most rules one grammar may hold: larger grammars slow every sampled token. */
export const MAX_RULES = 100_000;

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

/** Collects the rules of one grammar. */
export class GbnfBuilder {
  readonly #rules = new Map<string, string>();
  readonly #byBody = new Map<string, string>();
  readonly #used = new Set<string>();
  /** Next suffix to try per base name, so naming stays linear in the number of rules. */
  readonly #next = new Map<string, number>();

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

  /** The grammar text with `root ::= rootBody` first. */
  render(rootBody: string): string {
    const lines = [`root ::= ${rootBody}`];
    for (const [name, body] of this.#rules) lines.push(`${name} ::= ${body}`);
    return `${lines.join("\n")}\n`;
  }
}

/** Thrown when no value satisfies a schema's constraints (or none the grammar can write). */
export class UnsatisfiableError extends Error {}
