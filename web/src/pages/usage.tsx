import { useMemo, useState, type FormEvent } from "react";
import { allBuckets } from "../api.ts";
import { TimeChart } from "../components/chart.tsx";
import { ProjectSelect } from "../components/filters.tsx";
import { aggregate, bucketStarts, groupSeries, isoTime, queryString, useProjects, type Buckets, type Cell } from "../components/usage-query.ts";
import { downloadCsv, ErrorBox, formatNumber, formatTime, formatUsd, Loading, PageHeader, RANGES, rangeBounds, RangePicker, useAsync, type RangeKey } from "../components/common.tsx";
import type { CostResult, UsageResult } from "../types.ts";

type GroupBy = "none" | "model" | "project_id" | "api_key_id";

const GROUP_LABELS: Record<GroupBy, string> = { none: "None", model: "Model", project_id: "Project", api_key_id: "API key" };

/** Costs carry the key id when grouped by it (the shared type leaves it out). */
type Cost = CostResult & { api_key_id?: string | null };

interface Tokens {
  requests: number;
  input: number;
  cached: number;
  output: number;
}

/** The model of a cost line item (`"<model>, input and output"`). */
function lineItemModel(item: string | null): string | null {
  return item === null ? null : item.replace(/, input and output$/, "");
}

/** Where a cost row goes: its group, or null when the model filter (applied here: costs take no `models[]`) leaves it out. */
function costKey(r: Cost, groupBy: GroupBy, model: string): string | null {
  if (model !== "" && lineItemModel(r.line_item) !== model) return null;
  if (groupBy === "model") return lineItemModel(r.line_item) ?? "";
  if (groupBy === "project_id") return r.project_id ?? "";
  if (groupBy === "api_key_id") return r.api_key_id ?? "";
  return "";
}

function usageKey(r: UsageResult, groupBy: GroupBy): string {
  if (groupBy === "none") return "";
  return r[groupBy] ?? "";
}

interface Totals {
  speechChars: number;
  speechRequests: number;
  transcribedSeconds: number;
  images: number;
  codeSessions: number;
}

export function UsagePage() {
  const [range, setRange] = useState<RangeKey>("24h");
  const [groupBy, setGroupBy] = useState<GroupBy>("none");
  const [projectId, setProjectId] = useState("");
  const [modelDraft, setModelDraft] = useState("");
  const [model, setModel] = useState("");
  const [tick, setTick] = useState(0);
  const { projects, nameOf } = useProjects();

  // Bounds are fixed per range and refresh, so charts and tables show the same buckets.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const bounds = useMemo(() => rangeBounds(range), [range, tick]);
  const x = useMemo(() => bucketStarts(bounds.start, bounds.end, bounds.width), [bounds]);

  const usage = useAsync(async () => {
    const base = { start_time: bounds.start, end_time: bounds.end, bucket_width: bounds.bucket, project_ids: projectId === "" ? [] : [projectId] };
    const costGroups = [...(groupBy === "none" || groupBy === "model" ? [] : [groupBy]), ...(groupBy === "model" || model !== "" ? ["line_item"] : [])];
    const [u, c] = await Promise.all([
      allBuckets<UsageResult>(`/v1/organization/usage/completions${queryString({ ...base, group_by: groupBy === "none" ? [] : [groupBy], models: model === "" ? [] : [model] })}`),
      allBuckets<Cost>(`/v1/organization/costs${queryString({ ...base, group_by: costGroups })}`),
    ]);
    return { usage: u, costs: c };
  }, [bounds, groupBy, projectId, model]);

  // The other usage kinds as totals over the range; a failure here does not hide the main numbers.
  const extras = useAsync(async (): Promise<Totals> => {
    const q = queryString({ start_time: bounds.start, end_time: bounds.end, bucket_width: bounds.bucket, project_ids: projectId === "" ? [] : [projectId], models: model === "" ? [] : [model] });
    const sum = <R,>(buckets: Buckets<R>, f: (r: R) => number): number => buckets.reduce((n, b) => n + b.results.reduce((m, r) => m + f(r), 0), 0);
    const [speech, transcribe, images, code] = await Promise.all([
      allBuckets<{ characters: number; num_model_requests: number }>(`/v1/organization/usage/audio_speeches${q}`),
      allBuckets<{ seconds: number }>(`/v1/organization/usage/audio_transcriptions${q}`),
      allBuckets<{ images: number }>(`/v1/organization/usage/images${q}`),
      allBuckets<{ num_sessions: number }>(`/v1/organization/usage/code_interpreter_sessions${q}`),
    ]);
    return {
      speechChars: sum(speech, (r) => r.characters),
      speechRequests: sum(speech, (r) => r.num_model_requests),
      transcribedSeconds: sum(transcribe, (r) => r.seconds),
      images: sum(images, (r) => r.images),
      codeSessions: sum(code, (r) => r.num_sessions),
    };
  }, [bounds, projectId, model]);

  const labelOf = useMemo(() => {
    return (group: string): string => {
      if (groupBy === "none") return "";
      if (group === "") return "(none)";
      return groupBy === "project_id" ? nameOf(group) : group;
    };
  }, [groupBy, nameOf]);

  const tokenCells = useMemo<Cell<Tokens>[]>(
    () =>
      aggregate(
        usage.data?.usage ?? [],
        (r) => usageKey(r, groupBy),
        () => ({ requests: 0, input: 0, cached: 0, output: 0 }),
        (acc, r) => {
          acc.requests += r.num_model_requests;
          acc.input += r.input_tokens;
          acc.cached += r.input_cached_tokens;
          acc.output += r.output_tokens;
        },
      ),
    [usage.data, groupBy],
  );
  const costCells = useMemo<Cell<{ usd: number }>[]>(
    () => aggregate(usage.data?.costs ?? [], (r) => costKey(r, groupBy, model), () => ({ usd: 0 }), (acc, r) => void (acc.usd += r.amount.value)),
    [usage.data, groupBy, model],
  );

  const charts = useMemo(() => {
    const w = bounds.width;
    const tokens =
      groupBy === "none"
        ? [
            { label: "Input", values: groupSeries(tokenCells, x, w, (v) => v.input, () => "")[0]?.values ?? x.map(() => 0) },
            { label: "Output", values: groupSeries(tokenCells, x, w, (v) => v.output, () => "")[0]?.values ?? x.map(() => 0) },
            { label: "Cached input", values: groupSeries(tokenCells, x, w, (v) => v.cached, () => "")[0]?.values ?? x.map(() => 0) },
          ]
        : groupSeries(tokenCells, x, w, (v) => v.input + v.output, labelOf);
    const one = (label: string, s: ReturnType<typeof groupSeries>) => (groupBy === "none" ? [{ label, values: s[0]?.values ?? x.map(() => 0) }] : s);
    return {
      tokens,
      requests: one("Requests", groupSeries(tokenCells, x, w, (v) => v.requests, labelOf)),
      cost: one("Cost (USD)", groupSeries(costCells, x, w, (v) => v.usd, labelOf)),
    };
  }, [tokenCells, costCells, x, bounds.width, groupBy, labelOf]);

  const total = useMemo(() => {
    const t = { requests: 0, input: 0, cached: 0, output: 0, usd: 0 };
    for (const c of tokenCells) {
      t.requests += c.value.requests;
      t.input += c.value.input;
      t.cached += c.value.cached;
      t.output += c.value.output;
    }
    for (const c of costCells) t.usd += c.value.usd;
    return t;
  }, [tokenCells, costCells]);

  const applyModel = (e?: FormEvent): void => {
    e?.preventDefault();
    setModel(modelDraft.trim());
  };

  const grouped = groupBy !== "none";
  const groupHeader = GROUP_LABELS[groupBy];
  // Newest first in the tables: the latest numbers are what an operator looks for.
  const tokenRows = [...tokenCells].reverse();
  const costRows = [...costCells].reverse();
  const when = (t: number): string => (bounds.bucket === "1d" ? new Date(t * 1000).toLocaleDateString() : formatTime(t));

  const exportUsage = (): void =>
    downloadCsv(
      `usage-${range}.csv`,
      ["bucket_start", "bucket_end", ...(grouped ? [groupBy] : []), "requests", "input_tokens", "input_cached_tokens", "output_tokens"],
      tokenCells.map((c) => [isoTime(c.start), isoTime(c.start + bounds.width), ...(grouped ? [c.group] : []), c.value.requests, c.value.input, c.value.cached, c.value.output]),
    );
  const exportCosts = (): void =>
    downloadCsv(
      `costs-${range}.csv`,
      ["bucket_start", "bucket_end", ...(grouped ? [groupBy] : []), "amount_usd"],
      costCells.map((c) => [isoTime(c.start), isoTime(c.start + bounds.width), ...(grouped ? [c.group] : []), c.value.usd]),
    );

  return (
    <>
      <PageHeader title="Usage and costs">
        <RangePicker value={range} onChange={setRange} />
        <button type="button" onClick={() => setTick((t) => t + 1)}>
          Refresh
        </button>
      </PageHeader>
      <form className="form-row filters" onSubmit={applyModel} aria-label="Usage filters">
        <div>
          <label htmlFor="usage-group">Group by</label>
          <select id="usage-group" value={groupBy} onChange={(e) => setGroupBy(e.target.value as GroupBy)}>
            {(Object.keys(GROUP_LABELS) as GroupBy[]).map((g) => (
              <option key={g} value={g}>
                {GROUP_LABELS[g]}
              </option>
            ))}
          </select>
        </div>
        <ProjectSelect id="usage-project" projects={projects} value={projectId} onChange={setProjectId} />
        <div>
          <label htmlFor="usage-model">Model</label>
          <input id="usage-model" value={modelDraft} placeholder="any model" onChange={(e) => setModelDraft(e.target.value)} onBlur={() => applyModel()} />
        </div>
        <button type="submit">Apply</button>
      </form>
      <p className="muted small">
        {RANGES[range].label}, in buckets of {bounds.bucket}. The tables below the charts carry the same numbers.
      </p>
      <ErrorBox error={usage.error} />
      <Loading loading={usage.loading && usage.data === undefined} />

      <div className="cards">
        <Card label="Requests" value={formatNumber(total.requests)} />
        <Card label="Input tokens" value={formatNumber(total.input)} />
        <Card label="Cached input tokens" value={formatNumber(total.cached)} />
        <Card label="Output tokens" value={formatNumber(total.output)} />
        <Card label="Cost" value={formatUsd(total.usd)} />
      </div>

      <div className="grid-2">
        <TimeChart title={grouped ? `Tokens (input + output) by ${groupHeader.toLowerCase()}` : "Tokens"} x={x} series={charts.tokens} unit="tokens" />
        <TimeChart title={grouped ? `Requests by ${groupHeader.toLowerCase()}` : "Requests"} x={x} series={charts.requests} unit="requests" />
        <TimeChart title={grouped ? `Cost (USD) by ${groupHeader.toLowerCase()}` : "Cost (USD)"} x={x} series={charts.cost} unit="USD" />
      </div>

      <div className="section-header">
        <h2 id="usage-table-title">Usage per bucket</h2>
        <button type="button" onClick={exportUsage} disabled={tokenCells.length === 0}>
          Export usage CSV
        </button>
      </div>
      {tokenRows.length === 0 ? (
        <p className="muted">{usage.loading ? "Loading…" : "No model usage in this range."}</p>
      ) : (
        <div className="table-wrap" tabIndex={0} role="region" aria-labelledby="usage-table-title">
          <table>
            <thead>
              <tr>
                <th scope="col">Bucket start</th>
                {grouped && <th scope="col">{groupHeader}</th>}
                <th scope="col" className="num">Requests</th>
                <th scope="col" className="num">Input tokens</th>
                <th scope="col" className="num">Cached input</th>
                <th scope="col" className="num">Output tokens</th>
              </tr>
            </thead>
            <tbody>
              {tokenRows.map((c) => (
                <tr key={`${c.start}|${c.group}`}>
                  <td className="nowrap">{when(c.start)}</td>
                  {grouped && <td>{labelOf(c.group)}</td>}
                  <td className="num">{formatNumber(c.value.requests)}</td>
                  <td className="num">{formatNumber(c.value.input)}</td>
                  <td className="num">{formatNumber(c.value.cached)}</td>
                  <td className="num">{formatNumber(c.value.output)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <div className="section-header">
        <h2 id="cost-table-title">Costs per bucket</h2>
        <button type="button" onClick={exportCosts} disabled={costCells.length === 0}>
          Export costs CSV
        </button>
      </div>
      {costRows.length === 0 ? (
        <p className="muted">{usage.loading ? "Loading…" : "No costs in this range."}</p>
      ) : (
        <div className="table-wrap" tabIndex={0} role="region" aria-labelledby="cost-table-title">
          <table>
            <thead>
              <tr>
                <th scope="col">Bucket start</th>
                {grouped && <th scope="col">{groupHeader}</th>}
                <th scope="col" className="num">Cost (USD)</th>
              </tr>
            </thead>
            <tbody>
              {costRows.map((c) => (
                <tr key={`${c.start}|${c.group}`}>
                  <td className="nowrap">{when(c.start)}</td>
                  {grouped && <td>{labelOf(c.group)}</td>}
                  <td className="num">{formatUsd(c.value.usd)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h2>Audio, images and code interpreter</h2>
      <ErrorBox error={extras.error} />
      <div className="cards">
        <Card label="Speech: characters" value={formatNumber(extras.data?.speechChars)} note={extras.data === undefined ? undefined : `${formatNumber(extras.data.speechRequests)} requests`} />
        <Card label="Transcription: seconds" value={formatNumber(extras.data?.transcribedSeconds)} />
        <Card label="Images generated" value={formatNumber(extras.data?.images)} />
        <Card label="Code interpreter sessions" value={formatNumber(extras.data?.codeSessions)} />
      </div>
    </>
  );
}

function Card(props: { label: string; value: string; note?: string | undefined }) {
  return (
    <div className="card">
      <div className="label">{props.label}</div>
      <div className="value">{props.value}</div>
      {props.note !== undefined && <div className="muted small">{props.note}</div>}
    </div>
  );
}
