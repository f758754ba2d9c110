import type { IndexHit } from "./types.ts";

/** The rank constant of reciprocal rank fusion (Cormack et al. 2009): it damps the head of each list. */
export const RRF_K = 60;

/** One ranked list and its weight in the fusion. */
export interface RankedList {
  weight: number;
  /** Best first. */
  hits: readonly IndexHit[];
}

/**
 * Weighted reciprocal rank fusion: score(d) = Σ wᵢ / (k + rankᵢ(d)), over the lists d appears in,
 * divided by its largest possible value Σ wᵢ / (k + 1), so a result ranked first by every list
 * scores 1 and scores are comparable across queries (`score_threshold`). Best first; ties go to
 * the lower id.
 */
export function fuseRanks(lists: readonly RankedList[], k = RRF_K): IndexHit[] {
  const total = lists.reduce((sum, l) => sum + Math.max(0, l.weight), 0);
  if (total === 0) return [];
  const best = total / (k + 1);
  const scores = new Map<number, number>();
  for (const list of lists) {
    if (list.weight <= 0) continue;
    list.hits.forEach((hit, rank) => {
      scores.set(hit.id, (scores.get(hit.id) ?? 0) + list.weight / (k + rank + 1));
    });
  }
  return [...scores.entries()].map(([id, score]) => ({ id, score: Math.min(1, score / best) })).sort((a, b) => b.score - a.score || a.id - b.id);
}
