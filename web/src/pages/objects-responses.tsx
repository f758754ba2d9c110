import { useId, useState, type FormEvent } from "react";
import { api, projectKey, type ListPage } from "../api.ts";
import { ErrorBox, errorText, formatNumber, formatTime, Loading, useAsync } from "../components/common.tsx";
import { NeedsKey, useAutoRefresh } from "./objects-common.tsx";

interface ResponseObject {
  id: string;
  status: string;
  model: string;
  created_at: number;
  background?: boolean | null;
  usage?: { input_tokens: number; output_tokens: number; total_tokens: number };
  output?: { type: string; content?: { type: string; text?: string }[] }[];
  error?: { message: string } | null;
}

interface StoredCompletion {
  id: string;
  model: string;
  created: number;
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
  choices?: { message?: { content?: string | null } }[];
}

/** The text of a response's output messages (OpenAI's SDKs call this `output_text`). */
function outputText(r: ResponseObject): string {
  return (r.output ?? [])
    .filter((o) => o.type === "message")
    .flatMap((o) => o.content ?? [])
    .filter((c) => c.type === "output_text")
    .map((c) => c.text ?? "")
    .join("");
}

/**
 * Responses have no list endpoint, so one is looked up by id (with cancel for a background one
 * still running); below it, the stored chat completions (`store: true`), which do have a list.
 */
export function ResponsesTab(props: { tick: number }) {
  if (projectKey() === null) return <NeedsKey />;
  return (
    <>
      <ResponseLookup tick={props.tick} />
      <StoredCompletions tick={props.tick} />
    </>
  );
}

function ResponseLookup(props: { tick: number }) {
  const id = useId();
  const [input, setInput] = useState("");
  const [shown, setShown] = useState<string | null>(null);
  const [cancelError, setCancelError] = useState<string | null>(null);
  const found = useAsync((signal) => (shown === null ? Promise.resolve(undefined) : api<ResponseObject>(`/v1/responses/${encodeURIComponent(shown)}`, { as: "project", signal })), [shown, props.tick]);
  const r = found.data;
  const running = r !== undefined && (r.status === "queued" || r.status === "in_progress");
  useAutoRefresh(running, found.reload);

  const submit = (e: FormEvent): void => {
    e.preventDefault();
    setCancelError(null);
    if (input.trim() === shown) found.reload();
    else setShown(input.trim());
  };

  const cancel = async (): Promise<void> => {
    if (r === undefined) return;
    setCancelError(null);
    try {
      await api(`/v1/responses/${encodeURIComponent(r.id)}/cancel`, { method: "POST", as: "project" });
    } catch (err) {
      setCancelError(errorText(err));
    }
    found.reload();
  };

  return (
    <section className="panel" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Look up a response</h2>
      <form className="form-row" onSubmit={submit}>
        <div className="grow">
          <label htmlFor={`${id}-id`}>Response id</label>
          <input id={`${id}-id`} value={input} onChange={(e) => setInput(e.target.value)} placeholder="resp_…" spellCheck={false} required />
        </div>
        <button type="submit" className="primary" disabled={input.trim() === ""}>
          Look up
        </button>
      </form>
      <ErrorBox error={shown === null ? null : found.error} />
      <ErrorBox error={cancelError} />
      <Loading loading={shown !== null && found.loading && r === undefined} />
      {r !== undefined && found.error === null && (
        <div className="response-view">
          <dl className="stats">
            <div>
              <dt>Status</dt>
              <dd>{r.status}</dd>
            </div>
            <div>
              <dt>Model</dt>
              <dd>{r.model}</dd>
            </div>
            <div>
              <dt>Created</dt>
              <dd>{formatTime(r.created_at)}</dd>
            </div>
            <div>
              <dt>Input / output tokens</dt>
              <dd>{r.usage === undefined ? "—" : `${formatNumber(r.usage.input_tokens)} / ${formatNumber(r.usage.output_tokens)}`}</dd>
            </div>
          </dl>
          {running && (
            <button type="button" className="danger" onClick={() => void cancel()}>
              Cancel
            </button>
          )}
          {r.error != null && <p className="error">{r.error.message}</p>}
          <h3>Output text</h3>
          <pre>{outputText(r) || "(none)"}</pre>
        </div>
      )}
    </section>
  );
}

function StoredCompletions(props: { tick: number }) {
  const id = useId();
  // The newest 100 are enough for a glance; the list is cursor-paged oldest first by default.
  const list = useAsync((signal) => api<ListPage<StoredCompletion>>("/v1/chat/completions?limit=100&order=desc", { as: "project", signal }), [props.tick]);
  return (
    <section aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Stored chat completions</h2>
      <p className="muted small">Chat completions made with store: true, newest first (up to 100).</p>
      <ErrorBox error={list.error} />
      <Loading loading={list.loading && list.data === undefined} />
      {list.data !== undefined && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Model</th>
                <th scope="col">Created</th>
                <th scope="col" className="num">
                  Tokens in / out
                </th>
                <th scope="col">Answer</th>
              </tr>
            </thead>
            <tbody>
              {list.data.data.length === 0 && (
                <tr>
                  <td colSpan={5} className="muted">
                    No stored chat completions.
                  </td>
                </tr>
              )}
              {list.data.data.map((c) => (
                <tr key={c.id}>
                  <td>
                    <code>{c.id}</code>
                  </td>
                  <td>{c.model}</td>
                  <td>{formatTime(c.created)}</td>
                  <td className="num">{c.usage == null ? "—" : `${formatNumber(c.usage.prompt_tokens)} / ${formatNumber(c.usage.completion_tokens)}`}</td>
                  <td className="clip">{c.choices?.[0]?.message?.content ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
