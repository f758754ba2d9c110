import { mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ConfigError } from "./config/load.ts";
import type { Config } from "./config/schema.ts";
import { createApp, type App } from "./http/app.ts";
import { healthHandler, readyHandler } from "./http/routes/health.ts";
import { chatCompletionsHandler } from "./http/routes/v1/chat-completions.ts";
import { getModelHandler, listModelsHandler } from "./http/routes/v1/models.ts";
import type { Route } from "./http/router.ts";
import type { Logger } from "./logging/logger.ts";
import { resolvePullTarget } from "./models/catalogue.ts";
import { collectModels, type ModelEntry } from "./models/discover.ts";
import { PullError, pullModel, type PullProgress } from "./models/pull.ts";
import { LocalEngine } from "./providers/local/engine.ts";
import { ChatService } from "./services/chat-service.ts";
import { ModelRegistry } from "./services/model-registry.ts";
import { organizationRoutes } from "./http/routes/v1/organization.ts";
import { conversationRoutes } from "./http/routes/v1/conversations.ts";
import { storedChatCompletionRoutes } from "./http/routes/v1/stored-chat-completions.ts";
import { AccessService } from "./services/access.ts";
import { BudgetGuard } from "./services/budgets.ts";
import { PlatformGate } from "./services/request-gate.ts";
import { forwardHandler } from "./http/routes/v1/forward.ts";
import { embeddingsHandler } from "./http/routes/v1/embeddings.ts";
import { responsesRoutes } from "./http/routes/v1/responses.ts";
import { ResponsesService } from "./services/responses-service.ts";
import { batchEndpoints, createModelEndpoints } from "./services/endpoints/model-endpoints.ts";
import { BatchService } from "./services/batch-service.ts";
import { BatchStore } from "./storage/batch-store.ts";
import { BatchWorker } from "./jobs/batch-worker.ts";
import { batchRoutes } from "./http/routes/v1/batches.ts";
import { RateLimiter } from "./services/rate-limiter.ts";
import { MemoryLimitStore, RedisLimitStore } from "./services/rate-limits.ts";
import { UsageMeter } from "./services/usage-meter.ts";
import { openStorage } from "./storage/open.ts";
import { openAiPrice } from "./core/pricing.ts";
import { unixSeconds } from "./core/ids.ts";
import type { Deployment } from "./providers/upstream/deployment.ts";
import { anthropicAdapter } from "./providers/anthropic/adapter.ts";
import { azureOpenAiAdapter, openAiCompatibleAdapter } from "./providers/openai-compatible/adapter.ts";
import { RoutedChatModel } from "./providers/upstream/routed-model.ts";
import type { Storage } from "./storage/storage.ts";
import { ObjectStore } from "./storage/object-store.ts";
import { FileStore } from "./storage/file-store.ts";
import { UploadStore } from "./storage/upload-store.ts";
import { fileRoutes } from "./http/routes/v1/files.ts";
import { uploadRoutes } from "./http/routes/v1/uploads.ts";
import { VERSION } from "./version.ts";
import { VectorStoreStore } from "./storage/vector-store-store.ts";
import { VectorSearchService } from "./services/vector-search-service.ts";
import { VectorStoreService } from "./services/vector-store-service.ts";
import { IndexingWorker } from "./jobs/indexing-worker.ts";
import { vectorStoreRoutes } from "./http/routes/v1/vector-stores.ts";

/** A listening server and the way to stop it. */
export interface RunningServer {
  url: string;
  port: number;
  registry: ModelRegistry;
  storage: Storage;
  /** Responses, conversations and stored chat completions. */
  objects: ObjectStore;
  files: FileStore;
  /** Hybrid search over vector stores (tests compare its keyword-only and vector-only rankings). */
  vectorSearch: VectorSearchService;
  meter: UsageMeter;
  app: App;
  /** Stops accepting, lets in-flight requests finish (up to the shutdown timeout), frees the engine. */
  close(): Promise<void>;
}

/** Hooks the CLI uses to show progress; tests leave them out. */
export interface StartHooks {
  onPullProgress?: (progress: PullProgress) => void;
}

/** Whether a bind address only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

async function ensureModels(config: Config, logger: Logger, hooks: StartHooks): Promise<ModelEntry[]> {
  const found = collectModels(config);
  // A gateway in front of upstreams needs no local model.
  if (found.length > 0 || !config.pull.autoPull || config.upstreams.models.length > 0) {
    if (found.length === 0 && config.upstreams.models.length === 0) {
      throw new ConfigError(
        `No models to serve: ${config.modelsDir} has no .gguf files and auto-pull is off. ` +
          "Put a GGUF file there, run `modelport serve --model /path/to/model.gguf`, or run `modelport pull <name>`.",
      );
    }
    return found;
  }
  const target = resolvePullTarget(config.pull.defaultModel);
  if (target === undefined) throw new ConfigError(`Unknown default model '${config.pull.defaultModel}'.`);
  logger.info("no models found; pulling the default model", { model: config.pull.defaultModel, endpoint: config.pull.endpoint });
  try {
    await pullModel(target, {
      endpoint: config.pull.endpoint,
      modelsDir: config.modelsDir,
      token: process.env.HF_TOKEN,
      ...(hooks.onPullProgress ? { onProgress: hooks.onPullProgress } : {}),
    });
  } catch (error) {
    const reason = error instanceof PullError ? error.message : (error as Error).message;
    throw new ConfigError(
      `No models in ${config.modelsDir}, and the default model '${config.pull.defaultModel}' could not be downloaded from ${config.pull.endpoint}: ${reason}\n` +
        "To serve a GGUF file you already have, copy it into the models directory, or run `modelport serve --model /path/to/model.gguf` " +
        "(or set MODELPORT_MODELS_DIR to a directory of .gguf files). Set MODELPORT_HF_ENDPOINT to use a mirror.",
    );
  }
  return collectModels(config);
}

/** Each provider's wire format. */
const ADAPTERS = { "openai-compatible": openAiCompatibleAdapter, "azure-openai": azureOpenAiAdapter, anthropic: anthropicAdapter } as const;

/** Registers each configured upstream model, routed over its deployments. */
function addUpstreamModels(config: Config, registry: ModelRegistry): void {
  const byId = new Map(config.upstreams.deployments.map((d) => [d.id, d]));
  for (const m of config.upstreams.models) {
    const deployments: Deployment[] = m.deployments.map((id) => {
      const d = byId.get(id);
      if (d === undefined) throw new ConfigError(`Upstream model '${m.name}' names an unknown deployment '${id}'.`);
      const apiKey = d.apiKeyEnv === undefined ? undefined : process.env[d.apiKeyEnv];
      if (d.apiKeyEnv !== undefined && !apiKey) throw new ConfigError(`Deployment '${d.id}' takes its API key from ${d.apiKeyEnv}, which is not set.`);
      return {
        id: d.id,
        adapter: ADAPTERS[d.provider],
        apiVersion: d.apiVersion,
        baseUrl: d.baseUrl,
        apiKey,
        model: d.model,
        weight: d.weight,
        timeoutMs: d.timeoutMs,
        unsupportedParams: new Set(d.unsupportedParams),
        dropUnsupportedParams: d.dropUnsupportedParams,
        rpm: d.rpm,
        tpm: d.tpm,
        defaultMaxTokens: d.maxTokens,
      };
    });
    const first = deployments[0] as Deployment;
    const pricing = m.pricing ? { input: m.pricing.input, output: m.pricing.output, cachedInput: m.pricing.cachedInput ?? m.pricing.input / 2 } : openAiPrice(first.model);
    const resolveAll = (names: readonly string[]) => () => names.map((n) => registry.resolve(n));
    registry.add(
      new RoutedChatModel(
        { id: m.name, aliases: m.aliases, created: unixSeconds(), ownedBy: "upstream", pricing },
        deployments,
        {
          maxRetries: m.maxRetries,
          deadlineMs: m.deadlineMs,
          breakerThreshold: m.breakerThreshold,
          breakerCooldownMs: m.breakerCooldownMs,
          fallbacks: resolveAll(m.fallbacks),
          contextFallbacks: resolveAll(m.contextFallbacks),
        },
      ),
    );
  }
}

/** The composition root: config → storage → engine → models → services → HTTP → listen. */
export async function startServer(config: Config, logger: Logger, hooks: StartHooks = {}): Promise<RunningServer> {
  mkdirSync(config.dataDir, { recursive: true });
  const storage = await openStorage({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const access = new AccessService(storage, logger);
  try {
    await access.bootstrap({ envKeys: config.apiKeys, adminKey: config.adminKey, dataDir: config.dataDir });
    if (access.open && !isLoopback(config.host)) {
      throw new ConfigError(
        `Refusing to listen on ${config.host} without API keys: set MODELPORT_API_KEYS (comma-separated), create a project key, or bind to 127.0.0.1.`,
      );
    }
  } catch (error) {
    await storage.close();
    throw error;
  }
  const objects = new ObjectStore(storage.db);
  const files = new FileStore(storage.db, config.dataDir);
  const uploads = new UploadStore(storage.db, config.dataDir);
  const meter = new UsageMeter(storage, logger);
  const budgets = new BudgetGuard(storage, meter, logger);
  // Exact across processes with Redis; exact within this process otherwise.
  const limiter = new RateLimiter(storage, config.redisUrl ? new RedisLimitStore(config.redisUrl) : new MemoryLimitStore(), config.rateLimits.defaultTier);
  let entries: ModelEntry[];
  try {
    entries = await ensureModels(config, logger, hooks);
  } catch (error) {
    await limiter.close();
    await storage.close();
    throw error;
  }

  let state: "starting" | "ready" | "shutting_down" = "starting";
  const engine = await LocalEngine.create(config.gpu, logger);
  const registry = new ModelRegistry();
  try {
    for (const entry of entries) {
      const model = await engine.loadModel({
        id: entry.id,
        path: entry.path,
        aliases: entry.aliases,
        contextSize: entry.contextSize,
        sequences: entry.sequences,
        threads: entry.threads ?? LocalEngine.defaultThreads(statSync(entry.path).size),
        batchSize: entry.batchSize,
        queueSize: entry.queueSize,
        minPrefixReuse: entry.minPrefixReuse,
        samplingTopK: entry.samplingTopK,
        pricing: entry.pricing,
        chatTemplate: entry.chatTemplate,
        prefixStore: config.prefixCache.enabled
          ? { ...config.prefixCache, root: join(config.dataDir, "prefix-cache") }
          : undefined,
      });
      registry.add(model);
      logger.info("model loaded", {
        model: entry.id,
        aliases: entry.aliases.join(",") || undefined,
        context_size: model.contextSize,
        sequences: entry.sequences,
        chat_format: `${model.format.wrapper.wrapperName} (${model.format.source})`,
      });
    }
  } catch (error) {
    await engine.dispose();
    await limiter.close();
    await storage.close();
    throw error;
  }

  try {
    addUpstreamModels(config, registry);
  } catch (error) {
    await engine.dispose();
    await limiter.close();
    await storage.close();
    throw error;
  }
  const chat = new ChatService(registry);
  const gate = new PlatformGate(budgets, limiter);
  const vectorStores = new VectorStoreStore(storage.db);
  const vectorSearch = new VectorSearchService(vectorStores, registry);
  const indexer = new IndexingWorker({ store: vectorStores, files, registry, logger, concurrency: config.vectorStores.indexingConcurrency });
  const vectorStoreService = new VectorStoreService({ store: vectorStores, files, registry, embeddingModel: config.vectorStores.embeddingModel, onQueued: () => indexer.poke() });
  const responses = new ResponsesService(objects, chat, meter, logger, { search: vectorSearch });
  const batchStore = new BatchStore(storage.db);
  const endpoints = createModelEndpoints({ chat, responses, registry, engineVersion: VERSION });
  const batchService = new BatchService({ batches: batchStore, files, registry, endpoints: batchEndpoints(endpoints), maxRequests: config.batches.maxRequests });
  const batchWorker = new BatchWorker({ store: batchStore, service: batchService, logger, concurrency: config.batches.concurrency });
  const routes: Route[] = [
    { method: "GET", pattern: "/health", handler: healthHandler(registry) },
    { method: "GET", pattern: "/ready", handler: readyHandler(() => state) },
    { method: "GET", pattern: "/v1/models", handler: listModelsHandler(registry) },
    { method: "GET", pattern: "/v1/models/:model", handler: getModelHandler(registry) },
    { method: "POST", pattern: "/v1/chat/completions", handler: chatCompletionsHandler(endpoints.chatCompletions, gate, objects) },
    ...responsesRoutes({ service: responses, endpoint: endpoints.responses, relay: endpoints.responsesRelay, registry, gate }),
    ...batchRoutes({ service: batchService, store: batchStore, worker: batchWorker }),
    { method: "POST", pattern: "/v1/embeddings", handler: embeddingsHandler(endpoints.embeddings, gate) },
    { method: "POST", pattern: "/v1/completions", handler: forwardHandler(endpoints.completions, gate) },
    { method: "POST", pattern: "/v1/moderations", handler: forwardHandler(endpoints.moderations, gate) },
    ...organizationRoutes({ storage, access, budgets }),
    ...storedChatCompletionRoutes({ objects }),
    ...conversationRoutes({ objects }),
    ...fileRoutes({ files, maxBytes: config.files.maxBytes }),
    ...uploadRoutes({ uploads, files, maxBytes: config.files.maxBytes }),
    ...vectorStoreRoutes({ store: vectorStores, service: vectorStoreService, search: vectorSearch }),
  ];
  const app = createApp({
    authenticate: (header) => access.authenticate(header),
    onCompleted: (done) => {
      const usage = done.metering.usage ?? { promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0 };
      meter.record({ principal: done.principal, model: done.metering.model, endpoint: done.endpoint, usage, latencyMs: done.latencyMs, status: done.status, batch: done.metering.batch, pricing: done.metering.pricing });
    },
    bodyLimitBytes: config.bodyLimitBytes,
    logger,
    routes,
  });
  const server: Server = createServer({ keepAliveTimeout: 5_000 }, app.handle);
  server.on("clientError", (_error, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = config.host.includes(":") ? `[${config.host}]` : config.host;
  state = "ready";
  // Expired files and uploads go now and hourly; a sweep still running at shutdown is awaited.
  let sweeping: Promise<unknown> = Promise.resolve();
  const sweep = (): void => {
    sweeping = Promise.all([files.sweep(), uploads.sweep()]).catch((error: unknown) => logger.error("expiry sweep failed", { error: (error as Error).message }));
  };
  sweep();
  const sweepTimer = setInterval(sweep, 3_600_000).unref();
  await batchWorker.start(storage.db.dialect === "sqlite");
  await indexer.start(storage.db.dialect === "sqlite");
  const resumed = await responses.resumePending();
  if (resumed > 0) logger.info("resumed background responses", { count: resumed });
  if (access.open) {
    logger.warn(
      "NO API KEYS CONFIGURED: every request is accepted without authentication. This is allowed only on a loopback address; set MODELPORT_API_KEYS to require keys.",
      { host: config.host },
    );
  }
  logger.info("listening", { url: `http://${hostForUrl}:${port}/v1`, version: VERSION, models: registry.list().length });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      state = "shutting_down";
      app.beginShutdown();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        app.idle().then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), config.shutdownTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        logger.warn("shutdown timeout reached; aborting in-flight requests", { in_flight: app.inFlight });
        app.abortAll();
        await app.idle();
      }
      server.closeAllConnections();
      await stopped;
      // Unfinished background responses and batch requests stay queued in storage and resume at the next start.
      await batchWorker.stop();
      await indexer.stop();
      await responses.close();
      // Every request has finished: its usage is in the meter, and goes to the database before exit.
      await meter.close();
      clearInterval(sweepTimer);
      await sweeping;
      await limiter.close();
      await storage.close();
      await engine.dispose();
      logger.info("stopped");
    })();
    return closing;
  };
  return { url: `http://${hostForUrl}:${port}`, port, registry, storage, objects, files, vectorSearch, meter, app, close };
}
