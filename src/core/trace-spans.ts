/**
 * Child spans for the lower layers, on the OpenTelemetry API alone (never the SDK): with tracing
 * off nothing is active, so every helper here does nothing beyond one context lookup. The SDK,
 * when configured, is registered by src/main/tracing.ts.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from "@opentelemetry/api";

export { SpanKind } from "@opentelemetry/api";
export type { Span } from "@opentelemetry/api";

/** The instrumentation scope every span of this server is created under. */
export const TRACER_NAME = "modelport";

/** Whether a request is being traced here: some span is active in the current async context. */
export function isTraced(): boolean {
  return trace.getActiveSpan() !== undefined;
}

/** A child of the active span, or undefined when nothing is traced (tracing off, or outside a traced request). */
export function startChildSpan(name: string, kind: SpanKind, attributes: Attributes = {}): Span | undefined {
  if (!isTraced()) return undefined;
  return trace.getTracer(TRACER_NAME).startSpan(name, { kind, attributes });
}

/** Runs `fn` with `span` as the active span, so spans and headers made inside it descend from it; as is without one. */
export function withSpan<T>(span: Span | undefined, fn: () => T): T {
  return span === undefined ? fn() : context.with(trace.setSpan(context.active(), span), fn);
}

/** Marks a span failed with the error's message, and its `error.type` from the error's `code` when it has one. */
export function markSpanFailed(span: Span | undefined, error: unknown): void {
  if (span === undefined) return;
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string") span.setAttribute("error.type", code);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/** Marks a span failed (as `markSpanFailed`) and ends it. */
export function endSpanFailed(span: Span | undefined, error: unknown): void {
  markSpanFailed(span, error);
  span?.end();
}

/**
 * `headers` plus the W3C `traceparent` (and `tracestate`) of the active span, for an outgoing
 * request; the same object, untouched, when nothing is traced.
 */
export function withTraceHeaders(headers: Record<string, string>): Record<string, string> {
  if (!isTraced()) return headers;
  const out = { ...headers };
  propagation.inject(context.active(), out);
  return out;
}
