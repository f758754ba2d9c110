/**
 * Guardrails' banned words and regexes: the rule matcher without categories or scores. Words use the
 * phrase notation and match on the normalised form (case, full-width, leetspeak and spaced-out letters
 * do not hide them; alphabetic words only on word boundaries, CJK words anywhere). Regexes are admitted
 * by safe-regex.ts when the set is built, and run on the original text by default.
 */
import { Matcher, type MatcherPattern } from "./matcher.ts";

/** Options for a {@link PatternSet}. */
export interface PatternSetOptions {
  /** Words or phrases (phrase notation: `kill(s|ed)?`, `\(` for a literal parenthesis). */
  words?: readonly string[];
  /** Regexes: a bare source (case-insensitive) or `/source/flags` with flags among i, m, s. */
  regexes?: readonly string[];
  /** Run regexes on the original text (default) or on the normalised matching form. */
  regexesOn?: "original" | "normalized";
}

/** One banned word or regex found, at its span in the original text. */
export interface PatternMatch {
  kind: "word" | "regex";
  /** The word or regex as configured. */
  pattern: string;
  start: number;
  end: number;
  text: string;
}

/** A compiled list of banned words and regexes. */
export class PatternSet {
  readonly #patterns: (MatcherPattern & { kind: "word" | "regex" })[];
  readonly #matcher: Matcher;

  /** Compiles the lists; throws an Error naming the first bad word or unsafe regex. */
  constructor(options: PatternSetOptions) {
    const on = options.regexesOn ?? "original";
    this.#patterns = [
      ...(options.words ?? []).map((source) => ({ source, kind: "word" as const })),
      ...(options.regexes ?? []).map((source) => ({ source, regex: true, on, kind: "regex" as const })),
    ];
    try {
      this.#matcher = new Matcher(this.#patterns);
    } catch (error) {
      throw new Error(`Invalid banned word or regex: ${(error as Error).message}`);
    }
  }

  /** Words and regexes in the set. */
  get size(): number {
    return this.#patterns.length;
  }

  /** Every match in `text`, sorted by start. */
  find(text: string): PatternMatch[] {
    return this.#matcher.scan(text).map((hit) => {
      const pattern = this.#patterns[hit.pattern] as MatcherPattern & { kind: "word" | "regex" };
      return { kind: pattern.kind, pattern: pattern.source, start: hit.start, end: hit.end, text: text.slice(hit.start, hit.end) };
    });
  }

  /** Whether `text` holds any banned word or regex match. */
  test(text: string): boolean {
    return this.#matcher.scan(text).length > 0;
  }
}
