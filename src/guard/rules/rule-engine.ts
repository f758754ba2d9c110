/**
 * The model-free moderation backend: word and pattern lists per category, matched in one pass
 * (matcher.ts), turned into OpenAI-shaped scores. For offline baselines and fast pre-filters; it
 * matches words, it does not understand them (docs/moderation-rules.md).
 * Scores are a noisy-OR of matched rules' weights per category (rule-scoring.ts); a category is flagged
 * at 0.5 unless configured otherwise.
 */
import { MODERATION_CATEGORIES, emptyVerdict, perCategory, type ModerationCategory, type ModerationVerdict } from "../moderation-categories.ts";
import { BUILTIN_RULE_SETS } from "./lists/builtin.ts";
import { Matcher, type MatcherPattern } from "./matcher.ts";
import { loadRuleFile } from "./rule-file.ts";
import { CATEGORY_INDEX, categoryScores, type ScoredMatch } from "./rule-scoring.ts";
import type { ModerationRule, RuleException, RuleSet } from "./rule-set.ts";

/** Score at or above which a category is flagged, unless configured otherwise. */
export const DEFAULT_THRESHOLD = 0.5;

/** Options for a {@link RuleEngine}. */
export interface RuleEngineOptions {
  /** Use the built-in lists (default true). */
  builtins?: boolean;
  /** Only the built-in lists of these languages (default: all, currently `en` and `zh`). */
  languages?: readonly string[];
  /** Rule files (JSON or YAML, see rule-file.ts) to add. */
  files?: readonly string[];
  /** Rule sets given in code, added after the files. */
  ruleSets?: readonly RuleSet[];
  /** Flagging threshold: one for every category, or per category (the rest keep {@link DEFAULT_THRESHOLD}). */
  thresholds?: number | Partial<Record<ModerationCategory, number>>;
}

/** One rule match, at its span in the original text. */
export interface RuleMatch {
  category: ModerationCategory;
  start: number;
  end: number;
  /** The original text of the span. */
  text: string;
  weight: number;
}

/** A verdict with the matches behind it. */
export type RuleVerdict = ModerationVerdict & { matches: RuleMatch[] };

interface ExceptionSpan {
  start: number;
  end: number;
  categories: readonly ModerationCategory[] | undefined;
}

/** Classifies text against built-in and configured rule lists. Build once; `classify` is synchronous and fast. */
export class RuleEngine {
  readonly #rules: ModerationRule[] = [];
  readonly #exceptions: RuleException[] = [];
  readonly #matcher: Matcher;
  readonly #thresholds: Record<ModerationCategory, number>;

  /** Loads files synchronously (throws RuleFileError) and compiles every list into one matcher. */
  constructor(options: RuleEngineOptions = {}) {
    const sets: RuleSet[] = [];
    if (options.builtins ?? true) {
      const languages = options.languages;
      sets.push(...BUILTIN_RULE_SETS.filter((s) => languages === undefined || languages.includes(s.lang)).map((s) => s.set));
    }
    for (const file of options.files ?? []) sets.push(loadRuleFile(file));
    sets.push(...(options.ruleSets ?? []));
    // Loops, not push(...list): a large operator list would overflow the argument limit.
    for (const set of sets) {
      for (const rule of set.rules) this.#rules.push(rule);
      for (const exception of set.exceptions) this.#exceptions.push(exception);
    }
    const patterns: MatcherPattern[] = [
      ...this.#rules.map((r) => ({ source: r.pattern, regex: r.regex })),
      ...this.#exceptions.map((e) => ({ source: e.pattern, regex: e.regex })),
    ];
    this.#matcher = new Matcher(patterns);
    const t = options.thresholds;
    this.#thresholds = perCategory((c) => (typeof t === "number" ? t : (t?.[c] ?? DEFAULT_THRESHOLD)));
  }

  /** Rules in use (a rule with several categories counts once per category). */
  get ruleCount(): number {
    return this.#rules.length;
  }

  /** The verdict on one text, with the matches that produced it (exceptions already applied). */
  classify(text: string): RuleVerdict {
    const hits = this.#matcher.scan(text);
    const ruleCount = this.#rules.length;
    const exceptions: ExceptionSpan[] = [];
    for (const hit of hits) {
      if (hit.pattern >= ruleCount) {
        const exception = this.#exceptions[hit.pattern - ruleCount] as RuleException;
        exceptions.push({ start: hit.start, end: hit.end, categories: exception.categories });
      }
    }
    const matches: RuleMatch[] = [];
    const scored: ScoredMatch[] = [];
    for (const hit of hits) {
      if (hit.pattern >= ruleCount) continue;
      const rule = this.#rules[hit.pattern] as ModerationRule;
      // Any overlap cancels: "make a bomb" in "make a bomb-proof backup", "shoot you" in "shoot you an email".
      if (exceptions.some((e) => e.start < hit.end && hit.start < e.end && (e.categories === undefined || e.categories.includes(rule.category)))) {
        continue;
      }
      matches.push({ category: rule.category, start: hit.start, end: hit.end, text: text.slice(hit.start, hit.end), weight: rule.weight });
      const category = CATEGORY_INDEX.get(rule.category) as number;
      scored.push({ rule: hit.pattern, category, weight: rule.weight, start: hit.start, end: hit.end });
    }
    const scores = categoryScores(scored);
    const verdict: RuleVerdict = { ...emptyVerdict(["text"]), matches };
    MODERATION_CATEGORIES.forEach((category, i) => {
      const score = scores[i] as number;
      verdict.scores[category] = score;
      verdict.categories[category] = score > 0 && score >= this.#thresholds[category];
      verdict.flagged ||= verdict.categories[category];
    });
    return verdict;
  }
}
