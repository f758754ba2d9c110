import { ApiError } from "../core/errors.ts";
import type { Logger } from "../logging/logger.ts";
import type { Project, Storage } from "../storage/storage.ts";
import type { UsageMeter } from "./usage-meter.ts";

/** Unix seconds at the start of the current UTC month. */
export function monthStart(now: Date = new Date()): number {
  return Math.floor(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1) / 1000);
}

/** 429 `insufficient_quota`, worded as OpenAI words it. */
export function insufficientQuota(): ApiError {
  return new ApiError(429, "You exceeded your current quota, please check your plan and billing details.", {
    type: "insufficient_quota",
    code: "insufficient_quota",
  });
}

/**
 * Monthly budgets per project: past the budget, requests get 429 `insufficient_quota`; past the soft
 * threshold, a warning is logged once a month and the admin API shows it. Spend is what the database
 * holds plus what the meter has not written yet, cached for a second per project.
 */
export class BudgetGuard {
  readonly #storage: Storage;
  readonly #meter: UsageMeter;
  readonly #logger: Logger;
  readonly #cache = new Map<string, { at: number; spent: number }>();
  readonly #projects = new Map<string, { at: number; project: Project | undefined }>();
  readonly #warned = new Set<string>();

  constructor(storage: Storage, meter: UsageMeter, logger: Logger) {
    this.#storage = storage;
    this.#meter = meter;
    this.#logger = logger;
  }

  /** This month's spend of a project. */
  async spend(projectId: string): Promise<number> {
    const cached = this.#cache.get(projectId);
    let stored: number;
    if (cached && Date.now() - cached.at < 1000) stored = cached.spent;
    else {
      stored = await this.#storage.projectSpend(projectId, monthStart());
      this.#cache.set(projectId, { at: Date.now(), spent: stored });
    }
    return stored + this.#meter.pendingSpend(projectId);
  }

  /** The project's budget settings, read at most once a second (admin changes apply that quickly). */
  async #project(projectId: string): Promise<Project | undefined> {
    const cached = this.#projects.get(projectId);
    if (cached && Date.now() - cached.at < 1000) return cached.project;
    const project = await this.#storage.getProject(projectId);
    this.#projects.set(projectId, { at: Date.now(), project });
    return project;
  }

  /** Throws 429 when the project is over its monthly budget. */
  async check(projectId: string): Promise<void> {
    const project = await this.#project(projectId);
    if (project === undefined || (project.monthlyBudgetUsd === null && project.softBudgetUsd === null)) return;
    const spent = await this.spend(projectId);
    if (project.softBudgetUsd !== null && spent >= project.softBudgetUsd) {
      const key = `${projectId}:${monthStart()}`;
      if (!this.#warned.has(key)) {
        this.#warned.add(key);
        this.#logger.warn("project passed its soft budget", { project: projectId, spent_usd: Number(spent.toFixed(6)), soft_budget_usd: project.softBudgetUsd });
      }
    }
    if (project.monthlyBudgetUsd !== null && spent >= project.monthlyBudgetUsd) throw insufficientQuota();
  }
}
