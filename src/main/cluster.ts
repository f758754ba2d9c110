import cluster, { type Worker } from "node:cluster";
import { mkdirSync } from "node:fs";
import { ConfigError } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { CleanupStack } from "../core/cleanup-stack.ts";
import { isRpcMessage, RpcClient, RpcServer, type RpcChannel, type RpcHandler, type RpcMessage } from "../core/rpc.ts";
import { withFields, type Logger } from "../logging/logger.ts";
import { isLoopback, startServer, type RunningServer } from "../main.ts";
import { engineHostHandlers, hostedModelInfo, hostStats } from "../providers/engine-host/engine-host.ts";
import { RemoteModel, type HostedModelInfo } from "../providers/engine-host/remote-model.ts";
import { AccessService } from "../services/access.ts";
import { MemoryLimitStore } from "../services/rate-limits.ts";
import { SharedLimitStore, sharedLimitHandlers } from "../services/shared-limit-store.ts";
import { openStorage } from "../storage/open.ts";
import { assertCanListen } from "./http-server.ts";
import { buildModels, type StartHooks } from "./models.ts";

/** Messages between the primary and its workers that are not RPC. */
type ControlMessage = { cluster: "ready"; url: string } | { cluster: "shutdown" };

const MODELS_ENV = "MODELPORT_CLUSTER_MODELS";
const JOBS_ENV = "MODELPORT_CLUSTER_JOBS";

/** The primary of `serve --workers N`, once every worker listens. */
export interface RunningCluster {
  url: string;
  /** Worker processes now (a crashed one is replaced). */
  workers(): number;
  /** Asks every worker to drain and exit, then frees the engine. */
  close(): Promise<void>;
}

function isControl(message: unknown): message is ControlMessage {
  return typeof message === "object" && message !== null && typeof (message as { cluster?: unknown }).cluster === "string";
}

/** The primary's end of one worker's IPC channel; a send to a worker that is gone is dropped. */
function workerChannel(worker: Worker): RpcChannel {
  return {
    send: (message) => {
      if (!worker.isConnected()) return;
      try {
        worker.send(message);
      } catch {
        // The worker went away between the check and the send; its exit handler cleans up.
      }
    },
    onMessage: (listener) => {
      const onMessage = (message: unknown): void => {
        if (isRpcMessage(message)) listener(message);
      };
      worker.on("message", onMessage);
      return () => worker.off("message", onMessage);
    },
  };
}

/** A worker's end of its IPC channel to the primary. */
function primaryChannel(): RpcChannel {
  return {
    send: (message: RpcMessage) => {
      if (process.connected) process.send?.(message);
    },
    onMessage: (listener) => {
      const onMessage = (message: unknown): void => {
        if (isRpcMessage(message)) listener(message);
      };
      process.on("message", onMessage);
      return () => process.off("message", onMessage);
    },
  };
}

/**
 * `modelport serve --workers N`: this process becomes the engine host and N worker processes
 * share the listening port (Node's cluster module, connections handed out round robin). The
 * host loads each local model once and runs workers' generations, embeddings and token counts on
 * it over IPC; it also keeps the rate-limit counters, so limits are exact across workers without
 * Redis. Each worker runs the whole HTTP stack (auth, limits, budgets, metering to the shared
 * database, upstream routing); one of them runs the background work. A worker that dies is
 * replaced. Storage is migrated and bootstrapped here first, so workers never race on it.
 */
export async function startCluster(config: Config, logger: Logger, hooks: StartHooks = {}): Promise<RunningCluster> {
  if (config.port !== 0) await assertCanListen(config.host, config.port);
  mkdirSync(config.dataDir, { recursive: true });
  const storage = await openStorage({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const access = new AccessService(storage, logger);
    await access.bootstrap({ envKeys: config.apiKeys, adminKey: config.adminKey, dataDir: config.dataDir });
    if (access.open && !isLoopback(config.host)) {
      throw new ConfigError(`Refusing to listen on ${config.host} without API keys: set MODELPORT_API_KEYS (comma-separated), create a project key, or bind to 127.0.0.1.`);
    }
  } finally {
    await storage.close();
  }

  const cleanup = new CleanupStack();
  const reportCleanupError = (step: string, error: unknown): void => logger.error("cleanup step failed", { step, error: (error as Error).message });
  const registry = await cleanup.guard(() => buildModels(config, logger, hooks, cleanup, { upstreams: false }), reportCleanupError);
  const hosted = registry.list();
  const infos: HostedModelInfo[] = hosted.map(hostedModelInfo);
  const limits = new MemoryLimitStore();
  const handlers = new Map<string, RpcHandler>([...engineHostHandlers(hosted), ...sharedLimitHandlers(limits)]);

  cluster.setupPrimary({ serialization: "advanced" });
  const servers = new Map<Worker, RpcServer>();
  let closing = false;
  let url: string | undefined;

  const fork = (runsJobs: boolean): Promise<void> => {
    const worker = cluster.fork({ [MODELS_ENV]: JSON.stringify(infos), [JOBS_ENV]: runsJobs ? "1" : "0" });
    servers.set(worker, new RpcServer(workerChannel(worker), handlers));
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on("message", (message: unknown) => {
        if (!isControl(message) || message.cluster !== "ready") return;
        ready = true;
        url ??= message.url;
        resolve();
      });
      worker.on("exit", (code, signal) => {
        servers.get(worker)?.close();
        servers.delete(worker);
        if (!ready) reject(new Error(`worker ${worker.id} exited during start (${signal ?? `code ${code}`})`));
        else if (!closing) {
          logger.warn("worker exited; starting a new one", { worker: worker.id, code, signal: signal ?? undefined });
          fork(runsJobs).catch((error: unknown) => logger.error("worker failed to start", { error: (error as Error).message }));
        }
      });
    });
  };

  try {
    await Promise.all(Array.from({ length: config.workers }, (_, i) => fork(i === 0)));
  } catch (error) {
    closing = true;
    for (const worker of servers.keys()) worker.kill();
    await cleanup.run(reportCleanupError);
    throw error;
  }
  // Load figures for /health, pushed to every worker.
  const statsTimer = setInterval(() => {
    const stats = hostStats(hosted);
    for (const server of servers.values()) server.emit("stats", stats);
  }, 1000).unref();
  logger.info("listening", { url: `${url}/v1`, workers: config.workers, models: hosted.length });

  let stopping: Promise<void> | undefined;
  return {
    url: url as string,
    workers: () => servers.size,
    close: () => {
      stopping ??= (async () => {
        closing = true;
        clearInterval(statsTimer);
        const exits = [...servers.keys()].map((worker) => new Promise<void>((resolve) => (worker.isDead() ? resolve() : worker.once("exit", () => resolve()))));
        for (const worker of servers.keys()) {
          if (worker.isConnected()) worker.send({ cluster: "shutdown" } satisfies ControlMessage);
        }
        // Workers drain their requests (up to the shutdown timeout), which may still need the engine.
        const deadline = setTimeout(() => {
          for (const worker of servers.keys()) worker.kill("SIGKILL");
        }, config.shutdownTimeoutMs + 10_000);
        await Promise.all(exits);
        clearTimeout(deadline);
        await cleanup.run(reportCleanupError);
        logger.info("stopped");
      })();
      return stopping;
    },
  };
}

/** Whether this process is a worker of `serve --workers N`. */
export function isClusterWorker(): boolean {
  return cluster.isWorker && process.env[MODELS_ENV] !== undefined;
}

/**
 * A worker of `serve --workers N`: the whole server, with the engine host's models and rate-limit
 * counters over IPC. It drains and exits when the primary asks, or when the primary is gone.
 */
export async function runClusterWorker(config: Config, logger: Logger): Promise<RunningServer> {
  const log = withFields(logger, { worker: cluster.worker?.id ?? 0 });
  const client = new RpcClient(primaryChannel());
  const infos = JSON.parse(process.env[MODELS_ENV] ?? "[]") as HostedModelInfo[];
  const models = infos.map((info) => new RemoteModel(info, client));
  client.onEvent("stats", (value) => {
    const stats = value as Record<string, Record<string, number>>;
    for (const model of models) model.updateStats(stats[model.descriptor.id] ?? {});
  });
  const server = await startServer(config, log, {}, { models, limitStore: new SharedLimitStore(client), runsJobs: process.env[JOBS_ENV] === "1" });
  let exiting = false;
  const exit = (): void => {
    if (exiting) return;
    exiting = true;
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("message", (message: unknown) => {
    if (isControl(message) && message.cluster === "shutdown") exit();
  });
  process.on("disconnect", () => {
    // The primary is gone: nothing can generate any more.
    client.close();
    exit();
  });
  // The primary coordinates shutdown on Ctrl-C (the terminal signals every process of the group).
  process.on("SIGINT", () => undefined);
  process.on("SIGTERM", exit);
  process.send?.({ cluster: "ready", url: server.url } satisfies ControlMessage);
  return server;
}
