import { ApiError } from "../core/errors.ts";
import { endSpanFailed, SpanKind, startChildSpan } from "../core/trace-spans.ts";
import type { ChatModel } from "../providers/provider.ts";
import type { Principal } from "./access.ts";
import type { BudgetGuard } from "./budgets.ts";
import type { Admission, RateLimiter } from "./rate-limiter.ts";

/** Checks that run before any model work: key restrictions, budgets, rate limits. */
export interface RequestGate {
  /**
   * Admits a request for `requested` (the name the client used) served by `model`, reserving
   * `estimatedTokens` against TPM until the actual usage is known.
   */
  admit(principal: Principal, requested: string, model: ChatModel, estimatedTokens: number): Promise<Admission>;
}

/**
 * What every model request passes before any engine work: the key's model restriction, the
 * project's budget, and (when configured) its rate limits.
 */
export class PlatformGate implements RequestGate {
  readonly #budgets: BudgetGuard;
  readonly #limits: RateLimiter;

  constructor(budgets: BudgetGuard, limits: RateLimiter) {
    this.#budgets = budgets;
    this.#limits = limits;
  }

  async admit(principal: Principal, requested: string, model: ChatModel, estimatedTokens: number): Promise<Admission> {
    const span = startChildSpan("admission", SpanKind.INTERNAL, { "modelport.model": model.descriptor.id, "modelport.estimated_tokens": estimatedTokens });
    if (span === undefined) return this.#admit(principal, requested, model, estimatedTokens);
    try {
      const admission = await this.#admit(principal, requested, model, estimatedTokens);
      span.end();
      return admission;
    } catch (error) {
      endSpanFailed(span, error);
      throw error;
    }
  }

  async #admit(principal: Principal, requested: string, model: ChatModel, estimatedTokens: number): Promise<Admission> {
    if (principal.models !== null && !principal.models.includes(requested)) {
      throw new ApiError(403, `This API key is not allowed to use the model '${requested}'.`, {
        type: "permission_error",
        code: "model_not_allowed",
        param: "model",
      });
    }
    await this.#budgets.check(principal.projectId);
    return this.#limits.admit(principal, model.descriptor.id, estimatedTokens);
  }
}
