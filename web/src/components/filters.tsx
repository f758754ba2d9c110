import type { Project } from "../types.ts";

/** A labelled project filter: "All projects" or one project (archived ones marked). */
export function ProjectSelect(props: { id: string; projects: readonly Project[]; value: string; onChange: (id: string) => void }) {
  return (
    <div>
      <label htmlFor={props.id}>Project</label>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange(e.target.value)}>
        <option value="">All projects</option>
        {props.projects.map((p) => (
          <option key={p.id} value={p.id}>
            {p.status === "archived" ? `${p.name} (archived)` : p.name}
          </option>
        ))}
      </select>
    </div>
  );
}

/** An HTTP status as a badge: the number is the text, the colour only repeats it. */
export function StatusBadge(props: { status: number; errorCode?: string | null }) {
  const cls = props.status >= 500 ? "error" : props.status >= 400 ? "warn" : "ok";
  return (
    <span className={`badge ${cls}`} title={props.errorCode ?? undefined}>
      {props.status}
      {props.errorCode !== undefined && props.errorCode !== null && <span className="visually-hidden"> ({props.errorCode})</span>}
    </span>
  );
}
