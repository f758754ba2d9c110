import { useCallback, useMemo, useState } from "react";
import { allBuckets, api } from "../api.ts";
import { TimeChart, type Series } from "../components/chart.tsx";
import { SimpleTable } from "../components/simple-table.tsx";
import { ErrorBox, formatNumber, formatUsd, Loading, PageHeader, RangePicker, rangeBounds, useAsync, useInterval, type RangeKey } from "../components/common.tsx";
import type { CostResult, RequestStatsPage, RequestStatsResult, ServerStatus, UsageResult } from "../types.ts";

interface OverviewData {
  x: number[];
  requests: number[];
  errors: number[];
  tokensIn: number[];
  tokensOut: number[];
  cost: number[];
  latencyP50: (number | null)[];
  latencyP95: (number | null)[];
  ttftP50: (number | null)[];
  ttftP95: (number | null)[];
  byModel: Map<string, { requests: number; input: number; output: number }>;
  byProject: Map<string, { requests: number; input: number; output: number; cost: number }>;
  /** Whole-range latency percentiles, from the stats endpoint's one-bucket answer. */
  total: RequestStatsResult | undefined;
}

/** Loads the range's usage (by model and by project), costs and request statistics, aligned to one set of buckets. */
async function loadOverview(range: RangeKey): Promise<OverviewData> {
  const { start, end, bucket, width } = rangeBounds(range);
  const q = `start_time=${start}&end_time=${end}&bucket_width=${bucket}`;
  const [byModelBuckets, byProjectBuckets, costBuckets, statsPage] = await Promise.all([
    allBuckets<UsageResult>(`/v1/organization/usage/completions?${q}&group_by[]=model`),
    allBuckets<UsageResult>(`/v1/organization/usage/completions?${q}&group_by[]=project_id`),
    allBuckets<CostResult>(`/v1/organization/costs?${q}&group_by[]=project_id`),
    api<RequestStatsPage>(`/v1/organization/request_stats?${q}`),
  ]);
  const stats = statsPage.data;
  const x: number[] = [];
  for (let t = start; t < end; t += width) x.push(t);
  const index = new Map(x.map((t, i) => [t, i]));
  const zeros = (): number[] => x.map(() => 0);
  const nulls = (): (number | null)[] => x.map(() => null);
  const d: OverviewData = {
    x, requests: zeros(), errors: zeros(), tokensIn: zeros(), tokensOut: zeros(), cost: zeros(),
    latencyP50: nulls(), latencyP95: nulls(), ttftP50: nulls(), ttftP95: nulls(),
    byModel: new Map(), byProject: new Map(), total: undefined,
  };
  for (const b of byModelBuckets) {
    const i = index.get(b.start_time);
    for (const r of b.results) {
      if (i !== undefined) {
        d.tokensIn[i] = (d.tokensIn[i] ?? 0) + r.input_tokens;
        d.tokensOut[i] = (d.tokensOut[i] ?? 0) + r.output_tokens;
      }
      const key = r.model ?? "(none)";
      const m = d.byModel.get(key) ?? { requests: 0, input: 0, output: 0 };
      m.requests += r.num_model_requests;
      m.input += r.input_tokens;
      m.output += r.output_tokens;
      d.byModel.set(key, m);
    }
  }
  for (const b of byProjectBuckets) {
    for (const r of b.results) {
      const key = r.project_id ?? "(none)";
      const p = d.byProject.get(key) ?? { requests: 0, input: 0, output: 0, cost: 0 };
      p.requests += r.num_model_requests;
      p.input += r.input_tokens;
      p.output += r.output_tokens;
      d.byProject.set(key, p);
    }
  }
  for (const b of costBuckets) {
    const i = index.get(b.start_time);
    for (const r of b.results) {
      if (i !== undefined) d.cost[i] = (d.cost[i] ?? 0) + r.amount.value;
      const key = r.project_id ?? "(none)";
      const p = d.byProject.get(key) ?? { requests: 0, input: 0, output: 0, cost: 0 };
      p.cost += r.amount.value;
      d.byProject.set(key, p);
    }
  }
  // Requests and errors come from the request log, which counts every request (refused ones too).
  for (const b of stats) {
    const i = index.get(b.start_time);
    const r = b.results[0];
    if (i === undefined || r === undefined) continue;
    d.requests[i] = r.requests;
    d.errors[i] = r.errors;
    d.latencyP50[i] = r.latency_ms?.p50 ?? null;
    d.latencyP95[i] = r.latency_ms?.p95 ?? null;
    d.ttftP50[i] = r.ttft_ms?.p50 ?? null;
    d.ttftP95[i] = r.ttft_ms?.p95 ?? null;
  }
  d.total = statsPage.total;
  return d;
}

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

/** The overview: traffic, tokens, cost and errors over time, latency percentiles, and live engine and upstream state. */
export function OverviewPage() {
  const [range, setRange] = useState<RangeKey>("24h");
  const [tick, setTick] = useState(0);
  const overview = useAsync(() => loadOverview(range), [range, tick]);
  const status = useAsync(() => api<ServerStatus>("/v1/organization/status"), [tick]);
  // Live figures (queues, breakers) and fresh buckets every 5 s.
  const refresh = useCallback(() => setTick((t) => t + 1), []);
  useInterval(refresh, 5000);
  const d = overview.data;

  const charts = useMemo(() => {
    if (d === undefined) return undefined;
    const s = (label: string, values: (number | null)[]): Series => ({ label, values });
    return {
      traffic: [s("Requests", d.requests), s("Errors", d.errors)],
      tokens: [s("Input tokens", d.tokensIn), s("Output tokens", d.tokensOut)],
      cost: [s("Cost (USD)", d.cost)],
      latency: [s("Latency p50", d.latencyP50), s("Latency p95", d.latencyP95), s("TTFT p50", d.ttftP50), s("TTFT p95", d.ttftP95)],
    };
  }, [d]);

  const local = status.data?.models.filter((m) => m.kind === "local") ?? [];
  const deployments = status.data?.models.flatMap((m) => m.deployments.map((dep) => ({ model: m.id, ...dep }))) ?? [];

  return (
    <>
      <PageHeader title="Overview">
        <RangePicker value={range} onChange={setRange} />
      </PageHeader>
      <ErrorBox error={overview.error ?? status.error} />
      <Loading loading={overview.loading && d === undefined} />
      {d !== undefined && charts !== undefined && (
        <>
          <section className="cards" aria-label="Totals in range">
            <div className="card">
              <div className="value" data-testid="total-requests">{formatNumber(sum(d.requests))}</div>
              <div className="label">Requests</div>
            </div>
            <div className="card">
              <div className="value">{formatNumber(sum(d.errors))}</div>
              <div className="label">Errors (4xx and 5xx)</div>
            </div>
            <div className="card">
              <div className="value">{formatNumber(sum(d.tokensIn) + sum(d.tokensOut))}</div>
              <div className="label">Tokens (in and out)</div>
            </div>
            <div className="card">
              <div className="value">{formatUsd(sum(d.cost))}</div>
              <div className="label">Cost</div>
            </div>
            <div className="card">
              <div className="value">{d.total?.latency_ms ? `${formatNumber(d.total.latency_ms.p50)} / ${formatNumber(d.total.latency_ms.p95)} ms` : "—"}</div>
              <div className="label">Latency p50 / p95</div>
            </div>
            <div className="card">
              <div className="value">{d.total?.ttft_ms ? `${formatNumber(d.total.ttft_ms.p50)} / ${formatNumber(d.total.ttft_ms.p95)} ms` : "—"}</div>
              <div className="label">Time to first token p50 / p95</div>
            </div>
          </section>
          <div className="grid-2">
            <TimeChart title="Requests and errors" x={d.x} series={charts.traffic} />
            <TimeChart title="Tokens" x={d.x} series={charts.tokens} />
            <TimeChart title="Cost (USD)" x={d.x} series={charts.cost} />
            <TimeChart title="Latency and time to first token (ms)" x={d.x} series={charts.latency} unit="ms" />
          </div>
          <div className="grid-2">
            <section aria-labelledby="by-model">
              <h2 id="by-model">By model</h2>
              <SimpleTable
                columns={[
                  { header: "Model", cell: ([model]) => model },
                  { header: "Requests", numeric: true, cell: ([, m]) => formatNumber(m.requests) },
                  { header: "Input tokens", numeric: true, cell: ([, m]) => formatNumber(m.input) },
                  { header: "Output tokens", numeric: true, cell: ([, m]) => formatNumber(m.output) },
                ]}
                rows={[...d.byModel].sort((a, b) => b[1].requests - a[1].requests)}
                rowKey={([model]) => model}
                empty="No model requests in this range."
              />
            </section>
            <section aria-labelledby="by-project">
              <h2 id="by-project">By project</h2>
              <SimpleTable
                columns={[
                  { header: "Project", cell: ([project]) => <a href={`#/projects/${encodeURIComponent(project)}`}>{project}</a> },
                  { header: "Requests", numeric: true, cell: ([, p]) => formatNumber(p.requests) },
                  { header: "Tokens", numeric: true, cell: ([, p]) => formatNumber(p.input + p.output) },
                  { header: "Cost", numeric: true, cell: ([, p]) => formatUsd(p.cost) },
                ]}
                rows={[...d.byProject].sort((a, b) => b[1].requests - a[1].requests)}
                rowKey={([project]) => project}
                empty="No project used a model in this range."
              />
            </section>
          </div>
        </>
      )}
      <div className="grid-2">
        <section aria-labelledby="live-engines">
          <h2 id="live-engines">Local models now</h2>
          <SimpleTable
            columns={[
              { header: "Model", cell: (m) => m.id },
              { header: "Busy sequences", numeric: true, cell: (m) => `${formatNumber(m.stats.busy)} / ${formatNumber(m.stats.sequences)}` },
              { header: "Queue", numeric: true, cell: (m) => formatNumber(m.stats.queued) },
              { header: "Stored prefixes", numeric: true, cell: (m) => formatNumber(m.stats.stored_prefixes) },
            ]}
            rows={local}
            rowKey={(m) => m.id}
            empty="No local models."
          />
        </section>
        <section aria-labelledby="live-upstreams">
          <h2 id="live-upstreams">Upstream deployments</h2>
          <SimpleTable
            columns={[
              { header: "Model", cell: (dep) => dep.model },
              { header: "Deployment", cell: (dep) => dep.id },
              { header: "In flight", numeric: true, cell: (dep) => formatNumber(dep.in_flight) },
              { header: "Failures", numeric: true, cell: (dep) => formatNumber(dep.failures) },
              { header: "Circuit", cell: (dep) => <span className={dep.circuit_state === "open" ? "badge error" : "badge ok"}>{dep.circuit_state}</span> },
            ]}
            rows={deployments}
            rowKey={(dep) => `${dep.model}/${dep.id}`}
            empty="No upstream deployments configured."
          />
        </section>
      </div>
    </>
  );
}
