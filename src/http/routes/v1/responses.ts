import { ApiError } from "../../../core/errors.ts";
import { encodeSseJson } from "../../../core/sse.ts";
import { parseResponsesRequest } from "../../../protocol/openai/responses-parse.ts";
import type { ResponsesRequest } from "../../../protocol/openai/responses-types.ts";
import { renderDeleted } from "../../../protocol/openai/deleted.ts";
import { renderList } from "../../../protocol/openai/lists.ts";
import { applyResponseInclude, renderInputTokens, type ResponseObject } from "../../../protocol/openai/responses-render.ts";
import type { ModelRegistry } from "../../../services/model-registry.ts";
import type { ResponsesService, StoredItemValue } from "../../../services/responses-service.ts";
import { sendJson } from "../../respond.ts";
import type { Handler, Route } from "../../router.ts";
import { openEventStream } from "../../sse-writer.ts";
import type { RequestGate } from "../../../services/request-gate.ts";
import type { ResponsesEndpoint } from "../../../services/endpoints/responses.ts";
import { relays, type RelayEndpoint } from "../../../services/endpoints/relay.ts";
import { modelCall, sendAnswer } from "../../model-call.ts";
import { forwardHandler } from "./forward.ts";
import { readInclude, readPageQuery } from "./paging.ts";


/** Whether a body asks for the `file_search` tool, which searches this server's vector stores. */
function usesFileSearch(body: Readonly<Record<string, unknown>>): boolean {
  return Array.isArray(body.tools) && body.tools.some((tool: unknown) => typeof tool === "object" && tool !== null && (tool as { type?: unknown }).type === "file_search");
}

/**
 * `POST /v1/responses`: upstream models whose deployments speak Responses get the request as is,
 * unless it uses `file_search` (the upstream knows nothing of this server's vector stores); every
 * other request (the local engine, Anthropic) runs here, bridged through chat, with state stored
 * per project.
 */
function createHandler(endpoint: ResponsesEndpoint, relay: RelayEndpoint, registry: ModelRegistry, gate: RequestGate): Handler {
  const relayHandler = forwardHandler(relay, gate);
  return async (ctx) => {
    const body = await ctx.readJson();
    const fields = typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
    const model = fields?.model;
    if (fields !== undefined && typeof model === "string" && !usesFileSearch(fields) && registry.has(model) && relays(registry.resolve(model), "/responses")) {
      // The same context (metering and cleanups are set on it), with the body already read.
      ctx.readJson = () => Promise.resolve(body);
      return relayHandler(ctx);
    }
    const req = endpoint.parse(body);
    ctx.log.model = req.model;
    ctx.log.stream = req.stream;
    if (req.background) {
      // The job meters itself; this request only queued it.
      sendJson(ctx.res, 200, await endpoint.queue(modelCall(ctx, gate, { metered: false }), req, body));
      return;
    }
    const call = modelCall(ctx, gate);
    if (!req.stream) {
      sendAnswer(ctx.res, await endpoint.run(call, req));
      return;
    }
    const run = await endpoint.start(call, req);
    const writer = openEventStream(ctx.res);
    try {
      for await (const event of run.events) {
        if (!(await writer.write(encodeSseJson(event, event.type)))) break;
      }
    } finally {
      await run.events.return(undefined);
      await writer.end();
    }
  };
}

function storedBody(raw: string): ResponseObject {
  return JSON.parse(raw) as ResponseObject;
}

/** The Responses API's routes. */
export function responsesRoutes(deps: { service: ResponsesService; endpoint: ResponsesEndpoint; relay: RelayEndpoint; registry: ModelRegistry; gate: RequestGate }): Route[] {
  const { service, registry } = deps;
  return [
    { method: "POST", pattern: "/v1/responses", handler: createHandler(deps.endpoint, deps.relay, registry, deps.gate) },
    {
      method: "POST",
      pattern: "/v1/responses/input_tokens",
      handler: async (ctx) => {
        const body = await ctx.readJson();
        const req: ResponsesRequest = parseResponsesRequest(body);
        const model = registry.resolve(req.model);
        const turn = await service.prepare(ctx.principal.projectId, req);
        const tokens = await model.countPromptTokens(turn.chat);
        sendJson(ctx.res, 200, renderInputTokens(tokens));
      },
    },
    {
      method: "GET",
      pattern: "/v1/responses/:id",
      handler: async (ctx) => {
        if (ctx.query.get("stream") === "true") throw new ApiError(400, "Replaying a stored response as a stream is not supported; retrieve it without 'stream'.", { type: "invalid_request_error", param: "stream", code: "unsupported_parameter" });
        const include = readInclude(ctx.query);
        const stored = await service.get(ctx.principal.projectId, ctx.params.id ?? "");
        sendJson(ctx.res, 200, applyResponseInclude(storedBody(stored.body), include));
      },
    },
    {
      method: "DELETE",
      pattern: "/v1/responses/:id",
      handler: async (ctx) => {
        const id = ctx.params.id ?? "";
        await service.delete(ctx.principal.projectId, id);
        sendJson(ctx.res, 200, renderDeleted(id, "response"));
      },
    },
    {
      method: "POST",
      pattern: "/v1/responses/:id/cancel",
      handler: async (ctx) => {
        sendJson(ctx.res, 200, await service.cancel(ctx.principal.projectId, ctx.params.id ?? ""));
      },
    },
    {
      method: "GET",
      pattern: "/v1/responses/:id/input_items",
      handler: async (ctx) => {
        const page = readPageQuery(ctx.query, "desc");
        readInclude(ctx.query);
        const stored = await service.get(ctx.principal.projectId, ctx.params.id ?? "");
        let items = JSON.parse(stored.inputItems) as StoredItemValue[];
        if (page.order === "desc") items = [...items].reverse();
        if (page.after !== undefined) {
          const at = items.findIndex((i) => i.id === page.after);
          items = at < 0 ? [] : items.slice(at + 1);
        }
        const data = items.slice(0, page.limit);
        sendJson(ctx.res, 200, renderList(data, items.length > page.limit));
      },
    },
  ];
}
