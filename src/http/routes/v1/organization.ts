import { invalidRequest } from "../../../core/errors.ts";
import { unixSeconds } from "../../../core/ids.ts";
import { FieldReader } from "../../../protocol/openai/validate.ts";
import { notFound, type AccessService } from "../../../services/access.ts";
import type { BudgetGuard } from "../../../services/budgets.ts";
import { USAGE_TIERS } from "../../../services/usage-tiers.ts";
import type { ApiKeyRecord, Project, RateLimitRecord, Storage, UsageGroup } from "../../../storage/storage.ts";
import { sendJson } from "../../respond.ts";
import type { RequestContext, Route } from "../../router.ts";

/** What the admin API needs. */
export interface OrganizationDeps {
  storage: Storage;
  access: AccessService;
  budgets: BudgetGuard;
}

function page<T extends { id: string }>(items: T[], limit: number, render: (item: T) => Record<string, unknown>): Record<string, unknown> {
  const shown = items.slice(0, limit);
  return { object: "list", data: shown.map(render), first_id: shown[0]?.id ?? null, last_id: shown.at(-1)?.id ?? null, has_more: items.length > limit };
}

function limitParam(ctx: RequestContext, max = 100): number {
  const raw = ctx.query.get("limit");
  if (raw === null) return 20;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) throw invalidRequest(`Invalid 'limit': expected an integer from 1 to ${max}.`, "limit", "invalid_value");
  return n;
}

async function renderProject(p: Project, budgets: BudgetGuard): Promise<Record<string, unknown>> {
  const spent = await budgets.spend(p.id);
  return {
    id: p.id,
    object: "organization.project",
    name: p.name,
    created_at: p.createdAt,
    archived_at: p.archivedAt,
    status: p.archivedAt === null ? "active" : "archived",
    tier: p.tier,
    monthly_budget_usd: p.monthlyBudgetUsd,
    soft_budget_usd: p.softBudgetUsd,
    month_spend_usd: Number(spent.toFixed(8)),
    soft_budget_exceeded: p.softBudgetUsd !== null && spent >= p.softBudgetUsd,
    budget_exceeded: p.monthlyBudgetUsd !== null && spent >= p.monthlyBudgetUsd,
  };
}

function renderKey(k: ApiKeyRecord): Record<string, unknown> {
  return {
    object: "organization.project.api_key",
    redacted_value: k.redacted,
    name: k.name,
    created_at: k.createdAt,
    last_used_at: k.lastUsedAt,
    id: k.id,
    owner_project_access: "active",
    owner: { type: "service_account", service_account: { object: "organization.project.service_account", id: `svc_${k.id}`, name: k.name, role: "member", created_at: k.createdAt } },
    models: k.models,
  };
}

function renderLimit(r: RateLimitRecord): Record<string, unknown> {
  return {
    object: "project.rate_limit",
    id: `rl-${r.model}`,
    model: r.model,
    max_requests_per_1_minute: r.rpm ?? 0,
    max_tokens_per_1_minute: r.tpm ?? 0,
    max_requests_per_1_day: r.rpd ?? 0,
    max_concurrent_requests: r.maxConcurrent ?? 0,
  };
}

/** Reads the project fields shared by create and modify. */
function readProjectFields(body: FieldReader): Partial<Pick<Project, "name" | "tier" | "monthlyBudgetUsd" | "softBudgetUsd">> {
  body.rejectUnknown(new Set(["name", "tier", "monthly_budget_usd", "soft_budget_usd"]));
  const out: Partial<Pick<Project, "name" | "tier" | "monthlyBudgetUsd" | "softBudgetUsd">> = {};
  const name = body.string("name", { nonEmpty: true, maxLength: 200 });
  if (name !== undefined) out.name = name;
  const tier = body.enumeration("tier", Object.keys(USAGE_TIERS));
  if (tier !== undefined) out.tier = tier;
  const budget = body.number("monthly_budget_usd", { min: 0 });
  if (budget !== undefined) out.monthlyBudgetUsd = budget;
  const soft = body.number("soft_budget_usd", { min: 0 });
  if (soft !== undefined) out.softBudgetUsd = soft;
  return out;
}

async function projectOr404(storage: Storage, id: string | undefined): Promise<Project> {
  const project = id === undefined ? undefined : await storage.getProject(id);
  if (project === undefined) throw notFound(`No project with id '${id}'.`);
  return project;
}

/** Unix seconds from a query parameter. */
function timeParam(ctx: RequestContext, name: string, fallback: number | undefined): number {
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

const BUCKETS: Record<string, number> = { "1m": 60, "1h": 3600, "1d": 86_400 };

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
        const limit = limitParam(ctx);
        const projects = await storage.listProjects({ after: ctx.query.get("after") ?? undefined, limit: limit + 1, includeArchived: ctx.query.get("include_archived") === "true" });
        const rendered = await Promise.all(projects.slice(0, limit).map((p) => renderProject(p, budgets)));
        sendJson(ctx.res, 200, { ...page(projects, limit, () => ({})), data: rendered });
      },
    },
    {
      method: "POST",
      pattern: "/v1/organization/projects",
      handler: async (ctx) => {
        const body = new FieldReader(await ctx.readJson(), "");
        body.required("name");
        const fields = readProjectFields(body);
        const project = await access.createProject({ name: fields.name ?? "", tier: fields.tier ?? null, monthlyBudgetUsd: fields.monthlyBudgetUsd ?? null, softBudgetUsd: fields.softBudgetUsd ?? null });
        sendJson(ctx.res, 200, await renderProject(project, budgets));
      },
    },
    {
      method: "GET",
      pattern: "/v1/organization/projects/:project",
      handler: async (ctx) => sendJson(ctx.res, 200, await renderProject(await projectOr404(storage, ctx.params.project), budgets)),
    },
    {
      method: "POST",
      pattern: "/v1/organization/projects/:project",
      handler: async (ctx) => {
        const project = await projectOr404(storage, ctx.params.project);
        const fields = readProjectFields(new FieldReader(await ctx.readJson(), ""));
        const updated = await storage.updateProject(project.id, fields);
        sendJson(ctx.res, 200, await renderProject(updated ?? project, budgets));
      },
    },
    {
      method: "POST",
      pattern: "/v1/organization/projects/:project/archive",
      handler: async (ctx) => {
        const project = await projectOr404(storage, ctx.params.project);
        const updated = await storage.updateProject(project.id, { archivedAt: project.archivedAt ?? unixSeconds() });
        sendJson(ctx.res, 200, await renderProject(updated ?? project, budgets));
      },
    },
    {
      method: "GET",
      pattern: "/v1/organization/projects/:project/api_keys",
      handler: async (ctx) => {
        const project = await projectOr404(storage, ctx.params.project);
        const limit = limitParam(ctx);
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
        sendJson(ctx.res, 200, { ...renderKey(key), value: secret });
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
        sendJson(ctx.res, 200, { object: "organization.project.api_key.deleted", id: ctx.params.key, deleted: true });
      },
    },
    {
      method: "GET",
      pattern: "/v1/organization/projects/:project/rate_limits",
      handler: async (ctx) => {
        const project = await projectOr404(storage, ctx.params.project);
        const limits = (await storage.listRateLimits(project.id)).map((r) => ({ ...r, id: `rl-${r.model}` }));
        sendJson(ctx.res, 200, page(limits, limitParam(ctx), renderLimit));
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
        });
        const buckets = new Map<number, Record<string, unknown>[]>();
        for (const r of rows) {
          const list = buckets.get(r.bucketStart) ?? [];
          list.push({
            object: "organization.usage.completions.result",
            input_tokens: r.inputTokens,
            input_cached_tokens: r.cachedTokens,
            output_tokens: r.outputTokens,
            input_audio_tokens: 0,
            output_audio_tokens: 0,
            num_model_requests: r.requests,
            project_id: q.groupBy.includes("project_id") ? r.projectId : null,
            user_id: null,
            api_key_id: q.groupBy.includes("api_key_id") ? r.keyId : null,
            model: q.groupBy.includes("model") ? r.model : null,
            batch: q.groupBy.includes("batch") ? r.batch : null,
            output_reasoning_tokens: r.reasoningTokens,
          });
          buckets.set(r.bucketStart, list);
        }
        sendJson(ctx.res, 200, renderBuckets(buckets, q.width));
      },
    },
    {
      method: "GET",
      pattern: "/v1/organization/costs",
      handler: async (ctx) => {
        const q = usageQuery(ctx, ["project_id", "line_item", "api_key_id"] as unknown as UsageGroup[]);
        const groupBy = q.groupBy.map((g) => ((g as string) === "line_item" ? "model" : g)) as UsageGroup[];
        const rows = await storage.usageBuckets({ start: q.start, end: q.end, bucketSeconds: q.width, groupBy, projectIds: listParam(ctx, "project_ids") });
        const buckets = new Map<number, Record<string, unknown>[]>();
        for (const r of rows) {
          const list = buckets.get(r.bucketStart) ?? [];
          list.push({
            object: "organization.costs.result",
            amount: { value: r.costUsd, currency: "usd" },
            line_item: groupBy.includes("model") ? `${r.model}, input and output` : null,
            project_id: groupBy.includes("project_id") ? r.projectId : null,
            api_key_id: groupBy.includes("api_key_id") ? r.keyId : null,
          });
          buckets.set(r.bucketStart, list);
        }
        sendJson(ctx.res, 200, renderBuckets(buckets, q.width));
      },
    },
  ];
}

function renderBuckets(buckets: Map<number, Record<string, unknown>[]>, width: number): Record<string, unknown> {
  const data = [...buckets.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([start, results]) => ({ object: "bucket", start_time: start, end_time: start + width, results }));
  return { object: "page", data, has_more: false, next_page: null };
}
