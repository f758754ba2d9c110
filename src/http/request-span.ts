import type { IncomingMessage } from "node:http";
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from "@opentelemetry/api";
import type { LogFields } from "../logging/logger.ts";

/** A request's server span and the context its handler runs in (the span active, under the client's trace). */
export interface RequestSpan {
  span: Span;
  context: Context;
}

/**
 * Opens the server span of one request, a child of the client's W3C `traceparent` when it sent one
 * (a root otherwise). Named by its method until the route is known.
 */
export function startRequestSpan(tracer: Tracer, req: IncomingMessage, method: string, path: string): RequestSpan {
  const parent = propagation.extract(ROOT_CONTEXT, req.headers);
  const span = tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: { "http.request.method": method, "url.path": path } }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

/** Runs a request's handler inside its span's context, so the spans it opens are the span's children. */
export function inRequestSpan<T>(traced: RequestSpan | undefined, run: () => T): T {
  return traced === undefined ? run() : context.with(traced.context, run);
}

/**
 * Ends a request's server span: named `METHOD route`, with the route pattern, the status, the model
 * and the project (never a key id); a 5xx marks it failed.
 */
export function endRequestSpan(traced: RequestSpan | undefined, method: string, route: string, status: number, model: string | undefined, log: Readonly<LogFields>): void {
  if (traced === undefined) return;
  const { span } = traced;
  span.updateName(`${method} ${route}`);
  if (route !== "unmatched") span.setAttribute("http.route", route);
  span.setAttribute("http.response.status_code", status);
  const served = model ?? (typeof log.model === "string" ? log.model : undefined);
  if (served !== undefined) span.setAttribute("modelport.model", served);
  if (typeof log.project_id === "string") span.setAttribute("modelport.project_id", log.project_id);
  if (typeof log.error_code === "string") span.setAttribute("error.type", log.error_code);
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}
