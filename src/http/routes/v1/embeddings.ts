import { invalidRequest } from "../../../core/errors.ts";
import { parseEmbeddingRequest, renderEmbeddingResponse } from "../../../protocol/openai/embeddings.ts";
import type { ModelRegistry } from "../../../services/model-registry.ts";
import { sendJson } from "../../respond.ts";
import type { Handler, Metering } from "../../router.ts";
import type { RequestGate } from "./chat-completions.ts";
import { forwardHandler } from "./forward.ts";

/** Tokens a request may use before the model has counted them: token ids exactly, text at about 4 characters a token. */
function estimate(inputs: readonly (string | readonly number[])[]): number {
  return inputs.reduce((sum, input) => sum + (typeof input === "string" ? Math.ceil(input.length / 4) : input.length), 0);
}

/**
 * `POST /v1/embeddings`. Models that embed here (local GGUF models) are validated against the
 * spec, admitted by the gate, run at interactive priority and metered by their prompt tokens; any
 * other model goes to the relay (`forwardHandler`), which forwards the body to an upstream that has
 * the endpoint or answers 400 `unsupported_endpoint`.
 */
export function embeddingsHandler(registry: ModelRegistry, gate: RequestGate): Handler {
  const relay = forwardHandler("/embeddings", registry, gate);
  return async (ctx) => {
    const body = await ctx.readJson();
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalidRequest("The request body must be a JSON object.", null, "invalid_type");
    const name = (body as { model?: unknown }).model;
    const model = typeof name === "string" && name !== "" ? registry.resolve(name) : undefined;
    if (model === undefined || model.capabilities.embeddings !== "engine") {
      // The relay reads the body again, and reports a missing or malformed model as it always has.
      ctx.readJson = () => Promise.resolve(body);
      return relay(ctx);
    }
    const request = parseEmbeddingRequest(body);
    ctx.log.model = request.model;
    ctx.log.stream = false;
    const admission = await gate.admit(ctx.principal, request.model, model, estimate(request.inputs));
    for (const [header, value] of Object.entries(admission.headers)) ctx.res.setHeader(header, value);
    const metering: Metering = { model: model.descriptor.id, usage: undefined, pricing: model.descriptor.pricing, batch: false };
    ctx.metering = metering;
    ctx.cleanups.push(() => admission.finish(metering.usage));
    const result = await model.embed(request.inputs, { dimensions: request.dimensions, priority: "interactive" }, ctx.signal);
    metering.usage = { promptTokens: result.promptTokens, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0 };
    ctx.log.prompt_tokens = result.promptTokens;
    ctx.log.inputs = request.inputs.length;
    sendJson(ctx.res, 200, renderEmbeddingResponse(model.descriptor.id, result, request.encodingFormat));
  };
}
