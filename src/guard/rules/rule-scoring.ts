/**
 * How rule matches become category scores. A match counts toward its rule's category and that category's
 * parent (`hate/threatening` also toward `hate`). Per category, a match lying inside a longer match is the
 * same evidence ("suicide" inside "committed suicide") and the span weighs its strongest rule; each
 * distinct rule then counts once however often it matched, and the score is 1 − Π(1 − w) over those
 * rules' weights: a noisy-OR, so one strong rule or several weak ones reach a threshold, and more
 * evidence never lowers a score.
 */
import { MODERATION_CATEGORIES, parentCategory, type ModerationCategory } from "../moderation-categories.ts";

/** A category's position in {@link MODERATION_CATEGORIES}. */
export const CATEGORY_INDEX: ReadonlyMap<ModerationCategory, number> = new Map(MODERATION_CATEGORIES.map((c, i) => [c, i]));

/** Per category index: its parent's index, or -1. */
const PARENT_INDEX = Int8Array.from(MODERATION_CATEGORIES, (c) => {
  const parent = parentCategory(c);
  return parent === undefined ? -1 : (CATEGORY_INDEX.get(parent) as number);
});

/** A match as scoring sees it. Matches are given sorted by start, longer first on ties. */
export interface ScoredMatch {
  /** Which rule matched (a rule counts once per category). */
  rule: number;
  /** Index of the rule's category in {@link MODERATION_CATEGORIES}. */
  category: number;
  weight: number;
  start: number;
  end: number;
}

/** Per category index, the score in [0, 1] of `matches` (sorted by start, longer first on ties). */
export function categoryScores(matches: readonly ScoredMatch[]): Float64Array {
  const buckets: ScoredMatch[][] = MODERATION_CATEGORIES.map(() => []);
  for (const match of matches) {
    (buckets[match.category] as ScoredMatch[]).push(match);
    const parent = PARENT_INDEX[match.category] as number;
    if (parent >= 0) (buckets[parent] as ScoredMatch[]).push(match);
  }
  const scores = new Float64Array(MODERATION_CATEGORIES.length);
  buckets.forEach((bucket, category) => {
    if (bucket.length === 0) return;
    const strongest = new Map<number, number>();
    let spanEnd = -1;
    let span: ScoredMatch | undefined;
    const close = (): void => {
      if (span !== undefined) strongest.set(span.rule, Math.max(strongest.get(span.rule) ?? 0, span.weight));
    };
    for (const match of bucket) {
      if (match.end <= spanEnd) {
        // Inside the current span: the same evidence, weighed by its strongest rule.
        if (span === undefined || match.weight > span.weight) span = match;
        continue;
      }
      close();
      span = match;
      spanEnd = match.end;
    }
    close();
    let remaining = 1;
    for (const weight of strongest.values()) remaining *= 1 - weight;
    scores[category] = 1 - remaining;
  });
  return scores;
}
