/**
 * OpenAI's omni-moderation categories and the verdict shape every moderation backend returns
 * (`CreateModerationResponse.results[]`, in camelCase): one flag, score and list of input types per category.
 */

/** The categories of `omni-moderation-latest`, in the order OpenAI's schema lists them. */
export const MODERATION_CATEGORIES = [
  "harassment",
  "harassment/threatening",
  "hate",
  "hate/threatening",
  "illicit",
  "illicit/violent",
  "self-harm",
  "self-harm/intent",
  "self-harm/instructions",
  "sexual",
  "sexual/minors",
  "violence",
  "violence/graphic",
] as const;

/** One moderation category, such as `"self-harm/intent"`. */
export type ModerationCategory = (typeof MODERATION_CATEGORIES)[number];

/** The kinds of input a category's score was computed from. */
export type ModerationInputType = "text" | "image";

/** The result of moderating one input (or several combined): flags, scores in [0, 1] and applied input types. */
export interface ModerationVerdict {
  flagged: boolean;
  categories: Record<ModerationCategory, boolean>;
  scores: Record<ModerationCategory, number>;
  appliedInputTypes: Record<ModerationCategory, ModerationInputType[]>;
}

const CATEGORY_SET: ReadonlySet<string> = new Set(MODERATION_CATEGORIES);

/** Whether `value` names a moderation category. */
export function isModerationCategory(value: string): value is ModerationCategory {
  return CATEGORY_SET.has(value);
}

/**
 * The broader category a subcategory refines (`"hate/threatening"` → `"hate"`), or undefined for a top-level one.
 * Every subcategory's parent is itself a category.
 */
export function parentCategory(category: ModerationCategory): ModerationCategory | undefined {
  const slash = category.indexOf("/");
  if (slash < 0) return undefined;
  const parent = category.slice(0, slash);
  return isModerationCategory(parent) ? parent : undefined;
}

/** A record with `make(category)` under every category. */
export function perCategory<T>(make: (category: ModerationCategory) => T): Record<ModerationCategory, T> {
  const out = {} as Record<ModerationCategory, T>;
  for (const category of MODERATION_CATEGORIES) out[category] = make(category);
  return out;
}

/**
 * A verdict with nothing flagged and every score zero. `inputTypes` are the input types it stands for
 * (what a backend that looked at the input and found nothing reports); none by default.
 */
export function emptyVerdict(inputTypes: readonly ModerationInputType[] = []): ModerationVerdict {
  return {
    flagged: false,
    categories: perCategory(() => false),
    scores: perCategory(() => 0),
    appliedInputTypes: perCategory(() => [...inputTypes]),
  };
}

/**
 * One verdict for several inputs or parts (the text and image parts of one input, or several backends'
 * opinions of it): per category the highest score, a flag if any part flagged it, and the union of input types.
 */
export function combineVerdicts(verdicts: readonly ModerationVerdict[]): ModerationVerdict {
  const out = emptyVerdict();
  for (const verdict of verdicts) {
    for (const category of MODERATION_CATEGORIES) {
      out.scores[category] = Math.max(out.scores[category], verdict.scores[category]);
      out.categories[category] ||= verdict.categories[category];
      const types = out.appliedInputTypes[category];
      for (const type of verdict.appliedInputTypes[category]) if (!types.includes(type)) types.push(type);
    }
    out.flagged ||= verdict.flagged;
  }
  for (const category of MODERATION_CATEGORIES) out.appliedInputTypes[category].sort();
  return out;
}
