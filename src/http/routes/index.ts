import type { Config } from "../../config/schema.ts";
import type { BatchWorker } from "../../jobs/batch-worker.ts";
import type { AccessService } from "../../services/access.ts";
import type { BatchService } from "../../services/batch-service.ts";
import type { BudgetGuard } from "../../services/budgets.ts";
import type { ContainerService } from "../../services/container-service.ts";
import type { ModelEndpoints } from "../../services/endpoints/model-endpoints.ts";
import type { ModelRegistry } from "../../services/model-registry.ts";
import type { RequestGate } from "../../services/request-gate.ts";
import type { ResponsesService } from "../../services/responses-service.ts";
import type { VectorSearchService } from "../../services/vector-search-service.ts";
import type { VectorStoreService } from "../../services/vector-store-service.ts";
import type { BatchStore } from "../../storage/batch-store.ts";
import type { FileStore } from "../../storage/file-store.ts";
import type { ObjectStore } from "../../storage/object-store.ts";
import type { Storage } from "../../storage/storage.ts";
import type { UploadStore } from "../../storage/upload-store.ts";
import type { VectorStoreStore } from "../../storage/vector-store-store.ts";
import type { Route } from "../router.ts";
import type { AudioService } from "../../services/audio-service.ts";
import type { ImageService } from "../../services/image-service.ts";
import type { RequestStats } from "../../services/request-stats.ts";
import type { ServerStatusService } from "../../services/server-status.ts";
import { adminStatusRoutes } from "./v1/admin-status.ts";
import type { Guardrails } from "../../services/guardrails/guardrails.ts";
import type { ModerationService } from "../../services/moderation/moderation-service.ts";
import { guardrailRoutes } from "./v1/guardrails.ts";
import { moderationsHandler } from "./v1/moderations.ts";
import { healthHandler, readyHandler } from "./health.ts";
import { audioRoutes } from "./v1/audio.ts";
import { realtimeRoutes } from "./v1/realtime.ts";
import type { RealtimeSecrets } from "../../services/realtime-secrets.ts";
import { batchRoutes } from "./v1/batches.ts";
import { chatCompletionsHandler } from "./v1/chat-completions.ts";
import { completionsHandler } from "./v1/completions.ts";
import { containerRoutes } from "./v1/containers.ts";
import { conversationRoutes } from "./v1/conversations.ts";
import { embeddingsHandler } from "./v1/embeddings.ts";
import { fileRoutes } from "./v1/files.ts";
import { imageRoutes } from "./v1/images.ts";
import { getModelHandler, listModelsHandler } from "./v1/models.ts";
import { organizationRoutes } from "./v1/organization.ts";
import { responsesRoutes } from "./v1/responses.ts";
import { storedChatCompletionRoutes } from "./v1/stored-chat-completions.ts";
import { uploadRoutes } from "./v1/uploads.ts";
import { vectorStoreRoutes } from "./v1/vector-stores.ts";

/** Where the server is in its life, as `GET /ready` reports it. */
export type ServerState = "starting" | "ready" | "shutting_down";

/** Everything the routes are built from: the services the composition root made. */
export interface RouteDeps {
  config: Config;
  /** The server's current state, read on every `GET /ready`. */
  state: () => ServerState;
  storage: Storage;
  registry: ModelRegistry;
  access: AccessService;
  budgets: BudgetGuard;
  gate: RequestGate;
  endpoints: ModelEndpoints;
  objects: ObjectStore;
  files: FileStore;
  uploads: UploadStore;
  responses: ResponsesService;
  batchService: BatchService;
  batchStore: BatchStore;
  batchWorker: BatchWorker;
  vectorStores: VectorStoreStore;
  vectorStoreService: VectorStoreService;
  vectorSearch: VectorSearchService;
  audio: AudioService;
  images: ImageService;
  realtimeSecrets: RealtimeSecrets;
  containers: ContainerService;
  serverStatus: ServerStatusService;
  requestStats: RequestStats;
  moderation: ModerationService;
  guardrails: Guardrails;
}

/** The route table: every endpoint the server answers, in the order the router tries them. */
export function apiRoutes(deps: RouteDeps): Route[] {
  const { config, state, storage, registry, access, budgets, gate, endpoints, objects, files, uploads, responses, batchService, batchStore, batchWorker, vectorStores, vectorStoreService, vectorSearch, audio, images, realtimeSecrets, containers, serverStatus, requestStats, moderation, guardrails } = deps;
  return [
    { method: "GET", pattern: "/health", handler: healthHandler(registry) },
    { method: "GET", pattern: "/ready", handler: readyHandler(state) },
    { method: "GET", pattern: "/v1/models", handler: listModelsHandler(registry) },
    { method: "GET", pattern: "/v1/models/:model", handler: getModelHandler(registry) },
    { method: "POST", pattern: "/v1/chat/completions", handler: chatCompletionsHandler(endpoints.chatCompletions, gate, objects) },
    ...responsesRoutes({ service: responses, endpoint: endpoints.responses, relay: endpoints.responsesRelay, registry, gate }),
    ...batchRoutes({ service: batchService, store: batchStore, worker: batchWorker }),
    { method: "POST", pattern: "/v1/embeddings", handler: embeddingsHandler(endpoints.embeddings, gate) },
    { method: "POST", pattern: "/v1/completions", handler: completionsHandler(endpoints.completions, gate) },
    { method: "POST", pattern: "/v1/moderations", handler: moderationsHandler({ moderation, registry, relay: endpoints.moderations, gate }) },
    ...audioRoutes({ service: audio, gate }),
    ...imageRoutes({ service: images, gate }),
    ...realtimeRoutes({ secrets: realtimeSecrets, registry, transcriptionModel: config.audio.chatTranscriptionModel }),
    ...organizationRoutes({ storage, access, budgets }),
    ...adminStatusRoutes({ status: serverStatus, stats: requestStats, state }),
    ...guardrailRoutes({ storage, guardrails }),
    ...storedChatCompletionRoutes({ objects }),
    ...conversationRoutes({ objects }),
    ...fileRoutes({ files, maxBytes: config.files.maxBytes }),
    ...uploadRoutes({ uploads, files, maxBytes: config.files.maxBytes }),
    ...vectorStoreRoutes({ store: vectorStores, service: vectorStoreService, search: vectorSearch }),
    ...containerRoutes({ containers, maxBytes: config.files.maxBytes }),
  ];
}
