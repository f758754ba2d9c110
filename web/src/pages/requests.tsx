import { useCallback, useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";
import { api, type ListPage } from "../api.ts";
import { ProjectSelect, StatusBadge } from "../components/filters.tsx";
import { localInputToUnix, queryString, useProjects } from "../components/usage-query.ts";
import { ErrorBox, errorText, formatNumber, formatTime, formatUsd, Loading, PageHeader, useAsync, useInterval } from "../components/common.tsx";
import type { LoggedRequest } from "../types.ts";

interface Filters {
  projectId: string;
  keyId: string;
  model: string;
  status: string;
  from: string;
  to: string;
}

const NO_FILTERS: Filters = { projectId: "", keyId: "", model: "", status: "", from: "", to: "" };
const STATUSES = [
  { value: "", label: "Any" },
  { value: "2xx", label: "2xx" },
  { value: "4xx", label: "4xx" },
  { value: "5xx", label: "5xx" },
  { value: "429", label: "429" },
];
const PAGE_SIZE = 50;

// Kept across visits so "Back to requests" from a detail returns to the same filters.
let savedFilters: Filters = NO_FILTERS;

function fetchPage(f: Filters, after?: string): Promise<ListPage<LoggedRequest>> {
  const q = queryString({
    limit: PAGE_SIZE,
    after,
    project_id: f.projectId,
    api_key_id: f.keyId.trim(),
    model: f.model.trim(),
    status: f.status,
    start_time: localInputToUnix(f.from),
    end_time: localInputToUnix(f.to),
  });
  return api<ListPage<LoggedRequest>>(`/v1/organization/requests${q}`);
}

/** Identity of a row: request ids can repeat (a client may send its own x-request-id). */
function rowId(r: LoggedRequest): string {
  return `${r.id}|${r.created_at}|${r.status}|${r.latency_ms}`;
}

export function RequestsPage(props: { rest: string[] }) {
  const id = props.rest[0];
  return id === undefined ? <RequestList /> : <RequestDetail id={id} />;
}

function RequestList() {
  const [draft, setDraft] = useState<Filters>(savedFilters);
  const [applied, setApplied] = useState<Filters>(savedFilters);
  const [rows, setRows] = useState<LoggedRequest[]>([]);
  const [hasMore, setHasMore] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [auto, setAuto] = useState(false);
  const { projects, nameOf } = useProjects();
  // Answers for older filters are dropped: each new filter set bumps the generation.
  const generation = useRef(0);
  const rowsRef = useRef(rows);
  rowsRef.current = rows;

  useEffect(() => {
    savedFilters = applied;
    const gen = ++generation.current;
    setBusy(true);
    fetchPage(applied)
      .then((page) => {
        if (gen !== generation.current) return;
        setRows(page.data);
        setHasMore(page.has_more);
        setError(null);
      })
      .catch((e: unknown) => gen === generation.current && setError(errorText(e)))
      .finally(() => gen === generation.current && setBusy(false));
  }, [applied]);

  /** The newest page, merged on top of what is shown so pages already loaded with "Load more" stay. */
  const refresh = useCallback(() => {
    const gen = generation.current;
    fetchPage(applied)
      .then((page) => {
        if (gen !== generation.current) return;
        const prev = rowsRef.current;
        const seen = new Set(prev.map(rowId));
        const firstSeen = page.data.findIndex((r) => seen.has(rowId(r)));
        if (prev.length <= PAGE_SIZE || firstSeen === -1) {
          setRows(page.data);
          setHasMore(page.has_more);
        } else {
          setRows([...page.data.slice(0, firstSeen), ...prev]);
        }
        setError(null);
      })
      .catch((e: unknown) => gen === generation.current && setError(errorText(e)));
  }, [applied]);

  const refreshRef = useRef(refresh);
  refreshRef.current = refresh;
  const autoRef = useRef(auto);
  autoRef.current = auto;
  const tick = useCallback(() => {
    if (autoRef.current) refreshRef.current();
  }, []);
  useInterval(tick, 5000);

  const loadMore = (): void => {
    const last = rows.at(-1);
    if (last === undefined) return;
    const gen = generation.current;
    setBusy(true);
    fetchPage(applied, last.id)
      .then((page) => {
        if (gen !== generation.current) return;
        const seen = new Set(rowsRef.current.map(rowId));
        setRows([...rowsRef.current, ...page.data.filter((r) => !seen.has(rowId(r)))]);
        setHasMore(page.has_more);
      })
      .catch((e: unknown) => gen === generation.current && setError(errorText(e)))
      .finally(() => gen === generation.current && setBusy(false));
  };

  const apply = (e: FormEvent): void => {
    e.preventDefault();
    setApplied({ ...draft });
  };
  const set = (field: keyof Filters) => (value: string) => setDraft((d) => ({ ...d, [field]: value }));

  // Repeated ids get a suffix so React keys stay unique.
  const seenKeys = new Map<string, number>();
  const keyOf = (r: LoggedRequest): string => {
    const n = seenKeys.get(r.id) ?? 0;
    seenKeys.set(r.id, n + 1);
    return n === 0 ? r.id : `${r.id}#${n}`;
  };

  return (
    <>
      <PageHeader title="Requests">
        <label className="inline" htmlFor="requests-auto">
          <input id="requests-auto" type="checkbox" checked={auto} onChange={(e) => setAuto(e.target.checked)} />
          Auto-refresh (5 s)
        </label>
        <button type="button" onClick={refresh}>
          Refresh
        </button>
      </PageHeader>
      <form className="form-row filters" onSubmit={apply} aria-label="Request filters">
        <ProjectSelect id="requests-project" projects={projects} value={draft.projectId} onChange={set("projectId")} />
        <div>
          <label htmlFor="requests-key">API key id</label>
          <input id="requests-key" value={draft.keyId} onChange={(e) => set("keyId")(e.target.value)} autoComplete="off" spellCheck={false} />
        </div>
        <div>
          <label htmlFor="requests-model">Model</label>
          <input id="requests-model" value={draft.model} onChange={(e) => set("model")(e.target.value)} autoComplete="off" spellCheck={false} />
        </div>
        <div>
          <label htmlFor="requests-status">Status</label>
          <select id="requests-status" value={draft.status} onChange={(e) => set("status")(e.target.value)}>
            {STATUSES.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="requests-from">From</label>
          <input id="requests-from" type="datetime-local" value={draft.from} onChange={(e) => set("from")(e.target.value)} />
        </div>
        <div>
          <label htmlFor="requests-to">To</label>
          <input id="requests-to" type="datetime-local" value={draft.to} onChange={(e) => set("to")(e.target.value)} />
        </div>
        <button type="submit" className="primary">
          Apply
        </button>
        <button
          type="button"
          onClick={() => {
            setDraft(NO_FILTERS);
            setApplied(NO_FILTERS);
          }}
        >
          Clear
        </button>
      </form>
      <ErrorBox error={error} />
      <p className="muted small" aria-live="polite">
        {busy ? "Loading…" : `${rows.length} request${rows.length === 1 ? "" : "s"} shown, newest first.`}
      </p>
      {rows.length === 0 && !busy ? (
        <p className="muted">No logged requests match. Requests made with project keys appear here about a second after they finish.</p>
      ) : (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Logged requests">
          <table className="nowrap-cells">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Request</th>
                <th scope="col">Project</th>
                <th scope="col">Key</th>
                <th scope="col">Model</th>
                <th scope="col">Endpoint</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">Latency ms</th>
                <th scope="col" className="num">TTFT ms</th>
                <th scope="col" className="num">Tokens in</th>
                <th scope="col" className="num">Tokens out</th>
                <th scope="col" className="num">Cost</th>
                <th scope="col">Deployment</th>
                <th scope="col" className="num">Retries</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={keyOf(r)}>
                  <td className="nowrap">{formatTime(r.created_at)}</td>
                  <td>
                    {/* Clipped to keep the row short; the link's text (what screen readers read) and title keep the whole id. */}
                    <a href={`#/requests/${encodeURIComponent(r.id)}`} className="mono id-link" title={r.id}>
                      {r.id}
                    </a>
                  </td>
                  <td>{nameOf(r.project_id)}</td>
                  <td className="mono">{r.api_key_id ?? "—"}</td>
                  <td>{r.model ?? "—"}</td>
                  <td className="mono">
                    {r.method} {r.endpoint ?? "(unknown route)"}
                  </td>
                  <td>
                    <StatusBadge status={r.status} errorCode={r.error_code} />
                  </td>
                  <td className="num">{formatNumber(r.latency_ms)}</td>
                  <td className="num">{formatNumber(r.ttft_ms)}</td>
                  <td className="num">{formatNumber(r.usage?.input_tokens)}</td>
                  <td className="num">{formatNumber(r.usage?.output_tokens)}</td>
                  <td className="num">{formatUsd(r.cost_usd)}</td>
                  <td>{r.deployment ?? "—"}</td>
                  <td className="num">{r.retries}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {hasMore && (
        <p>
          <button type="button" onClick={loadMore} disabled={busy}>
            Load more
          </button>
        </p>
      )}
    </>
  );
}

/** The body `captureBodies` kept: `{request, response, truncated}`. */
interface CapturedBody {
  request?: unknown;
  response?: unknown;
  truncated?: boolean;
}

function json(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

function RequestDetail(props: { id: string }) {
  const { data, error, loading } = useAsync(() => api<LoggedRequest>(`/v1/organization/requests/${encodeURIComponent(props.id)}`), [props.id]);
  const { nameOf } = useProjects();
  const body = data?.body;
  const captured = body !== null && typeof body === "object" ? (body as CapturedBody) : undefined;

  return (
    <>
      <p>
        <a href="#/requests">← Back to requests</a>
      </p>
      <PageHeader title={`Request ${props.id}`} />
      <ErrorBox error={error} />
      <Loading loading={loading && data === undefined} />
      {data !== undefined && (
        <>
          <dl className="details">
            <Field name="Request id" value={<code>{data.id}</code>} />
            <Field name="Time" value={formatTime(data.created_at)} />
            <Field name="Project" value={`${nameOf(data.project_id)} (${data.project_id})`} />
            <Field name="API key id" value={data.api_key_id ?? "—"} />
            <Field name="Model" value={data.model ?? "—"} />
            <Field name="Endpoint" value={`${data.method} ${data.endpoint ?? "(unknown route)"}`} />
            <Field name="Status" value={<StatusBadge status={data.status} />} />
            <Field name="Error code" value={data.error_code ?? "—"} />
            <Field name="Latency" value={`${formatNumber(data.latency_ms)} ms`} />
            <Field name="Time to first token" value={data.ttft_ms === null ? "—" : `${formatNumber(data.ttft_ms)} ms`} />
            <Field name="Input tokens" value={formatNumber(data.usage?.input_tokens)} />
            <Field name="Cached input tokens" value={formatNumber(data.usage?.cached_tokens)} />
            <Field name="Output tokens" value={formatNumber(data.usage?.output_tokens)} />
            <Field name="Cost" value={formatUsd(data.cost_usd)} />
            <Field name="Deployment" value={data.deployment ?? "—"} />
            <Field name="Retries" value={String(data.retries)} />
            <Field
              name="Guardrails"
              value={data.guardrails.length === 0 ? "—" : data.guardrails.map((g) => `${g.stage} ${g.check}: ${g.action}${g.category !== null ? ` (${g.category})` : ""}`).join("; ")}
            />
          </dl>
          <h2>Captured body</h2>
          {body === null || body === undefined ? (
            <p className="muted">
              No body was kept for this request. Bodies are kept only for projects with <code>log_bodies</code> turned on, and then not for streamed,
              relayed or multipart answers.
            </p>
          ) : captured !== undefined && ("request" in captured || "response" in captured) ? (
            <>
              {captured.truncated === true && <p className="warn">Cut to the configured size: long strings end in “…”.</p>}
              <h3>Request</h3>
              <pre tabIndex={0}>{captured.request === undefined || captured.request === null ? "(none)" : json(captured.request)}</pre>
              <h3>Response</h3>
              <pre tabIndex={0}>{captured.response === undefined || captured.response === null ? "(not kept)" : json(captured.response)}</pre>
            </>
          ) : (
            <pre tabIndex={0}>{json(body)}</pre>
          )}
        </>
      )}
    </>
  );
}

function Field(props: { name: string; value: ReactNode }) {
  return (
    <div>
      <dt>{props.name}</dt>
      <dd>{props.value}</dd>
    </div>
  );
}
