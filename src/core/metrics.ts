import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** One finished request as metrics see it: bounded labels only (route patterns, never raw paths or keys). */
export interface RequestSample {
  method: string;
  route: string;
  status: number;
  latencyMs: number;
  /** Time to the first byte of a streamed answer. */
  ttftMs: number | undefined;
  model: string | undefined;
  errorCode: string | undefined;
  tokens: { prompt: number; completion: number; cached: number } | undefined;
  costUsd: number | undefined;
  /** Guardrail checks that triggered on the request. */
  guardrails?: readonly { stage: string; check: string; action: string }[] | undefined;
}

/** A gauge's values at scrape time, by label set. */
export type GaugeReading = { labels: Record<string, string>; value: number }[];

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];

/** A label value cut to `max` characters ("none" when empty); how many models get series is bounded in `observe`. */
function bounded(value: string | undefined, max = 64): string {
  if (value === undefined || value === "") return "none";
  return value.length > max ? value.slice(0, max) : value;
}

/**
 * The server's Prometheus metrics (`prom-client`), rendered by `GET /metrics`: counters and
 * histograms fed once per request, gauges read from the engine, router and meter at scrape time,
 * and the process's own (memory, event-loop delay, GC).
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #requests: Counter<"method" | "route" | "status">;
  readonly #duration: Histogram<"route">;
  readonly #ttft: Histogram<"model">;
  readonly #tokens: Counter<"model" | "kind">;
  readonly #cost: Counter<"model">;
  readonly #rejected: Counter<"route" | "code">;
  readonly #guardrails: Counter<"stage" | "check" | "action">;
  /** Models seen, so that a flood of bad model names cannot grow the series without bound. */
  readonly #models = new Set<string>();

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "modelport_" });
    this.#requests = new Counter({ name: "modelport_http_requests_total", help: "HTTP requests answered, by method, route pattern and status.", labelNames: ["method", "route", "status"], registers });
    this.#duration = new Histogram({ name: "modelport_http_request_duration_seconds", help: "Time to answer a request, to its last byte.", labelNames: ["route"], buckets: LATENCY_BUCKETS, registers });
    this.#ttft = new Histogram({ name: "modelport_time_to_first_token_seconds", help: "Time to the first byte of a streamed answer.", labelNames: ["model"], buckets: TTFT_BUCKETS, registers });
    this.#tokens = new Counter({ name: "modelport_tokens_total", help: "Tokens metered: prompt, completion, and the prompt tokens served from a prefix cache (cached).", labelNames: ["model", "kind"], registers });
    this.#cost = new Counter({ name: "modelport_cost_usd_total", help: "Cost of metered requests in US dollars.", labelNames: ["model"], registers });
    this.#guardrails = new Counter({ name: "modelport_guardrail_events_total", help: "Guardrail checks that triggered, by stage (input/output), check type and action (block/redact/flag).", labelNames: ["stage", "check", "action"], registers });
    this.#rejected = new Counter({ name: "modelport_rejections_total", help: "Requests refused by rate limits, budgets or capacity (429 and 503), by route and error code.", labelNames: ["route", "code"], registers });
  }

  /** Counts one finished request. */
  observe(s: RequestSample): void {
    this.#requests.inc({ method: bounded(s.method, 8), route: s.route, status: String(s.status) });
    this.#duration.observe({ route: s.route }, s.latencyMs / 1000);
    if (s.status === 429 || s.status === 503) this.#rejected.inc({ route: s.route, code: bounded(s.errorCode) });
    // Check types and actions are a small fixed set: bounded labels.
    for (const g of s.guardrails ?? []) this.#guardrails.inc({ stage: bounded(g.stage, 16), check: bounded(g.check, 32), action: bounded(g.action, 16) });
    if (s.model === undefined) return;
    // Only models that served a request get series: the registry bounds how many there are.
    const model = this.#models.size < 500 || this.#models.has(s.model) ? bounded(s.model) : "other";
    this.#models.add(model);
    if (s.ttftMs !== undefined) this.#ttft.observe({ model }, s.ttftMs / 1000);
    if (s.tokens !== undefined) {
      this.#tokens.inc({ model, kind: "prompt" }, s.tokens.prompt);
      this.#tokens.inc({ model, kind: "completion" }, s.tokens.completion);
      this.#tokens.inc({ model, kind: "cached" }, s.tokens.cached);
    }
    if (s.costUsd !== undefined && s.costUsd > 0) this.#cost.inc({ model }, s.costUsd);
  }

  /** A gauge read when scraped (queue depths, busy sequences, breaker state…). */
  gauge(name: string, help: string, labelNames: readonly string[], read: () => GaugeReading | Promise<GaugeReading>): void {
    new Gauge({
      name,
      help,
      labelNames: [...labelNames],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const { labels, value } of await read()) this.set(labels, value);
      },
    });
  }

  /** The Prometheus text exposition. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
