import { useId, useState, type FormEvent } from "react";
import { api, type ListPage } from "../api.ts";
import { ErrorBox, errorText, formatNumber, Loading, useAsync } from "../components/common.tsx";
import { adminModelIds } from "../components/model-ids.ts";
import type { RateLimit } from "../types.ts";

const FIELDS = [
  ["max_requests_per_1_minute", "Requests per minute"],
  ["max_tokens_per_1_minute", "Tokens per minute"],
  ["max_requests_per_1_day", "Requests per day"],
  ["max_concurrent_requests", "Concurrent requests"],
] as const;

type Field = (typeof FIELDS)[number][0];
type Values = Record<Field, string>;

const EMPTY: Values = { max_requests_per_1_minute: "", max_tokens_per_1_minute: "", max_requests_per_1_day: "", max_concurrent_requests: "" };

/** A project's per-model rate limits and the form that sets one (`POST …/rate_limits/rl-<model>`). */
export function ProjectRateLimits(props: { projectId: string; tier: string | null }) {
  const path = `/v1/organization/projects/${encodeURIComponent(props.projectId)}/rate_limits`;
  // The list route ignores `after`, so one page of the maximum size is the whole list.
  const limits = useAsync((signal) => api<ListPage<RateLimit>>(`${path}?limit=100`, { signal }).then((p) => p.data), [path]);
  const models = useAsync((signal) => adminModelIds(signal), []);
  const id = useId();
  const [model, setModel] = useState("");
  const [values, setValues] = useState<Values>(EMPTY);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);

  const modelList = models.data ?? [];
  const chosen = model !== "" ? model : (modelList[0] ?? "");

  const current = limits.data?.find((r) => r.model === chosen);

  // A new model starts empty; the placeholders show what is stored, and empty fields are not sent.
  const choose = (m: string): void => {
    setModel(m);
    setValues(EMPTY);
  };

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(null);
    // Empty fields are left out: the server keeps the stored value (or the tier's when none is stored).
    const body: Partial<Record<Field, number>> = {};
    for (const [key] of FIELDS) if (values[key].trim() !== "") body[key] = Number(values[key]);
    try {
      await api<RateLimit>(`${path}/rl-${encodeURIComponent(chosen)}`, { method: "POST", body });
      setSaved(`Saved the rate limit of ${chosen}.`);
      limits.reload();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Rate limits</h2>
      <p className="muted small">
        A model without a rate limit gets the limits of the project's tier ({props.tier ?? "the server's default tier"}). The table shows 0 both for a limit never set and
        for a stored 0; the API does not tell them apart.
      </p>
      <ErrorBox error={limits.error} />
      <Loading loading={limits.loading && limits.data === undefined} />
      {limits.data !== undefined && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Model</th>
                {FIELDS.map(([key, label]) => (
                  <th key={key} scope="col" className="num">
                    {label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {limits.data.length === 0 && (
                <tr>
                  <td colSpan={5} className="muted">
                    No rate limits: the tier's limits apply.
                  </td>
                </tr>
              )}
              {limits.data.map((r) => (
                <tr key={r.id}>
                  <td>{r.model}</td>
                  {FIELDS.map(([key]) => (
                    <td key={key} className="num">
                      {formatNumber(r[key])}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form className="panel" onSubmit={(e) => void submit(e)} aria-label="Set rate limit">
        <ErrorBox error={models.error} />
        <div className="form-row">
          <div>
            <label htmlFor={`${id}-model`}>Model</label>
            <select id={`${id}-model`} value={chosen} onChange={(e) => choose(e.target.value)} required>
              {modelList.map((m) => (
                <option key={m} value={m}>
                  {m}
                </option>
              ))}
            </select>
          </div>
          {FIELDS.map(([key, label]) => (
            <div key={key}>
              <label htmlFor={`${id}-${key}`}>{label}</label>
              <input
                id={`${id}-${key}`}
                type="number"
                min={0}
                step={1}
                inputMode="numeric"
                placeholder={current === undefined || current[key] === 0 ? "tier" : String(current[key])}
                value={values[key]}
                onChange={(e) => setValues((v) => ({ ...v, [key]: e.target.value }))}
                aria-describedby={`${id}-hint`}
              />
            </div>
          ))}
          <button type="submit" className="primary" disabled={busy || chosen === ""}>
            Save rate limit
          </button>
        </div>
        <p id={`${id}-hint`} className="muted small">
          An empty field keeps the value shown greyed in it (or the tier's, if none was set); once set, a limit cannot be removed, only changed. 0 refuses every
          request.
        </p>
        <p role="status" className="ok small">
          {saved ?? ""}
        </p>
        <ErrorBox error={error} />
      </form>
    </section>
  );
}
