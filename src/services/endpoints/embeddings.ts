import { emptyUsage } from "../../core/chat.ts";
import { parseEmbeddingRequest, renderEmbeddingResponse, type EmbeddingRequest } from "../../protocol/openai/embeddings.ts";
import type { ChatModel } from "../../providers/provider.ts";
import type { ModelRegistry } from "../model-registry.ts";
import type { Endpoint, EndpointAnswer, EndpointCall } from "./endpoint.ts";
import { computedModel, parseRelayRequest, type RelayEndpoint, type RelayRequest } from "./relay.ts";

/** An embeddings request: computed here (validated against the spec), or relayed to an upstream as is. */
export type EmbeddingsCall = { kind: "engine"; model: ChatModel; request: EmbeddingRequest } | { kind: "relay"; request: RelayRequest };

/** Tokens a request may use before the model has counted them: token ids exactly, text at about 4 characters a token. */
function estimate(inputs: readonly (string | readonly number[])[]): number {
  return inputs.reduce((sum, input) => sum + (typeof input === "string" ? Math.ceil(input.length / 4) : input.length), 0);
}

/**
 * `POST /v1/embeddings`. Models that embed here (local GGUF models) are validated against the spec
 * and metered by their prompt tokens; any other model goes to the relay, which forwards the body to
 * an upstream that has the endpoint or answers 400 `unsupported_endpoint`.
 */
export class EmbeddingsEndpoint implements Endpoint<EmbeddingsCall> {
  readonly #registry: ModelRegistry;
  readonly relay: RelayEndpoint;

  constructor(registry: ModelRegistry, relay: RelayEndpoint) {
    this.#registry = registry;
    this.relay = relay;
  }

  parse(body: unknown): EmbeddingsCall {
    const model = computedModel(this.#registry, body, (m) => m.capabilities.embeddings === "engine");
    if (model === undefined) return { kind: "relay", request: parseRelayRequest(body) };
    return { kind: "engine", model, request: parseEmbeddingRequest(body) };
  }

  async run(call: EndpointCall, parsed: EmbeddingsCall): Promise<EndpointAnswer> {
    if (parsed.kind === "relay") return this.relay.run(call, parsed.request);
    const { model, request } = parsed;
    await call.admit(request.model, model, estimate(request.inputs));
    call.served(model);
    const result = await model.embed(request.inputs, { dimensions: request.dimensions, priority: call.priority }, call.signal);
    call.usage({ ...emptyUsage(), promptTokens: result.promptTokens });
    return { kind: "json", status: 200, body: renderEmbeddingResponse(model.descriptor.id, result, request.encodingFormat) };
  }
}
