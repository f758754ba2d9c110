import { parseArgs } from "node:util";
import { createLogger } from "../logging/logger.ts";
import { AccessService, DEFAULT_PROJECT_ID } from "../services/access.ts";
import { USAGE_TIERS } from "../services/usage-tiers.ts";
import { openStorage } from "../storage/open.ts";
import { COMMAND_OPTIONS, commandConfig, UsageError } from "./command-config.ts";

export const PROJECTS_HELP = `Usage: modelport projects <create|list|archive> [options]

Manage projects in the configured database (SQLite in the data directory, or MODELPORT_DATABASE_URL).

  modelport projects create --name NAME [--tier ${Object.keys(USAGE_TIERS).join("|")}] [--budget USD] [--soft-budget USD]
  modelport projects list [--json]
  modelport projects archive PROJECT_ID

Options:
  -c, --config FILE       YAML config file (env MODELPORT_CONFIG)
      --data-dir DIR      Data directory (env MODELPORT_DATA_DIR, default ./data)
  -h, --help              Show this help
`;

export const KEYS_HELP = `Usage: modelport keys <create|list|revoke> [options]

Manage API keys. A new key's secret is printed once and stored only as a SHA-256 hash.

  modelport keys create [--project PROJECT_ID] [--name NAME] [--models m1,m2]
  modelport keys list [--project PROJECT_ID] [--json]
  modelport keys revoke KEY_ID [--project PROJECT_ID]

--project defaults to the default project (${DEFAULT_PROJECT_ID}).

Options:
  -c, --config FILE       YAML config file (env MODELPORT_CONFIG)
      --data-dir DIR      Data directory (env MODELPORT_DATA_DIR, default ./data)
  -h, --help              Show this help
`;

const options = {
  ...COMMAND_OPTIONS,
  json: { type: "boolean" },
  name: { type: "string" },
  tier: { type: "string" },
  budget: { type: "string" },
  "soft-budget": { type: "string" },
  project: { type: "string" },
  models: { type: "string" },
} as const;

async function withAccess<T>(values: Record<string, unknown>, fn: (access: AccessService, storage: Awaited<ReturnType<typeof openStorage>>) => Promise<T>): Promise<T> {
  const config = commandConfig(values);
  const storage = await openStorage({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const access = new AccessService(storage, createLogger("error"));
  try {
    await access.bootstrap({ envKeys: [], adminKey: config.adminKey, dataDir: config.dataDir });
    return await fn(access, storage);
  } finally {
    await storage.close();
  }
}

function money(raw: unknown, flag: string): number | null {
  if (raw === undefined) return null;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${flag} must be a non-negative number of US dollars.`);
  return n;
}

/** `modelport projects …`; returns the exit code. */
export async function projectsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options, allowPositionals: true });
  const [action, id] = positionals;
  if (values.help || action === undefined) {
    process.stdout.write(PROJECTS_HELP);
    return values.help ? 0 : 2;
  }
  try {
    return await withAccess(values, async (access, storage) => {
      switch (action) {
        case "create": {
          if (!values.name) throw new UsageError("--name is required.");
          if (values.tier !== undefined && !(values.tier in USAGE_TIERS)) throw new UsageError(`--tier must be one of ${Object.keys(USAGE_TIERS).join(", ")}.`);
          const project = await access.createProject({ name: values.name, tier: values.tier ?? null, monthlyBudgetUsd: money(values.budget, "budget"), softBudgetUsd: money(values["soft-budget"], "soft-budget") });
          process.stdout.write(values.json ? `${JSON.stringify(project)}\n` : `${project.id}\t${project.name}\n`);
          return 0;
        }
        case "list": {
          const projects = await storage.listProjects({ limit: 1000, includeArchived: true });
          if (values.json) process.stdout.write(`${JSON.stringify(projects, null, 2)}\n`);
          else for (const p of projects) process.stdout.write(`${p.id}\t${p.name}\t${p.archivedAt === null ? "active" : "archived"}\ttier=${p.tier ?? "-"}\tbudget=${p.monthlyBudgetUsd ?? "-"}\n`);
          return 0;
        }
        case "archive": {
          if (id === undefined || (await storage.getProject(id)) === undefined) throw new UsageError(`No project '${id ?? ""}'.`);
          await storage.updateProject(id, { archivedAt: Math.floor(Date.now() / 1000) });
          process.stdout.write(`archived ${id}\n`);
          return 0;
        }
        default:
          throw new UsageError(`Unknown action '${action}'.\n\n${PROJECTS_HELP}`);
      }
    });
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`modelport projects: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

/** `modelport keys …`; returns the exit code. */
export async function keysCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options, allowPositionals: true });
  const [action, id] = positionals;
  if (values.help || action === undefined) {
    process.stdout.write(KEYS_HELP);
    return values.help ? 0 : 2;
  }
  const projectId = values.project ?? DEFAULT_PROJECT_ID;
  try {
    return await withAccess(values, async (access, storage) => {
      switch (action) {
        case "create": {
          const models = values.models ? values.models.split(",").map((m) => m.trim()).filter(Boolean) : null;
          const { key, secret } = await access.createApiKey(projectId, { name: values.name ?? "cli", models });
          if (values.json) process.stdout.write(`${JSON.stringify({ id: key.id, project_id: key.projectId, name: key.name, models: key.models, value: secret })}\n`);
          else process.stdout.write(`${secret}\n# id ${key.id}, project ${key.projectId}. Shown once: it is stored only as a hash.\n`);
          return 0;
        }
        case "list": {
          const keys = await storage.listApiKeys(projectId, { limit: 1000 });
          const rows = keys.map((k) => ({ id: k.id, name: k.name, redacted_value: k.redacted, created_at: k.createdAt, last_used_at: k.lastUsedAt, models: k.models }));
          if (values.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          else for (const k of rows) process.stdout.write(`${k.id}\t${k.name}\t${k.redacted_value}\t${k.models?.join(",") ?? "all models"}\n`);
          return 0;
        }
        case "revoke": {
          if (id === undefined) throw new UsageError("Give the key id to revoke.");
          try {
            await access.revokeApiKey(projectId, id);
          } catch {
            throw new UsageError(`No active key '${id}' in project '${projectId}'.`);
          }
          process.stdout.write(`revoked ${id}\n`);
          return 0;
        }
        default:
          throw new UsageError(`Unknown action '${action}'.\n\n${KEYS_HELP}`);
      }
    });
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`modelport keys: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}
