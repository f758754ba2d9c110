import { useEffect, useId, useState, type FormEvent } from "react";
import { api } from "../api.ts";
import { ErrorBox, errorText, formatTime, useAsync } from "../components/common.tsx";

/** `GET /v1/organization/projects/{id}/guardrails`. */
interface ProjectGuardrails {
  source: "project" | "config" | "none";
  updated_at: number | null;
  input: Record<string, unknown>[];
  output: Record<string, unknown>[];
}

interface DryRunStage {
  text: string;
  blocked: boolean;
  blocked_by: { check: string; category: string | null } | null;
  events: { stage: string; check: string; action: string; category: string | null }[];
}

const EXAMPLE = {
  input: [
    { type: "pii", action: "redact", entities: ["email", "phone", "payment_card", "prc_id", "secret"], restore_output: true },
    { type: "moderation", action: "block", model: "omni-moderation-latest" },
  ],
  output: [
    { type: "pii", action: "redact", entities: ["secret", "payment_card"] },
    { type: "banned", action: "block", words: ["internal codename"] },
  ],
};

/**
 * A project's guardrails: the policy as JSON (checks on input and output, in order), saved through the
 * admin API, and a dry run that shows what a policy does to a text without running a model.
 */
export function ProjectGuardrails(props: { projectId: string }) {
  const id = useId();
  const path = `/v1/organization/projects/${encodeURIComponent(props.projectId)}/guardrails`;
  const current = useAsync((signal) => api<ProjectGuardrails>(path, { signal }), [path]);
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState("");
  const [sampleIn, setSampleIn] = useState("");
  const [sampleOut, setSampleOut] = useState("");
  const [dry, setDry] = useState<{ input: DryRunStage | null; output: DryRunStage | null } | null>(null);

  useEffect(() => {
    const c = current.data;
    if (c === undefined) return;
    setText(JSON.stringify(c.source === "none" ? EXAMPLE : { input: c.input, output: c.output }, null, 2));
  }, [current.data]);

  const parsed = (): unknown => {
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      throw new Error(`The policy is not valid JSON: ${(e as Error).message}`);
    }
  };

  const save = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    setStatus("");
    try {
      await api(path, { method: "POST", body: parsed() });
      setStatus("Saved.");
      current.reload();
    } catch (err) {
      setError(errorText(err));
    }
  };

  const remove = async (): Promise<void> => {
    setError(null);
    try {
      await api(path, { method: "DELETE" });
      setStatus("Removed.");
      current.reload();
    } catch (err) {
      setError(errorText(err));
    }
  };

  const dryRun = async (): Promise<void> => {
    setError(null);
    try {
      const body: Record<string, unknown> = { policy: parsed() };
      if (sampleIn !== "") body.input = sampleIn;
      if (sampleOut !== "") body.output = sampleOut;
      setDry(await api("/v1/organization/guardrails/dry_run", { method: "POST", body }));
    } catch (err) {
      setError(errorText(err));
    }
  };

  const c = current.data;
  return (
    <section className="panel" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Guardrails</h2>
      <p className="muted small">
        {c === undefined
          ? ""
          : c.source === "project"
            ? `This project's own policy, set ${formatTime(c.updated_at)}.`
            : c.source === "config"
              ? "The policy from the server's config (saving here replaces it for this project)."
              : "No policy: requests are not checked. An example is filled in below."}{" "}
        Checks run in order: on input before the model (block, redact or flag), on output while it streams. See docs/guardrails.md.
      </p>
      <ErrorBox error={current.error ?? error} />
      <form onSubmit={(e) => void save(e)}>
        <label htmlFor={`${id}-policy`}>Policy (JSON)</label>
        <textarea id={`${id}-policy`} className="tall" value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} />
        <div className="form-row">
          <button type="submit" className="primary">
            Save guardrails
          </button>
          {c?.source === "project" && (
            <button type="button" className="danger" onClick={() => void remove()}>
              Remove guardrails
            </button>
          )}
          <span role="status" className="ok small">
            {status}
          </span>
        </div>
      </form>
      <h3>Dry run</h3>
      <div className="grid-2">
        <div>
          <label htmlFor={`${id}-in`}>Sample input</label>
          <textarea id={`${id}-in`} value={sampleIn} onChange={(e) => setSampleIn(e.target.value)} />
        </div>
        <div>
          <label htmlFor={`${id}-out`}>Sample output</label>
          <textarea id={`${id}-out`} value={sampleOut} onChange={(e) => setSampleOut(e.target.value)} />
        </div>
      </div>
      <div className="form-row">
        <button type="button" onClick={() => void dryRun()} disabled={sampleIn === "" && sampleOut === ""}>
          Dry run
        </button>
      </div>
      {dry !== null && (
        <div aria-label="Dry run result" aria-live="polite">
          {(["input", "output"] as const).map((stage) => {
            const r = dry[stage];
            if (r === null) return null;
            return (
              <div key={stage}>
                <h4>
                  {stage === "input" ? "Input" : "Output"}:{" "}
                  {r.blocked ? (
                    <span className="badge error">
                      blocked by {r.blocked_by?.check}
                      {r.blocked_by?.category ? ` (${r.blocked_by.category})` : ""}
                    </span>
                  ) : (
                    <span className="badge ok">passes</span>
                  )}
                </h4>
                <pre>{r.text}</pre>
                {r.events.length > 0 && (
                  <ul className="small">
                    {r.events.map((e, i) => (
                      <li key={i}>
                        {e.check}: {e.action}
                        {e.category !== null ? ` (${e.category})` : ""}
                      </li>
                    ))}
                  </ul>
                )}
              </div>
            );
          })}
        </div>
      )}
    </section>
  );
}
