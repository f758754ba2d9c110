/** One tier's limits for a model class. */
export interface TierLimits {
  rpm: number;
  tpm: number;
  rpd: number | null;
}

/**
 * OpenAI's published usage tiers, as presets a project can be assigned (`tier` on the project).
 * Figures are those published for gpt-4o-mini-class models; they apply to every model of a project
 * unless a per-model rate limit overrides them.
 */
export const USAGE_TIERS: Readonly<Record<string, TierLimits>> = {
  free: { rpm: 3, tpm: 40_000, rpd: 200 },
  "tier-1": { rpm: 500, tpm: 200_000, rpd: 10_000 },
  "tier-2": { rpm: 5_000, tpm: 2_000_000, rpd: null },
  "tier-3": { rpm: 5_000, tpm: 4_000_000, rpd: null },
  "tier-4": { rpm: 10_000, tpm: 10_000_000, rpd: null },
  "tier-5": { rpm: 30_000, tpm: 150_000_000, rpd: null },
};
