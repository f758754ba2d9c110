import { invalidRequest } from "../../core/errors.ts";
import { unixSeconds } from "../../core/ids.ts";
import { currentTrail, type GuardEvent } from "../../core/request-trail.ts";
import { PlaceholderVault } from "../../guard/pii/placeholder-vault.ts";
import { emptyPolicy, type GuardPolicy, type GuardStage } from "../../guard/policy.ts";
import { parseGuardPolicy, renderGuardPolicy } from "../../protocol/openai/guardrails.ts";
import type { GuardrailStore } from "../../storage/guardrail-store.ts";
import type { ModerationService } from "../moderation/moderation-service.ts";
import { ChatGuard } from "./chat-guard.ts";
import { checkTexts, compilePolicy, type Blocked, type CompiledPolicy, type Moderate } from "./compiled-policy.ts";
import { OutputChain } from "./stream-checks.ts";

/** Where a project's policy came from. */
export type PolicySource = "project" | "config" | "none";

/** What one stage of a dry run did to its text. */
export interface DryRunStage {
  text: string;
  blocked: Blocked | undefined;
  events: GuardEvent[];
}

/** How long a process trusts a policy it read before reading it again (other processes may change it). */
const CACHE_MS = 2000;

/**
 * Per-project guardrails: the policies (set through the admin API, else from the config), compiled
 * and cached, and a `ChatGuard` per request for projects that have one. A project without a policy
 * costs a map lookup per request.
 */
export class Guardrails {
  readonly #store: GuardrailStore;
  readonly #configured: ReadonlyMap<string, GuardPolicy>;
  readonly #moderation: ModerationService;
  readonly #cache = new Map<string, { compiled: CompiledPolicy | undefined; at: number }>();
  readonly #moderate: Moderate;

  constructor(store: GuardrailStore, configured: ReadonlyMap<string, GuardPolicy>, moderation: ModerationService) {
    this.#store = store;
    this.#configured = configured;
    this.#moderation = moderation;
    this.#moderate = async (model, texts, signal) => {
      const backend = moderation.find(model);
      if (backend === undefined) throw invalidRequest(`The guardrail's moderation model '${model}' is not served here.`, null, "model_not_found");
      return backend.classify(texts, signal);
    };
  }

  /** A project's policy and where it comes from. */
  async policyOf(projectId: string): Promise<{ policy: GuardPolicy; source: PolicySource; updatedAt: number | null }> {
    const stored = await this.#store.get(projectId);
    if (stored !== undefined) return { policy: parseGuardPolicy(JSON.parse(stored.policy)), source: "project", updatedAt: stored.updatedAt };
    const configured = this.#configured.get(projectId);
    if (configured !== undefined) return { policy: configured, source: "config", updatedAt: null };
    return { policy: { input: [], output: [] }, source: "none", updatedAt: null };
  }

  /** Checks what a policy refers to exists here (its moderation models); a 400 naming the check otherwise. */
  validate(policy: GuardPolicy): void {
    for (const stage of ["input", "output"] as const) {
      policy[stage].forEach((c, i) => {
        if (c.type === "moderation" && this.#moderation.find(c.model) === undefined) {
          throw invalidRequest(`Invalid '${stage}[${i}].model': no moderation model '${c.model}' is served here (${this.#moderation.names().join(", ")}).`, `${stage}[${i}].model`, "model_not_found");
        }
      });
    }
  }

  /** Sets a project's policy (replacing any); takes effect in this process at once, in others within seconds. */
  async set(projectId: string, policy: GuardPolicy): Promise<void> {
    this.validate(policy);
    await this.#store.put({ projectId, policy: JSON.stringify(renderGuardPolicy(policy)), updatedAt: unixSeconds() });
    this.#cache.delete(projectId);
  }

  /** Removes a project's own policy (the config's applies again, if any). */
  async delete(projectId: string): Promise<boolean> {
    const deleted = await this.#store.delete(projectId);
    this.#cache.delete(projectId);
    return deleted;
  }

  async #compiled(projectId: string): Promise<CompiledPolicy | undefined> {
    const now = Date.now();
    const cached = this.#cache.get(projectId);
    if (cached !== undefined && now - cached.at < CACHE_MS) return cached.compiled;
    const { policy } = await this.policyOf(projectId);
    const compiled = emptyPolicy(policy) ? undefined : compilePolicy(policy);
    this.#cache.set(projectId, { compiled, at: now });
    return compiled;
  }

  /** The guard for one chat request of a project, or undefined when it has no checks. Events go to the request's trail. */
  async forProject(projectId: string): Promise<ChatGuard | undefined> {
    const compiled = await this.#compiled(projectId);
    if (compiled === undefined) return undefined;
    const trail = currentTrail();
    const events = trail === undefined ? [] : (trail.guardrails ??= []);
    return new ChatGuard(compiled, this.#moderate, events);
  }

  /**
   * What a policy does to a text, without a model: `input` through the input checks, `output` through
   * the output checks as one streamed answer. For trying a policy before setting it.
   */
  async dryRun(policy: GuardPolicy, texts: { input?: string | undefined; output?: string | undefined }, signal: AbortSignal): Promise<Partial<Record<GuardStage, DryRunStage>>> {
    this.validate(policy);
    const compiled = compilePolicy(policy);
    const vault = new PlaceholderVault();
    const out: Partial<Record<GuardStage, DryRunStage>> = {};
    if (texts.input !== undefined) {
      const r = await checkTexts("input", compiled.input, [texts.input], { vault, moderate: this.#moderate, signal });
      out.input = { text: r.texts[0] ?? "", blocked: r.blocked, events: r.events };
    }
    if (texts.output !== undefined) {
      const events: GuardEvent[] = [];
      const chain = new OutputChain(compiled.output, compiled.restoresOutput, { vault, moderate: this.#moderate, signal }, events);
      const pushed = await chain.push(texts.output);
      const ended = pushed.blocked !== undefined ? { emit: "", blocked: undefined } : await chain.end();
      out.output = { text: pushed.emit + ended.emit, blocked: pushed.blocked ?? ended.blocked, events };
    }
    return out;
  }
}
