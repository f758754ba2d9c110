/**
 * The multi-pattern matcher shared by the moderation rule engine and guardrails' banned words: many
 * phrases and a few regexes, found in one pass over the text's matching form (see normalize.ts), each
 * hit reported at its span in the original text.
 *
 * Phrases are expanded (phrase-expansion.ts), normalised like text, and compiled into two Aho–Corasick
 * automata: one for phrases in alphabetic scripts, which must stand on word boundaries (`kill` does not
 * match inside `skill`), and one for phrases holding any CJK character, which match anywhere (those
 * scripts have no word boundaries). Long phrases are compiled as chains of parts (see compilePhrase).
 * Regexes run one by one, on the matching form or on the original text.
 *
 * Why automata rather than one combined RegExp per language: V8 tries a large alternation alternative
 * by alternative at each candidate start, so its cost grows with the number of phrases, and a regex
 * reports only non-overlapping matches ("kill yourself" hides "kill"). Measured on the built-in lists
 * (6,900 English and 3,100 Chinese literals) over the 8,000-character mixed test text: 250 µs and 360 µs
 * per combined RegExp, 53 µs and 95 µs per automaton, which also finds every overlapping occurrence.
 */
import { AhoCorasick } from "./aho-corasick.ts";
import { isCjkUnit, isWordUnit, normalizeLiteral, Normalizer, type NormalizedText } from "./normalize.ts";
import { expandPhrase, phraseItems } from "./phrase-expansion.ts";
import { compileRegexNotation, compileSafeRegex } from "./safe-regex.ts";

/** One pattern: a phrase in the phrase notation, or a regex. */
export interface MatcherPattern {
  source: string;
  /** `source` is a regex: a bare source (case-insensitive) or `/source/flags`. */
  regex?: boolean;
  /** For a regex: run it on the matching form (default) or on the original text. */
  on?: "normalized" | "original";
}

/** One occurrence of a pattern, at its span in the original text. */
export interface MatcherHit {
  /** Index of the pattern in the list the matcher was built from. */
  pattern: number;
  start: number;
  end: number;
}

/** Options for building a {@link Matcher}. */
export interface MatcherOptions {
  /** Largest dense transition table per automaton (cells); see aho-corasick.ts. */
  denseLimit?: number;
}

/** One part of a phrase: the pattern, which part it is, and how many parts the phrase has. */
interface PartSlot {
  pattern: number;
  part: number;
  parts: number;
  /** Units between the previous part's end and this part's start: 1 (a space) or 0. */
  gap: number;
}

interface LiteralGroup {
  automaton: AhoCorasick;
  /** Per literal: the part slots it belongs to. */
  owners: number[][];
}

interface CompiledRegex {
  pattern: number;
  regex: RegExp;
  original: boolean;
}

/** Expansions up to which neighbouring words of a phrase stay one literal set (beyond, they are chained). */
const MAX_PART_EXPANSIONS = 64;

const SPACE = 32;

/** One part of a compiled phrase: its literals, and whether one space separates it from the part before. */
export interface PhrasePart {
  literals: string[];
  spaced: boolean;
}

/** Consecutive phrase pieces on their way to becoming one part. */
interface PendingPart {
  source: string;
  spaced: boolean;
  count: number;
  canBeEmpty: boolean;
}

function allCjkAt(literals: readonly string[], edge: "start" | "end"): boolean {
  return literals.every((l) => l.length > 0 && isCjkUnit(l.charCodeAt(edge === "start" ? 0 : l.length - 1)));
}

function join(into: PendingPart, next: PendingPart): void {
  into.source += (next.spaced ? " " : "") + next.source;
  into.count *= next.count;
  into.canBeEmpty &&= next.canBeEmpty;
}

/**
 * The parts a phrase compiles to; consecutive parts match one space apart or directly adjacent. A phrase
 * whose expansion is small is one part. A long product such as `(i will|…18 forms) (kill|…15 verbs)
 * (you|…17 targets)` becomes three parts of 18, 15 and 17 literals instead of 4,590 literals: the
 * automaton stays small and each part is found once, then chained. Pieces are cut apart only at spaces
 * and between two CJK characters, so word-boundary checks at part edges never change.
 * Throws (PhraseSyntaxError) on a malformed phrase and on one that normalises to nothing.
 */
export function compilePhrase(phrase: string): PhrasePart[] {
  // Runs: pieces that cannot be cut apart (`kill(s|ed)`, `(a |an )?idiot`).
  const runs: PendingPart[] = [];
  let previousEndsCjk = false;
  for (const item of phraseItems(phrase)) {
    const literals = expandPhrase(item.source).map(normalizeLiteral);
    const nonEmpty = literals.filter((l) => l !== "");
    const piece = { source: item.source, spaced: item.spaced, count: literals.length, canBeEmpty: nonEmpty.length < literals.length };
    const last = runs[runs.length - 1];
    const cjkCut = previousEndsCjk && allCjkAt(nonEmpty, "start");
    if (last !== undefined && !item.spaced && !cjkCut) join(last, piece);
    else runs.push(piece);
    previousEndsCjk = allCjkAt(nonEmpty, "end");
  }
  // Parts: runs joined while their product stays small, or while the part so far could match nothing.
  const merged: PendingPart[] = [];
  for (const run of runs) {
    const last = merged[merged.length - 1];
    if (last !== undefined && (last.canBeEmpty || last.count * run.count <= MAX_PART_EXPANSIONS)) join(last, run);
    else merged.push({ ...run });
  }
  // A trailing part that can be empty ("kill (him)?") is folded into the one before.
  const tail = merged[merged.length - 1];
  const beforeTail = merged[merged.length - 2];
  if (tail !== undefined && beforeTail !== undefined && tail.canBeEmpty) {
    merged.pop();
    join(beforeTail, tail);
  }
  const parts = merged.map(({ source, spaced }, i) => ({
    literals: [...new Set(expandPhrase(source).map(normalizeLiteral).filter((l) => l !== ""))],
    spaced: i > 0 && spaced,
  }));
  if (parts.length === 0 || parts.some((p) => p.literals.length === 0)) throw new Error("the phrase has nothing to match once normalised");
  return parts;
}

/** Whether a literal holds a CJK unit or a surrogate: its phrase then matches as a substring, not as words. */
function isSubstringLiteral(literal: string): boolean {
  for (let i = 0; i < literal.length; i++) if (literal.charCodeAt(i) >= 0x2e80) return true;
  return false;
}

/** Compiles one regex pattern (throws UnsafeRegexError). */
function compileRegex(pattern: MatcherPattern): RegExp {
  // On the matching form the text is already lower case, so case-insensitivity is implied.
  return pattern.on === "original" ? compileRegexNotation(pattern.source) : compileSafeRegex(pattern.source);
}

/** The problem with a pattern, or undefined if it compiles: for validating configuration up front. */
export function patternProblem(pattern: MatcherPattern): string | undefined {
  try {
    if (pattern.regex) compileRegex(pattern);
    else compilePhrase(pattern.source);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Many phrases and regexes, compiled once and matched together. */
export class Matcher {
  readonly #groups: LiteralGroup[] = [];
  readonly #slots: PartSlot[] = [];
  readonly #normalizer = new Normalizer();
  readonly #regexes: CompiledRegex[] = [];
  /** Distinct literals across both automata. */
  readonly literalCount: number;

  /** Compiles `patterns`; throws an Error naming the first bad one by index. */
  constructor(patterns: readonly MatcherPattern[], options: MatcherOptions = {}) {
    const byLiteral = [new Map<string, number[]>(), new Map<string, number[]>()];
    const compiled = new Map<string, PhrasePart[]>();
    patterns.forEach((pattern, index) => {
      try {
        if (pattern.regex) {
          this.#regexes.push({ pattern: index, regex: compileRegex(pattern), original: pattern.on === "original" });
          return;
        }
        let parts = compiled.get(pattern.source);
        if (parts === undefined) compiled.set(pattern.source, (parts = compilePhrase(pattern.source)));
        // A phrase with any CJK literal goes whole to the substring automaton (its chains run in one scan).
        const substring = parts.some((p) => p.literals.some(isSubstringLiteral));
        const map = byLiteral[substring ? 1 : 0] as Map<string, number[]>;
        parts.forEach(({ literals, spaced }, part) => {
          const slot = this.#slots.length;
          this.#slots.push({ pattern: index, part, parts: parts.length, gap: spaced ? 1 : 0 });
          for (const literal of literals) {
            const owners = map.get(literal);
            if (owners === undefined) map.set(literal, [slot]);
            else owners.push(slot);
          }
        });
      } catch (error) {
        throw new Error(`pattern ${index} (${JSON.stringify(pattern.source)}): ${(error as Error).message}`);
      }
    });
    byLiteral.forEach((map, i) => {
      if (map.size === 0) return;
      const automaton = new AhoCorasick([...map.keys()], { denseLimit: options.denseLimit, isWordUnit: i === 0 ? isWordUnit : undefined });
      this.#groups.push({ automaton, owners: [...map.values()] });
    });
    this.literalCount = (byLiteral[0] as Map<string, number[]>).size + (byLiteral[1] as Map<string, number[]>).size;
  }

  /** Whether every automaton uses a dense transition table. */
  get dense(): boolean {
    return this.#groups.every((g) => g.automaton.dense);
  }

  /** Every occurrence of every pattern in `text`, sorted by start (longer first on ties). */
  scan(text: string): MatcherHit[] {
    const hits: MatcherHit[] = [];
    let normalized: NormalizedText | undefined;
    if (this.#groups.length > 0 || this.#regexes.some((r) => !r.original)) normalized = this.#normalizer.normalize(text);
    if (normalized !== undefined) {
      for (const group of this.#groups) this.#scanGroup(group, normalized, hits);
    }
    for (const { pattern, regex, original } of this.#regexes) {
      const subject = original ? text : (normalized as NormalizedText).text;
      regex.lastIndex = 0;
      for (let m = regex.exec(subject); m !== null; m = regex.exec(subject)) {
        const end = m.index + m[0].length;
        if (end === m.index) {
          regex.lastIndex++; // admitted regexes cannot match empty at offset 0, but lookarounds may elsewhere
          continue;
        }
        const [start, stop] = original ? [m.index, end] : (normalized as NormalizedText).originalSpan(m.index, end);
        hits.push({ pattern, start, end: stop });
      }
    }
    hits.sort((a, b) => a.start - b.start || b.end - a.end || a.pattern - b.pattern);
    return hits;
  }

  /**
   * Runs one automaton. A literal of a one-part phrase is a hit; a literal of a later part of a chained
   * phrase is one where the chain up to the part before ended just before it (occurrences arrive in order
   * of end offset, so the earlier parts of a chain are always seen first).
   */
  #scanGroup(group: LiteralGroup, text: NormalizedText, hits: MatcherHit[]): void {
    const { codes, length } = text;
    const lengths = group.automaton.lengths;
    const slots = this.#slots;
    const stride = length + 1;
    /** (slot × stride + end of the chain through that part) → where the chain begins. */
    let chains: Map<number, number> | undefined;
    group.automaton.scan(codes, length, (literal, end) => {
      const start = end - (lengths[literal] as number);
      for (const slot of group.owners[literal] as number[]) {
        const owner = slots[slot] as PartSlot;
        let begin = start;
        if (owner.part > 0) {
          if (chains === undefined || (owner.gap === 1 && (start < 1 || codes[start - 1] !== SPACE))) continue;
          const previous = chains.get((slot - 1) * stride + start - owner.gap);
          if (previous === undefined) continue;
          begin = previous;
        }
        if (owner.part === owner.parts - 1) {
          const [from, to] = text.originalSpan(begin, end);
          hits.push({ pattern: owner.pattern, start: from, end: to });
        } else {
          chains ??= new Map();
          const key = slot * stride + end;
          const known = chains.get(key);
          if (known === undefined || begin < known) chains.set(key, begin);
        }
      }
    });
  }
}
