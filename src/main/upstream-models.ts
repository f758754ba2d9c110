import { ConfigError } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { unixSeconds } from "../core/ids.ts";
import { openAiPrice } from "../core/pricing.ts";
import { anthropicAdapter } from "../providers/anthropic/adapter.ts";
import { azureOpenAiAdapter, openAiCompatibleAdapter } from "../providers/openai-compatible/adapter.ts";
import type { CleanupStack } from "../core/cleanup-stack.ts";
import type { Logger } from "../logging/logger.ts";
import type { Deployment } from "../providers/upstream/deployment.ts";
import { RedisDeploymentState } from "../providers/upstream/redis-deployment-state.ts";
import type { SharedDeploymentState } from "../providers/upstream/shared-deployment-state.ts";
import { RoutedChatModel } from "../providers/upstream/routed-model.ts";
import type { ModelRegistry } from "../services/model-registry.ts";

/** Each provider's wire format. */
const ADAPTERS = { "openai-compatible": openAiCompatibleAdapter, "azure-openai": azureOpenAiAdapter, anthropic: anthropicAdapter } as const;

/**
 * Registers each configured upstream model, routed over its deployments. With Redis configured,
 * deployments' own RPM/TPM and circuit breakers are shared by every process that uses it (one
 * connection for all the models, closed on `cleanup`); else each process keeps its own.
 */
export function addUpstreamModels(config: Config, registry: ModelRegistry, deps: { logger: Logger; cleanup: CleanupStack }): void {
  let shared: SharedDeploymentState | undefined;
  if (config.redisUrl !== undefined && config.upstreams.models.length > 0) {
    const redis = new RedisDeploymentState(config.redisUrl, deps.logger);
    deps.cleanup.defer("shared deployment state", () => redis.close());
    shared = redis;
  }
  const byId = new Map(config.upstreams.deployments.map((d) => [d.id, d]));
  for (const m of config.upstreams.models) {
    const deployments: Deployment[] = m.deployments.map((id) => {
      const d = byId.get(id);
      if (d === undefined) throw new ConfigError(`Upstream model '${m.name}' names an unknown deployment '${id}'.`);
      const apiKey = d.apiKeyEnv === undefined ? undefined : process.env[d.apiKeyEnv];
      if (d.apiKeyEnv !== undefined && !apiKey) throw new ConfigError(`Deployment '${d.id}' takes its API key from ${d.apiKeyEnv}, which is not set.`);
      return {
        id: d.id,
        adapter: ADAPTERS[d.provider],
        apiVersion: d.apiVersion,
        baseUrl: d.baseUrl,
        apiKey,
        model: d.model,
        weight: d.weight,
        timeoutMs: d.timeoutMs,
        unsupportedParams: new Set(d.unsupportedParams),
        dropUnsupportedParams: d.dropUnsupportedParams,
        rpm: d.rpm,
        tpm: d.tpm,
        defaultMaxTokens: d.maxTokens,
        ...(d.endpoints !== undefined ? { forwards: new Set([...ADAPTERS[d.provider].forwards].filter((e) => d.endpoints?.includes(e))) } : {}),
      };
    });
    const first = deployments[0] as Deployment;
    const pricing = m.pricing ? { input: m.pricing.input, output: m.pricing.output, cachedInput: m.pricing.cachedInput ?? m.pricing.input / 2 } : openAiPrice(first.model);
    const resolveAll = (names: readonly string[]) => () => names.map((n) => registry.resolve(n));
    registry.add(
      new RoutedChatModel(
        { id: m.name, aliases: m.aliases, created: unixSeconds(), ownedBy: "upstream", pricing },
        deployments,
        {
          routing: m.routing,
          affinityLoadFactor: m.affinityLoadFactor,
          maxRetries: m.maxRetries,
          deadlineMs: m.deadlineMs,
          breakerThreshold: m.breakerThreshold,
          breakerCooldownMs: m.breakerCooldownMs,
          fallbacks: resolveAll(m.fallbacks),
          contextFallbacks: resolveAll(m.contextFallbacks),
          shared,
        },
      ),
    );
  }
}
