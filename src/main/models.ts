import { statSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import type { CleanupStack } from "../core/cleanup-stack.ts";
import type { Logger } from "../logging/logger.ts";
import { resolvePullTarget } from "../models/catalogue.ts";
import { collectModels, type ModelEntry } from "../models/discover.ts";
import { PullError, pullModel, type PullProgress } from "../models/pull.ts";
import type { ChatModel } from "../providers/provider.ts";
import { ModelRegistry } from "../services/model-registry.ts";
import { addAudioModels } from "./audio-models.ts";
import { addUpstreamModels } from "./upstream-models.ts";
import type { SpeculationSpec } from "../providers/local/speculation.ts";

/** Hooks the CLI uses to show progress; tests leave them out. */
export interface StartHooks {
  onPullProgress?: (progress: PullProgress) => void;
}

/**
 * Every model the config names: local GGUF files (pulling the default model first when there are
 * none) loaded into one engine, and upstream models routed over their deployments. The engine's
 * disposal goes on `cleanup` as soon as it exists, so a model that fails to load frees the others.
 */
export async function buildModels(config: Config, logger: Logger, hooks: StartHooks, cleanup: CleanupStack, options: { upstreams: boolean } = { upstreams: true }): Promise<ModelRegistry> {
  const entries = await ensureModels(config, logger, hooks);
  const registry = new ModelRegistry();
  // A gateway with only upstream models never loads llama.cpp.
  if (entries.length > 0) await loadLocalModels(config, entries, registry, logger, cleanup);
  if (options.upstreams) {
    addUpstreamModels(config, registry, { logger, cleanup });
    addAudioModels(config, registry, logger, cleanup);
  }
  return registry;
}

/** A worker's models (`serve --workers N`): the engine host's, reached over IPC, and the upstream models. */
export function buildWorkerModels(config: Config, hosted: readonly ChatModel[], logger: Logger, cleanup: CleanupStack): ModelRegistry {
  const registry = new ModelRegistry();
  for (const model of hosted) registry.add(model);
  addUpstreamModels(config, registry, { logger, cleanup });
  addAudioModels(config, registry, logger, cleanup);
  return registry;
}

/** The local models to load; pulls the default model when there are none and nothing else to serve. */
async function ensureModels(config: Config, logger: Logger, hooks: StartHooks): Promise<ModelEntry[]> {
  const found = collectModels(config);
  // A gateway in front of upstreams needs no local model.
  if (found.length > 0 || !config.pull.autoPull || config.upstreams.models.length > 0) {
    if (found.length === 0 && config.upstreams.models.length === 0) {
      throw new ConfigError(
        `No models to serve: ${config.modelsDir} has no .gguf files and auto-pull is off. ` +
          "Put a GGUF file there, run `modelport serve --model /path/to/model.gguf`, or run `modelport pull <name>`.",
      );
    }
    return found;
  }
  const target = resolvePullTarget(config.pull.defaultModel);
  if (target === undefined) throw new ConfigError(`Unknown default model '${config.pull.defaultModel}'.`);
  logger.info("no models found; pulling the default model", { model: config.pull.defaultModel, endpoint: config.pull.endpoint });
  try {
    await pullModel(target, {
      endpoint: config.pull.endpoint,
      modelsDir: config.modelsDir,
      token: process.env.HF_TOKEN,
      ...(hooks.onPullProgress ? { onProgress: hooks.onPullProgress } : {}),
    });
  } catch (error) {
    const reason = error instanceof PullError ? error.message : (error as Error).message;
    throw new ConfigError(
      `No models in ${config.modelsDir}, and the default model '${config.pull.defaultModel}' could not be downloaded from ${config.pull.endpoint}: ${reason}\n` +
        "To serve a GGUF file you already have, copy it into the models directory, or run `modelport serve --model /path/to/model.gguf` " +
        "(or set MODELPORT_MODELS_DIR to a directory of .gguf files). Set MODELPORT_HF_ENDPOINT to use a mirror.",
    );
  }
  return collectModels(config);
}

/** A model entry's speculative decoding: its draft model, else prompt lookup when on, else none. */
function speculationFor(entry: ModelEntry): SpeculationSpec | undefined {
  if (entry.draftModel !== undefined) return { method: "draft", draftModel: entry.draftModel, maxTokens: entry.speculativeTokens, minConfidence: 0.6 };
  if (entry.promptLookup) return { method: "lookup", maxTokens: entry.speculativeTokens, minPattern: 2 };
  return undefined;
}

/** Starts the engine and loads each local model into it; the engine's disposal goes on `cleanup` at once. */
async function loadLocalModels(config: Config, entries: readonly ModelEntry[], registry: ModelRegistry, logger: Logger, cleanup: CleanupStack): Promise<void> {
  // Imported here: a gateway without local models starts without node-llama-cpp's code.
  const { LocalEngine } = await import("../providers/local/engine.ts");
  const engine = await LocalEngine.create(config.gpu, logger);
  cleanup.defer("engine", () => engine.dispose());
  for (const entry of entries) {
    const model = await engine
      .loadModel({
        id: entry.id,
        path: entry.path,
        aliases: entry.aliases,
        contextSize: entry.contextSize,
        sequences: entry.sequences,
        threads: entry.threads ?? LocalEngine.defaultThreads(statSync(entry.path).size),
        batchSize: entry.batchSize,
        queueSize: entry.queueSize,
        minPrefixReuse: entry.minPrefixReuse,
        samplingTopK: entry.samplingTopK,
        speculative: speculationFor(entry),
        deterministicSampling: entry.deterministicSampling,
        pricing: entry.pricing,
        chatTemplate: entry.chatTemplate,
        prefixStore: config.prefixCache.enabled
          ? { ...config.prefixCache, root: join(config.dataDir, "prefix-cache") }
          : undefined,
      })
      .catch((error: unknown) => {
        // A draft model that does not fit is a configuration mistake, reported as one.
        if (entry.draftModel !== undefined && error instanceof Error && /draft model/.test(error.message)) {
          throw new ConfigError(`Model '${entry.id}': ${error.message}; a draftModel must be a GGUF with the same vocabulary as the model.`);
        }
        throw error;
      });
    registry.add(model);
    logger.info("model loaded", {
      model: entry.id,
      aliases: entry.aliases.join(",") || undefined,
      context_size: model.contextSize,
      sequences: entry.sequences,
      chat_format: `${model.format.wrapper.wrapperName} (${model.format.source})`,
    });
  }
}
