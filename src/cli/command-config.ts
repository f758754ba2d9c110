import type { ParseArgsConfig } from "node:util";
import { loadConfig, type CliOverrides } from "../config/load.ts";
import type { Config } from "../config/schema.ts";

/** A command called the wrong way: it prints the message and exits with status 2. */
export class UsageError extends Error {}

/** The flags every command that reads the configuration takes (`commandConfig` reads the first two). */
export const COMMAND_OPTIONS = {
  config: { type: "string", short: "c" },
  "data-dir": { type: "string" },
  help: { type: "boolean", short: "h" },
} satisfies ParseArgsConfig["options"];

/**
 * The configuration a command works on: the environment and config file, as `serve` loads them,
 * with the command's own `--config` and `--data-dir` flags over them.
 */
export function commandConfig(values: { config?: unknown; "data-dir"?: unknown }): Config {
  const cli: CliOverrides = {};
  if (typeof values.config === "string") cli.configFile = values.config;
  if (typeof values["data-dir"] === "string") cli.dataDir = values["data-dir"];
  return loadConfig(process.env, cli);
}
