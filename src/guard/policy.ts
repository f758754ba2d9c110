import type { ModerationCategory } from "./moderation-categories.ts";
import type { PiiType } from "./pii/types.ts";

/** What a check does when it triggers: refuse the request (or cut the answer), replace what it found, or only record it. */
export type GuardAction = "block" | "redact" | "flag";

/** Where a check runs: on what goes to the model, or on what comes back. */
export type GuardStage = "input" | "output";

interface CheckBase {
  /** The check's label in errors, logs and metrics; its type unless named. */
  name: string;
}

/** One guardrail check, as a project's policy lists it. */
export type GuardCheck =
  | (CheckBase & { type: "pii"; action: GuardAction; entities: readonly PiiType[]; restoreOutput: boolean })
  | (CheckBase & { type: "banned"; action: GuardAction; words: readonly string[]; regexes: readonly string[] })
  | (CheckBase & { type: "moderation"; action: "block" | "flag"; model: string; thresholds: Partial<Record<ModerationCategory, number>>; categories: readonly ModerationCategory[] | undefined })
  | (CheckBase & { type: "max_input_tokens"; action: "block" | "flag"; limit: number })
  | (CheckBase & { type: "allowed_models"; action: "block" | "flag"; models: readonly string[] })
  | (CheckBase & { type: "json_only"; action: "block" | "flag" });

/** The check types, and the stages each may run at. */
export const CHECK_STAGES: Readonly<Record<GuardCheck["type"], readonly GuardStage[]>> = {
  pii: ["input", "output"],
  banned: ["input", "output"],
  moderation: ["input", "output"],
  max_input_tokens: ["input"],
  allowed_models: ["input"],
  json_only: ["output"],
};

/** A project's guardrails: ordered checks on input (before the model) and on output (after, and while streaming). */
export interface GuardPolicy {
  input: readonly GuardCheck[];
  output: readonly GuardCheck[];
}

/** Whether a policy has no checks at all (the same as none). */
export function emptyPolicy(p: GuardPolicy): boolean {
  return p.input.length === 0 && p.output.length === 0;
}
