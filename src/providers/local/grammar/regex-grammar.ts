import { CharSet, emittable, jsonCharGbnf } from "./char-set.ts";
import { GbnfBuilder, UnsatisfiableError } from "./gbnf-builder.ts";
import { lengthRange, parseRegex, RegexSyntaxError, wholeMatch, type RegexNode } from "./regex-parser.ts";
import { automatonGrammar } from "./string-automaton.ts";
import { FORMAT_PATTERNS } from "./string-format-grammar.ts";

/** What a JSON Schema says about one string. */
export interface StringConstraints {
  pattern?: string | undefined;
  format?: string | undefined;
  minLength?: number | undefined;
  maxLength?: number | undefined;
}

/** Which keyword a string constraint error is about. */
export class StringConstraintError extends Error {
  readonly keyword: "pattern" | "format" | "minLength";
  constructor(keyword: "pattern" | "format" | "minLength", message: string) {
    super(message);
    this.keyword = keyword;
  }
}

/** Signals that a node cannot be written directly (a repeat of something that may be empty). */
class NeedsAutomaton extends Error {}

/**
 * GBNF for a whole-match node written directly from its structure (compact, and GBNF repeats stay
 * repeats); `undefined` when the node can match nothing JSON text can carry.
 */
function direct(b: GbnfBuilder, node: RegexNode): string | undefined {
  switch (node.kind) {
    case "set": {
      const body = jsonCharGbnf(emittable(node.set));
      return body === undefined ? undefined : b.rule("c", body);
    }
    case "start":
    case "end":
      return '""';
    case "seq": {
      const parts: string[] = [];
      for (const item of node.items) {
        const part = direct(b, item);
        if (part === undefined) return undefined;
        parts.push(part);
      }
      return parts.length === 0 ? '""' : parts.join(" ");
    }
    case "alt": {
      const options = node.options.map((o) => direct(b, o)).filter((o) => o !== undefined);
      if (options.length === 0) return undefined;
      return options.length === 1 ? (options[0] as string) : `(${options.join(" | ")})`;
    }
    case "repeat": {
      // llama.cpp rejects a repeat of something that can be empty (it reads as left recursion).
      if (node.max > 1 && lengthRange(node.node)[0] === 0) throw new NeedsAutomaton();
      const inner = direct(b, node.node);
      if (inner === undefined) return node.min === 0 ? '""' : undefined;
      if (node.max === 0) return '""';
      return b.repeat(inner, node.min, node.max);
    }
  }
}

/** A character of any JSON string, counted as one character however it is written. */
export function anyCharRule(b: GbnfBuilder): string {
  return b.rule("char", jsonCharGbnf(CharSet.ALL) as string);
}

/**
 * GBNF for a JSON string (quotes included) meeting `pattern`, `format`, `minLength` and `maxLength`
 * together. One pattern without length limits it does not already meet is written directly;
 * combinations go through the product automaton, which is exact. Throws StringConstraintError
 * naming the keyword for an unsupported pattern, or when no string satisfies everything.
 */
export function stringGrammar(b: GbnfBuilder, c: StringConstraints): string {
  const minLength = Math.max(0, Math.ceil(c.minLength ?? 0));
  const maxLength = c.maxLength === undefined ? Infinity : Math.floor(c.maxLength);
  if (minLength > maxLength) throw new StringConstraintError("minLength", "'minLength' is greater than 'maxLength': no string satisfies both");
  const patterns: RegexNode[] = [];
  if (c.pattern !== undefined) {
    try {
      patterns.push(wholeMatch(parseRegex(c.pattern)));
    } catch (error) {
      if (error instanceof RegexSyntaxError) throw new StringConstraintError("pattern", `the pattern cannot be enforced: ${error.message}`);
      throw error;
    }
  }
  const formatPattern = c.format === undefined ? undefined : FORMAT_PATTERNS[c.format];
  if (formatPattern !== undefined) patterns.push(wholeMatch(parseRegex(formatPattern)));
  const keyword = c.pattern !== undefined ? "pattern" : formatPattern !== undefined ? "format" : "minLength";
  try {
    let body: string | undefined;
    if (patterns.length === 0) {
      const char = anyCharRule(b);
      body = b.repeat(char, minLength, maxLength);
    } else {
      const only = patterns[0] as RegexNode;
      const [lo, hi] = lengthRange(only);
      if (patterns.length === 1 && lo >= minLength && hi <= maxLength) {
        try {
          body = direct(b, only);
        } catch (error) {
          if (!(error instanceof NeedsAutomaton)) throw error;
          body = automatonGrammar(b, patterns, minLength, maxLength);
        }
        if (body === undefined) throw new UnsatisfiableError("no string without control characters matches it");
      } else body = automatonGrammar(b, patterns, minLength, maxLength);
    }
    return b.rule("str", `"\\"" ${body} "\\""`);
  } catch (error) {
    if (error instanceof StringConstraintError) throw error;
    if (error instanceof Error && error.constructor !== Error) throw new StringConstraintError(keyword, `the string constraints cannot be enforced: ${error.message}`);
    throw error;
  }
}
