import { useId, useState, type FormEvent } from "react";
import { api, listAll } from "../api.ts";
import { ErrorBox, errorText, formatTime, formatUsd, Loading, PageHeader, useAsync } from "../components/common.tsx";
import { navigate } from "../router.ts";
import type { Project } from "../types.ts";
import { ProjectDetail } from "./project-detail.tsx";

/** `#/projects` lists the projects; `#/projects/<id>` shows one project with its keys and limits. */
export function ProjectsPage(props: { rest: string[] }) {
  const id = props.rest[0];
  return id === undefined ? <ProjectList /> : <ProjectDetail id={id} />;
}

/** Spend against the monthly budget, as "$1.20 / $10.00". */
export function spendText(p: Project): string {
  return p.monthly_budget_usd === null ? `${formatUsd(p.month_spend_usd)} (no budget)` : `${formatUsd(p.month_spend_usd)} / ${formatUsd(p.monthly_budget_usd)}`;
}

function ProjectList() {
  const [archived, setArchived] = useState(false);
  const projects = useAsync((signal) => listAll<Project>(`/v1/organization/projects?include_archived=${archived}`, { signal }), [archived]);
  const archivedId = useId();

  return (
    <>
      <PageHeader title="Projects and keys">
        <label className="inline" htmlFor={archivedId}>
          <input id={archivedId} type="checkbox" checked={archived} onChange={(e) => setArchived(e.target.checked)} />
          Show archived
        </label>
        <button type="button" onClick={projects.reload}>
          Refresh
        </button>
      </PageHeader>
      <CreateProject />
      <h2>Projects</h2>
      <ErrorBox error={projects.error} />
      <Loading loading={projects.loading && projects.data === undefined} />
      {projects.data !== undefined && (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Projects</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Id</th>
                <th scope="col">Status</th>
                <th scope="col">Tier</th>
                <th scope="col" className="num">
                  Month spend / budget
                </th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {projects.data.length === 0 && (
                <tr>
                  <td colSpan={6} className="muted">
                    No projects.
                  </td>
                </tr>
              )}
              {projects.data.map((p) => (
                <tr key={p.id}>
                  <td>
                    <a href={`#/projects/${encodeURIComponent(p.id)}`}>{p.name}</a>
                  </td>
                  <td>
                    <code>{p.id}</code>
                  </td>
                  <td>
                    <span className={p.status === "active" ? "badge ok" : "badge"}>{p.status}</span>
                  </td>
                  <td>{p.tier ?? <span className="muted">default</span>}</td>
                  <td className={p.budget_exceeded ? "num error" : p.soft_budget_exceeded ? "num warn" : "num"}>{spendText(p)}</td>
                  <td>{formatTime(p.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function CreateProject() {
  const nameId = useId();
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const project = await api<Project>("/v1/organization/projects", { method: "POST", body: { name: name.trim() } });
      navigate(`projects/${encodeURIComponent(project.id)}`);
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };

  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-label="Create project">
      <div className="form-row">
        <div className="grow">
          <label htmlFor={nameId}>Project name</label>
          <input id={nameId} value={name} onChange={(e) => setName(e.target.value)} maxLength={200} required />
        </div>
        <button type="submit" className="primary" disabled={busy || name.trim() === ""}>
          Create project
        </button>
      </div>
      <ErrorBox error={error} />
    </form>
  );
}
