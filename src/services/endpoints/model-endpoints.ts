import type { ChatService } from "../chat-service.ts";
import type { ModelRegistry } from "../model-registry.ts";
import type { ResponsesService } from "../responses-service.ts";
import type { BatchEndpoints } from "../batch-service.ts";
import { ChatCompletionsEndpoint } from "./chat-completions.ts";
import { EmbeddingsEndpoint } from "./embeddings.ts";
import { RelayEndpoint } from "./relay.ts";
import { ResponsesEndpoint } from "./responses.ts";

/** Every model endpoint, built once and shared by the HTTP routes and the batch worker. */
export interface ModelEndpoints {
  chatCompletions: ChatCompletionsEndpoint;
  responses: ResponsesEndpoint;
  /** `/v1/responses` relayed as is, for upstream models whose deployments have it. */
  responsesRelay: RelayEndpoint;
  embeddings: EmbeddingsEndpoint;
  completions: RelayEndpoint;
  moderations: RelayEndpoint;
}

/** Builds the model endpoints over the chat and Responses services. */
export function createModelEndpoints(deps: { chat: ChatService; responses: ResponsesService; registry: ModelRegistry; engineVersion: string }): ModelEndpoints {
  const { registry } = deps;
  return {
    chatCompletions: new ChatCompletionsEndpoint(deps.chat, deps.engineVersion),
    responses: new ResponsesEndpoint(deps.responses, registry),
    responsesRelay: new RelayEndpoint("/responses", registry),
    embeddings: new EmbeddingsEndpoint(registry, new RelayEndpoint("/embeddings", registry)),
    completions: new RelayEndpoint("/completions", registry),
    moderations: new RelayEndpoint("/moderations", registry),
  };
}

/** The endpoint each batch URL runs. */
export function batchEndpoints(e: ModelEndpoints): BatchEndpoints {
  return {
    "/v1/chat/completions": e.chatCompletions,
    "/v1/responses": e.responses,
    "/v1/embeddings": e.embeddings,
    "/v1/completions": e.completions,
    "/v1/moderations": e.moderations,
  };
}
