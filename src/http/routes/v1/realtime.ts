import { invalidRequest } from "../../../core/errors.ts";
import { applySessionUpdate, defaultRealtimeConfig, renderSession } from "../../../protocol/openai/realtime.ts";
import { FieldReader } from "../../../protocol/openai/validate.ts";
import type { ModelRegistry } from "../../../services/model-registry.ts";
import type { RealtimeSecrets } from "../../../services/realtime-secrets.ts";
import { prefixedId } from "../../../core/ids.ts";
import { sendJson } from "../../respond.ts";
import type { Route } from "../../router.ts";

/** `POST /v1/realtime/client_secrets`: an ephemeral key for one model and session configuration. */
/** `transcriptionModel` serves `type: "transcription"` sessions, which name no model. */
export function realtimeRoutes(deps: { secrets: RealtimeSecrets; registry: ModelRegistry; transcriptionModel: string }): Route[] {
  return [
    {
      method: "POST",
      pattern: "/v1/realtime/client_secrets",
      handler: async (ctx) => {
        const body = new FieldReader(await ctx.readJson(), "");
        body.rejectUnknown(new Set(["expires_after", "session"]));
        let seconds = 600;
        const expires = body.object("expires_after");
        if (expires !== undefined) {
          expires.rejectUnknown(new Set(["anchor", "seconds"]));
          expires.enumeration("anchor", ["created_at"] as const);
          seconds = expires.number("seconds", { integer: true, min: 10, max: 7200 }) ?? 600;
        }
        const session = body.object("session") ?? new FieldReader({ type: "realtime" }, "session");
        const config = applySessionUpdate(defaultRealtimeConfig(), session, false);
        const model = config.type === "transcription" ? deps.transcriptionModel : (session.string("model", { required: true, nonEmpty: true }) as string);
        const served = deps.registry.resolve(model);
        if (ctx.principal.models !== null && !ctx.principal.models.includes(model)) {
          throw invalidRequest(`This API key is not allowed to use the model '${model}'.`, "session.model", "model_not_allowed");
        }
        const { value, expiresAt } = deps.secrets.create({ principal: ctx.principal, model, config }, seconds);
        sendJson(ctx.res, 200, { value, expires_at: expiresAt, session: renderSession(prefixedId("sess_", 24), served.descriptor.id, expiresAt, config) });
      },
    },
  ];
}
