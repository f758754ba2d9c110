import { GuardrailStore } from "./guardrail-store.ts";
import { awaitAcknowledged, bumpAccessVersion, watchAccessVersion, type AccessVersion } from "./access-version.ts";
import { MIGRATIONS } from "./migrations.ts";
import { RequestLogStore } from "./request-log-store.ts";
import { num, numOrNull, str, strOrNull, type Param, type Row, type SqlDb } from "./sql-db.ts";

/** A project: the owner of keys, limits, usage and (later) every stored object. */
export interface Project {
  id: string;
  name: string;
  createdAt: number;
  archivedAt: number | null;
  /** A preset of OpenAI's usage tiers ("free", "tier-1" … "tier-5"), or null for unlimited. */
  tier: string | null;
  monthlyBudgetUsd: number | null;
  softBudgetUsd: number | null;
  /** Whether the request log keeps the project's request and answer bodies (redacted); false when absent. */
  logBodies?: boolean;
}

/** An API key as stored: only a SHA-256 hash of the secret is kept. */
export interface ApiKeyRecord {
  id: string;
  projectId: string;
  name: string;
  hash: string;
  redacted: string;
  /** Models the key may use; null for all. */
  models: string[] | null;
  admin: boolean;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** Per-project, per-model limits; null fields are unlimited (or taken from the project's tier). */
export interface RateLimitRecord {
  projectId: string;
  model: string;
  rpm: number | null;
  tpm: number | null;
  rpd: number | null;
  maxConcurrent: number | null;
}

/** One metered request. */
export interface UsageRecord {
  id: string;
  /** Unix seconds. */
  createdAt: number;
  projectId: string;
  keyId: string | null;
  model: string;
  endpoint: string;
  inputTokens: number;
  cachedTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  inputAudioTokens: number;
  outputAudioTokens: number;
  audioSeconds: number;
  characters: number;
  /** Images made (`/v1/images/*`); 0 when absent. */
  images?: number;
  /** Their size (`1024x1024`), for image requests. */
  imageSize?: string | null;
  latencyMs: number;
  status: number;
  costUsd: number;
  batch: boolean;
}

/** A usage or cost aggregate for one time bucket and group. */
export interface UsageBucketRow {
  bucketStart: number;
  projectId: string | null;
  model: string | null;
  keyId: string | null;
  batch: boolean | null;
  requests: number;
  inputTokens: number;
  cachedTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  inputAudioTokens: number;
  outputAudioTokens: number;
  audioSeconds: number;
  characters: number;
  costUsd: number;
  /** Images made. */
  images: number;
  /** When grouped by `size`: the images' size. */
  imageSize: string | null;
  /** When grouped by `source`: the request path (`/v1/images/edits`). */
  endpoint: string | null;
}

/** What usage pages group by; `size` and `source` (the request path) only on the images page. */
export type UsageGroup = "project_id" | "model" | "api_key_id" | "batch" | "size" | "source";


function toProject(r: Row): Project {
  return {
    id: str(r.id),
    name: str(r.name),
    createdAt: num(r.created_at),
    archivedAt: numOrNull(r.archived_at),
    tier: strOrNull(r.tier),
    monthlyBudgetUsd: numOrNull(r.monthly_budget_usd),
    softBudgetUsd: numOrNull(r.soft_budget_usd),
    logBodies: num(r.log_bodies) === 1,
  };
}

function toKey(r: Row): ApiKeyRecord {
  return {
    id: str(r.id),
    projectId: str(r.project_id),
    name: str(r.name),
    hash: str(r.hash),
    redacted: str(r.redacted),
    models: typeof r.models === "string" ? (JSON.parse(r.models) as string[]) : null,
    admin: num(r.is_admin) === 1,
    createdAt: num(r.created_at),
    lastUsedAt: numOrNull(r.last_used_at),
    revokedAt: numOrNull(r.revoked_at),
  };
}

function toLimit(r: Row): RateLimitRecord {
  return {
    projectId: str(r.project_id),
    model: str(r.model),
    rpm: numOrNull(r.rpm),
    tpm: numOrNull(r.tpm),
    rpd: numOrNull(r.rpd),
    maxConcurrent: numOrNull(r.max_concurrent),
  };
}

/** Lock id that serialises migrations across server processes sharing one PostgreSQL. */
const MIGRATION_LOCK = 0x6d6f6470;

/**
 * Everything Modelport stores, over one SQL database: SQLite by default, PostgreSQL when configured.
 * The same statements run on both.
 */
export class Storage {
  readonly db: SqlDb;
  /** Recent requests (the request log). */
  readonly requestLog: RequestLogStore;
  /** Guardrail policies per project. */
  readonly guardrails: GuardrailStore;
  #accessVersion: AccessVersion | undefined;

  constructor(db: SqlDb) {
    this.db = db;
    this.requestLog = new RequestLogStore(db);
    this.guardrails = new GuardrailStore(db);
  }

  /**
   * Starts keeping the access version current in this process (a LISTEN connection on PostgreSQL)
   * for a cache of principals; closed with the storage. Processes that only write (the CLI) need not.
   */
  async watchAccessVersion(): Promise<AccessVersion> {
    this.#accessVersion ??= await watchAccessVersion(this.db);
    return this.#accessVersion;
  }

  /**
   * Runs a change to what keys may do, bumping the access version in the same transaction when
   * `change` reports that it changed something; resolves once the change is visible to principal
   * caches everywhere. Every such write goes through here, whichever process makes it.
   */
  async #changeAccess(change: (tx: SqlDb) => Promise<boolean>): Promise<boolean> {
    const version = await this.db.transaction(async (tx) => ((await change(tx)) ? bumpAccessVersion(tx) : undefined));
    if (version === undefined) return false;
    this.#accessVersion?.advanced(version);
    await awaitAcknowledged(this.db, version);
    return true;
  }

  /** Applies pending migrations; safe to run from several processes at once. */
  async migrate(): Promise<void> {
    await this.db.transaction(async (tx) => {
      // Under the lock too: PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe against a concurrent
      // one (both see no table, one fails on the catalogue's unique index).
      await tx.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
      const done = new Set((await tx.all("SELECT version FROM schema_migrations")).map((r) => num(r.version)));
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        await tx.exec(m.sql);
        if (m.postgres !== undefined && tx.dialect === "postgres") await tx.exec(m.postgres);
        await tx.run("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", [m.version, Math.floor(Date.now() / 1000)]);
      }
    }, MIGRATION_LOCK);
  }

  // Projects

  async createProject(p: Project): Promise<Project> {
    await this.db.run(
      "INSERT INTO projects (id, name, created_at, archived_at, tier, monthly_budget_usd, soft_budget_usd, log_bodies) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      [p.id, p.name, p.createdAt, p.archivedAt, p.tier, p.monthlyBudgetUsd, p.softBudgetUsd, p.logBodies === true ? 1 : 0],
    );
    return { ...p, logBodies: p.logBodies === true };
  }

  /**
   * Creates the project unless one with its id exists, in one statement: processes starting together
   * may all try, and none of them may fail for it.
   */
  async ensureProject(p: Project): Promise<void> {
    await this.db.run(
      "INSERT INTO projects (id, name, created_at, archived_at, tier, monthly_budget_usd, soft_budget_usd) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
      [p.id, p.name, p.createdAt, p.archivedAt, p.tier, p.monthlyBudgetUsd, p.softBudgetUsd],
    );
  }

  async getProject(id: string): Promise<Project | undefined> {
    const [row] = await this.db.all("SELECT * FROM projects WHERE id = ?", [id]);
    return row ? toProject(row) : undefined;
  }

  async listProjects(options: { after?: string; limit: number; includeArchived: boolean }): Promise<Project[]> {
    const where: string[] = [];
    const params: Param[] = [];
    if (!options.includeArchived) where.push("archived_at IS NULL");
    if (options.after) {
      where.push("(created_at, id) > (SELECT created_at, id FROM projects WHERE id = ?)");
      params.push(options.after);
    }
    const sql = `SELECT * FROM projects ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at, id LIMIT ?`;
    return (await this.db.all(sql, [...params, options.limit])).map(toProject);
  }

  async updateProject(id: string, patch: Partial<Pick<Project, "name" | "tier" | "monthlyBudgetUsd" | "softBudgetUsd" | "archivedAt" | "logBodies">>): Promise<Project | undefined> {
    const columns: Record<string, string> = { name: "name", tier: "tier", monthlyBudgetUsd: "monthly_budget_usd", softBudgetUsd: "soft_budget_usd", archivedAt: "archived_at", logBodies: "log_bodies" };
    const sets: string[] = [];
    const params: Param[] = [];
    for (const [key, column] of Object.entries(columns)) {
      const value = (patch as Record<string, Param | boolean | undefined>)[key];
      if (value === undefined) continue;
      sets.push(`${column} = ?`);
      params.push(typeof value === "boolean" ? (value ? 1 : 0) : value);
    }
    if (sets.length === 0) return this.getProject(id);
    const sql = `UPDATE projects SET ${sets.join(", ")} WHERE id = ?`;
    // Archiving takes the project's keys away, and principals carry `log_bodies`: principal caches must drop them at once.
    if (patch.archivedAt !== undefined || patch.logBodies !== undefined) await this.#changeAccess(async (tx) => (await tx.run(sql, [...params, id])) > 0);
    else await this.db.run(sql, [...params, id]);
    return this.getProject(id);
  }

  // API keys

  /** Stores a new key; the access version moves, so a server running without keys starts asking for them at once. */
  async insertApiKey(k: ApiKeyRecord): Promise<ApiKeyRecord> {
    await this.#changeAccess(async (tx) => {
      await tx.run(
        "INSERT INTO api_keys (id, project_id, name, hash, redacted, models, is_admin, created_at, last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [k.id, k.projectId, k.name, k.hash, k.redacted, k.models ? JSON.stringify(k.models) : null, k.admin ? 1 : 0, k.createdAt, k.lastUsedAt, k.revokedAt],
      );
      return true;
    });
    return k;
  }

  /**
   * Stores the key unless a key with the same secret (hash) exists, revoked or not, in one statement
   * (a look-up then an insert races with another process doing the same); true when it was stored.
   */
  async insertApiKeyIfAbsent(k: ApiKeyRecord): Promise<boolean> {
    const inserted = await this.db.run(
      "INSERT INTO api_keys (id, project_id, name, hash, redacted, models, is_admin, created_at, last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING",
      [k.id, k.projectId, k.name, k.hash, k.redacted, k.models ? JSON.stringify(k.models) : null, k.admin ? 1 : 0, k.createdAt, k.lastUsedAt, k.revokedAt],
    );
    return inserted > 0;
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const [row] = await this.db.all("SELECT * FROM api_keys WHERE hash = ?", [hash]);
    return row ? toKey(row) : undefined;
  }

  /** The key with this hash, whether its project is archived and keeps bodies in its request log, in one read (authentication). */
  async findApiKeyForAuth(hash: string): Promise<{ key: ApiKeyRecord; projectArchived: boolean; projectLogBodies: boolean } | undefined> {
    const [row] = await this.db.all("SELECT k.*, p.archived_at AS project_archived_at, p.log_bodies AS project_log_bodies FROM api_keys k LEFT JOIN projects p ON p.id = k.project_id WHERE k.hash = ?", [hash]);
    return row ? { key: toKey(row), projectArchived: row.project_archived_at !== null && row.project_archived_at !== undefined, projectLogBodies: num(row.project_log_bodies) === 1 } : undefined;
  }

  async getApiKey(projectId: string, id: string): Promise<ApiKeyRecord | undefined> {
    const [row] = await this.db.all("SELECT * FROM api_keys WHERE project_id = ? AND id = ? AND revoked_at IS NULL", [projectId, id]);
    return row ? toKey(row) : undefined;
  }

  async listApiKeys(projectId: string, options: { after?: string; limit: number }): Promise<ApiKeyRecord[]> {
    const params: Param[] = [projectId];
    let after = "";
    if (options.after) {
      after = "AND (created_at, id) > (SELECT created_at, id FROM api_keys WHERE id = ?)";
      params.push(options.after);
    }
    const rows = await this.db.all(
      `SELECT * FROM api_keys WHERE project_id = ? AND revoked_at IS NULL AND is_admin = 0 ${after} ORDER BY created_at, id LIMIT ?`,
      [...params, options.limit],
    );
    return rows.map(toKey);
  }

  async countActiveProjectKeys(): Promise<number> {
    const [row] = await this.db.all("SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL AND is_admin = 0");
    return num(row?.n);
  }

  /** Revokes a key at once, in every process; false when there was no such active key. */
  async revokeApiKey(projectId: string, id: string, at: number): Promise<boolean> {
    return this.#changeAccess(async (tx) => (await tx.run("UPDATE api_keys SET revoked_at = ? WHERE project_id = ? AND id = ? AND revoked_at IS NULL", [at, projectId, id])) > 0);
  }

  async touchApiKey(id: string, at: number): Promise<void> {
    await this.db.run("UPDATE api_keys SET last_used_at = ? WHERE id = ?", [at, id]);
  }

  // Rate limits

  async listRateLimits(projectId: string): Promise<RateLimitRecord[]> {
    return (await this.db.all("SELECT * FROM rate_limits WHERE project_id = ? ORDER BY model", [projectId])).map(toLimit);
  }

  async upsertRateLimit(r: RateLimitRecord): Promise<RateLimitRecord> {
    await this.db.transaction(async (tx) => {
      await tx.run("DELETE FROM rate_limits WHERE project_id = ? AND model = ?", [r.projectId, r.model]);
      await tx.run("INSERT INTO rate_limits (project_id, model, rpm, tpm, rpd, max_concurrent) VALUES (?, ?, ?, ?, ?, ?)", [
        r.projectId, r.model, r.rpm, r.tpm, r.rpd, r.maxConcurrent,
      ]);
    });
    return r;
  }

  // Usage

  async insertUsage(records: readonly UsageRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.db.transaction(async (tx) => {
      for (const r of records) {
        await tx.run(
          "INSERT INTO usage_records (id, created_at, project_id, key_id, model, endpoint, input_tokens, cached_tokens, output_tokens, reasoning_tokens, input_audio_tokens, output_audio_tokens, audio_seconds, characters, images, image_size, latency_ms, status, cost_usd, batch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          [r.id, r.createdAt, r.projectId, r.keyId, r.model, r.endpoint, r.inputTokens, r.cachedTokens, r.outputTokens, r.reasoningTokens, r.inputAudioTokens, r.outputAudioTokens, r.audioSeconds, r.characters, r.images ?? 0, r.imageSize ?? null, r.latencyMs, r.status, r.costUsd, r.batch ? 1 : 0],
        );
      }
    });
  }

  /** Aggregates usage into buckets of `bucketSeconds` from `start` (inclusive) to `end` (exclusive). */
  async usageBuckets(q: {
    start: number;
    end: number;
    bucketSeconds: number;
    groupBy: readonly UsageGroup[];
    projectIds?: readonly string[];
    models?: readonly string[];
    keyIds?: readonly string[];
    /** Only records of these endpoints (request paths such as `/v1/audio/speech`). */
    endpoints?: readonly string[];
    /** No records of these endpoints. */
    excludeEndpoints?: readonly string[];
    /** Only records of images of these sizes. */
    imageSizes?: readonly string[];
  }): Promise<UsageBucketRow[]> {
    const columns: Record<UsageGroup, string> = { project_id: "project_id", model: "model", api_key_id: "key_id", batch: "batch", size: "image_size", source: "endpoint" };
    const groups = q.groupBy.map((g) => columns[g]);
    const where = ["created_at >= ?", "created_at < ?"];
    const params: Param[] = [q.start, q.end];
    const inList = (column: string, values: readonly string[] | undefined) => {
      if (!values || values.length === 0) return;
      where.push(`${column} IN (${values.map(() => "?").join(", ")})`);
      params.push(...values);
    };
    inList("project_id", q.projectIds);
    inList("model", q.models);
    inList("key_id", q.keyIds);
    inList("endpoint", q.endpoints);
    inList("image_size", q.imageSizes);
    if (q.excludeEndpoints !== undefined && q.excludeEndpoints.length > 0) {
      where.push(`endpoint NOT IN (${q.excludeEndpoints.map(() => "?").join(", ")})`);
      params.push(...q.excludeEndpoints);
    }
    // Casts keep the arithmetic integral: node:sqlite binds JavaScript numbers as REAL.
    const bucket = `(CAST(? AS BIGINT) + ((created_at - CAST(? AS BIGINT)) / CAST(? AS BIGINT)) * CAST(? AS BIGINT))`;
    const sql = `SELECT ${bucket} AS bucket_start${groups.map((g) => `, ${g}`).join("")},
      COUNT(*) AS requests, SUM(input_tokens) AS input_tokens, SUM(cached_tokens) AS cached_tokens,
      SUM(output_tokens) AS output_tokens, SUM(reasoning_tokens) AS reasoning_tokens, SUM(cost_usd) AS cost_usd,
      SUM(input_audio_tokens) AS input_audio_tokens, SUM(output_audio_tokens) AS output_audio_tokens, SUM(audio_seconds) AS audio_seconds, SUM(characters) AS characters, SUM(images) AS images
      FROM usage_records WHERE ${where.join(" AND ")}
      GROUP BY bucket_start${groups.map((g) => `, ${g}`).join("")} ORDER BY bucket_start`;
    const rows = await this.db.all(sql, [q.start, q.start, q.bucketSeconds, q.bucketSeconds, ...params]);
    return rows.map((r) => ({
      bucketStart: num(r.bucket_start),
      projectId: strOrNull(r.project_id),
      model: strOrNull(r.model),
      keyId: strOrNull(r.key_id),
      batch: r.batch === undefined ? null : num(r.batch) === 1,
      requests: num(r.requests),
      inputTokens: num(r.input_tokens),
      cachedTokens: num(r.cached_tokens),
      outputTokens: num(r.output_tokens),
      reasoningTokens: num(r.reasoning_tokens),
      inputAudioTokens: num(r.input_audio_tokens),
      outputAudioTokens: num(r.output_audio_tokens),
      audioSeconds: num(r.audio_seconds),
      characters: num(r.characters),
      costUsd: num(r.cost_usd),
      images: num(r.images),
      imageSize: strOrNull(r.image_size),
      endpoint: strOrNull(r.endpoint),
    }));
  }

  /** What a project has spent since `since` (Unix seconds). */
  async projectSpend(projectId: string, since: number): Promise<number> {
    const [row] = await this.db.all("SELECT COALESCE(SUM(cost_usd), 0) AS spent FROM usage_records WHERE project_id = ? AND created_at >= ?", [projectId, since]);
    return num(row?.spent);
  }

  async close(): Promise<void> {
    await this.#accessVersion?.close();
    await this.db.close();
  }
}
