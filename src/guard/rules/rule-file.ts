/**
 * Rule files: operators' own lists, in JSON or YAML, added to (or replacing) the built-in ones.
 *
 * ```yaml
 * rules:
 *   - { category: violence, phrase: "curb stomp(s|ed|ing)?", weight: 0.6 }
 *   - { category: [harassment, harassment/threatening], phrase: "i will end you" }
 *   - { category: illicit, pattern: "\\bbuy (cheap )?followers\\b", regex: true, weight: 0.4 }
 * exceptions:
 *   - "killer feature"
 *   - { phrase: "shoot the breeze", categories: [violence] }
 * ```
 *
 * `phrase` (or `pattern` without `regex`) uses the phrase notation of phrase-expansion.ts; a regex runs on
 * the matching form (lower case, normalised). `weight` defaults to 1: a listed entry flags on its own.
 * Every entry is checked when the file loads; an error names the file, the entry and the problem.
 */
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { MODERATION_CATEGORIES, type ModerationCategory } from "../moderation-categories.ts";
import { patternProblem } from "./matcher.ts";
import type { ModerationRule, RuleException, RuleSet } from "./rule-set.ts";

/** A rule file that cannot be read, parsed or validated; the message names the file and the entry. */
export class RuleFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RuleFileError";
  }
}

/** An entry names its text once: `phrase`, or `pattern` (a phrase, or a regex with `regex: true`). */
function onePatternField(ctx: { value: { phrase?: string | undefined; pattern?: string | undefined; regex: boolean }; issues: z.core.$ZodRawIssue[] }): void {
  const entry = ctx.value;
  if ((entry.phrase === undefined) === (entry.pattern === undefined)) {
    ctx.issues.push({ code: "custom", input: entry, message: "give exactly one of 'phrase' and 'pattern'" });
  } else if (entry.regex && entry.phrase !== undefined) {
    ctx.issues.push({ code: "custom", input: entry, message: "a regex goes in 'pattern', not 'phrase'" });
  }
}

const CATEGORY_MESSAGE = `expected one of ${MODERATION_CATEGORIES.join(", ")}`;
const category = z.enum(MODERATION_CATEGORIES, { error: CATEGORY_MESSAGE });

const ruleEntry = z
  .strictObject({
    category: z.union([category, z.array(category).min(1)], { error: `${CATEGORY_MESSAGE}, or a list of them` }),
    phrase: z.string().min(1).optional(),
    pattern: z.string().min(1).optional(),
    regex: z.boolean().default(false),
    weight: z.number().min(0).max(1).default(1),
    lang: z.string().min(1).optional(),
  })
  .check(onePatternField);

// A bare string is a phrase: read it as { phrase } so that errors inside objects keep their detail.
const exceptionEntry = z.preprocess(
  (value) => (typeof value === "string" ? { phrase: value } : value),
  z
    .strictObject({
      phrase: z.string().min(1).optional(),
      pattern: z.string().min(1).optional(),
      regex: z.boolean().default(false),
      categories: z.array(category).min(1).optional(),
      lang: z.string().min(1).optional(),
    })
    .check(onePatternField),
);

const ruleFileSchema = z.strictObject({
  rules: z.array(ruleEntry),
  exceptions: z.array(exceptionEntry).default([]),
});

/** `rules[3]` plus what the entry says, so a message points at it even in a long file. */
function describeEntry(raw: unknown, path: readonly PropertyKey[]): string {
  const [list, index] = path;
  if (typeof list !== "string" || typeof index !== "number") return path.length ? path.map(String).join(".") : "(root)";
  let where = `${list}[${index}]`;
  const entry = raw !== null && typeof raw === "object" ? (raw as Record<string, unknown>)[list] : undefined;
  const item = Array.isArray(entry) ? (entry[index] as unknown) : undefined;
  if (typeof item === "string") where += ` ${JSON.stringify(item)}`;
  else if (item !== null && typeof item === "object") {
    const fields = item as Record<string, unknown>;
    const text = fields.phrase ?? fields.pattern;
    if (typeof text === "string") where += ` (${JSON.stringify(text)})`;
  }
  const field = path.slice(2).map(String).join(".");
  return field ? `${where}.${field}` : where;
}

/**
 * Validates parsed rule-file content into a {@link RuleSet}; `source` names it in errors and in the set.
 * Throws {@link RuleFileError} listing every problem, each naming its entry.
 */
export function parseRuleSet(raw: unknown, source: string): RuleSet {
  const result = ruleFileSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${describeEntry(raw, issue.path)}: ${issue.message}`);
    throw new RuleFileError(`Invalid rule file ${source}:\n${lines.join("\n")}`);
  }
  const problems: string[] = [];
  const rules: ModerationRule[] = [];
  result.data.rules.forEach((entry, index) => {
    const pattern = (entry.phrase ?? entry.pattern) as string;
    const problem = patternProblem({ source: pattern, regex: entry.regex });
    if (problem !== undefined) problems.push(`  ${describeEntry(raw, ["rules", index])}: ${problem}`);
    const categories: readonly ModerationCategory[] = typeof entry.category === "string" ? [entry.category] : entry.category;
    for (const c of categories) rules.push({ category: c, pattern, regex: entry.regex, weight: entry.weight, lang: entry.lang });
  });
  const exceptions: RuleException[] = [];
  result.data.exceptions.forEach((entry, index) => {
    const exception: RuleException = { pattern: (entry.phrase ?? entry.pattern) as string, regex: entry.regex, categories: entry.categories, lang: entry.lang };
    const problem = patternProblem({ source: exception.pattern, regex: exception.regex });
    if (problem !== undefined) problems.push(`  ${describeEntry(raw, ["exceptions", index])}: ${problem}`);
    exceptions.push(exception);
  });
  if (problems.length > 0) throw new RuleFileError(`Invalid rule file ${source}:\n${problems.join("\n")}`);
  return { source, rules, exceptions };
}

/** Reads and validates a rule file: JSON when it ends in `.json`, YAML otherwise. Throws {@link RuleFileError}. */
export function loadRuleFile(path: string): RuleSet {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new RuleFileError(`Cannot read rule file ${path}: ${(error as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = extname(path).toLowerCase() === ".json" ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new RuleFileError(`Cannot parse rule file ${path}: ${(error as Error).message}`);
  }
  return parseRuleSet(raw, path);
}
