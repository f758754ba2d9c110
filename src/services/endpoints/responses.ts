import { estimateTokens } from "../../core/token-estimate.ts";
import { parseResponsesRequest } from "../../protocol/openai/responses-parse.ts";
import type { ResponsesRequest } from "../../protocol/openai/responses-types.ts";
import type { ResponseObject } from "../../protocol/openai/responses-render.ts";
import type { ModelRegistry } from "../model-registry.ts";
import type { ResponseRun, ResponsesService } from "../responses-service.ts";
import type { Endpoint, EndpointAnswer, EndpointCall } from "./endpoint.ts";

/**
 * `POST /v1/responses` run here (local engine, or an upstream bridged through chat), with state
 * stored per project. `start` resolves, prepares the turn, admits and starts it (the HTTP route
 * streams its events); `run` collects the final response object; `queue` starts a background
 * response.
 */
export class ResponsesEndpoint implements Endpoint<ResponsesRequest> {
  readonly #service: ResponsesService;
  readonly #registry: ModelRegistry;

  constructor(service: ResponsesService, registry: ModelRegistry) {
    this.#service = service;
    this.#registry = registry;
  }

  parse(body: unknown): ResponsesRequest {
    return parseResponsesRequest(body);
  }

  async start(call: EndpointCall, req: ResponsesRequest): Promise<ResponseRun> {
    const model = this.#registry.resolve(req.model);
    const turn = await this.#service.prepare(call.principal.projectId, req);
    await call.admit(req.model, model, estimateTokens(turn.chat));
    call.served(model);
    turn.chat = { ...turn.chat, priority: call.priority };
    const run = await this.#service.start(call.principal, turn, call.signal, (usage) => call.usage(usage));
    call.served(run.model);
    return run;
  }

  async run(call: EndpointCall, req: ResponsesRequest): Promise<EndpointAnswer> {
    const run = await this.start(call, req);
    for await (const _ of run.events) {
      // Collected by the builder; only the final object is answered.
    }
    return { kind: "json", status: 200, body: run.response() };
  }

  /** Admits and queues a background response (`background: true`); the job meters itself. */
  async queue(call: EndpointCall, req: ResponsesRequest, rawBody: unknown): Promise<ResponseObject> {
    const model = this.#registry.resolve(req.model);
    const turn = await this.#service.prepare(call.principal.projectId, req);
    await call.admit(req.model, model, estimateTokens(turn.chat));
    return this.#service.startBackground(call.principal, rawBody, turn);
  }
}
