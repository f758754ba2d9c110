import { ConfigError } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { ApiError } from "../core/errors.ts";
import type { GuardPolicy } from "../guard/policy.ts";
import { RuleEngine } from "../guard/rules/rule-engine.ts";
import { parseGuardPolicy } from "../protocol/openai/guardrails.ts";
import type { ModelRegistry } from "../services/model-registry.ts";
import { ModerationService } from "../services/moderation/moderation-service.ts";
import { GuardModelClassifier } from "../services/moderation/guard-model.ts";
import { RulesModerationBackend } from "../services/moderation/rules-backend.ts";

/**
 * The moderation models: guard models first (their aliases win), then the rule engine under its id
 * and the OpenAI names no model of the registry has (an upstream's `omni-moderation-latest` keeps
 * relaying).
 */
export function buildModeration(config: Config, registry: ModelRegistry): ModerationService {
  const service = new ModerationService();
  const free = (names: readonly string[]): string[] => names.filter((n) => !registry.has(n));
  let engine: RuleEngine;
  try {
    engine = new RuleEngine({ builtins: config.moderation.rules.builtins, files: config.moderation.rules.files });
  } catch (error) {
    throw new ConfigError(`moderation.rules: ${(error as Error).message}`);
  }
  for (const g of config.moderation.guardModels) {
    const model = registry.find(g.model);
    if (model === undefined) throw new ConfigError(`moderation.guardModels: '${g.id}' names the model '${g.model}', which is not served here.`);
    let classifier: GuardModelClassifier;
    try {
      classifier = new GuardModelClassifier({ model, family: g.family, threshold: g.threshold });
    } catch (error) {
      throw new ConfigError(`moderation.guardModels: ${(error as Error).message}`);
    }
    service.add({ id: g.id, classify: (texts, signal) => classifier.classify(texts, signal) }, free(g.aliases));
  }
  service.add(new RulesModerationBackend(config.moderation.rulesModel.id, engine), free(config.moderation.rulesModel.aliases));
  return service;
}

/** The guardrail policies of the config, validated as the admin API validates them. */
export function configuredPolicies(config: Config): Map<string, GuardPolicy> {
  const out = new Map<string, GuardPolicy>();
  for (const [projectId, raw] of Object.entries(config.guardrails.projects)) {
    try {
      out.set(projectId, parseGuardPolicy(raw));
    } catch (error) {
      const param = error instanceof ApiError && error.param ? ` at '${error.param}'` : "";
      throw new ConfigError(`guardrails.projects.${projectId}${param}: ${(error as Error).message}`);
    }
  }
  return out;
}
