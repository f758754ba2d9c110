import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { ConfigError } from "../config/load.ts";
import type { App } from "../http/app.ts";
import type { Logger } from "../logging/logger.ts";

/** A listening HTTP server and how to drain it. */
export interface HttpListener {
  url: string;
  port: number;
  /**
   * Stops accepting, lets in-flight requests finish (up to `shutdownTimeoutMs`, then aborts them) and
   * closes every connection. Runs once; later calls return the same promise.
   */
  drain(): Promise<void>;
}

/** `host:port` as a person types it (IPv6 in brackets). */
function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** A failed bind as one line an operator can act on, instead of an `EADDRINUSE` stack trace. */
function listenError(host: string, port: number, error: NodeJS.ErrnoException): ConfigError {
  const reasons: Record<string, string> = {
    EADDRINUSE: "the address is already in use",
    EACCES: "permission denied (ports below 1024 need privileges)",
    EADDRNOTAVAIL: "the address is not available on this machine",
    ENOTFOUND: "the host name does not resolve",
    EAI_AGAIN: "the host name does not resolve",
  };
  const reason = (error.code !== undefined ? reasons[error.code] : undefined) ?? error.message;
  return new ConfigError(`Cannot listen on ${hostPort(host, port)}: ${reason}.`);
}

/**
 * Checks that `host:port` can be bound, by binding and releasing it, so a port already taken fails
 * the start at once rather than after every model has loaded. The real listen still reports the
 * same error should something take the port in between.
 */
export async function assertCanListen(host: string, port: number): Promise<void> {
  const probe = createNetServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", (error: NodeJS.ErrnoException) => reject(listenError(host, port, error)));
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

/** Serves `app` on `host:port` (0 picks a free port); a failed bind throws a one-line `ConfigError`. */
export async function listenHttp(
  app: App,
  options: {
    host: string;
    port: number;
    shutdownTimeoutMs: number;
    logger: Logger;
    /** PEM certificate and key files: HTTPS (and wss:) instead of HTTP. */
    tls?: { cert: string; key: string } | undefined;
    /** Takes requests to upgrade the connection (WebSockets). */
    onUpgrade?: ((req: IncomingMessage, socket: Duplex, head: Buffer) => void) | undefined;
  },
): Promise<HttpListener> {
  const { host, logger } = options;
  let server: Server;
  if (options.tls !== undefined) {
    let cert: Buffer;
    let key: Buffer;
    try {
      cert = readFileSync(options.tls.cert);
      key = readFileSync(options.tls.key);
    } catch (error) {
      throw new ConfigError(`Cannot read the TLS certificate or key: ${(error as Error).message}.`);
    }
    server = createHttpsServer({ keepAliveTimeout: 5_000, cert, key }, app.handle);
  } else {
    server = createServer({ keepAliveTimeout: 5_000 }, app.handle);
  }
  if (options.onUpgrade !== undefined) server.on("upgrade", options.onUpgrade);
  server.on("clientError", (_error, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException): void => reject(listenError(host, options.port, error));
    server.once("error", failed);
    server.listen(options.port, host, () => {
      server.off("error", failed);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  let draining: Promise<void> | undefined;
  const drain = (): Promise<void> => {
    draining ??= (async () => {
      app.beginShutdown();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        app.idle().then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), options.shutdownTimeoutMs);
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
    })();
    return draining;
  };
  return { url: `${options.tls !== undefined ? "https" : "http"}://${hostPort(host, port)}`, port, drain };
}
