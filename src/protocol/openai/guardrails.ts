import { invalidRequest } from "../../core/errors.ts";
import { isModerationCategory, MODERATION_CATEGORIES, type ModerationCategory } from "../../guard/moderation-categories.ts";
import { CHECK_STAGES, type GuardCheck, type GuardPolicy, type GuardStage } from "../../guard/policy.ts";
import { PII_TYPES, type PiiType } from "../../guard/pii/types.ts";
import { PatternSet } from "../../guard/rules/pattern-set.ts";
import { FieldReader, invalidValue } from "./validate.ts";

const MAX_CHECKS = 32;
const MAX_WORDS = 10_000;
const DEFAULT_MODERATION_MODEL = "omni-moderation-latest";

function strings(reader: FieldReader, key: string, options: { required?: boolean; max: number; maxLength: number }): string[] | undefined {
  const list = reader.array(key, { required: options.required ?? false, maxLength: options.max });
  if (list === undefined) return undefined;
  return list.map((v, i) => {
    const param = `${reader.path(key)}[${i}]`;
    if (typeof v !== "string" || v.length === 0) throw invalidRequest(`Invalid '${param}': expected a non-empty string.`, param, "invalid_type");
    if (v.length > options.maxLength) throw invalidRequest(`Invalid '${param}': longer than ${options.maxLength} characters.`, param, "string_above_max_length");
    return v;
  });
}

function readCheck(value: unknown, param: string, stage: GuardStage): GuardCheck {
  const r = new FieldReader(value, param);
  const type = r.enumeration("type", Object.keys(CHECK_STAGES) as GuardCheck["type"][], { required: true }) as GuardCheck["type"];
  if (!CHECK_STAGES[type].includes(stage)) {
    throw invalidRequest(`Invalid '${r.path("type")}': a '${type}' check runs on ${CHECK_STAGES[type].join(" and ")} only.`, r.path("type"), "invalid_value");
  }
  const name = r.string("name", { nonEmpty: true, maxLength: 64 }) ?? type;
  const blockOrFlag = (): "block" | "flag" => r.enumeration("action", ["block", "flag"] as const) ?? "block";
  switch (type) {
    case "pii": {
      r.rejectUnknown(new Set(["type", "name", "action", "entities", "restore_output"]));
      const entities = strings(r, "entities", { max: PII_TYPES.length, maxLength: 32 });
      entities?.forEach((e, i) => {
        if (!(PII_TYPES as readonly string[]).includes(e)) throw invalidValue(`${r.path("entities")}[${i}]`, e, PII_TYPES);
      });
      const action = r.enumeration("action", ["block", "redact", "flag"] as const) ?? "redact";
      const restoreOutput = r.boolean("restore_output") ?? false;
      if (restoreOutput && (stage !== "input" || action !== "redact")) {
        throw invalidRequest(`Invalid '${r.path("restore_output")}': only an input check that redacts has placeholders to restore.`, r.path("restore_output"), "invalid_value");
      }
      return { type, name, action, entities: (entities as PiiType[] | undefined) ?? PII_TYPES, restoreOutput };
    }
    case "banned": {
      r.rejectUnknown(new Set(["type", "name", "action", "words", "regexes"]));
      const words = strings(r, "words", { max: MAX_WORDS, maxLength: 200 }) ?? [];
      const regexes = strings(r, "regexes", { max: 200, maxLength: 500 }) ?? [];
      if (words.length + regexes.length === 0) throw invalidRequest(`'${param}' needs 'words' or 'regexes'.`, r.path("words"), "missing_required_parameter");
      const action = r.enumeration("action", ["block", "redact", "flag"] as const) ?? "block";
      try {
        // Compiled once here so a bad word or an unsafe regex is refused when the policy is set, not at request time.
        new PatternSet({ words, regexes });
      } catch (error) {
        throw invalidRequest(`Invalid '${param}': ${(error as Error).message}`, r.path(regexes.length > 0 ? "regexes" : "words"), "invalid_value");
      }
      return { type, name, action, words, regexes };
    }
    case "moderation": {
      r.rejectUnknown(new Set(["type", "name", "action", "model", "thresholds", "categories"]));
      const model = r.string("model", { nonEmpty: true, maxLength: 200 }) ?? DEFAULT_MODERATION_MODEL;
      const thresholds: Partial<Record<ModerationCategory, number>> = {};
      const t = r.object("thresholds");
      if (t !== undefined) {
        for (const key of Object.keys(t.obj)) {
          if (!isModerationCategory(key)) throw invalidValue(t.path(key), key, MODERATION_CATEGORIES);
          thresholds[key] = t.number(key, { min: 0, max: 1 }) as number;
        }
      }
      const categories = strings(r, "categories", { max: MODERATION_CATEGORIES.length, maxLength: 64 });
      categories?.forEach((c, i) => {
        if (!isModerationCategory(c)) throw invalidValue(`${r.path("categories")}[${i}]`, c, MODERATION_CATEGORIES);
      });
      return { type, name, action: blockOrFlag(), model, thresholds, categories: categories as ModerationCategory[] | undefined };
    }
    case "max_input_tokens": {
      r.rejectUnknown(new Set(["type", "name", "action", "limit"]));
      const limit = r.number("limit", { integer: true, min: 1 });
      if (limit === undefined) r.required("limit");
      return { type, name, action: blockOrFlag(), limit: limit as number };
    }
    case "allowed_models": {
      r.rejectUnknown(new Set(["type", "name", "action", "models"]));
      const models = strings(r, "models", { required: true, max: 1000, maxLength: 200 }) as string[];
      return { type, name, action: blockOrFlag(), models };
    }
    case "json_only": {
      r.rejectUnknown(new Set(["type", "name", "action"]));
      return { type, name, action: blockOrFlag() };
    }
  }
}

/** Parses a guardrail policy (`{input: [...], output: [...]}`); a 400 naming the field for anything wrong. */
export function parseGuardPolicy(body: unknown, param = ""): GuardPolicy {
  const r = new FieldReader(body, param);
  r.rejectUnknown(new Set(["input", "output"]));
  const read = (stage: GuardStage): GuardCheck[] =>
    (r.array(stage, { maxLength: MAX_CHECKS }) ?? []).map((c, i) => readCheck(c, `${r.path(stage)}[${i}]`, stage));
  return { input: read("input"), output: read("output") };
}

function renderCheck(c: GuardCheck): Record<string, unknown> {
  const base = { type: c.type, name: c.name, action: c.action };
  switch (c.type) {
    case "pii":
      return { ...base, entities: [...c.entities], restore_output: c.restoreOutput };
    case "banned":
      return { ...base, words: [...c.words], regexes: [...c.regexes] };
    case "moderation":
      return { ...base, model: c.model, thresholds: c.thresholds, categories: c.categories === undefined ? null : [...c.categories] };
    case "max_input_tokens":
      return { ...base, limit: c.limit };
    case "allowed_models":
      return { ...base, models: [...c.models] };
    case "json_only":
      return base;
  }
}

/** The policy as stored and shown: every default filled in. */
export function renderGuardPolicy(p: GuardPolicy): { input: Record<string, unknown>[]; output: Record<string, unknown>[] } {
  return { input: p.input.map(renderCheck), output: p.output.map(renderCheck) };
}

/** `GET /v1/organization/projects/{id}/guardrails`. */
export function renderProjectGuardrails(projectId: string, policy: GuardPolicy, source: "project" | "config" | "none", updatedAt: number | null): Record<string, unknown> {
  return { object: "organization.project.guardrails", project_id: projectId, source, updated_at: updatedAt, ...renderGuardPolicy(policy) };
}

/** What one stage of a dry run found. */
export interface DryRunStageIn {
  text: string;
  blocked: { check: string; category: string | null } | undefined;
  events: readonly { stage: string; check: string; action: string; category: string | null }[];
}

/** `POST /v1/organization/guardrails/dry_run`. */
export function renderDryRun(input: DryRunStageIn | undefined, output: DryRunStageIn | undefined): Record<string, unknown> {
  const stage = (s: DryRunStageIn | undefined) =>
    s === undefined ? null : { text: s.text, blocked: s.blocked !== undefined, blocked_by: s.blocked ?? null, events: s.events.map((e) => ({ ...e })) };
  return { object: "organization.guardrails.dry_run", input: stage(input), output: stage(output) };
}
