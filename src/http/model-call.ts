import type { ServerResponse } from "node:http";
import { priceUsage } from "../core/pricing.ts";
import type { EndpointAnswer, EndpointCall } from "../services/endpoints/endpoint.ts";
import type { RequestGate } from "../services/request-gate.ts";
import { sendJson } from "./respond.ts";
import type { Metering, RequestContext } from "./router.ts";

/**
 * The one seam between HTTP and the model endpoints: an `EndpointCall` for a request that admits it
 * through the gate (key restriction, budget, rate limits), sets the rate-limit headers, meters it
 * however it ends, and releases what admission reserved once the request is over. With
 * `metered: false` (a background response, which meters itself) only admission and release apply.
 */
export function modelCall(ctx: RequestContext, gate: RequestGate, options: { metered: boolean } = { metered: true }): EndpointCall {
  let metering: Metering | undefined;
  return {
    principal: ctx.principal,
    signal: ctx.signal,
    priority: "interactive",
    async admit(requested, model, estimatedTokens) {
      const admission = await gate.admit(ctx.principal, requested, model, estimatedTokens);
      for (const [name, value] of Object.entries(admission.headers)) ctx.res.setHeader(name, value);
      if (!options.metered) {
        ctx.cleanups.push(() => admission.finish(undefined));
        return;
      }
      const m: Metering = { model: model.descriptor.id, usage: undefined, pricing: model.descriptor.pricing, batch: false };
      metering = m;
      ctx.metering = m;
      ctx.cleanups.push(() => admission.finish(m.usage));
    },
    served(model) {
      if (metering === undefined) return;
      metering.model = model.descriptor.id;
      metering.pricing = model.descriptor.pricing;
    },
    usage(usage) {
      if (metering !== undefined) metering.usage = usage;
    },
  };
}

/**
 * Adds the request's token counts, and its cost when the serving model has prices, to its log line
 * (once the usage is known: at the end of a stream, with the prices of the model that served).
 */
export function logUsage(ctx: RequestContext): void {
  const metering = ctx.metering;
  if (metering?.usage === undefined) return;
  const { usage, pricing } = metering;
  ctx.log.prompt_tokens = usage.promptTokens;
  ctx.log.cached_tokens = usage.cachedTokens;
  ctx.log.completion_tokens = usage.completionTokens;
  ctx.log.reasoning_tokens = usage.reasoningTokens;
  if (pricing !== undefined) ctx.log.cost_usd = Number(priceUsage(usage, pricing).toFixed(8));
}

/** Sends an endpoint's answer: its JSON, or a relayed upstream's bytes with their own content type. */
export function sendAnswer(res: ServerResponse, answer: EndpointAnswer): void {
  if (answer.kind === "json") {
    sendJson(res, answer.status, answer.body);
    return;
  }
  res.writeHead(answer.status, { "content-type": answer.contentType, "content-length": answer.bytes.byteLength });
  res.end(answer.bytes);
}
