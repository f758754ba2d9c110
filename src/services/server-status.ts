import type { Pricing } from "../core/pricing.ts";
import { partialDownloads, type PartialDownload } from "../models/pull.ts";
import type { ModelRegistry } from "./model-registry.ts";

/** One upstream deployment of a routed model, as its router counts it. */
export interface DeploymentStatus {
  id: string;
  /** Statistic name (`requests`, `in_flight`, `circuit_open`, …) to value. */
  stats: Record<string, number>;
}

/** One served model with its live load. */
export interface ModelStatus {
  id: string;
  aliases: readonly string[];
  ownedBy: string;
  /** `local`: the embedded engine runs it (it has sequences); `routed`: upstream deployments do; `builtin`: anything else (speech models). */
  kind: "local" | "routed" | "builtin";
  contextLength: number | undefined;
  pricing: Pricing | undefined;
  /** The model's own statistics (sequences, busy, queued, stored_prefixes…); deployment ones are apart. */
  stats: Record<string, number>;
  deployments: DeploymentStatus[];
}

/** What the server is doing now: its models' load, upstream deployments, and model downloads. */
export interface ServerStatus {
  startedAt: number;
  models: ModelStatus[];
  pulls: PartialDownload[];
}

/** Splits a model's statistics into its own and its deployments' (`<deployment>.<stat>`). */
function splitStats(stats: Record<string, number>): { own: Record<string, number>; deployments: DeploymentStatus[] } {
  const own: Record<string, number> = {};
  const byDeployment = new Map<string, Record<string, number>>();
  for (const [key, value] of Object.entries(stats)) {
    const dot = key.lastIndexOf(".");
    if (dot <= 0) {
      own[key] = value;
      continue;
    }
    const id = key.slice(0, dot);
    const entry = byDeployment.get(id) ?? {};
    entry[key.slice(dot + 1)] = value;
    byDeployment.set(id, entry);
  }
  return { own, deployments: [...byDeployment].map(([id, s]) => ({ id, stats: s })) };
}

/** Reads the live status the admin UI's overview and models pages show. */
export class ServerStatusService {
  readonly #registry: ModelRegistry;
  readonly #modelsDir: string;
  readonly #startedAt: number;

  constructor(registry: ModelRegistry, modelsDir: string, startedAt: number) {
    this.#registry = registry;
    this.#modelsDir = modelsDir;
    this.#startedAt = startedAt;
  }

  async read(): Promise<ServerStatus> {
    const models = this.#registry.list().map((m): ModelStatus => {
      const { own, deployments } = splitStats(m.stats());
      return {
        id: m.descriptor.id,
        aliases: m.descriptor.aliases,
        ownedBy: m.descriptor.ownedBy,
        kind: own.sequences !== undefined ? "local" : deployments.length > 0 ? "routed" : "builtin",
        contextLength: m.capabilities.contextSize,
        pricing: m.descriptor.pricing,
        stats: own,
        deployments,
      };
    });
    return { startedAt: this.#startedAt, models, pulls: await partialDownloads(this.#modelsDir) };
  }
}
