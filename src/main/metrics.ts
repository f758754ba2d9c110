import { priceUsage } from "../core/pricing.ts";
import { Metrics, type GaugeReading, type RequestSample } from "../core/metrics.ts";
import type { ObservedRequest } from "../http/app.ts";
import type { ModelRegistry } from "../services/model-registry.ts";
import type { UsageMeter } from "../services/usage-meter.ts";

/** A finished request as the metrics count it. */
export function requestSample(r: ObservedRequest): RequestSample {
  const usage = r.metering?.usage;
  const pricing = r.metering?.pricing;
  return {
    method: r.method,
    route: r.route,
    status: r.status,
    latencyMs: r.latencyMs,
    ttftMs: r.ttftMs,
    model: r.model,
    errorCode: r.errorCode,
    tokens: usage === undefined ? undefined : { prompt: usage.promptTokens, completion: usage.completionTokens, cached: usage.cachedTokens },
    costUsd: usage !== undefined && pricing !== undefined ? priceUsage(usage, pricing) * (r.metering?.batch ? 0.5 : 1) : undefined,
    guardrails: r.guardrails,
  };
}

/** The background queues' depths, read from the database at scrape time. */
export interface QueueDepths {
  /** Batch requests queued or running, across every running batch. */
  batch(): Promise<number>;
  /** Vector store files waiting to be indexed or being indexed. */
  indexing(): Promise<number>;
}

/**
 * The server's metrics: request counters fed by the HTTP layer, and gauges read at scrape time from
 * each model's engine or router (sequences, queue, stored prefixes, upstream attempts, failures,
 * retries, in-flight requests and breaker state), from the usage meter (records not yet written)
 * and from the batch and indexing queues.
 */
export function serverMetrics(registry: ModelRegistry, meter: UsageMeter, queues: QueueDepths): Metrics {
  const metrics = new Metrics();
  /** One gauge per statistic a model reports under `key`. */
  const fromStats = (key: string): { labels: Record<string, string>; value: number }[] =>
    registry.list().flatMap((m) => {
      const value = m.stats()[key];
      return value === undefined ? [] : [{ labels: { model: m.descriptor.id }, value }];
    });
  metrics.gauge("modelport_engine_sequences", "Sequences (parallel slots) of a local model's engine.", ["model"], () => fromStats("sequences"));
  metrics.gauge("modelport_engine_sequences_busy", "Sequences generating now.", ["model"], () => fromStats("busy"));
  metrics.gauge("modelport_engine_queue_depth", "Requests waiting for a sequence.", ["model"], () => fromStats("queued"));
  metrics.gauge("modelport_engine_stored_prefixes", "Hot prompt prefixes kept for reuse (prefix cache).", ["model"], () => fromStats("stored_prefixes"));
  metrics.gauge("modelport_engine_speculative_accepted_tokens", "Drafted tokens the model accepted (speculative decoding), since start.", ["model"], () => fromStats("speculative_accepted"));
  /** Upstream routers report `<deployment>.<stat>`. */
  const fromDeployments = (stat: string): { labels: Record<string, string>; value: number }[] =>
    registry.list().flatMap((m) =>
      Object.entries(m.stats()).flatMap(([key, value]) => {
        const dot = key.lastIndexOf(".");
        return dot > 0 && key.slice(dot + 1) === stat ? [{ labels: { model: m.descriptor.id, deployment: key.slice(0, dot) }, value }] : [];
      }),
    );
  metrics.gauge("modelport_upstream_requests", "Requests sent to an upstream deployment since start (attempts, retries included).", ["model", "deployment"], () => fromDeployments("requests"));
  metrics.gauge("modelport_upstream_failures", "Attempts at an upstream deployment that failed since start (errors, timeouts, refusals; not clients that left).", ["model", "deployment"], () => fromDeployments("failures"));
  metrics.gauge("modelport_upstream_retries", "Attempts at an upstream deployment that retried a request after an earlier attempt of it failed, since start.", ["model", "deployment"], () => fromDeployments("retries"));
  metrics.gauge("modelport_upstream_affinity_first", "prefix-affinity routing: attempts sent to the deployment the request's key ranks first, since start.", ["model", "deployment"], () => fromDeployments("affinity_first"));
  metrics.gauge("modelport_upstream_affinity_diverted", "prefix-affinity routing: attempts sent elsewhere than the key's first deployment (over its load bound, resting, at its limits, a retry), since start.", ["model", "deployment"], () => fromDeployments("affinity_diverted"));
  metrics.gauge("modelport_upstream_in_flight", "Requests to an upstream deployment in flight.", ["model", "deployment"], () => fromDeployments("in_flight"));
  metrics.gauge("modelport_upstream_circuit_open", "1 while a deployment's circuit breaker is open (resting after failures).", ["model", "deployment"], () => fromDeployments("circuit_open"));
  metrics.gauge("modelport_usage_meter_pending", "Usage records buffered, not yet written to the database (the meter's lag).", [], () => [{ labels: {}, value: meter.pending }]);
  // One COUNT each per scrape, not per request. A database that fails leaves the series out of that
  // scrape rather than failing the whole scrape.
  const depth = (read: () => Promise<number>) => async (): Promise<GaugeReading> => {
    try {
      return [{ labels: {}, value: await read() }];
    } catch {
      return [];
    }
  };
  metrics.gauge("modelport_batch_queue_depth", "Batch requests queued or running, across every running batch.", [], depth(queues.batch));
  metrics.gauge("modelport_indexing_queue_depth", "Vector store files waiting to be indexed or being indexed (status in_progress).", [], depth(queues.indexing));
  return metrics;
}
