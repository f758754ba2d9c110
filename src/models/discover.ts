import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Config } from "../config/schema.ts";
import type { Pricing } from "../core/pricing.ts";
import { modelIdFromPath } from "../config/load.ts";

/** A model to serve: declared in config or found in the models directory. */
export interface ModelEntry {
  id: string;
  path: string;
  aliases: string[];
  chatTemplate: string | undefined;
  contextSize: number;
  sequences: number;
  threads: number | undefined;
  batchSize: number;
  queueSize: number;
  minPrefixReuse: number;
  samplingTopK: number;
  promptLookup: boolean;
  speculativeTokens: number;
  deterministicSampling: boolean;
  /** Draft model for speculative decoding, resolved to a path. */
  draftModel: string | undefined;
  pricing: Pricing | undefined;
  source: "config" | "directory";
}

/** Every `*.gguf` file directly inside `dir` (partial downloads end in `.part` and are skipped). */
export function listGgufFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /\.gguf$/i.test(n))
    .map((n) => resolve(join(dir, n)))
    .filter((p) => statSync(p).isFile())
    .sort();
}

/** Declared models first (with their settings), then every other GGUF in the models directory. */
export function collectModels(config: Config): ModelEntry[] {
  const d = config.defaults;
  const entries: ModelEntry[] = config.models.map((m) => ({
    id: m.id,
    path: resolve(m.path),
    aliases: m.aliases,
    chatTemplate: m.chatTemplate,
    contextSize: m.contextSize ?? d.contextSize,
    sequences: m.sequences ?? d.sequences,
    threads: m.threads ?? d.threads,
    batchSize: m.batchSize ?? d.batchSize,
    queueSize: m.queueSize ?? d.queueSize,
    minPrefixReuse: m.minPrefixReuse ?? d.minPrefixReuse,
    samplingTopK: m.samplingTopK ?? d.samplingTopK,
    promptLookup: m.promptLookup ?? d.promptLookup,
    speculativeTokens: m.speculativeTokens ?? d.speculativeTokens,
    deterministicSampling: m.deterministicSampling ?? d.deterministicSampling,
    draftModel: m.draftModel === undefined ? undefined : resolve(m.draftModel),
    pricing: m.pricing && { input: m.pricing.input, output: m.pricing.output, cachedInput: m.pricing.cachedInput ?? m.pricing.input / 2 },
    source: "config",
  }));
  const declared = new Set(entries.map((e) => e.path));
  for (const path of listGgufFiles(config.modelsDir)) {
    if (declared.has(path)) continue;
    entries.push({
      id: modelIdFromPath(path),
      path,
      aliases: [],
      chatTemplate: undefined,
      contextSize: d.contextSize,
      sequences: d.sequences,
      threads: d.threads,
      batchSize: d.batchSize,
      queueSize: d.queueSize,
      minPrefixReuse: d.minPrefixReuse,
      samplingTopK: d.samplingTopK,
      promptLookup: d.promptLookup,
      speculativeTokens: d.speculativeTokens,
      deterministicSampling: d.deterministicSampling,
      draftModel: undefined,
      pricing: undefined,
      source: "directory",
    });
  }
  return entries;
}
