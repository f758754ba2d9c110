import { invalidRequest } from "../../../core/errors.ts";
import { unixSeconds } from "../../../core/ids.ts";
import { renderList } from "../../../protocol/openai/lists.ts";
import { IMAGE_SOURCES, renderAudioSpeechesUsage, renderAudioTranscriptionsUsage, renderCodeInterpreterSessionsUsage, renderCompletionsUsage, renderCosts, renderImagesUsage, renderModerationsUsage, renderKey, renderKeyCreated, renderKeyDeleted, renderLimit, renderProject } from "../../../protocol/openai/organization.ts";
import { FieldReader } from "../../../protocol/openai/validate.ts";
import { notFound, type AccessService } from "../../../services/access.ts";
import type { BudgetGuard } from "../../../services/budgets.ts";
import { USAGE_TIERS } from "../../../services/usage-tiers.ts";
import type { Project, Storage, UsageGroup } from "../../../storage/storage.ts";
import { sendJson } from "../../respond.ts";
import type { RequestContext, Route } from "../../router.ts";
import { readLimit } from "./paging.ts";
import { requestLogRoutes } from "./request-log.ts";

/** The request paths whose usage the audio usage pages report (and the completions page leaves out). */
const SPEECH_ENDPOINTS = ["/v1/audio/speech"] as const;
// Turns of realtime transcription sessions are metered as "/v1/realtime/transcription".
const TRANSCRIPTION_ENDPOINTS = ["/v1/audio/transcriptions", "/v1/audio/translations", "/v1/realtime/transcription"] as const;
/** Each code interpreter session (a container's Python process started) is one record here. */
const CODE_SESSION_ENDPOINTS = ["/v1/containers/sessions"] as const;
/** Moderation requests (answered here or relayed) have their own usage page. */
const MODERATION_ENDPOINTS = ["/v1/moderations"] as const;
/** The Images API's request paths (a usage `source` each). */
const IMAGE_ENDPOINTS: readonly string[] = Object.values(IMAGE_SOURCES);

/** What the admin API needs. */
export interface OrganizationDeps {
  storage: Storage;
  access: AccessService;
  budgets: BudgetGuard;
}

/** The first `limit` of `items` (fetched one over, to learn whether there are more) as a list page. */
function page<T, R extends { id: string }>(items: readonly T[], limit: number, render: (item: T) => R) {
  return renderList(items.slice(0, limit).map(render), items.length > limit);
}

/** Reads the project fields shared by create and modify. */
function readProjectFields(body: FieldReader): Partial<Pick<Project, "name" | "tier" | "monthlyBudgetUsd" | "softBudgetUsd" | "logBodies">> {
  body.rejectUnknown(new Set(["name", "tier", "monthly_budget_usd", "soft_budget_usd", "log_bodies"]));
  const out: Partial<Pick<Project, "name" | "tier" | "monthlyBudgetUsd" | "softBudgetUsd" | "logBodies">> = {};
  const name = body.string("name", { nonEmpty: true, maxLength: 200 });
  if (name !== undefined) out.name = name;
  // null clears a tier (back to the server's default) or a budget (none).
  const tier = body.obj.tier === null ? null : body.enumeration("tier", Object.keys(USAGE_TIERS));
  if (tier !== undefined) out.tier = tier;
  const budget = body.obj.monthly_budget_usd === null ? null : body.number("monthly_budget_usd", { min: 0 });
  if (budget !== undefined) out.monthlyBudgetUsd = budget;
  const soft = body.obj.soft_budget_usd === null ? null : body.number("soft_budget_usd", { min: 0 });
  if (soft !== undefined) out.softBudgetUsd = soft;
  // Whether the request log keeps this project's request and answer bodies (redacted).
  const logBodies = body.boolean("log_bodies");
  if (logBodies !== undefined) out.logBodies = logBodies;
  return out;
}

async function projectOr404(storage: Storage, id: string | undefined): Promise<Project> {
  const project = id === undefined ? undefined : await storage.getProject(id);
  if (project === undefined) throw notFound(`No project with id '${id}'.`);
  return project;
}

/** Unix seconds from a query parameter. */
export function timeParam(ctx: RequestContext, name: string, fallback: number | undefined): number {
  const raw = ctx.query.get(name);
  if (raw === null) {
    if (fallback === undefined) throw invalidRequest(`Missing required parameter: '${name}'.`, name, "missing_required_parameter");
    return fallback;
  }
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw invalidRequest(`Invalid '${name}': expected Unix seconds.`, name, "invalid_value");
  return n;
}

/** Array query parameters, as `name[]=a&name[]=b` or `name=a&name=b`. */
function listParam(ctx: RequestContext, name: string): string[] {
  return [...ctx.query.getAll(name), ...ctx.query.getAll(`${name}[]`)];
}

/** Usage bucket widths in seconds. */
export const BUCKETS: Record<string, number> = { "1m": 60, "1h": 3600, "1d": 86_400 };

function usageQuery(ctx: RequestContext, allowedGroups: readonly UsageGroup[]) {
  const start = timeParam(ctx, "start_time", undefined);
  const widthName = ctx.query.get("bucket_width") ?? "1d";
  const width = BUCKETS[widthName];
  if (width === undefined) throw invalidRequest("Invalid 'bucket_width': expected 1m, 1h or 1d.", "bucket_width", "invalid_value");
  const end = timeParam(ctx, "end_time", unixSeconds() + 1);
  const groupBy = listParam(ctx, "group_by");
  for (const g of groupBy) {
    if (!(allowedGroups as readonly string[]).includes(g)) throw invalidRequest(`Invalid 'group_by' value '${g}': expected ${allowedGroups.join(", ")}.`, "group_by", "invalid_value");
  }
  return { start, end, width, groupBy: groupBy as UsageGroup[] };
}

/** The admin API, shaped like OpenAI's `/v1/organization/...`; every route needs an admin key. */
export function organizationRoutes(deps: OrganizationDeps): Route[] {
  const { storage, access, budgets } = deps;
  return [
    {
      method: "GET",
      pattern: "/v1/organization/projects",
      handler: async (ctx) => {
        const limit = readLimit(ctx.query);
        const projects = await storage.listProjects({ after: ctx.query.get("after") ?? undefined, limit: limit + 1, includeArchived: ctx.query.get("include_archived") === "true" });
        const shown = projects.slice(0, limit);
        const spent = await Promise.all(shown.map((p) => budgets.spend(p.id)));
        sendJson(ctx.res, 200, renderList(shown.map((p, i) => renderProject(p, spent[i] ?? 0)), projects.length > limit));
      },
    },
    {
      method: "POST",
      pattern: "/v1/organization/projects",
      handler: async (ctx) => {
        const body = new FieldReader(await ctx.readJson(), "");
        body.required("name");
        const fields = readProjectFields(body);
        const project = await access.createProject({ name: fields.name ?? "", tier: fields.tier ?? null, monthlyBudgetUsd: fields.monthlyBudgetUsd ?? null, softBudgetUsd: fields.softBudgetUsd ?? null, logBodies: fields.logBodies ?? false });
        sendJson(ctx.res, 200, renderProject(project, await budgets.spend(project.id)));
      },
    },
    {
      method: "GET",
      pattern: "/v1/organization/projects/:project",
      handler: async (ctx) => {
        const project = await projectOr404(storage, ctx.params.project);
        sendJson(ctx.res, 200, renderProject(project, await budgets.spend(project.id)));
      },
    },
    {
      method: "POST",
      pattern: "/v1/organization/projects/:project",
      handler: async (ctx) => {
        const project = await projectOr404(storage, ctx.params.project);
        const fields = readProjectFields(new FieldReader(await ctx.readJson(), ""));
        const updated = await storage.updateProject(project.id, fields);
        const shown = updated ?? project;
        sendJson(ctx.res, 200, renderProject(shown, await budgets.spend(shown.id)));
      },
    },
    {
      method: "POST",
      pattern: "/v1/organization/projects/:project/archive",
      handler: async (ctx) => {
        const project = await projectOr404(storage, ctx.params.project);
        const updated = await storage.updateProject(project.id, { archivedAt: project.archivedAt ?? unixSeconds() });
        const shown = updated ?? project;
        sendJson(ctx.res, 200, renderProject(shown, await budgets.spend(shown.id)));
      },
    },
    {
      method: "GET",
      pattern: "/v1/organization/projects/:project/api_keys",
      handler: async (ctx) => {
        const project = await projectOr404(storage, ctx.params.project);
        const limit = readLimit(ctx.query);
        const keys = await storage.listApiKeys(project.id, { after: ctx.query.get("after") ?? undefined, limit: limit + 1 });
        sendJson(ctx.res, 200, page(keys, limit, renderKey));
      },
    },
    {
      method: "POST",
      pattern: "/v1/organization/projects/:project/api_keys",
      handler: async (ctx) => {
        const project = await projectOr404(storage, ctx.params.project);
        const body = new FieldReader(await ctx.readJson(), "");
        body.rejectUnknown(new Set(["name", "models"]));
        const name = body.string("name", { maxLength: 200 }) ?? "API key";
        const models = body.array("models", { minLength: 1, maxLength: 256 })?.map((m, i) => {
          if (typeof m !== "string" || m === "") throw invalidRequest(`Invalid 'models[${i}]': expected a model id.`, `models[${i}]`, "invalid_type");
          return m;
        });
        const { key, secret } = await access.createApiKey(project.id, { name, models: models ?? null });
        // The secret appears in this response only; it is stored as a hash.
        sendJson(ctx.res, 200, renderKeyCreated(key, secret));
      },
    },
    {
      method: "GET",
      pattern: "/v1/organization/projects/:project/api_keys/:key",
      handler: async (ctx) => {
        const key = await storage.getApiKey(ctx.params.project ?? "", ctx.params.key ?? "");
        if (key === undefined || key.admin) throw notFound(`No API key '${ctx.params.key}' in project '${ctx.params.project}'.`);
        sendJson(ctx.res, 200, renderKey(key));
      },
    },
    {
      method: "DELETE",
      pattern: "/v1/organization/projects/:project/api_keys/:key",
      handler: async (ctx) => {
        await access.revokeApiKey(ctx.params.project ?? "", ctx.params.key ?? "");
        sendJson(ctx.res, 200, renderKeyDeleted(ctx.params.key));
      },
    },
    {
      method: "GET",
      pattern: "/v1/organization/projects/:project/rate_limits",
      handler: async (ctx) => {
        const project = await projectOr404(storage, ctx.params.project);
        const limits = await storage.listRateLimits(project.id);
        sendJson(ctx.res, 200, page(limits, readLimit(ctx.query), renderLimit));
      },
    },
    {
      method: "POST",
      pattern: "/v1/organization/projects/:project/rate_limits/:limit",
      handler: async (ctx) => {
        const project = await projectOr404(storage, ctx.params.project);
        const id = ctx.params.limit ?? "";
        if (!id.startsWith("rl-") || id.length <= 3) throw notFound(`No rate limit '${id}': ids look like rl-<model>.`);
        const body = new FieldReader(await ctx.readJson(), "");
        body.rejectUnknown(new Set(["max_requests_per_1_minute", "max_tokens_per_1_minute", "max_requests_per_1_day", "max_concurrent_requests"]));
        const current = (await storage.listRateLimits(project.id)).find((r) => r.model === id.slice(3));
        const read = (key: string, prev: number | null | undefined) => body.number(key, { integer: true, min: 0 }) ?? prev ?? null;
        const saved = await storage.upsertRateLimit({
          projectId: project.id,
          model: id.slice(3),
          rpm: read("max_requests_per_1_minute", current?.rpm),
          tpm: read("max_tokens_per_1_minute", current?.tpm),
          rpd: read("max_requests_per_1_day", current?.rpd),
          maxConcurrent: read("max_concurrent_requests", current?.maxConcurrent),
        });
        sendJson(ctx.res, 200, renderLimit(saved));
      },
    },
    {
      method: "GET",
      pattern: "/v1/organization/usage/completions",
      handler: async (ctx) => {
        const q = usageQuery(ctx, ["project_id", "model", "api_key_id", "batch"]);
        const rows = await storage.usageBuckets({
          start: q.start, end: q.end, bucketSeconds: q.width, groupBy: q.groupBy,
          projectIds: listParam(ctx, "project_ids"), models: listParam(ctx, "models"), keyIds: listParam(ctx, "api_key_ids"),
          excludeEndpoints: [...SPEECH_ENDPOINTS, ...TRANSCRIPTION_ENDPOINTS, ...CODE_SESSION_ENDPOINTS, ...IMAGE_ENDPOINTS, ...MODERATION_ENDPOINTS],
        });
        sendJson(ctx.res, 200, renderCompletionsUsage(rows, q.groupBy, q.width));
      },
    },
    ...([
      ["/v1/organization/usage/audio_speeches", SPEECH_ENDPOINTS, renderAudioSpeechesUsage],
      ["/v1/organization/usage/audio_transcriptions", TRANSCRIPTION_ENDPOINTS, renderAudioTranscriptionsUsage],
      ["/v1/organization/usage/code_interpreter_sessions", CODE_SESSION_ENDPOINTS, renderCodeInterpreterSessionsUsage],
      ["/v1/organization/usage/moderations", MODERATION_ENDPOINTS, renderModerationsUsage],
    ] as const).map(([pattern, endpoints, render]): Route => ({
      method: "GET",
      pattern,
      handler: async (ctx) => {
        const q = usageQuery(ctx, ["project_id", "model", "api_key_id"]);
        const rows = await storage.usageBuckets({
          start: q.start, end: q.end, bucketSeconds: q.width, groupBy: q.groupBy, endpoints,
          projectIds: listParam(ctx, "project_ids"), models: listParam(ctx, "models"), keyIds: listParam(ctx, "api_key_ids"),
        });
        sendJson(ctx.res, 200, render(rows, q.groupBy, q.width));
      },
    })),
    {
      method: "GET",
      pattern: "/v1/organization/usage/images",
      handler: async (ctx) => {
        const q = usageQuery(ctx, ["project_id", "model", "api_key_id", "size", "source"]);
        const sources = listParam(ctx, "sources").map((source) => {
          const path = (IMAGE_SOURCES as Readonly<Record<string, string>>)[source];
          if (path === undefined) throw invalidRequest(`Invalid 'sources' value '${source}': expected ${Object.keys(IMAGE_SOURCES).join(", ")}.`, "sources", "invalid_value");
          return path;
        });
        const rows = await storage.usageBuckets({
          start: q.start, end: q.end, bucketSeconds: q.width, groupBy: q.groupBy, endpoints: sources.length > 0 ? sources : IMAGE_ENDPOINTS,
          projectIds: listParam(ctx, "project_ids"), models: listParam(ctx, "models"), keyIds: listParam(ctx, "api_key_ids"), imageSizes: listParam(ctx, "sizes"),
        });
        sendJson(ctx.res, 200, renderImagesUsage(rows, q.groupBy, q.width));
      },
    },
    {
      method: "GET",
      pattern: "/v1/organization/costs",
      handler: async (ctx) => {
        const q = usageQuery(ctx, ["project_id", "line_item", "api_key_id"] as unknown as UsageGroup[]);
        const groupBy = q.groupBy.map((g) => ((g as string) === "line_item" ? "model" : g)) as UsageGroup[];
        const rows = await storage.usageBuckets({ start: q.start, end: q.end, bucketSeconds: q.width, groupBy, projectIds: listParam(ctx, "project_ids") });
        sendJson(ctx.res, 200, renderCosts(rows, groupBy, q.width));
      },
    },
    ...requestLogRoutes({ store: storage.requestLog }),
  ];
}
