import { hash } from "node:crypto";
import { existsSync, linkSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ApiError, invalidApiKey } from "../core/errors.ts";
import { randomId, unixSeconds } from "../core/ids.ts";
import type { Logger } from "../logging/logger.ts";
import type { ApiKeyRecord, Project, Storage } from "../storage/storage.ts";
import { PrincipalCache } from "./principal-cache.ts";

/** Who is calling: the project a request is billed to and the key it used. */
export interface Principal {
  projectId: string;
  keyId: string | null;
  admin: boolean;
  /** Models this key may use; null for all. */
  models: readonly string[] | null;
  /** Whether the project keeps request and answer bodies in the request log; false when absent. */
  logBodies?: boolean;
}

/** The project requests belong to when no key names another, and where keys from the environment live. */
export const DEFAULT_PROJECT_ID = "proj_default";

/** Keys are stored as SHA-256 hex digests; the secret itself is never stored or logged. */
export function hashKey(secret: string): string {
  // The one-shot form: no Hash object per request.
  return hash("sha256", secret, "hex");
}

/** Shows the start and end of a key, as OpenAI's `redacted_value` does. */
export function redact(secret: string): string {
  return `${secret.slice(0, 8)}****${secret.slice(-4)}`;
}

/** A new secret: `sk-proj-…` for project keys, `sk-admin-…` for admin keys. */
function newSecret(admin: boolean): string {
  return `${admin ? "sk-admin-" : "sk-proj-"}${randomId(48)}`;
}

/** Why a key found no principal: not stored at all, or stored but revoked or of an archived project. */
type Refusal = "unknown" | "refused";

const isPrincipal = (p: Principal | Refusal): p is Principal => typeof p !== "string";

/**
 * Projects and API keys: creating keys (the secret is returned once), resolving a Bearer token to a
 * principal, revoking at once (in every process: see `PrincipalCache`), and the bootstrap admin key.
 */
export class AccessService {
  readonly #storage: Storage;
  readonly #logger: Logger;
  #open = false;
  /** Set when the access version moved while open: a key may exist now, made by another process. */
  #recountOpen = false;
  #envKeys = 0;
  readonly #touched = new Map<string, number>();
  #principals: PrincipalCache<Principal> | undefined;

  constructor(storage: Storage, logger: Logger) {
    this.#storage = storage;
    this.#logger = logger;
  }

  /** Whether requests without a key are served (no project key exists anywhere). */
  get open(): boolean {
    return this.#open;
  }

  /**
   * Ensures the default project, stores keys given in the environment, and makes sure an admin key
   * exists (from `MODELPORT_ADMIN_KEY`, or generated once into a 0600 file in the data directory).
   * Every write is an insert-or-ignore, so processes starting together on one database all succeed.
   */
  async bootstrap(options: { envKeys: readonly string[]; adminKey: string | undefined; dataDir: string }): Promise<{ adminKeyFile: string | undefined }> {
    await this.#storage.ensureProject({ id: DEFAULT_PROJECT_ID, name: "Default project", createdAt: unixSeconds(), archivedAt: null, tier: null, monthlyBudgetUsd: null, softBudgetUsd: null });
    for (const secret of options.envKeys) await this.#ensureKey(secret, "from MODELPORT_API_KEYS", false);
    let adminKeyFile: string | undefined;
    if (options.adminKey) {
      await this.#ensureKey(options.adminKey, "from MODELPORT_ADMIN_KEY", true);
    } else {
      adminKeyFile = join(options.dataDir, "admin-key");
      const existing = existsSync(adminKeyFile) ? readFileSync(adminKeyFile, "utf8").trim() : "";
      if (existing !== "") {
        await this.#ensureKey(existing, "bootstrap admin key", true);
      } else {
        const { secret, created } = writeOnce(adminKeyFile, newSecret(true));
        await this.#ensureKey(secret, "bootstrap admin key", true);
        if (created) this.#logger.warn("generated an admin key", { file: adminKeyFile });
      }
    }
    this.#envKeys = options.envKeys.length;
    this.#open = options.envKeys.length === 0 && (await this.#storage.countActiveProjectKeys()) === 0;
    return { adminKeyFile };
  }

  async #ensureKey(secret: string, name: string, admin: boolean): Promise<void> {
    const hash = hashKey(secret);
    await this.#storage.insertApiKeyIfAbsent({
      id: `key_${randomId(16)}`, projectId: DEFAULT_PROJECT_ID, name, hash, redacted: redact(secret), models: null, admin, createdAt: unixSeconds(), lastUsedAt: null, revokedAt: null,
    });
  }

  /**
   * Keeps principals in memory by key hash from now on, dropped whenever the access version moves
   * (a server calls this; a command that only writes keys need not). Without it every request
   * reads its key from the database.
   */
  async cachePrincipals(): Promise<void> {
    this.#principals ??= new PrincipalCache(await this.#storage.watchAccessVersion(), () => {
      if (this.#open) this.#recountOpen = true;
    });
  }

  /** Resolves an `Authorization` header; throws 401 for a missing, unknown or revoked key, or a key of an archived project. */
  async authenticate(header: string | undefined): Promise<Principal> {
    if (header === undefined || header.trim() === "") {
      if (this.#open) return { projectId: DEFAULT_PROJECT_ID, keyId: null, admin: false, models: null };
      throw invalidApiKey("You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).");
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const secret = match?.[1];
    if (secret === undefined) throw invalidApiKey("The Authorization header must use Bearer auth (i.e. Authorization: Bearer YOUR_KEY).");
    const hash = hashKey(secret);
    const found = this.#principals === undefined ? await this.#load(hash) : await this.#principals.resolve(hash, () => this.#load(hash), isPrincipal);
    if (!isPrincipal(found)) {
      if (this.#open && this.#recountOpen) {
        // Once a project key exists anywhere, requests must carry one, in every process.
        this.#recountOpen = false;
        this.#open = this.#envKeys === 0 && (await this.#storage.countActiveProjectKeys()) === 0;
      }
      if (this.#open && found === "unknown") return { projectId: DEFAULT_PROJECT_ID, keyId: null, admin: false, models: null };
      throw invalidApiKey(`Incorrect API key provided: ${redact(secret)}. You can find your API key at your Modelport admin.`);
    }
    if (found.keyId !== null) this.#touch(found.keyId);
    return found;
  }

  /**
   * The principal of a key hash as the database has it. Admin keys are the organisation's: they live
   * in the default project for storage's sake, and archiving that project does not lock admins out.
   * The result is frozen, since a cached one is shared by every request with the key.
   */
  async #load(hash: string): Promise<Principal | Refusal> {
    const found = await this.#storage.findApiKeyForAuth(hash);
    if (found === undefined) return "unknown";
    const { key, projectArchived, projectLogBodies } = found;
    if (key.revokedAt !== null || (projectArchived && !key.admin)) return "refused";
    return Object.freeze({ projectId: key.projectId, keyId: key.id, admin: key.admin, models: key.models === null ? null : Object.freeze([...key.models]), logBodies: projectLogBodies });
  }

  /** Records `last_used_at` at most once a minute per key, off the request's path. */
  #touch(keyId: string): void {
    const now = unixSeconds();
    if ((this.#touched.get(keyId) ?? 0) > now - 60) return;
    this.#touched.set(keyId, now);
    this.#storage.touchApiKey(keyId, now).catch(() => undefined);
  }

  async createProject(input: { name: string; tier: string | null; monthlyBudgetUsd: number | null; softBudgetUsd: number | null; logBodies?: boolean }): Promise<Project> {
    return this.#storage.createProject({ id: `proj_${randomId(24)}`, createdAt: unixSeconds(), archivedAt: null, ...input });
  }

  /** Creates a project key; the secret is in the result and nowhere else. */
  async createApiKey(projectId: string, input: { name: string; models: string[] | null }): Promise<{ key: ApiKeyRecord; secret: string }> {
    const project = await this.#storage.getProject(projectId);
    if (project === undefined || project.archivedAt !== null) throw notFound(`No active project with id '${projectId}'.`);
    const secret = newSecret(false);
    const key = await this.#storage.insertApiKey({
      id: `key_${randomId(16)}`, projectId, name: input.name, hash: hashKey(secret), redacted: redact(secret), models: input.models, admin: false, createdAt: unixSeconds(), lastUsedAt: null, revokedAt: null,
    });
    // From the first project key on, requests must carry one.
    this.#open = false;
    return { key, secret };
  }

  async revokeApiKey(projectId: string, keyId: string): Promise<void> {
    if (!(await this.#storage.revokeApiKey(projectId, keyId, unixSeconds()))) throw notFound(`No API key '${keyId}' in project '${projectId}'.`);
  }
}

/**
 * Writes `secret` to a new 0600 file at `path` unless another process got there first, in which case
 * its secret is returned instead. The file appears whole (written aside, then hard-linked into
 * place, which fails if the name exists), so a reader never sees it half-written.
 */
function writeOnce(path: string, secret: string): { secret: string; created: boolean } {
  const aside = `${path}.${process.pid}.${randomId(8)}`;
  writeFileSync(aside, `${secret}\n`, { mode: 0o600 });
  try {
    linkSync(aside, path);
    return { secret, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return { secret: readFileSync(path, "utf8").trim(), created: false };
    // A file system without hard links: a plain write, as a single process would do it.
    writeFileSync(path, `${secret}\n`, { mode: 0o600 });
    return { secret, created: true };
  } finally {
    rmSync(aside, { force: true });
  }
}

/** 404 for an object that does not exist or belongs to another project. */
export function notFound(message: string): ApiError {
  return new ApiError(404, message, { type: "invalid_request_error", code: "not_found" });
}
