/**
 * OpenTelemetry traces (config `tracing`): the SDK, the OTLP/HTTP exporter, the async-context
 * manager and the W3C propagator. None of them is loaded unless tracing is on — they are imported
 * here, dynamically, and nowhere else; the lower layers use only `@opentelemetry/api`, whose global
 * no-ops cost nothing until this module registers the real implementations.
 */
import { context, propagation, trace, type Tracer } from "@opentelemetry/api";
import type { Config } from "../config/schema.ts";
import { TRACER_NAME } from "../core/trace-spans.ts";
import type { Logger } from "../logging/logger.ts";
import { VERSION } from "../version.ts";

let sdkLoaded = false;

/** Whether this process ever loaded the tracing SDK (it does only when a server starts with tracing on). */
export function tracingSdkLoaded(): boolean {
  return sdkLoaded;
}

/** Tracing as started: the tracer for server spans, and the way to flush and stop it. */
export interface Tracing {
  tracer: Tracer;
  /** Exports every span ended so far. */
  flush(): Promise<void>;
  /** Exports what is left, stops the exporter, and unregisters the globals this start registered. */
  dispose(): Promise<void>;
}

/**
 * Loads the SDK and registers it globally: spans are batched and sent as OTLP/HTTP JSON to
 * `settings.endpoint`. A process holds one global tracer provider; when another is already
 * registered (a second server in the process, or an OTel agent), this one still traces requests
 * through its own tracer, and the warning says child spans go to the other.
 */
export async function startTracing(settings: Config["tracing"], logger: Logger): Promise<Tracing> {
  const [{ BatchSpanProcessor, TracerProvider }, { OTLPTraceExporter }, { resourceFromAttributes }, { W3CTraceContextPropagator }, { AsyncLocalStorageContextManager }, { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION }] =
    await Promise.all([
      import("@opentelemetry/sdk-trace"),
      import("@opentelemetry/exporter-trace-otlp-http"),
      import("@opentelemetry/resources"),
      import("@opentelemetry/core"),
      import("@opentelemetry/context-async-hooks"),
      import("@opentelemetry/semantic-conventions"),
    ]);
  sdkLoaded = true;
  const exporter = new OTLPTraceExporter({ url: settings.endpoint, headers: { ...settings.headers } });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName, [ATTR_SERVICE_VERSION]: VERSION }),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: 1000 })],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  const ownsContext = context.setGlobalContextManager(contextManager);
  const ownsProvider = trace.setGlobalTracerProvider(provider);
  const ownsPropagator = propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  if (!ownsContext || !ownsProvider || !ownsPropagator) {
    logger.warn("another OpenTelemetry setup is registered in this process: child spans go to it", { endpoint: settings.endpoint });
  }
  if (!ownsContext) contextManager.disable();
  logger.info("tracing on", { endpoint: settings.endpoint, service: settings.serviceName });
  let disposed: Promise<void> | undefined;
  return {
    tracer: provider.getTracer(TRACER_NAME, VERSION),
    flush: () => provider.forceFlush(),
    dispose() {
      disposed ??= (async () => {
        try {
          await provider.shutdown();
        } finally {
          if (ownsProvider) trace.disable();
          if (ownsPropagator) propagation.disable();
          if (ownsContext) context.disable();
        }
      })();
      return disposed;
    },
  };
}
