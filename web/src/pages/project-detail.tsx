import { useId, useState, type FormEvent } from "react";
import { api } from "../api.ts";
import { ConfirmButton } from "../components/confirm-button.tsx";
import { ErrorBox, errorText, formatTime, formatUsd, Loading, PageHeader, useAsync } from "../components/common.tsx";
import type { Project } from "../types.ts";
import { ProjectGuardrails } from "./project-guardrails.tsx";
import { ProjectKeys } from "./project-keys.tsx";
import { ProjectRateLimits } from "./project-rate-limits.tsx";

/** The tiers the server accepts (src/services/usage-tiers.ts USAGE_TIERS), as OpenAI publishes them. */
const TIERS = ["free", "tier-1", "tier-2", "tier-3", "tier-4", "tier-5"] as const;

/** One project: its settings and budget, then its keys, rate limits and guardrails. */
export function ProjectDetail(props: { id: string }) {
  const path = `/v1/organization/projects/${encodeURIComponent(props.id)}`;
  const project = useAsync((signal) => api<Project>(path, { signal }), [path]);
  const [archiveError, setArchiveError] = useState<string | null>(null);
  const p = project.data;

  const archive = async (): Promise<void> => {
    setArchiveError(null);
    try {
      await api<Project>(`${path}/archive`, { method: "POST" });
      project.reload();
    } catch (err) {
      setArchiveError(errorText(err));
    }
  };

  return (
    <>
      <p className="small">
        <a href="#/projects">← All projects</a>
      </p>
      <PageHeader title={p?.name ?? "Project"}>
        {p !== undefined && p.status === "active" && <ConfirmButton label="Archive project" confirmLabel="Confirm archive" onConfirm={archive} />}
      </PageHeader>
      <ErrorBox error={project.error} />
      <ErrorBox error={archiveError} />
      <Loading loading={project.loading && p === undefined} />
      {p !== undefined && (
        <>
          <p className="muted">
            <code>{p.id}</code> · created {formatTime(p.created_at)} ·{" "}
            <span className={p.status === "active" ? "badge ok" : "badge"}>{p.status}</span>
            {p.archived_at !== null && <> · archived {formatTime(p.archived_at)} (its keys no longer work)</>}
          </p>
          <Spend project={p} />
          <ProjectSettings
            key={p.id}
            project={p}
            path={path}
            onSaved={project.reload}
          />
          <ProjectKeys projectId={p.id} />
          <ProjectRateLimits projectId={p.id} tier={p.tier} />
          <ProjectGuardrails projectId={p.id} />
        </>
      )}
    </>
  );
}

function Spend(props: { project: Project }) {
  const p = props.project;
  const barId = useId();
  const budget = p.monthly_budget_usd;
  return (
    <section className="cards" aria-label="Budget">
      <div className="card">
        <div className="label" id={`${barId}-label`}>
          Spent this month
        </div>
        <div className={p.budget_exceeded ? "value error" : p.soft_budget_exceeded ? "value warn" : "value"}>{formatUsd(p.month_spend_usd)}</div>
        {budget !== null ? (
          <>
            <div className="small">of {formatUsd(budget)} monthly budget</div>
            <progress className="progress" aria-labelledby={`${barId}-label`} max={budget > 0 ? budget : 1} value={budget > 0 ? Math.min(p.month_spend_usd, budget) : 1} />
          </>
        ) : (
          <div className="small muted">No monthly budget</div>
        )}
        {p.budget_exceeded && <div className="small error">Budget reached: requests get 429 insufficient_quota.</div>}
        {!p.budget_exceeded && p.soft_budget_exceeded && <div className="small warn">Soft budget of {formatUsd(p.soft_budget_usd)} passed.</div>}
      </div>
    </section>
  );
}

/** A budget field's value: empty is null (no budget), else a number ≥ 0. */
function budgetValue(text: string): number | null {
  return text.trim() === "" ? null : Number(text);
}

function ProjectSettings(props: { project: Project; path: string; onSaved: () => void }) {
  const p = props.project;
  const id = useId();
  const [name, setName] = useState(p.name);
  const [tier, setTier] = useState(p.tier ?? "");
  const [budget, setBudget] = useState(p.monthly_budget_usd === null ? "" : String(p.monthly_budget_usd));
  const [soft, setSoft] = useState(p.soft_budget_usd === null ? "" : String(p.soft_budget_usd));
  const [logBodies, setLogBodies] = useState(p.log_bodies);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);

  // The form shows what the server saved.
  const show = (q: Project): void => {
    setName(q.name);
    setTier(q.tier ?? "");
    setBudget(q.monthly_budget_usd === null ? "" : String(q.monthly_budget_usd));
    setSoft(q.soft_budget_usd === null ? "" : String(q.soft_budget_usd));
    setLogBodies(q.log_bodies);
  };

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    // null clears: the server's default tier, no budget.
    const body: Record<string, unknown> = { name: name.trim(), log_bodies: logBodies, tier: tier === "" ? null : tier, monthly_budget_usd: budgetValue(budget), soft_budget_usd: budgetValue(soft) };
    try {
      show(await api<Project>(props.path, { method: "POST", body }));
      setSaved(true);
      props.onSaved();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Settings</h2>
      <div className="form-row">
        <div className="grow">
          <label htmlFor={`${id}-name`}>Name</label>
          <input id={`${id}-name`} value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />
        </div>
        <div>
          <label htmlFor={`${id}-tier`}>Tier</label>
          <select id={`${id}-tier`} value={tier} onChange={(e) => setTier(e.target.value)}>
            <option value="">Server default</option>
            {TIERS.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={`${id}-budget`}>Monthly budget (USD)</label>
          <input id={`${id}-budget`} type="number" min={0} step="0.01" inputMode="decimal" value={budget} onChange={(e) => setBudget(e.target.value)} aria-describedby={`${id}-budget-hint`} />
        </div>
        <div>
          <label htmlFor={`${id}-soft`}>Soft budget (USD)</label>
          <input id={`${id}-soft`} type="number" min={0} step="0.01" inputMode="decimal" value={soft} onChange={(e) => setSoft(e.target.value)} aria-describedby={`${id}-budget-hint`} />
        </div>
      </div>
      <p id={`${id}-budget-hint`} className="muted small">
        Empty means no budget. A budget of 0 refuses every request; the soft budget only warns.
      </p>
      <label className="inline check" htmlFor={`${id}-log`}>
        <input id={`${id}-log`} type="checkbox" checked={logBodies} onChange={(e) => setLogBodies(e.target.checked)} />
        Log request bodies
      </label>
      <div className="form-row actions-row">
        <button type="submit" className="primary" disabled={busy || name.trim() === ""}>
          Save project
        </button>
        <span role="status" className="ok small">
          {saved ? "Saved." : ""}
        </span>
      </div>
      <ErrorBox error={error} />
    </form>
  );
}
