import { ApiError } from "../../../core/errors.ts";
import { randomId } from "../../../core/ids.ts";
import { countTokens } from "gpt-tokenizer";
import { DEFAULT_MODERATION_MODEL, parseModerationRequest, renderModeration } from "../../../protocol/openai/moderations.ts";
import type { RelayEndpoint } from "../../../services/endpoints/relay.ts";
import type { ModelRegistry } from "../../../services/model-registry.ts";
import type { ModerationService } from "../../../services/moderation/moderation-service.ts";
import type { RequestGate } from "../../../services/request-gate.ts";
import { sendJson } from "../../respond.ts";
import type { Handler } from "../../router.ts";
import { forwardHandler } from "./forward.ts";

/** What `POST /v1/moderations` needs. */
export interface ModerationsDeps {
  moderation: ModerationService;
  registry: ModelRegistry;
  relay: RelayEndpoint;
  gate: RequestGate;
}

/**
 * `POST /v1/moderations`: a name an upstream model has is relayed to it as before; the rule engine
 * and guard models answer the rest here (by default `omni-moderation-latest` and friends). Free, and
 * metered under its own usage page (`/v1/organization/usage/moderations`).
 */
export function moderationsHandler(deps: ModerationsDeps): Handler {
  const relay = forwardHandler(deps.relay, deps.gate);
  return async (ctx) => {
    const body = await ctx.readJson();
    const named = typeof body === "object" && body !== null && "model" in body ? (body as { model: unknown }).model : DEFAULT_MODERATION_MODEL;
    if (typeof named === "string" && deps.registry.has(named)) {
      // The relay reads the body again.
      ctx.readJson = () => Promise.resolve(body);
      return relay(ctx);
    }
    const request = parseModerationRequest(body);
    ctx.log.model = request.model;
    const allowed = ctx.principal.models;
    if (allowed !== null && !allowed.includes(request.model)) {
      throw new ApiError(403, `This API key is not allowed to use the model '${request.model}'.`, { type: "permission_error", code: "model_not_allowed", param: "model" });
    }
    const verdicts = await deps.moderation.moderate(request.model, request.items, ctx.signal);
    const promptTokens = request.items.reduce((n, item) => n + item.texts.reduce((m, t) => m + countTokens(t), 0), 0);
    ctx.metering = { model: request.model, usage: { promptTokens, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0 }, pricing: undefined, batch: false };
    sendJson(ctx.res, 200, renderModeration(`modr-${randomId(32)}`, request.model, verdicts));
  };
}
