/** The built-in rule lists, per language. */
import { ruleSetFromGroups, type RuleSet } from "../rule-set.ts";
import { EN_EXCEPTIONS, EN_RULES } from "./en.ts";
import { ZH_EXCEPTIONS, ZH_RULES } from "./zh.ts";

/** Each built-in list with its language tag. */
export const BUILTIN_RULE_SETS: readonly { lang: string; set: RuleSet }[] = [
  { lang: "en", set: ruleSetFromGroups("built-in:en", "en", EN_RULES, EN_EXCEPTIONS) },
  { lang: "zh", set: ruleSetFromGroups("built-in:zh", "zh", ZH_RULES, ZH_EXCEPTIONS) },
];
