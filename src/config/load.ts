import { readFileSync } from "node:fs";
import { resolve, dirname, isAbsolute } from "node:path";
import { parse as parseYaml } from "yaml";
import { configSchema, type Config } from "./schema.ts";

/** A configuration problem, reported to the user at start-up. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Options given on the command line; they win over the environment and the file. */
export interface CliOverrides {
  host?: string;
  port?: number;
  configFile?: string;
  modelsDir?: string;
  dataDir?: string;
  /** Extra GGUF files to serve. */
  modelPaths?: string[];
  /** HTTP worker processes (`serve --workers N`). */
  workers?: number;
}

type Env = Readonly<Record<string, string | undefined>>;
type Json = Record<string, unknown>;

function intFromEnv(env: Env, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a non-negative integer, got '${raw}'.`);
  return Number(raw.trim());
}

function setIn(target: Json, key: string, value: unknown): void {
  if (value !== undefined) target[key] = value;
}

/** Reads the documented `MODELPORT_*` variables into a partial config object. */
export function configFromEnv(env: Env): Json {
  const out: Json = {};
  setIn(out, "host", env.MODELPORT_HOST || undefined);
  setIn(out, "port", intFromEnv(env, "MODELPORT_PORT"));
  setIn(out, "dataDir", env.MODELPORT_DATA_DIR || undefined);
  setIn(out, "modelsDir", env.MODELPORT_MODELS_DIR || undefined);
  setIn(out, "bodyLimitBytes", intFromEnv(env, "MODELPORT_BODY_LIMIT"));
  setIn(out, "logLevel", env.MODELPORT_LOG_LEVEL || undefined);
  setIn(out, "shutdownTimeoutMs", intFromEnv(env, "MODELPORT_SHUTDOWN_TIMEOUT_MS"));
  setIn(out, "shutdownDelayMs", intFromEnv(env, "MODELPORT_SHUTDOWN_DELAY_MS"));
  setIn(out, "jobLeaseMs", intFromEnv(env, "MODELPORT_JOB_LEASE_MS"));
  setIn(out, "workers", intFromEnv(env, "MODELPORT_WORKERS"));
  if (env.MODELPORT_TLS_CERT || env.MODELPORT_TLS_KEY) out.tls = { cert: env.MODELPORT_TLS_CERT ?? "", key: env.MODELPORT_TLS_KEY ?? "" };
  setIn(out, "gpu", env.MODELPORT_GPU || undefined);
  if (env.MODELPORT_METRICS_TOKEN) out.metrics = { token: env.MODELPORT_METRICS_TOKEN };
  if (env.MODELPORT_OTLP_ENDPOINT) out.tracing = { enabled: true, endpoint: env.MODELPORT_OTLP_ENDPOINT };
  setIn(out, "adminKey", env.MODELPORT_ADMIN_KEY || undefined);
  setIn(out, "databaseUrl", env.MODELPORT_DATABASE_URL || undefined);
  setIn(out, "redisUrl", env.MODELPORT_REDIS_URL || undefined);
  if (env.MODELPORT_API_KEYS) {
    out.apiKeys = env.MODELPORT_API_KEYS.split(",").map((k) => k.trim()).filter((k) => k !== "");
  }
  const defaults: Json = {};
  setIn(defaults, "contextSize", intFromEnv(env, "MODELPORT_CONTEXT_SIZE"));
  setIn(defaults, "sequences", intFromEnv(env, "MODELPORT_SEQUENCES"));
  setIn(defaults, "threads", intFromEnv(env, "MODELPORT_THREADS"));
  setIn(defaults, "queueSize", intFromEnv(env, "MODELPORT_QUEUE_SIZE"));
  if (env.MODELPORT_DETERMINISTIC_SAMPLING) defaults.deterministicSampling = !/^(0|false|no|off)$/i.test(env.MODELPORT_DETERMINISTIC_SAMPLING);
  if (env.MODELPORT_PROMPT_LOOKUP) defaults.promptLookup = !/^(0|false|no|off)$/i.test(env.MODELPORT_PROMPT_LOOKUP);
  if (Object.keys(defaults).length > 0) out.defaults = defaults;
  if (env.MODELPORT_PREFIX_CACHE) out.prefixCache = { enabled: !/^(0|false|no|off)$/i.test(env.MODELPORT_PREFIX_CACHE) };
  const pull: Json = {};
  setIn(pull, "endpoint", env.MODELPORT_HF_ENDPOINT || undefined);
  setIn(pull, "defaultModel", env.MODELPORT_DEFAULT_MODEL || undefined);
  if (env.MODELPORT_AUTO_PULL) pull.autoPull = !/^(0|false|no|off)$/i.test(env.MODELPORT_AUTO_PULL);
  if (Object.keys(pull).length > 0) out.pull = pull;
  const maxFileBytes = intFromEnv(env, "MODELPORT_FILE_MAX_BYTES");
  if (maxFileBytes !== undefined) out.files = { maxBytes: maxFileBytes };
  const batchConcurrency = intFromEnv(env, "MODELPORT_BATCH_CONCURRENCY");
  if (batchConcurrency !== undefined) out.batches = { concurrency: batchConcurrency };
  if (env.MODELPORT_EMBEDDING_MODEL) out.vectorStores = { embeddingModel: env.MODELPORT_EMBEDDING_MODEL };
  const s3: Json = {};
  setIn(s3, "endpoint", env.MODELPORT_S3_ENDPOINT || undefined);
  setIn(s3, "bucket", env.MODELPORT_S3_BUCKET || undefined);
  setIn(s3, "prefix", env.MODELPORT_S3_PREFIX || undefined);
  setIn(s3, "region", env.MODELPORT_S3_REGION || undefined);
  if (env.MODELPORT_S3_FORCE_PATH_STYLE) s3.forcePathStyle = !/^(0|false|no|off)$/i.test(env.MODELPORT_S3_FORCE_PATH_STYLE);
  const blobs: Json = {};
  setIn(blobs, "backend", env.MODELPORT_BLOB_BACKEND || undefined);
  if (Object.keys(s3).length > 0) blobs.s3 = s3;
  if (Object.keys(blobs).length > 0) out.blobs = blobs;
  return out;
}

function isPlainObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Deep-merges plain objects; arrays and scalars from `over` replace those in `base`. */
function merge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) ? merge(prev, value) : value;
  }
  return out;
}

function readYamlFile(file: string): Json {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(`Cannot read config file ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`Config file ${file} is not valid YAML: ${(error as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isPlainObject(parsed)) throw new ConfigError(`Config file ${file} must hold a mapping at the top level.`);
  // Model paths in the file are relative to the file, so a config can travel with its models.
  const models = parsed.models;
  if (Array.isArray(models)) {
    parsed.models = models.map((m: unknown) =>
      isPlainObject(m) && typeof m.path === "string" && !isAbsolute(m.path)
        ? { ...m, path: resolve(dirname(file), m.path) }
        : m,
    );
  }
  return parsed;
}

/**
 * Builds the configuration: defaults, then the YAML file (`--config` or `MODELPORT_CONFIG`),
 * then environment variables, then command-line flags.
 */
export function loadConfig(env: Env, cli: CliOverrides = {}): Config {
  const file = cli.configFile ?? (env.MODELPORT_CONFIG || undefined);
  let raw: Json = file ? readYamlFile(resolve(file)) : {};
  raw = merge(raw, configFromEnv(env));
  const flags: Json = {};
  setIn(flags, "host", cli.host);
  setIn(flags, "port", cli.port);
  setIn(flags, "modelsDir", cli.modelsDir);
  setIn(flags, "dataDir", cli.dataDir);
  setIn(flags, "workers", cli.workers);
  raw = merge(raw, flags);
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new ConfigError(`Invalid configuration${file ? ` (${file})` : ""}:\n${lines.join("\n")}`);
  }
  const config = result.data;
  for (const path of cli.modelPaths ?? []) {
    config.models.push({ id: modelIdFromPath(path), path: resolve(path), aliases: [] });
  }
  return config;
}

/** The id a GGUF file is served under: its file name without the extension. */
export function modelIdFromPath(path: string): string {
  const base = path.split(/[\\/]/).pop() ?? path;
  return base.replace(/\.gguf$/i, "");
}
