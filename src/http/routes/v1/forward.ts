import { ApiError } from "../../../core/errors.ts";
import { encodeSseJson } from "../../../core/sse.ts";
import { SseUsageScanner } from "../../../core/openai-usage.ts";
import { collectRelayed, type RelayEndpoint } from "../../../services/endpoints/relay.ts";
import type { RequestGate } from "../../../services/request-gate.ts";
import { modelCall, sendAnswer } from "../../model-call.ts";
import type { Handler, RequestContext } from "../../router.ts";

/**
 * `POST /v1{endpoint}` relayed to an upstream model's deployment as is: the key's model
 * restriction, budget and rate limits apply, the usage in the answer is metered, and the bytes reach
 * the client unchanged (a stream as it arrives). Models without the endpoint answer 400 `unsupported_endpoint`.
 */
export function forwardHandler(relay: RelayEndpoint, gate: RequestGate): Handler {
  return async (ctx) => {
    const request = relay.parse(await ctx.readJson());
    ctx.log.model = request.model;
    ctx.log.stream = request.stream;
    const call = modelCall(ctx, gate);
    const { model, answer } = await relay.start(call, request);
    ctx.log.deployment = answer.deployment;
    // A JSON answer, or one that is not a stream after all (an error body, say), is relayed whole.
    if (!request.stream || Array.isArray(answer.body)) {
      sendAnswer(ctx.res, await collectRelayed(call, answer));
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
      if (!ctx.res.destroyed) ctx.res.write(`\n\n${encodeSseJson(error.toJSON(), "error")}`);
    } finally {
      if (scanner.usage !== undefined) call.usage(scanner.usage);
      ctx.res.end();
    }
  };
}

/**
 * A handler for an endpoint that computes some models here and relays the rest: a body the
 * endpoint's `parse` gives to the relay goes to `forwardHandler` as it came (it may stream back);
 * any other goes to `local` with its parsed request.
 */
export function computedOrRelayed<P extends { kind: string }>(
  endpoint: { parse(body: unknown): P; relay: RelayEndpoint },
  gate: RequestGate,
  local: (ctx: RequestContext, parsed: Exclude<P, { kind: "relay" }>) => Promise<void>,
): Handler {
  const relay = forwardHandler(endpoint.relay, gate);
  return async (ctx) => {
    const body = await ctx.readJson();
    const parsed = endpoint.parse(body);
    if (parsed.kind === "relay") {
      // The relay reads the body again.
      ctx.readJson = () => Promise.resolve(body);
      return relay(ctx);
    }
    return local(ctx, parsed as Exclude<P, { kind: "relay" }>);
  };
}
