/**
 * The shape of moderation rule lists: rules that score a category when their phrase or regex matches,
 * and exceptions that cancel matches overlapping a benign phrase ("kill the process").
 */
import type { ModerationCategory } from "../moderation-categories.ts";

/** One rule: a phrase (phrase notation, see phrase-expansion.ts) or a regex, and what a match means. */
export interface ModerationRule {
  category: ModerationCategory;
  pattern: string;
  /** `pattern` is a regex over the matching form (lower case, normalised; see normalize.ts). */
  regex: boolean;
  /** How strongly one match indicates the category, in [0, 1]; see rule-engine.ts for how matches add up. */
  weight: number;
  /** Language tag (`en`, `zh`), for reporting and for choosing built-in lists. */
  lang?: string | undefined;
}

/**
 * A benign context: a rule match that overlaps an exception's match is dropped ("kill" in "kill the
 * process", "make a bomb" in "make a bomb-proof plan"). Without `categories`, it cancels every category.
 */
export interface RuleException {
  pattern: string;
  regex: boolean;
  categories?: readonly ModerationCategory[] | undefined;
  lang?: string | undefined;
}

/** Rules and exceptions from one source (a built-in list or a file). */
export interface RuleSet {
  /** Where the set came from, for messages: a file path or `built-in:en`. */
  source: string;
  rules: ModerationRule[];
  exceptions: RuleException[];
}

/** The compact form built-in lists are written in: several phrases or regexes sharing a category and weight. */
export interface RuleGroup {
  /** One category, or several that each get the rule (a threat that is also harassment). */
  category: ModerationCategory | readonly ModerationCategory[];
  weight: number;
  phrases?: readonly string[];
  regexes?: readonly string[];
}

/** Exceptions in compact form: a phrase, or phrases that cancel only some categories. */
export type ExceptionGroup = string | { phrases: readonly string[]; categories: readonly ModerationCategory[] };

/** Expands compact groups into a {@link RuleSet}. */
export function ruleSetFromGroups(
  source: string,
  lang: string,
  groups: readonly RuleGroup[],
  exceptions: readonly ExceptionGroup[] = [],
): RuleSet {
  const rules: ModerationRule[] = [];
  for (const group of groups) {
    const categories = typeof group.category === "string" ? [group.category] : group.category;
    for (const category of categories) {
      for (const pattern of group.phrases ?? []) rules.push({ category, pattern, regex: false, weight: group.weight, lang });
      for (const pattern of group.regexes ?? []) rules.push({ category, pattern, regex: true, weight: group.weight, lang });
    }
  }
  const out: RuleException[] = [];
  for (const entry of exceptions) {
    if (typeof entry === "string") out.push({ pattern: entry, regex: false, lang });
    else for (const pattern of entry.phrases) out.push({ pattern, regex: false, categories: entry.categories, lang });
  }
  return { source, rules, exceptions: out };
}
