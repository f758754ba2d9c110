import { countTokens } from "gpt-tokenizer";
import { DEFAULT_OUTPUT_ESTIMATE } from "../../../core/token-estimate.ts";
import { ApiError, invalidRequest } from "../../../core/errors.ts";
import type { ForwardEndpoint } from "../../../providers/provider.ts";
import { SseUsageScanner, usageOfJson } from "../../../protocol/openai/usage-scan.ts";
import type { ModelRegistry } from "../../../services/model-registry.ts";
import type { Handler, Metering } from "../../router.ts";
import type { RequestGate } from "./chat-completions.ts";

/** Tokens a forwarded request may use: its input by the o200k tokenizer, plus the output it may produce. */
function estimate(endpoint: ForwardEndpoint, body: Readonly<Record<string, unknown>>): number {
  const input = body.input ?? body.prompt ?? "";
  const text = typeof input === "string" ? input : JSON.stringify(input);
  const instructions = typeof body.instructions === "string" ? countTokens(body.instructions) : 0;
  if (endpoint === "/embeddings" || endpoint === "/moderations") return countTokens(text);
  const max = typeof body.max_output_tokens === "number" ? body.max_output_tokens : typeof body.max_tokens === "number" ? body.max_tokens : DEFAULT_OUTPUT_ESTIMATE;
  return countTokens(text) + instructions + max;
}

/**
 * `POST /v1{endpoint}` relayed to an upstream model's deployment as is: the key's model
 * restriction, budget and rate limits apply, the usage in the answer is metered, and the bytes reach
 * the client unchanged. Models without the endpoint answer 400 `unsupported_endpoint`.
 */
export function forwardHandler(endpoint: ForwardEndpoint, registry: ModelRegistry, gate: RequestGate): Handler {
  return async (ctx) => {
    const raw = await ctx.readJson();
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw invalidRequest("The request body must be a JSON object.", null, "invalid_type");
    const body = raw as Record<string, unknown>;
    if (body.model === undefined) throw invalidRequest("Missing required parameter: 'model'.", "model", "missing_required_parameter");
    if (typeof body.model !== "string" || body.model === "") throw invalidRequest("Invalid type for 'model': expected a non-empty string.", "model", "invalid_type");
    const stream = body.stream === true;
    ctx.log.model = body.model;
    ctx.log.stream = stream;
    const model = registry.resolve(body.model);
    if (!model.capabilities.forwards.has(endpoint)) {
      throw new ApiError(400, `The model '${model.descriptor.id}' does not support /v1${endpoint} on this server yet.`, { type: "invalid_request_error", code: "unsupported_endpoint", param: "model" });
    }
    const admission = await gate.admit(ctx.principal, body.model, model, estimate(endpoint, body));
    for (const [name, value] of Object.entries(admission.headers)) ctx.res.setHeader(name, value);
    const metering: Metering = { model: model.descriptor.id, usage: undefined, pricing: model.descriptor.pricing, batch: false };
    ctx.metering = metering;
    ctx.cleanups.push(() => admission.finish(metering.usage));

    const answer = await model.forward(endpoint, body, ctx.signal);
    ctx.log.deployment = answer.deployment;
    if (!stream || Array.isArray(answer.body)) {
      const chunks = answer.body as readonly Uint8Array[];
      const bytes = Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
      metering.usage = usageOfJson(bytes.toString("utf8"));
      ctx.res.writeHead(answer.status, { "content-type": answer.contentType, "content-length": bytes.byteLength });
      ctx.res.end(bytes);
      return;
    }
    ctx.res.writeHead(answer.status, { "content-type": answer.contentType, "cache-control": "no-cache", "x-accel-buffering": "no" });
    const scanner = new SseUsageScanner();
    try {
      for await (const chunk of answer.body) {
        scanner.push(chunk);
        if (!ctx.res.write(chunk)) await new Promise<void>((resolve) => ctx.res.once("drain", resolve).once("close", resolve));
        if (ctx.res.destroyed) break;
      }
    } catch {
      // The upstream broke off mid-stream: OpenAI's clients read an error object in a data frame.
      const error = new ApiError(502, `The upstream of '${model.descriptor.id}' failed mid-stream.`, { type: "server_error", code: "upstream_error" });
      if (!ctx.res.destroyed) ctx.res.write(`\n\nevent: error\ndata: ${JSON.stringify(error.toJSON())}\n\n`);
    } finally {
      metering.usage = scanner.usage;
      ctx.res.end();
    }
  };
}
