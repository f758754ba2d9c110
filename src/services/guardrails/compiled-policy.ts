import type { GuardEvent } from "../../core/request-trail.ts";
import type { ModerationCategory, ModerationVerdict } from "../../guard/moderation-categories.ts";
import { detectPii } from "../../guard/pii/detect.ts";
import type { PlaceholderVault } from "../../guard/pii/placeholder-vault.ts";
import { redactPii } from "../../guard/pii/redact.ts";
import type { PiiFinding } from "../../guard/pii/types.ts";
import type { GuardCheck, GuardPolicy, GuardStage } from "../../guard/policy.ts";
import { PatternSet, type PatternMatch } from "../../guard/rules/pattern-set.ts";

/** A check with what it needs compiled once (banned words' matcher). */
export type CompiledCheck = GuardCheck & { patterns?: PatternSet };

/** A policy compiled for use on requests. */
export interface CompiledPolicy {
  input: readonly CompiledCheck[];
  output: readonly CompiledCheck[];
  /** Whether an input PII check redacts with restore: the answer gets the values back. */
  restoresOutput: boolean;
}

export function compilePolicy(policy: GuardPolicy): CompiledPolicy {
  const compile = (c: GuardCheck): CompiledCheck => (c.type === "banned" ? { ...c, patterns: new PatternSet({ words: c.words, regexes: c.regexes }) } : c);
  return {
    input: policy.input.map(compile),
    output: policy.output.map(compile),
    restoresOutput: policy.input.some((c) => c.type === "pii" && c.action === "redact" && c.restoreOutput),
  };
}

/** Where a check blocked: its name and what it found. */
export interface Blocked {
  check: string;
  category: string | null;
}

/** The moderation a check asks for: a verdict per text from the named model. */
export type Moderate = (model: string, texts: readonly string[], signal: AbortSignal) => Promise<ModerationVerdict[]>;

/** The categories a moderation check flags in a verdict, by its own thresholds (else the model's flags). */
export function flaggedCategories(check: Extract<GuardCheck, { type: "moderation" }>, verdict: ModerationVerdict): ModerationCategory[] {
  const out: ModerationCategory[] = [];
  for (const [category, score] of Object.entries(verdict.scores) as [ModerationCategory, number][]) {
    if (check.categories !== undefined && !check.categories.includes(category)) continue;
    const threshold = check.thresholds[category];
    if (threshold !== undefined ? score >= threshold : verdict.categories[category]) out.push(category);
  }
  return out;
}

/** Replaces spans of a text (sorted, non-overlapping) with what `label` gives each. */
export function replaceSpans(text: string, spans: readonly { start: number; end: number }[], label: (i: number) => string): string {
  let out = "";
  let at = 0;
  spans.forEach((s, i) => {
    if (s.start < at) return;
    out += text.slice(at, s.start) + label(i);
    at = s.end;
  });
  return out + text.slice(at);
}

/** Banned-word matches without overlaps (the first wins). */
export function disjoint(matches: readonly PatternMatch[]): PatternMatch[] {
  const out: PatternMatch[] = [];
  let end = -1;
  for (const m of matches) {
    if (m.start < end) continue;
    out.push(m);
    end = m.end;
  }
  return out;
}

/** What the checks of one stage did to a set of texts. */
export interface TextsOutcome {
  texts: string[];
  events: GuardEvent[];
  blocked: Blocked | undefined;
}

/** What a stage's checks need besides the texts. */
export interface StageContext {
  vault: PlaceholderVault;
  moderate: Moderate;
  signal: AbortSignal;
  /** The model names the request used (its name, and the model that serves it). */
  models?: readonly string[];
  /** Estimated prompt tokens, for `max_input_tokens`. */
  promptTokens?: number;
  /** Which texts moderation reads (user messages, say); all when omitted. */
  moderated?: (index: number) => boolean;
}

/**
 * Runs one stage's checks in order over whole texts (a request's messages, or a whole answer): each
 * check sees the texts as the checks before it left them. A `block` stops at once; `redact` rewrites;
 * `flag` only records. Every trigger is an event.
 */
export async function checkTexts(stage: GuardStage, checks: readonly CompiledCheck[], input: readonly string[], ctx: StageContext): Promise<TextsOutcome> {
  let texts = [...input];
  const events: GuardEvent[] = [];
  const hit = (check: CompiledCheck, action: GuardEvent["action"], category: string | null): Blocked | undefined => {
    events.push({ stage, check: check.name, action, category });
    return action === "block" ? { check: check.name, category } : undefined;
  };
  for (const check of checks) {
    let blocked: Blocked | undefined;
    switch (check.type) {
      case "pii": {
        const found = texts.map((t) => detectPii(t, check.entities));
        const types = [...new Set(found.flat().map((f: PiiFinding) => f.type))];
        for (const type of types) blocked ??= hit(check, check.action, type);
        if (check.action === "redact") texts = texts.map((t, i) => redactPii(t, found[i] ?? [], { vault: ctx.vault }).text);
        break;
      }
      case "banned": {
        const patterns = check.patterns as PatternSet;
        const found = texts.map((t) => disjoint(patterns.find(t)));
        const kinds = [...new Set(found.flat().map((m) => m.kind))];
        for (const kind of kinds) blocked ??= hit(check, check.action, kind);
        if (check.action === "redact") texts = texts.map((t, i) => replaceSpans(t, found[i] ?? [], () => "[REDACTED]"));
        break;
      }
      case "moderation": {
        const read = texts.filter((t, i) => t !== "" && (ctx.moderated?.(i) ?? true));
        if (read.length === 0) break;
        const verdicts = await ctx.moderate(check.model, read, ctx.signal);
        const categories = [...new Set(verdicts.flatMap((v) => flaggedCategories(check, v)))];
        for (const category of categories) blocked ??= hit(check, check.action, category);
        break;
      }
      case "max_input_tokens":
        if ((ctx.promptTokens ?? 0) > check.limit) blocked = hit(check, check.action, null);
        break;
      case "allowed_models":
        if ((ctx.models ?? []).length > 0 && !(ctx.models ?? []).some((m) => check.models.includes(m))) blocked = hit(check, check.action, null);
        break;
      case "json_only": {
        const whole = texts.join("");
        try {
          JSON.parse(whole);
        } catch {
          blocked = hit(check, check.action, null);
        }
        break;
      }
    }
    if (blocked !== undefined) return { texts, events, blocked };
  }
  return { texts, events, blocked: undefined };
}
