#!/usr/bin/env node
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError, loadConfig, type CliOverrides } from "../config/load.ts";
import { createLogger } from "../logging/logger.ts";
import { CATALOGUE, resolvePullTarget } from "../models/catalogue.ts";
import { collectModels } from "../models/discover.ts";
import { PullError, pullModel } from "../models/pull.ts";
import { startServer } from "../main.ts";
import { isClusterWorker, runClusterWorker, startCluster } from "../main/cluster.ts";
import { VERSION } from "../version.ts";
import { keysCommand, projectsCommand } from "./admin.ts";
import { backupCommand, restoreCommand } from "./backup.ts";
import { blobsCommand } from "./blobs.ts";
import { migrateCommand } from "./migrate.ts";
import { createProgressBar } from "./progress.ts";

const MAIN_HELP = `modelport ${VERSION}: an OpenAI-compatible API server for local GGUF models

Usage: modelport <command> [options]

Commands:
  serve     Start the API server (default endpoint http://127.0.0.1:8080/v1)
  pull      Download a GGUF model from Hugging Face into the models directory
  models    List the models the server would serve
  projects  Create, list and archive projects
  keys      Create, list and revoke API keys
  migrate   Copy a SQLite installation's database into PostgreSQL and verify it
  backup    Back up the SQLite database while the server runs
  restore   Replace the SQLite database with a backup (server stopped)
  blobs     Copy file bytes from one blob backend to another (blobs copy --from local --to s3)

Run 'modelport <command> --help' for a command's options.
Configuration: environment variables (MODELPORT_*) and an optional YAML file; see docs/configuration.md.
`;

const COMMON_HELP = `  -c, --config FILE       YAML config file (env MODELPORT_CONFIG)
      --models-dir DIR    Directory of .gguf files (env MODELPORT_MODELS_DIR, default ./models)
      --data-dir DIR      Data directory (env MODELPORT_DATA_DIR, default ./data)
  -h, --help              Show this help`;

const SERVE_HELP = `Usage: modelport serve [options]

Start the OpenAI-compatible API server. Every .gguf file in the models directory is served under
its file name (without .gguf); models declared in the config file add aliases and settings.
With no model at all, the default model is pulled first (see 'modelport pull --help').

Options:
      --host HOST         Address to bind (env MODELPORT_HOST, default 127.0.0.1)
  -p, --port PORT         Port (env MODELPORT_PORT, default 8080; 0 picks a free port)
  -m, --model FILE        Also serve this GGUF file (repeatable)
  -w, --workers N         HTTP worker processes sharing the port (env MODELPORT_WORKERS, default 1);
                          above 1, this process holds the models once and runs them for the workers
${COMMON_HELP}

API keys come from MODELPORT_API_KEYS (comma-separated). Without keys the server runs open, and
only on a loopback address. MODELPORT_TLS_CERT and MODELPORT_TLS_KEY (PEM files) serve HTTPS and
wss: instead, which the SDKs' realtime clients need (/v1/realtime; see docs/realtime.md).
GET /metrics (Prometheus) answers loopback clients, or anyone with MODELPORT_METRICS_TOKEN as a
Bearer token; MODELPORT_OTLP_ENDPOINT turns on OpenTelemetry traces (see docs/platform.md). The
Responses API's code_interpreter, web_search, mcp and image_generation tools are configured in
the config file (see docs/tools.md).
`;

const PULL_HELP = `Usage: modelport pull <name | owner/repo/file.gguf> [options]

Download a model into the models directory. Downloads resume where they stopped (HTTP Range),
are verified against the size and sha256 the Hub reports (or the catalogue knows), and appear in
the directory only when complete.

Catalogue:
${CATALOGUE.map((e) => `  ${e.name.padEnd(24)}${e.description}`).join("\n")}

Options:
      --endpoint URL      Hugging Face endpoint (env MODELPORT_HF_ENDPOINT, default https://huggingface.co)
${COMMON_HELP}

Gated repositories need a token in HF_TOKEN.
`;

const MODELS_HELP = `Usage: modelport models [options]

List the models 'modelport serve' would load, with their ids, aliases and files.

Options:
      --json              Print JSON
${COMMON_HELP}
`;

const commonOptions = {
  config: { type: "string", short: "c" },
  "models-dir": { type: "string" },
  "data-dir": { type: "string" },
  help: { type: "boolean", short: "h" },
} satisfies ParseArgsConfig["options"];

function overrides(values: Record<string, unknown>): CliOverrides {
  const out: CliOverrides = {};
  if (typeof values.config === "string") out.configFile = values.config;
  if (typeof values["models-dir"] === "string") out.modelsDir = values["models-dir"];
  if (typeof values["data-dir"] === "string") out.dataDir = values["data-dir"];
  if (typeof values.host === "string") out.host = values.host;
  if (typeof values.port === "string") {
    if (!/^\d+$/.test(values.port) || Number(values.port) > 65535) throw new ConfigError(`--port must be a port number, got '${values.port}'.`);
    out.port = Number(values.port);
  }
  if (typeof values.workers === "string") {
    if (!/^\d+$/.test(values.workers) || Number(values.workers) < 1 || Number(values.workers) > 64) throw new ConfigError(`--workers must be a number from 1 to 64, got '${values.workers}'.`);
    out.workers = Number(values.workers);
  }
  if (Array.isArray(values.model)) out.modelPaths = values.model.filter((m): m is string => typeof m === "string");
  return out;
}

async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...commonOptions, host: { type: "string" }, port: { type: "string", short: "p" }, model: { type: "string", short: "m", multiple: true }, workers: { type: "string", short: "w" } },
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(SERVE_HELP);
    return 0;
  }
  const config = loadConfig(process.env, overrides(values));
  const logger = createLogger(config.logLevel);
  if (isClusterWorker()) {
    // A worker of `serve --workers N`: it exits when the primary tells it to, or is gone.
    await runClusterWorker(config, logger);
    await new Promise<never>(() => undefined);
  }
  const hooks = { onPullProgress: createProgressBar("pulling default model") };
  const server = config.workers > 1 ? await startCluster(config, logger, hooks) : await startServer(config, logger, hooks);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => () => {
      logger.info("shutting down", { signal });
      server.close().then(resolve, resolve);
    };
    process.once("SIGTERM", stop("SIGTERM"));
    process.once("SIGINT", stop("SIGINT"));
  });
  return 0;
}

async function pull(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...commonOptions, endpoint: { type: "string" } },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(PULL_HELP);
    return 0;
  }
  const ref = positionals[0];
  if (ref === undefined || positionals.length > 1) {
    process.stderr.write(`modelport pull: give exactly one model name or owner/repo/file.gguf\n\n${PULL_HELP}`);
    return 2;
  }
  const target = resolvePullTarget(ref);
  if (target === undefined) {
    process.stderr.write(`modelport pull: '${ref}' is neither a catalogue name nor owner/repo/file.gguf\n`);
    return 2;
  }
  const config = loadConfig(process.env, overrides(values));
  const endpoint = typeof values.endpoint === "string" ? values.endpoint : config.pull.endpoint;
  const result = await pullModel(target, {
    endpoint,
    modelsDir: config.modelsDir,
    token: process.env.HF_TOKEN,
    onProgress: createProgressBar(target.file.split("/").pop() ?? ref),
    onRetry: (attempt, reason) => process.stderr.write(`\n${reason}; resuming (attempt ${attempt + 1})\n`),
  });
  process.stdout.write(
    result.downloaded
      ? `Saved ${result.path} (${result.bytes} bytes, sha256 ${result.sha256})\n`
      : `Already present: ${result.path}\n`,
  );
  return 0;
}

function models(args: string[]): number {
  const { values } = parseArgs({ args, options: { ...commonOptions, json: { type: "boolean" } }, allowPositionals: false });
  if (values.help) {
    process.stdout.write(MODELS_HELP);
    return 0;
  }
  const config = loadConfig(process.env, overrides(values));
  const entries = collectModels(config);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(entries.map((e) => ({ id: e.id, aliases: e.aliases, path: e.path, source: e.source })), null, 2)}\n`);
    return 0;
  }
  if (entries.length === 0) {
    process.stdout.write(`No models in ${config.modelsDir}. Run 'modelport pull qwen2.5-0.5b-instruct' or put a .gguf file there.\n`);
    return 0;
  }
  for (const e of entries) {
    process.stdout.write(`${e.id}${e.aliases.length ? ` (aliases: ${e.aliases.join(", ")})` : ""}\n  ${e.path}\n`);
  }
  return 0;
}

/** Runs the CLI and returns the process exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "serve":
        return await serve(rest);
      case "pull":
        return await pull(rest);
      case "models":
        return models(rest);
      case "projects":
        return await projectsCommand(rest);
      case "keys":
        return await keysCommand(rest);
      case "migrate":
        return await migrateCommand(rest);
      case "backup":
        return await backupCommand(rest);
      case "restore":
        return await restoreCommand(rest);
      case "blobs":
        return await blobsCommand(rest);
      case "--version":
      case "-v":
        process.stdout.write(`${VERSION}\n`);
        return 0;
      case undefined:
      case "--help":
      case "-h":
      case "help":
        process.stdout.write(MAIN_HELP);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`modelport: unknown command '${command}'\n\n${MAIN_HELP}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof ConfigError || error instanceof PullError) {
      process.stderr.write(`modelport: ${error.message}\n`);
      return 1;
    }
    if (error instanceof TypeError && (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`modelport: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

process.exitCode = await runCli(process.argv.slice(2));
