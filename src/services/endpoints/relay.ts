import { countTokens } from "gpt-tokenizer";
import { invalidRequest } from "../../core/errors.ts";
import { DEFAULT_OUTPUT_ESTIMATE } from "../../core/token-estimate.ts";
import { usageOfJson } from "../../core/openai-usage.ts";
import { unsupportedEndpoint, type ChatModel, type ForwardedResponse, type ForwardEndpoint } from "../../providers/provider.ts";
import type { ModelRegistry } from "../model-registry.ts";
import type { Endpoint, EndpointAnswer, EndpointCall } from "./endpoint.ts";

/** A body to relay: a JSON object naming its model, otherwise untouched. */
export interface RelayRequest {
  model: string;
  stream: boolean;
  body: Readonly<Record<string, unknown>>;
}

/** A relayed request whose upstream has answered (for a stream: sent its status line). */
export interface StartedRelay {
  model: ChatModel;
  answer: ForwardedResponse;
}

/** Tokens a relayed request may use: its input by the o200k tokenizer, plus the output it may produce. */
function estimate(endpoint: ForwardEndpoint, body: Readonly<Record<string, unknown>>): number {
  const input = body.input ?? body.prompt ?? "";
  const text = typeof input === "string" ? input : JSON.stringify(input);
  const instructions = typeof body.instructions === "string" ? countTokens(body.instructions) : 0;
  if (endpoint === "/embeddings" || endpoint === "/moderations") return countTokens(text);
  const max = typeof body.max_output_tokens === "number" ? body.max_output_tokens : typeof body.max_tokens === "number" ? body.max_tokens : DEFAULT_OUTPUT_ESTIMATE;
  return countTokens(text) + instructions + max;
}

/** Whether `model` relays `endpoint` to an upstream that has it. */
export function relays(model: ChatModel, endpoint: ForwardEndpoint): boolean {
  return model.capabilities.forwards.has(endpoint);
}

/**
 * For endpoints that compute some models here and relay the rest: the model a body names when
 * `computes` says it is one of those, else undefined (the body then goes to the relay, which
 * reports a missing or malformed model as it always has). A non-object body is a 400 here.
 */
export function computedModel(registry: ModelRegistry, body: unknown, computes: (model: ChatModel) => boolean): ChatModel | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalidRequest("The request body must be a JSON object.", null, "invalid_type");
  const name = (body as { model?: unknown }).model;
  const model = typeof name === "string" && name !== "" ? registry.resolve(name) : undefined;
  return model !== undefined && computes(model) ? model : undefined;
}

/** Reads a relay body: a JSON object with a non-empty string `model`; everything else is the upstream's to judge. */
export function parseRelayRequest(raw: unknown): RelayRequest {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw invalidRequest("The request body must be a JSON object.", null, "invalid_type");
  const body = raw as Record<string, unknown>;
  if (body.model === undefined) throw invalidRequest("Missing required parameter: 'model'.", "model", "missing_required_parameter");
  if (typeof body.model !== "string" || body.model === "") throw invalidRequest("Invalid type for 'model': expected a non-empty string.", "model", "invalid_type");
  return { model: body.model, stream: body.stream === true, body };
}

/**
 * `POST /v1{endpoint}` relayed as is to an upstream model's deployment that has the endpoint: the
 * caller's admission applies, the usage in the answer is metered, and the bytes reach the client
 * unchanged. Models without the endpoint answer 400 `unsupported_endpoint`.
 */
export class RelayEndpoint implements Endpoint<RelayRequest> {
  readonly endpoint: ForwardEndpoint;
  readonly #registry: ModelRegistry;

  constructor(endpoint: ForwardEndpoint, registry: ModelRegistry) {
    this.endpoint = endpoint;
    this.#registry = registry;
  }

  parse(body: unknown): RelayRequest {
    return parseRelayRequest(body);
  }

  /** Resolves, admits and sends the request; a stream's body is left for the caller to relay. */
  async start(call: EndpointCall, request: RelayRequest): Promise<StartedRelay> {
    const model = this.#registry.resolve(request.model);
    if (!relays(model, this.endpoint)) throw unsupportedEndpoint(model.descriptor.id, this.endpoint);
    await call.admit(request.model, model, estimate(this.endpoint, request.body));
    call.served(model);
    return { model, answer: await model.forward(this.endpoint, request.body, call.signal) };
  }

  async run(call: EndpointCall, request: RelayRequest): Promise<EndpointAnswer> {
    return collectRelayed(call, (await this.start(call, request)).answer);
  }
}

/** Reads a relayed answer whole and meters the usage it reports. */
export async function collectRelayed(call: EndpointCall, answer: ForwardedResponse): Promise<EndpointAnswer> {
  const chunks: Buffer[] = [];
  for await (const c of answer.body) chunks.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  const bytes = Buffer.concat(chunks);
  const usage = usageOfJson(bytes.toString("utf8"));
  if (usage !== undefined) call.usage(usage);
  return { kind: "bytes", status: answer.status, contentType: answer.contentType, bytes, deployment: answer.deployment };
}
