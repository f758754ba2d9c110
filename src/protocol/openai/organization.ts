import type { ApiKeyRecord, Project, RateLimitRecord, UsageBucketRow, UsageGroup } from "../../storage/storage.ts";

/** The `organization.project` object, with this server's budget fields; `spentUsd` is the project's spend this month. */
export function renderProject(p: Project, spentUsd: number): { id: string } & Record<string, unknown> {
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
    month_spend_usd: Number(spentUsd.toFixed(8)),
    soft_budget_exceeded: p.softBudgetUsd !== null && spentUsd >= p.softBudgetUsd,
    budget_exceeded: p.monthlyBudgetUsd !== null && spentUsd >= p.monthlyBudgetUsd,
    log_bodies: p.logBodies === true,
  };
}

/** The `organization.project.api_key` object; each key is shown as its own service account. */
export function renderKey(k: ApiKeyRecord): { id: string } & Record<string, unknown> {
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

/** A newly made API key: the key object with its secret `value`, which no later answer shows. */
export function renderKeyCreated(k: ApiKeyRecord, secret: string): { id: string } & Record<string, unknown> {
  return { ...renderKey(k), value: secret };
}

/** The answer to deleting an API key. */
export function renderKeyDeleted(id: string | undefined): Record<string, unknown> {
  return { object: "organization.project.api_key.deleted", id, deleted: true };
}

/** The `project.rate_limit` object; its id is `rl-<model>`, and an unset limit reads 0. */
export function renderLimit(r: RateLimitRecord): { id: string } & Record<string, unknown> {
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

/** The `/v1/organization/usage/completions` page: buckets of `width` seconds; only the grouped-by fields are set. */
export function renderCompletionsUsage(rows: readonly UsageBucketRow[], groupBy: readonly UsageGroup[], width: number): Record<string, unknown> {
  return renderBuckets(rows, width, (r) => ({
    object: "organization.usage.completions.result",
    input_tokens: r.inputTokens,
    input_cached_tokens: r.cachedTokens,
    output_tokens: r.outputTokens,
    input_audio_tokens: r.inputAudioTokens,
    output_audio_tokens: r.outputAudioTokens,
    num_model_requests: r.requests,
    project_id: groupBy.includes("project_id") ? r.projectId : null,
    user_id: null,
    api_key_id: groupBy.includes("api_key_id") ? r.keyId : null,
    model: groupBy.includes("model") ? r.model : null,
    batch: groupBy.includes("batch") ? r.batch : null,
    output_reasoning_tokens: r.reasoningTokens,
  }));
}

/** The `/v1/organization/usage/audio_speeches` page: characters spoken per bucket and group. */
export function renderAudioSpeechesUsage(rows: readonly UsageBucketRow[], groupBy: readonly UsageGroup[], width: number): Record<string, unknown> {
  return renderBuckets(rows, width, (r) => ({
    object: "organization.usage.audio_speeches.result",
    characters: r.characters,
    num_model_requests: r.requests,
    ...groups(r, groupBy),
  }));
}

/** The `/v1/organization/usage/moderations` page: input tokens and requests per bucket and group. */
export function renderModerationsUsage(rows: readonly UsageBucketRow[], groupBy: readonly UsageGroup[], width: number): Record<string, unknown> {
  return renderBuckets(rows, width, (r) => ({
    object: "organization.usage.moderations.result",
    input_tokens: r.inputTokens,
    num_model_requests: r.requests,
    ...groups(r, groupBy),
  }));
}

/** The `/v1/organization/usage/audio_transcriptions` page: whole seconds transcribed per bucket and group. */
export function renderAudioTranscriptionsUsage(rows: readonly UsageBucketRow[], groupBy: readonly UsageGroup[], width: number): Record<string, unknown> {
  return renderBuckets(rows, width, (r) => ({
    object: "organization.usage.audio_transcriptions.result",
    seconds: Math.round(r.audioSeconds),
    num_model_requests: r.requests,
    ...groups(r, groupBy),
  }));
}

/** The `/v1/organization/usage/code_interpreter_sessions` page: container sessions started per bucket (and project). */
export function renderCodeInterpreterSessionsUsage(rows: readonly UsageBucketRow[], groupBy: readonly UsageGroup[], width: number): Record<string, unknown> {
  return renderBuckets(rows, width, (r) => ({
    object: "organization.usage.code_interpreter_sessions.result",
    num_sessions: r.requests,
    project_id: groupBy.includes("project_id") ? r.projectId : null,
  }));
}

/** The request path of each images usage `source`. */
export const IMAGE_SOURCES = {
  "image.generation": "/v1/images/generations",
  "image.edit": "/v1/images/edits",
  "image.variation": "/v1/images/variations",
} as const;

/** The `/v1/organization/usage/images` page: images made and requests per bucket and group (`size`, `source` too). */
export function renderImagesUsage(rows: readonly UsageBucketRow[], groupBy: readonly UsageGroup[], width: number): Record<string, unknown> {
  const sourceOf = (endpoint: string | null): string | null => Object.entries(IMAGE_SOURCES).find(([, path]) => path === endpoint)?.[0] ?? null;
  return renderBuckets(rows, width, (r) => ({
    object: "organization.usage.images.result",
    images: r.images,
    num_model_requests: r.requests,
    source: groupBy.includes("source") ? sourceOf(r.endpoint) : null,
    size: groupBy.includes("size") ? r.imageSize : null,
    ...groups(r, groupBy),
  }));
}

function groups(r: UsageBucketRow, groupBy: readonly UsageGroup[]): Record<string, unknown> {
  return {
    project_id: groupBy.includes("project_id") ? r.projectId : null,
    user_id: null,
    api_key_id: groupBy.includes("api_key_id") ? r.keyId : null,
    model: groupBy.includes("model") ? r.model : null,
  };
}

/** The `/v1/organization/costs` page; a line item is a model (grouping by `line_item` groups by `model`). */
export function renderCosts(rows: readonly UsageBucketRow[], groupBy: readonly UsageGroup[], width: number): Record<string, unknown> {
  return renderBuckets(rows, width, (r) => ({
    object: "organization.costs.result",
    amount: { value: r.costUsd, currency: "usd" },
    line_item: groupBy.includes("model") ? `${r.model}, input and output` : null,
    project_id: groupBy.includes("project_id") ? r.projectId : null,
    api_key_id: groupBy.includes("api_key_id") ? r.keyId : null,
  }));
}

/** One `bucket` per distinct start, in time order, each with its rows' results; always a single page. */
function renderBuckets(rows: readonly UsageBucketRow[], width: number, render: (r: UsageBucketRow) => Record<string, unknown>): Record<string, unknown> {
  const buckets = new Map<number, Record<string, unknown>[]>();
  for (const r of rows) {
    const list = buckets.get(r.bucketStart) ?? [];
    list.push(render(r));
    buckets.set(r.bucketStart, list);
  }
  const data = [...buckets.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([start, results]) => ({ object: "bucket", start_time: start, end_time: start + width, results }));
  return { object: "page", data, has_more: false, next_page: null };
}
