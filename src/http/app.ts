import type { IncomingMessage, ServerResponse } from "node:http";
import type { Tracer } from "@opentelemetry/api";
import { ApiError, invalidRequest, toApiError } from "../core/errors.ts";
import { randomHex } from "../core/ids.ts";
import { encodeSseJson } from "../core/sse.ts";
import { runWithTrail, type GuardEvent, type RequestTrail } from "../core/request-trail.ts";
import type { LogFields, Logger } from "../logging/logger.ts";
import { DEFAULT_PROJECT_ID, type Principal } from "../services/access.ts";
import type { LoggedRequest } from "../services/request-log.ts";
import { readJsonBody, UnreadBodyError } from "./body.ts";
import { endRequestSpan, inRequestSpan, startRequestSpan } from "./request-span.ts";
import { sendError, sentJsonBody } from "./respond.ts";
import { Router, type Metering, type RequestContext, type Route } from "./router.ts";
import { streamOpenedAt } from "./sse-writer.ts";

/** One finished request that ran a model. */
export interface CompletedRequest {
  principal: Principal;
  endpoint: string;
  metering: Metering;
  status: number;
  latencyMs: number;
}

/** One finished request, whatever it was, for metrics: its route pattern (never the raw path), status and time. */
export interface ObservedRequest {
  method: string;
  /** The matched route's pattern, or "unmatched". */
  route: string;
  status: number;
  latencyMs: number;
  /** The model that served it, when one did. */
  model: string | undefined;
  /** The metered usage, when a model ran. */
  metering: Metering | undefined;
  /** Time until a streamed (SSE) answer opened, with its first token. */
  ttftMs: number | undefined;
  errorCode: string | undefined;
  /** Guardrail checks that triggered. */
  guardrails: readonly GuardEvent[] | undefined;
}

/** One finished `/v1` request of an authenticated caller (admin routes aside): what the request log records. */
export type FinishedRequest = LoggedRequest;

/** Settings the HTTP layer needs. */
export interface AppOptions {
  /** Resolves the Authorization header to a principal, or throws 401. */
  authenticate: (header: string | undefined) => Promise<Principal>;
  /** Called once per finished request that ran a model, for usage metering. */
  onCompleted?: (request: CompletedRequest) => void;
  /** Called once per finished request of any kind (metrics). */
  observe?: (request: ObservedRequest) => void;
  /** Called once per finished `/v1` request of an authenticated caller, admin routes aside (the request log). */
  onFinished?: (request: FinishedRequest) => void;
  bodyLimitBytes: number;
  logger: Logger;
  routes: readonly Route[];
  /** When tracing is on: opens one server span per request (src/main/tracing.ts). */
  tracer?: Tracer;
}

const ANONYMOUS: Principal = { projectId: DEFAULT_PROJECT_ID, keyId: null, admin: false, models: null };

function forbidden(message: string): ApiError {
  return new ApiError(403, message, { type: "permission_error", code: "insufficient_permissions" });
}

/** A request handler plus what graceful shutdown needs to know about in-flight work. */
export interface App {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Requests still being answered. */
  readonly inFlight: number;
  /** Marks the app as draining: responses ask clients to close their connections. */
  beginShutdown(): void;
  /** Resolves once no request is in flight. */
  idle(): Promise<void>;
  /** Aborts every in-flight request (at the end of the shutdown grace period). */
  abortAll(): void;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The last frame of a stream the server cut short while shutting down. */
const SHUTDOWN_FRAME = `\n\n${encodeSseJson(
  new ApiError(503, "The server is shutting down and ended this stream; retry the request on another server.", { type: "server_error", code: "server_shutting_down" }).toJSON(),
  "error",
)}`;

/** Builds the HTTP application: request ids, auth, routing, body parsing, logging, one error mapper. */
export function createApp(options: AppOptions): App {
  const router = new Router(options.routes);
  const controllers = new Set<AbortController>();
  /** Each in-flight request's response, so a shutdown can end open streams with an error event. */
  const responses = new WeakMap<AbortController, ServerResponse>();
  let draining = false;
  let idleWaiters: (() => void)[] = [];

  const finishOne = (controller: AbortController): void => {
    controllers.delete(controller);
    if (controllers.size === 0) {
      for (const w of idleWaiters) w();
      idleWaiters = [];
    }
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    const incomingId = req.headers["x-request-id"];
    const requestId =
      typeof incomingId === "string" && REQUEST_ID.test(incomingId) ? incomingId : `req_${randomHex(16)}`;
    res.setHeader("x-request-id", requestId);
    if (draining) res.setHeader("connection", "close");
    const controller = new AbortController();
    controllers.add(controller);
    responses.set(controller, res);
    // A request is in flight until its response has closed and its handler has finished (a handler
    // may clean up after the client has its answer, and a handler that never ends the response has its
    // usage recorded only then): shutdown waits for both, so nothing is metered after the meter has closed.
    let open = 2;
    const settle = (): void => {
      if (--open === 0) finishOne(controller);
    };
    res.on("close", () => {
      if (!res.writableFinished) controller.abort(new Error("client disconnected"));
      settle();
    });

    const url = req.url ?? "/";
    const path = url.split("?")[0] ?? "/";
    const method = req.method ?? "GET";
    const log: LogFields = { request_id: requestId, method, path: path.length > 200 ? `${path.slice(0, 200)}…` : path };
    let route = "unmatched";
    const traced = options.tracer === undefined ? undefined : startRequestSpan(options.tracer, req, method, log.path as string);
    // For the request log: whether this request is logged, and the JSON body its route read.
    let logged = false;
    let requestBody: unknown;
    const ctx: RequestContext = {
      req,
      res,
      requestId,
      signal: controller.signal,
      log,
      params: {},
      principal: ANONYMOUS,
      metering: undefined,
      cleanups: [],
      query: new URLSearchParams(url.includes("?") ? url.slice(url.indexOf("?") + 1) : ""),
      readJson: async () => (requestBody = await readJsonBody(req, options.bodyLimitBytes)),
    };

    // A metered request is recorded as its answer ends, before the response's end reaches the socket:
    // a client that has read the answer to its end knows the record is made (journaled), even if this
    // process is killed at once. Recording in `finally` would leave that window open for a loop turn or more.
    let completed = false;
    const complete = (): void => {
      if (completed || ctx.metering === undefined) return;
      completed = true;
      try {
        options.onCompleted?.({ principal: ctx.principal, endpoint: path, metering: ctx.metering, status: res.statusCode, latencyMs: performance.now() - started });
      } catch (error) {
        options.logger.error("usage could not be recorded", { ...log, error: (error as Error).message });
      }
    };
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    res.end = ((...args: unknown[]) => {
      complete();
      return end(...args);
    }) as ServerResponse["end"];

    const run = async (): Promise<void> => {
      if (path.startsWith("/v1/") || path === "/v1") {
        ctx.principal = await options.authenticate(req.headers.authorization);
        const adminRoute = path.startsWith("/v1/organization/") || path === "/v1/organization";
        if (adminRoute && !ctx.principal.admin) throw forbidden("This endpoint needs an admin key.");
        if (!adminRoute && ctx.principal.admin) throw forbidden("Admin keys only work with /v1/organization endpoints; use a project key.");
        logged = !adminRoute;
        if (ctx.principal.keyId !== null) log.key_id = ctx.principal.keyId;
        log.project_id = ctx.principal.projectId;
      }
      let matched;
      try {
        matched = router.match(method, path);
      } catch {
        throw invalidRequest("The request URL contains an invalid percent-encoding.", null, "invalid_url");
      }
      if (matched === undefined) {
        throw new ApiError(404, `Invalid URL (${method} ${log.path})`, { type: "invalid_request_error", code: "unknown_url" });
      }
      ctx.params = matched.params;
      route = matched.route.pattern;
      await matched.route.handler(ctx);
    };

    // The upstream retry loop notes here which deployment answered and how many attempts were retries.
    const trail: RequestTrail = { retries: 0 };
    runWithTrail(trail, () => inRequestSpan(traced, run))
      .catch((error: unknown) => {
        const apiError = toApiError(error);
        if (apiError.status >= 500 && !(error instanceof ApiError)) {
          options.logger.error("request failed", { ...log, error: error instanceof Error ? error.message : String(error) });
        }
        if (res.headersSent) {
          res.end();
          return;
        }
        // A body we stopped reading leaves bytes on the socket: close it after answering.
        if (error instanceof UnreadBodyError) res.setHeader("connection", "close");
        log.error_code = apiError.code;
        sendError(res, apiError);
        if (error instanceof UnreadBodyError) res.on("finish", () => req.destroy());
      })
      .finally(() => {
        const latencyMs = performance.now() - started;
        // A relayed answer names its deployment itself; routed chat, responses and embeddings leave it on the trail.
        if (trail.deployment !== undefined) log.deployment ??= trail.deployment;
        if (trail.retries > 0) log.retries = trail.retries;
        // What guardrails did, for the request log and the log line (the categories, never the matched text).
        if (trail.guardrails !== undefined && trail.guardrails.length > 0) log.guardrails = JSON.stringify(trail.guardrails);
        for (const cleanup of ctx.cleanups) cleanup().catch((error: unknown) => options.logger.error("cleanup failed", { ...log, error: (error as Error).message }));
        // Not ended by the handler (a client gone mid-stream): recorded now.
        complete();
        const fields: LogFields = {
          ...log,
          status: res.statusCode,
          duration_ms: Math.round(latencyMs),
        };
        if (controller.signal.aborted && !res.writableFinished) fields.aborted = true;
        // A stream is opened once its first part is generated: the time to first token, for metrics and the log.
        const opened = streamOpenedAt(res);
        const ttftMs = opened === undefined ? undefined : opened - started;
        options.observe?.({
          method,
          route,
          status: res.statusCode,
          latencyMs,
          model: ctx.metering?.model,
          metering: ctx.metering,
          ttftMs,
          errorCode: typeof log.error_code === "string" ? log.error_code : undefined,
          guardrails: trail.guardrails,
        });
        if (logged && options.onFinished !== undefined) {
          options.onFinished({
            requestId, principal: ctx.principal, method, route: route === "unmatched" ? null : route, status: res.statusCode, latencyMs,
            ttftMs, metering: ctx.metering, log, body: requestBody, answer: sentJsonBody(res),
          });
        }
        options.logger.info("request", fields);
        endRequestSpan(traced, method, route, res.statusCode, ctx.metering?.model, log);
        settle();
      });
  };

  return {
    handle,
    get inFlight() {
      return controllers.size;
    },
    beginShutdown() {
      draining = true;
    },
    idle() {
      if (controllers.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    abortAll() {
      for (const c of controllers) {
        // An event stream cut short says why, in the frame OpenAI's SDKs raise as an error.
        const res = responses.get(c);
        if (res !== undefined && streamOpenedAt(res) !== undefined && !res.writableEnded && !res.destroyed) res.write(SHUTDOWN_FRAME);
        c.abort(new Error("server shutting down"));
      }
    },
  };
}
