import { useId, useState, type FormEvent } from "react";
import { api, listAll } from "../api.ts";
import { ConfirmButton } from "../components/confirm-button.tsx";
import { ErrorBox, errorText, formatTime, Loading, useAsync } from "../components/common.tsx";
import { NewKeySecret } from "../components/key-secret.tsx";
import type { ApiKey } from "../types.ts";

/** A project's API keys: list, revoke (two clicks), create (the secret shown once). */
export function ProjectKeys(props: { projectId: string }) {
  const path = `/v1/organization/projects/${encodeURIComponent(props.projectId)}/api_keys`;
  const keys = useAsync((signal) => listAll<ApiKey>(path, { signal }), [path]);
  const [error, setError] = useState<string | null>(null);
  // The one place the new secret lives: component state, dropped by "Done" or leaving the page.
  const [created, setCreated] = useState<{ name: string; secret: string } | null>(null);
  const headingId = useId();

  const revoke = async (key: ApiKey): Promise<void> => {
    setError(null);
    try {
      await api(`${path}/${encodeURIComponent(key.id)}`, { method: "DELETE" });
    } catch (err) {
      setError(errorText(err));
    }
    keys.reload();
  };

  return (
    <section aria-labelledby={headingId}>
      <h2 id={headingId}>API keys</h2>
      <CreateKey
        path={path}
        onCreated={(key) => {
          if (key.value !== undefined) setCreated({ name: key.name, secret: key.value });
          keys.reload();
        }}
      />
      {created !== null && <NewKeySecret name={created.name} secret={created.secret} onDone={() => setCreated(null)} />}
      <ErrorBox error={keys.error} />
      <ErrorBox error={error} />
      <Loading loading={keys.loading && keys.data === undefined} />
      {keys.data !== undefined && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key</th>
                <th scope="col">Allowed models</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.length === 0 && (
                <tr>
                  <td colSpan={6} className="muted">
                    No keys yet.
                  </td>
                </tr>
              )}
              {keys.data.map((k) => (
                <tr key={k.id}>
                  <td>{k.name}</td>
                  <td>
                    <code>{k.redacted_value}</code>
                  </td>
                  <td>{k.models === null ? <span className="muted">all</span> : k.models.join(", ")}</td>
                  <td>{formatTime(k.created_at)}</td>
                  <td>{k.last_used_at === null ? <span className="muted">never</span> : formatTime(k.last_used_at)}</td>
                  <td>
                    <ConfirmButton label={`Revoke ${k.name}`} confirmLabel={`Confirm revoke ${k.name}`} onConfirm={() => revoke(k)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function CreateKey(props: { path: string; onCreated: (key: ApiKey) => void }) {
  const id = useId();
  const [name, setName] = useState("");
  const [models, setModels] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const allowed = models
      .split(",")
      .map((m) => m.trim())
      .filter((m) => m !== "");
    const body: Record<string, unknown> = { name: name.trim() };
    if (allowed.length > 0) body.models = allowed;
    try {
      const key = await api<ApiKey>(props.path, { method: "POST", body });
      setName("");
      setModels("");
      props.onCreated(key);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-label="Create key">
      <div className="form-row">
        <div className="grow">
          <label htmlFor={`${id}-name`}>Key name</label>
          <input id={`${id}-name`} value={name} onChange={(e) => setName(e.target.value)} maxLength={200} required />
        </div>
        <div className="grow">
          <label htmlFor={`${id}-models`}>Allowed models</label>
          <input id={`${id}-models`} value={models} onChange={(e) => setModels(e.target.value)} placeholder="all models" aria-describedby={`${id}-models-hint`} />
        </div>
        <button type="submit" className="primary" disabled={busy || name.trim() === ""}>
          Create key
        </button>
      </div>
      <p id={`${id}-models-hint`} className="muted small">
        Optional: model ids separated by commas. Other models then get 403 model_not_allowed.
      </p>
      <ErrorBox error={error} />
    </form>
  );
}
