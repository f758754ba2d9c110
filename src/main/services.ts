import { FallbackLimitStore } from "../services/fallback-limit-store.ts";
import { join } from "node:path";
import { buildModeration, configuredPolicies } from "./moderation.ts";
import { Guardrails } from "../services/guardrails/guardrails.ts";
import type { ModerationService } from "../services/moderation/moderation-service.ts";
import { unixSeconds } from "../core/ids.ts";
import { RequestStats } from "../services/request-stats.ts";
import { ServerStatusService } from "../services/server-status.ts";
import type { Config } from "../config/schema.ts";
import type { CleanupStack } from "../core/cleanup-stack.ts";
import { BatchWorker } from "../jobs/batch-worker.ts";
import { IndexingWorker } from "../jobs/indexing-worker.ts";
import type { Logger } from "../logging/logger.ts";
import { AudioService } from "../services/audio-service.ts";
import { ChatAudio } from "../services/chat-audio.ts";
import { BatchService } from "../services/batch-service.ts";
import { BudgetGuard } from "../services/budgets.ts";
import { ChatService } from "../services/chat-service.ts";
import { ChatWebSearch } from "../services/chat-web-search.ts";
import { CodeInterpreterTool } from "../services/code-interpreter-tool.ts";
import { WebSearchTool } from "../services/web-search-tool.ts";
import { McpTool } from "../services/mcp-tool.ts";
import { ContainerService } from "../services/container-service.ts";
import { ImageService } from "../services/image-service.ts";
import { VERSION } from "../version.ts";
import { batchEndpoints, createModelEndpoints, type ModelEndpoints } from "../services/endpoints/model-endpoints.ts";
import type { ModelRegistry } from "../services/model-registry.ts";
import { RateLimiter } from "../services/rate-limiter.ts";
import { MemoryLimitStore, RedisLimitStore, type LimitStore } from "../services/rate-limits.ts";
import { PlatformGate } from "../services/request-gate.ts";
import { ResponsesService } from "../services/responses-service.ts";
import { UsageMeter } from "../services/usage-meter.ts";
import { RequestLog } from "../services/request-log.ts";
import { VectorSearchService } from "../services/vector-search-service.ts";
import { VectorStoreService } from "../services/vector-store-service.ts";
import { BatchStore } from "../storage/batch-store.ts";
import { ContainerStore } from "../storage/container-store.ts";
import { FileStore } from "../storage/file-store.ts";
import { ObjectStore } from "../storage/object-store.ts";
import type { Storage } from "../storage/storage.ts";
import { openBlobStore } from "../storage/open-blob-store.ts";
import { UploadStore } from "../storage/upload-store.ts";
import { UsageJournal } from "../storage/usage-journal.ts";
import { VectorStoreStore } from "../storage/vector-store-store.ts";

/** The stores, services and workers one server runs, built over its storage and models. */
export interface Services {
  objects: ObjectStore;
  files: FileStore;
  uploads: UploadStore;
  meter: UsageMeter;
  budgets: BudgetGuard;
  limiter: RateLimiter;
  gate: PlatformGate;
  chat: ChatService;
  /** Every model endpoint, shared by the routes and the batch worker. */
  endpoints: ModelEndpoints;
  vectorStores: VectorStoreStore;
  vectorSearch: VectorSearchService;
  indexer: IndexingWorker;
  vectorStoreService: VectorStoreService;
  responses: ResponsesService;
  batchStore: BatchStore;
  batchService: BatchService;
  batchWorker: BatchWorker;
  audio: AudioService;
  /** The Images API, relayed to upstreams that make images (and what the image_generation tool calls). */
  images: ImageService;
  /** Containers (the Containers API, and where the code interpreter runs code). */
  containers: ContainerService;
  /** The request log: recent requests, written in batches, swept by age and count. */
  requestLog: RequestLog;
  /** The admin status endpoint's reading of models, load, deployments and downloads. */
  serverStatus: ServerStatusService;
  /** Request, error and latency statistics over time, from the request log. */
  requestStats: RequestStats;
  /** Moderation models answered here (the rule engine, guard models). */
  moderation: ModerationService;
  /** Per-project guardrail policies and the checks they run. */
  guardrails: Guardrails;
}

/**
 * Builds the services. Nothing here starts work yet (workers start once the server listens); what
 * must be closed goes on `cleanup` in creation order, so shutdown closes the metering after the
 * background responses that still record usage.
 */
export function buildServices(
  config: Config,
  deps: { storage: Storage; registry: ModelRegistry; logger: Logger; cleanup: CleanupStack; limitStore?: LimitStore | undefined },
): Services {
  const { storage, registry, logger, cleanup } = deps;
  const objects = new ObjectStore(storage.db);
  const blobs = openBlobStore(config.blobs, { dataDir: config.dataDir, db: storage.db });
  // Deferred before the stores that use it, so it closes after them.
  cleanup.defer("blob store", () => blobs.close());
  const files = new FileStore(storage.db, blobs);
  const uploads = new UploadStore(storage.db, blobs);
  // Each record is journaled as it is made: a killed process's last records are written at the next start.
  const meter = new UsageMeter(storage, logger, { journal: config.usage.journal ? new UsageJournal(join(config.dataDir, "usage-journal")) : undefined });
  // Every request has finished by the time this runs: its usage goes to the database before exit.
  cleanup.defer("usage meter", () => meter.close());
  const requestLog = new RequestLog(storage.requestLog, config.requestLog, logger);
  // Like the meter: every request has finished by the time this runs, so its row is written before exit.
  cleanup.defer("request log", () => requestLog.close());
  const budgets = new BudgetGuard(storage, meter, logger);
  // Exact across processes with Redis; across one server's workers through its engine host; else within this process.
  const limitStore = config.redisUrl ? new FallbackLimitStore(new RedisLimitStore(config.redisUrl), new MemoryLimitStore(), logger) : (deps.limitStore ?? new MemoryLimitStore());
  const limiter = new RateLimiter(storage, limitStore, config.rateLimits.defaultTier);
  cleanup.defer("rate limiter", () => limiter.close());
  const moderation = buildModeration(config, registry);
  const guardrails = new Guardrails(storage.guardrails, configuredPolicies(config), moderation);
  const chat = new ChatService(registry, guardrails);
  const gate = new PlatformGate(budgets, limiter);
  const vectorStores = new VectorStoreStore(storage.db);
  const vectorSearch = new VectorSearchService(vectorStores, registry);
  const indexer = new IndexingWorker({ store: vectorStores, files, registry, logger, concurrency: config.vectorStores.indexingConcurrency, leaseMs: config.jobLeaseMs });
  const vectorStoreService = new VectorStoreService({ store: vectorStores, files, registry, embeddingModel: config.vectorStores.embeddingModel, onQueued: () => indexer.poke() });
  const containers = new ContainerService({ store: new ContainerStore(storage.db, config.dataDir), files, dataDir: config.dataDir, maxBytes: config.files.maxBytes });
  const ci = config.codeInterpreter;
  const codeInterpreter = new CodeInterpreterTool(containers, {
    enabled: ci.enabled,
    limits: { cpuSeconds: ci.cpuSeconds, callSeconds: ci.callSeconds, processes: ci.processes, openFiles: ci.openFiles, fileSizeBytes: ci.fileSizeMiB * 2 ** 20, logBytes: ci.logBytes },
    maxMemoryBytes: ci.maxMemoryMiB * 2 ** 20,
    maxCallsPerResponse: ci.maxCallsPerResponse,
    idleSessionSeconds: ci.idleSessionSeconds,
    sessionPriceUsd: ci.sessionPriceUsd,
  });
  cleanup.defer("code interpreter sessions", () => codeInterpreter.dispose());
  const ws = config.webSearch;
  const webSearch = new WebSearchTool({
    backend:
      ws.backend === undefined
        ? undefined
        : { backend: ws.backend, baseUrl: ws.baseUrl, apiKey: ws.apiKeyEnv === undefined ? undefined : process.env[ws.apiKeyEnv], json: ws.json },
    policy: { allowPrivate: ws.allowPrivate, timeoutMs: ws.fetchTimeoutMs, maxBytes: ws.maxPageBytes, maxRedirects: ws.maxRedirects },
    maxResults: ws.maxResults,
    pricePerCallUsd: ws.pricePerCallUsd,
  });
  const images = new ImageService({ registry, gate, meter });
  const responses = new ResponsesService(objects, chat, meter, logger, { search: vectorSearch, codeInterpreter, webSearch, mcp: new McpTool(config.mcp), images, maxToolCalls: ci.maxCallsPerResponse });
  // Unfinished background responses stay queued in storage and resume at the next start.
  cleanup.defer("background responses", () => responses.close());
  const batchStore = new BatchStore(storage.db);
  const audio = new AudioService(registry);
  const chatAudio = new ChatAudio(audio, { speechModel: config.audio.chatSpeechModel, transcriptionModel: config.audio.chatTranscriptionModel, retentionSeconds: 3600 });
  // `web_search_options` in Chat Completions searches through the same tool; refused without an engine.
  const chatWebSearch = ws.backend === undefined ? undefined : new ChatWebSearch(webSearch, meter);
  const endpoints = createModelEndpoints({ chat, responses, registry, engineVersion: VERSION, chatAudio, chatWebSearch, guardrails });
  const batchService = new BatchService({ batches: batchStore, files, registry, endpoints: batchEndpoints(endpoints), maxRequests: config.batches.maxRequests });
  const batchWorker = new BatchWorker({ store: batchStore, service: batchService, logger, concurrency: config.batches.concurrency, leaseMs: config.jobLeaseMs });
  return { objects, files, uploads, meter, budgets, limiter, gate, chat, endpoints, vectorStores, vectorSearch, indexer, vectorStoreService, responses, batchStore, batchService, batchWorker, audio, images, containers, requestLog,
    serverStatus: new ServerStatusService(registry, config.modelsDir, unixSeconds()),
    requestStats: new RequestStats(storage.requestLog, config.requestLog.maxRows),
    moderation,
    guardrails,
  };
}

/**
 * Starts the background work once the server listens: the hourly expiry and leftover sweep of files and uploads,
 * the batch and indexing workers, and background responses a previous process left unfinished.
 * `soleProcess` (SQLite) lets the workers requeue at once what a previous process held.
 */
export async function startWorkers(services: Services, deps: { soleProcess: boolean; logger: Logger; cleanup: CleanupStack }): Promise<void> {
  const { files, uploads, batchWorker, indexer, responses, containers } = services;
  const { logger, cleanup } = deps;
  // Expired files and uploads go now and hourly, then what a crashed process left (unfinished puts,
  // bytes without a record, an hour old or more); a sweep still running at shutdown is awaited.
  let sweeping: Promise<unknown> = Promise.resolve();
  const sweep = (): void => {
    sweeping = Promise.all([files.sweep(), uploads.sweep()])
      .then(() => Promise.all([files.sweepLeftovers(), uploads.sweepLeftovers()]))
      .catch((error: unknown) => logger.error("expiry sweep failed", { error: (error as Error).message }));
  };
  sweep();
  const sweepTimer = setInterval(sweep, 3_600_000).unref();
  cleanup.defer("expiry sweep", async () => {
    clearInterval(sweepTimer);
    await sweeping;
  });
  // Containers expire minutes after their last activity: their files go within a minute of it.
  let sweepingContainers: Promise<unknown> = Promise.resolve();
  const containerTimer = setInterval(() => {
    sweepingContainers = containers.sweepExpired().catch((error: unknown) => logger.error("container expiry sweep failed", { error: (error as Error).message }));
  }, 60_000).unref();
  cleanup.defer("container expiry sweep", async () => {
    clearInterval(containerTimer);
    await sweepingContainers;
  });
  // The request log is trimmed by age and count now and every ten minutes.
  cleanup.defer("request log sweep", services.requestLog.startSweeping(600_000));
  // Requests they abort go back to the queue, so the next start resumes them.
  cleanup.defer("batch worker", () => batchWorker.stop());
  await batchWorker.start(deps.soleProcess);
  cleanup.defer("indexing worker", () => indexer.stop());
  await indexer.start(deps.soleProcess);
  const resumed = await responses.resumePending();
  if (resumed > 0) logger.info("resumed background responses", { count: resumed });
}
