import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ConfigError } from "./config/load.ts";
import type { Config } from "./config/schema.ts";
import { CleanupStack } from "./core/cleanup-stack.ts";
import { createApp, type App, type ObservedRequest } from "./http/app.ts";
import { RealtimeGateway } from "./http/realtime.ts";
import { RealtimeSecrets } from "./services/realtime-secrets.ts";
import { apiRoutes, type ServerState } from "./http/routes/index.ts";
import type { Logger } from "./logging/logger.ts";
import { assertCanListen, listenHttp } from "./main/http-server.ts";
import { buildModels, buildWorkerModels, type StartHooks } from "./main/models.ts";
import { buildServices, startWorkers } from "./main/services.ts";
import { requestSample, serverMetrics } from "./main/metrics.ts";
import { startTracing } from "./main/tracing.ts";
import { metricsHandler } from "./http/routes/metrics.ts";
import { adminUiRoutes } from "./http/routes/admin-ui.ts";
import { AccessService } from "./services/access.ts";
import type { ChatModel } from "./providers/provider.ts";
import type { ModelRegistry } from "./services/model-registry.ts";
import type { LimitStore } from "./services/rate-limits.ts";
import type { UsageMeter } from "./services/usage-meter.ts";
import type { RequestLog } from "./services/request-log.ts";
import type { VectorSearchService } from "./services/vector-search-service.ts";
import type { FileStore } from "./storage/file-store.ts";
import type { ObjectStore } from "./storage/object-store.ts";
import { openStorage } from "./storage/open.ts";
import type { Storage } from "./storage/storage.ts";
import { VERSION } from "./version.ts";

export type { StartHooks } from "./main/models.ts";

/** How a worker process of `serve --workers N` differs from a server of its own. */
export interface WorkerRole {
  /** The engine host's local models, reached over IPC. */
  models: readonly ChatModel[];
  /** The host's rate-limit counters (used unless Redis is configured). */
  limitStore: LimitStore;
  /** Whether this worker runs the background work (batches, indexing, sweeps, resumed responses). */
  runsJobs: boolean;
}

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
  /** The request log (tests flush it, sweep it). */
  requestLog: RequestLog;
  app: App;
  /** Stops accepting, lets in-flight requests finish (up to the shutdown timeout), frees the engine. */
  close(): Promise<void>;
}

/** Whether a bind address only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The composition root: config → storage → models → services → HTTP → listen → workers. Every
 * resource goes on one cleanup stack as it is created: a start that fails at any step closes what
 * it had opened (in reverse) and rethrows, and `close()` runs the same stack after draining HTTP.
 */
export async function startServer(config: Config, logger: Logger, hooks: StartHooks = {}, worker?: WorkerRole): Promise<RunningServer> {
  // A port already taken fails now, not after every model has loaded (a worker's port is the primary's).
  if (config.port !== 0 && worker === undefined) await assertCanListen(config.host, config.port);
  const cleanup = new CleanupStack();
  const reportCleanupError = (step: string, error: unknown): void => logger.error("cleanup step failed", { step, error: (error as Error).message });
  let state: ServerState = "starting";

  const { running, drain } = await cleanup.guard(async () => {
    // First on the stack, so last off it: every span of the drained requests is exported before it stops.
    const tracing = config.tracing.enabled ? await startTracing(config.tracing, logger) : undefined;
    if (tracing !== undefined) cleanup.defer("tracing", () => tracing.dispose());
    mkdirSync(config.dataDir, { recursive: true });
    const storage = await openStorage({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
    cleanup.defer("storage", () => storage.close());
    const access = new AccessService(storage, logger);
    await access.bootstrap({ envKeys: config.apiKeys, adminKey: config.adminKey, dataDir: config.dataDir });
    await access.cachePrincipals();
    if (access.open && !isLoopback(config.host)) {
      throw new ConfigError(
        `Refusing to listen on ${config.host} without API keys: set MODELPORT_API_KEYS (comma-separated), create a project key, or bind to 127.0.0.1.`,
      );
    }
    const registry = worker === undefined ? await buildModels(config, logger, hooks, cleanup) : buildWorkerModels(config, worker.models, logger, cleanup);
    const services = buildServices(config, { storage, registry, logger, cleanup, limitStore: worker?.limitStore });
    const { meter } = services;
    const realtimeSecrets = new RealtimeSecrets();
    const queues = { batch: () => services.batchStore.queued(), indexing: () => services.vectorStores.indexing() };
    const metrics = config.metrics.enabled ? serverMetrics(registry, meter, queues) : undefined;
    const app = createApp({
      ...(metrics !== undefined ? { observe: (r: ObservedRequest) => metrics.observe(requestSample(r)) } : {}),
      authenticate: (header) => access.authenticate(header),
      onCompleted: (done) => {
        const usage = done.metering.usage ?? { promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0 };
        meter.record({ principal: done.principal, model: done.metering.model, endpoint: done.endpoint, usage, latencyMs: done.latencyMs, status: done.status, batch: done.metering.batch, pricing: done.metering.pricing });
      },
      onFinished: (done) => services.requestLog.record(done),
      bodyLimitBytes: config.bodyLimitBytes,
      logger,
      ...(tracing !== undefined ? { tracer: tracing.tracer } : {}),
      routes: [
        ...(metrics !== undefined ? [{ method: "GET" as const, pattern: "/metrics", handler: metricsHandler(metrics, config.metrics.token) }] : []),
        ...apiRoutes({ ...services, config, state: () => state, storage, registry, access, realtimeSecrets }),
        ...(config.adminUi.enabled ? adminUiRoutes(config.adminUi.dir ?? fileURLToPath(new URL("../dist/web", import.meta.url))) : []),
      ],
    });
    const realtime = new RealtimeGateway({
      secrets: realtimeSecrets,
      authenticate: (header) => access.authenticate(header),
      registry,
      chat: services.chat,
      audio: services.audio,
      gate: services.gate,
      meter,
      logger,
      speechModel: config.audio.chatSpeechModel,
      transcriptionModel: config.audio.chatTranscriptionModel,
      limits: config.realtime,
    });
    const http = await listenHttp(app, { host: config.host, port: config.port, shutdownTimeoutMs: config.shutdownTimeoutMs, logger, tls: config.tls, onUpgrade: (req, socket, head) => realtime.upgrade(req, socket, head) });
    cleanup.defer("http server", () => http.drain());
    // Runs before the HTTP drain (the stack unwinds newest first): sockets are not requests it waits for.
    cleanup.defer("realtime sessions", () => realtime.closeAll());
    state = "ready";
    // Of a server's workers, one runs the background work, as the sole process on SQLite would.
    if (worker === undefined || worker.runsJobs) await startWorkers(services, { soleProcess: storage.db.dialect === "sqlite", logger, cleanup });
    if (access.open) {
      logger.warn(
        "NO API KEYS CONFIGURED: every request is accepted without authentication. This is allowed only on a loopback address; set MODELPORT_API_KEYS to require keys.",
        { host: config.host },
      );
    }
    logger.info(worker === undefined ? "listening" : "worker listening", { url: `${http.url}/v1`, version: VERSION, models: registry.list().length });
    const running: Omit<RunningServer, "close"> = { url: http.url, port: http.port, registry, storage, objects: services.objects, files: services.files, vectorSearch: services.vectorSearch, meter, requestLog: services.requestLog, app };
    return { running, drain: http.drain };
  }, reportCleanupError);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      state = "shutting_down";
      // Readiness fails first while requests are still taken, so load balancers stop sending before the port closes.
      if (config.shutdownDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, config.shutdownDelayMs));
      // In-flight requests finish first; then workers, services, engine and storage close, newest first.
      await drain();
      await cleanup.run(reportCleanupError);
      logger.info("stopped");
    })();
    return closing;
  };
  return { ...running, close };
}
