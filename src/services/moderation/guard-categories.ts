/**
 * What guard models classify and how their categories map onto OpenAI's moderation categories: one
 * table per family, used by the classifier, its tests and docs/moderation-guard-models.md alike.
 */
import { MODERATION_CATEGORIES, type ModerationCategory } from "../../guard/moderation-categories.ts";

/** The guard model families the classifier knows how to prompt. */
export type GuardFamily = "llama-guard-3" | "shieldgemma";

/** The guard model families, for config validation. */
export const GUARD_FAMILIES: readonly GuardFamily[] = ["llama-guard-3", "shieldgemma"];

/** One Llama Guard 3 hazard category (MLCommons taxonomy) and the OpenAI categories it maps onto. */
export interface LlamaGuardCategory {
  /** The code the model lists after `unsafe`, such as `S10`. */
  code: string;
  /** The hazard's name in the model card's taxonomy. */
  name: string;
  /** The category's line as the model's own prompt template writes it. */
  promptName: string;
  /** OpenAI categories this hazard scores; empty where OpenAI has no counterpart. */
  openai: readonly ModerationCategory[];
}

/**
 * Llama Guard 3's 14 hazard categories, in prompt order. S6 (specialized advice), S7 (privacy),
 * S8 (intellectual property) and S13 (elections) have no OpenAI counterpart: they are still in the
 * prompt (the model was trained on the full list) but score nothing, so alone they flag nothing.
 */
export const LLAMA_GUARD_3_CATEGORIES: readonly LlamaGuardCategory[] = [
  { code: "S1", name: "Violent Crimes", promptName: "Violent Crimes", openai: ["violence", "illicit/violent"] },
  { code: "S2", name: "Non-Violent Crimes", promptName: "Non-Violent Crimes", openai: ["illicit"] },
  { code: "S3", name: "Sex-Related Crimes", promptName: "Sex Crimes", openai: ["sexual"] },
  { code: "S4", name: "Child Sexual Exploitation", promptName: "Child Exploitation", openai: ["sexual/minors"] },
  { code: "S5", name: "Defamation", promptName: "Defamation", openai: ["harassment"] },
  { code: "S6", name: "Specialized Advice", promptName: "Specialized Advice", openai: [] },
  { code: "S7", name: "Privacy", promptName: "Privacy", openai: [] },
  { code: "S8", name: "Intellectual Property", promptName: "Intellectual Property", openai: [] },
  { code: "S9", name: "Indiscriminate Weapons", promptName: "Indiscriminate Weapons", openai: ["illicit/violent", "violence"] },
  { code: "S10", name: "Hate", promptName: "Hate", openai: ["hate"] },
  { code: "S11", name: "Suicide & Self-Harm", promptName: "Self-Harm", openai: ["self-harm", "self-harm/intent"] },
  { code: "S12", name: "Sexual Content", promptName: "Sexual Content", openai: ["sexual"] },
  { code: "S13", name: "Elections", promptName: "Elections", openai: [] },
  { code: "S14", name: "Code Interpreter Abuse", promptName: "Code Interpreter Abuse", openai: ["illicit"] },
];

/** One ShieldGemma policy: its guideline for prompts and for responses, and the OpenAI categories it scores. */
export interface ShieldGemmaPolicy {
  name: string;
  /** The guideline bullet for classifying a user's prompt. */
  promptGuideline: string;
  /** The guideline bullet for classifying a chatbot's response. */
  responseGuideline: string;
  openai: readonly ModerationCategory[];
}

/** The wording every ShieldGemma guideline shares after its subject ("The prompt shall not…"). */
function guideline(name: string, rule: string): { promptGuideline: string; responseGuideline: string } {
  return {
    promptGuideline: `"${name}": The prompt shall not contain or seek generation of content that ${rule}`,
    responseGuideline: `"${name}": The chatbot shall not generate content that ${rule}`,
  };
}

/**
 * ShieldGemma's four trained policies (its model card's guidelines), each asked about separately.
 * Dangerous Content covers weapons, attacks and instructions for harm (OpenAI's illicit ones and
 * self-harm instructions); the threatening subcategories follow the physical threats and calls to
 * violence the harassment and hate guidelines name.
 */
export const SHIELDGEMMA_POLICIES: readonly ShieldGemmaPolicy[] = [
  {
    name: "Dangerous Content",
    ...guideline(
      "No Dangerous Content",
      "harming oneself and/or others (e.g., accessing or building firearms and explosive devices, promotion of terrorism, instructions for suicide).",
    ),
    openai: ["illicit", "illicit/violent", "self-harm/instructions"],
  },
  {
    name: "Harassment",
    ...guideline(
      "No Harassment",
      "is malicious, intimidating, bullying, or abusive content targeting another individual (e.g., physical threats, denial of tragic events, disparaging victims of violence).",
    ),
    openai: ["harassment", "harassment/threatening"],
  },
  {
    name: "Hate Speech",
    ...guideline(
      "No Hate Speech",
      "targeting identity and/or protected attributes (e.g., racial slurs, promotion of discrimination, calls to violence against protected groups) or dehumanizing/belittling/vilifying on the bases of race, ethnicity, religion, disability, age, nationality, veteran status, sexual orientation, gender, gender identity, caste, or any other protected status. We do allow content that includes a reference to a protected individual or group in a positive manner.",
    ),
    openai: ["hate", "hate/threatening"],
  },
  {
    name: "Sexually Explicit Information",
    ...guideline(
      "No Sexually Explicit Information",
      "contains references to sexual acts or other lewd content (e.g., sexually graphic descriptions, content aimed at causing arousal). Medical or scientific terms related to human anatomy or sex education are permitted.",
    ),
    openai: ["sexual"],
  },
];

/** The OpenAI categories a family scores at all; the others are reported with no input types. */
export function coveredCategories(family: GuardFamily): ReadonlySet<ModerationCategory> {
  const rows = family === "llama-guard-3" ? LLAMA_GUARD_3_CATEGORIES : SHIELDGEMMA_POLICIES;
  const covered = new Set(rows.flatMap((row) => row.openai));
  // In OpenAI's order, so iterating the set reads like the schema.
  return new Set(MODERATION_CATEGORIES.filter((c) => covered.has(c)));
}

/** What a Llama Guard 3 answer says: its first line, and the hazard codes of its second. */
export interface LlamaGuardAnswer {
  unsafe: boolean;
  codes: string[];
}

/**
 * Reads a Llama Guard 3 answer ("safe", or "unsafe" and a line of codes such as "S1,S10"). A
 * truncated answer counts by what its first line begins ("un" is unsafe); codes are deduplicated,
 * in the order given.
 */
export function parseLlamaGuardAnswer(text: string): LlamaGuardAnswer {
  const [first = "", ...rest] = text.trimStart().split("\n");
  const head = first.trim().toLowerCase();
  const unsafe = head.startsWith("unsafe") || (head !== "" && "unsafe".startsWith(head));
  const codes = unsafe ? [...new Set(rest.join("\n").match(/S\d{1,2}/g) ?? [])] : [];
  return { unsafe, codes };
}

/**
 * Per-category scores of a Llama Guard 3 answer: each listed hazard gives `pUnsafe` to its OpenAI
 * categories (the highest where several hazards map to one); everything else scores 0. Codes
 * outside the table (the model's own invention) are ignored.
 */
export function llamaGuardScores(codes: readonly string[], pUnsafe: number): Map<ModerationCategory, number> {
  const scores = new Map<ModerationCategory, number>();
  for (const code of codes) {
    const row = LLAMA_GUARD_3_CATEGORIES.find((c) => c.code === code);
    for (const category of row?.openai ?? []) scores.set(category, Math.max(scores.get(category) ?? 0, pUnsafe));
  }
  return scores;
}

/** Per-category scores from ShieldGemma's P(Yes) per policy (in SHIELDGEMMA_POLICIES order), the highest where policies share a category. */
export function shieldGemmaScores(pYes: readonly number[]): Map<ModerationCategory, number> {
  const scores = new Map<ModerationCategory, number>();
  SHIELDGEMMA_POLICIES.forEach((policy, i) => {
    const p = pYes[i] ?? 0;
    for (const category of policy.openai) scores.set(category, Math.max(scores.get(category) ?? 0, p));
  });
  return scores;
}
