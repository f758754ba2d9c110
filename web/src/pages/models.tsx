import { api } from "../api.ts";
import { ErrorBox, formatBytes, formatNumber, formatTime, Loading, PageHeader, useAsync, useInterval } from "../components/common.tsx";
import type { ModelStatus, ServerStatus } from "../types.ts";

/** A per-1M-token price; prices are small, so up to four decimals. */
function price(n: number): string {
  return `$${n.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 4 })}`;
}

/** A statistic the model reports, or a dash (routed and builtin models have no sequences). */
function stat(m: ModelStatus, name: string): string {
  const v = m.stats[name];
  return v === undefined ? "—" : formatNumber(v);
}

export function ModelsPage() {
  const { data, error, loading, reload } = useAsync(() => api<ServerStatus>("/v1/organization/status"), []);
  useInterval(reload, 5000);

  const models = data?.models ?? [];
  const deployments = models.flatMap((m) => m.deployments.map((d) => ({ model: m.id, ...d })));
  const pulls = data?.pulls ?? [];

  return (
    <>
      <PageHeader title="Models">
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </PageHeader>
      <p className="muted small">Live from the server, refreshed every 5 seconds{data !== undefined ? ` · server ${data.state}, up since ${formatTime(data.started_at)}` : ""}.</p>
      <ErrorBox error={error} />
      <Loading loading={loading && data === undefined} />

      <h2 id="models-title">Served models</h2>
      {data !== undefined && models.length === 0 ? (
        <p className="muted">No models are configured.</p>
      ) : (
        <div className="table-wrap" tabIndex={0} role="region" aria-labelledby="models-title">
          <table>
            <thead>
              <tr>
                <th scope="col">Model</th>
                <th scope="col">Kind</th>
                <th scope="col">Aliases</th>
                <th scope="col" className="num">Context length</th>
                <th scope="col" className="num">Sequences busy / total</th>
                <th scope="col" className="num">Queued</th>
                <th scope="col" className="num">Stored prefixes</th>
                <th scope="col" className="num">Input $/1M</th>
                <th scope="col" className="num">Cached input $/1M</th>
                <th scope="col" className="num">Output $/1M</th>
              </tr>
            </thead>
            <tbody>
              {models.map((m) => {
                const free = m.pricing === null || (m.pricing.input === 0 && m.pricing.cached_input === 0 && m.pricing.output === 0);
                return (
                  <tr key={m.id}>
                    <th scope="row" className="mono nowrap">
                      {m.id}
                    </th>
                    <td>{m.kind}</td>
                    <td>{m.aliases.length === 0 ? "—" : m.aliases.join(", ")}</td>
                    <td className="num">{formatNumber(m.context_length)}</td>
                    <td className="num">{m.stats.sequences === undefined ? "—" : `${stat(m, "busy")} / ${stat(m, "sequences")}`}</td>
                    <td className="num">{m.stats.queue_size === undefined ? stat(m, "queued") : `${stat(m, "queued")} of ${stat(m, "queue_size")}`}</td>
                    <td className="num">{stat(m, "stored_prefixes")}</td>
                    {free || m.pricing === null ? (
                      <td className="free" colSpan={3}>
                        free
                      </td>
                    ) : (
                      <>
                        <td className="num">{price(m.pricing.input)}</td>
                        <td className="num">{price(m.pricing.cached_input)}</td>
                        <td className="num">{price(m.pricing.output)}</td>
                      </>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}

      <h2 id="deployments-title">Upstream deployments</h2>
      {deployments.length === 0 ? (
        <p className="muted">{data === undefined ? "" : "No routed models: every model runs here."}</p>
      ) : (
        <div className="table-wrap" tabIndex={0} role="region" aria-labelledby="deployments-title">
          <table>
            <thead>
              <tr>
                <th scope="col">Model</th>
                <th scope="col">Deployment</th>
                <th scope="col" className="num">Requests</th>
                <th scope="col" className="num">In flight</th>
                <th scope="col" className="num">Failures</th>
                <th scope="col" className="num">Retries</th>
                <th scope="col">Circuit</th>
              </tr>
            </thead>
            <tbody>
              {deployments.map((d) => (
                <tr key={`${d.model}|${d.id}`}>
                  <td className="mono nowrap">{d.model}</td>
                  <td className="mono nowrap">{d.id}</td>
                  <td className="num">{formatNumber(d.requests)}</td>
                  <td className="num">{formatNumber(d.in_flight)}</td>
                  <td className="num">{formatNumber(d.failures)}</td>
                  <td className="num">{formatNumber(d.retries)}</td>
                  <td>
                    {/* Open means the breaker stopped sending to this deployment for now. */}
                    <span className={d.circuit_state === "open" ? "badge error" : "badge ok"}>{d.circuit_state}</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h2>Downloads</h2>
      {pulls.length === 0 ? (
        <p className="muted">
          No model is being downloaded. Pull one with <code>modelport pull &lt;name&gt;</code>.
        </p>
      ) : (
        <ul className="downloads">
          {pulls.map((p, i) => {
            const id = `pull-${i}`;
            const known = p.total_bytes !== null && p.total_bytes > 0;
            return (
              <li key={p.file}>
                <label htmlFor={id} className="mono">
                  {p.file}
                </label>
                {/* No total (the server did not say): an indeterminate bar rather than a wrong one. */}
                {known ? <progress id={id} className="progress" value={p.bytes} max={p.total_bytes ?? undefined} /> : <progress id={id} className="progress" />}
                <span className="muted small">
                  {known ? `${formatBytes(p.bytes)} of ${formatBytes(p.total_bytes)} (${Math.floor((p.bytes / (p.total_bytes ?? 1)) * 100)} %)` : `${formatBytes(p.bytes)} so far, size unknown`}
                </span>
              </li>
            );
          })}
        </ul>
      )}
    </>
  );
}
