import { listAll, projectKey } from "../api.ts";
import { ErrorBox, formatBytes, formatTime, Loading, useAsync } from "../components/common.tsx";
import { NeedsKey, ProgressCell, useAutoRefresh } from "./objects-common.tsx";

interface FileObject {
  id: string;
  filename: string;
  purpose: string;
  bytes: number;
  created_at: number;
  status: string;
}

interface VectorStore {
  id: string;
  name: string | null;
  status: string;
  usage_bytes: number;
  created_at: number;
  file_counts: { in_progress: number; completed: number; failed: number; cancelled: number; total: number };
}

/** The project's files. */
export function FilesTab(props: { tick: number }) {
  const hasKey = projectKey() !== null;
  const files = useAsync((signal) => (hasKey ? listAll<FileObject>("/v1/files", { as: "project", signal }, 500) : Promise.resolve([])), [props.tick, hasKey]);
  if (!hasKey) return <NeedsKey />;
  return (
    <>
      <ErrorBox error={files.error} />
      <Loading loading={files.loading && files.data === undefined} />
      {files.data !== undefined && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Filename</th>
                <th scope="col">Purpose</th>
                <th scope="col" className="num">
                  Size
                </th>
                <th scope="col">Created</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {files.data.length === 0 && (
                <tr>
                  <td colSpan={6} className="muted">
                    No files.
                  </td>
                </tr>
              )}
              {files.data.map((f) => (
                <tr key={f.id}>
                  <td>
                    <code>{f.id}</code>
                  </td>
                  <td className="wrap-anywhere">{f.filename}</td>
                  <td>{f.purpose}</td>
                  <td className="num">{formatBytes(f.bytes)}</td>
                  <td>{formatTime(f.created_at)}</td>
                  <td>{f.status}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

/** The project's vector stores, with indexing progress (refreshing while files are indexed). */
export function VectorStoresTab(props: { tick: number }) {
  const hasKey = projectKey() !== null;
  const stores = useAsync((signal) => (hasKey ? listAll<VectorStore>("/v1/vector_stores", { as: "project", signal }, 300) : Promise.resolve([])), [props.tick, hasKey]);
  const busy = (stores.data ?? []).some((s) => s.status === "in_progress");
  useAutoRefresh(busy, stores.reload);
  if (!hasKey) return <NeedsKey />;
  return (
    <>
      <ErrorBox error={stores.error} />
      <Loading loading={stores.loading && stores.data === undefined} />
      {busy && <p className="muted small">Refreshing every 5 seconds while files are indexed.</p>}
      {stores.data !== undefined && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Files</th>
                <th scope="col" className="num">
                  Usage
                </th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {stores.data.length === 0 && (
                <tr>
                  <td colSpan={6} className="muted">
                    No vector stores.
                  </td>
                </tr>
              )}
              {stores.data.map((s) => (
                <tr key={s.id}>
                  <td>
                    <code>{s.id}</code>
                  </td>
                  <td>{s.name ?? <span className="muted">unnamed</span>}</td>
                  <td>
                    <span className={s.status === "completed" ? "badge ok" : s.status === "expired" ? "badge error" : "badge"}>{s.status}</span>
                  </td>
                  <td>
                    <ProgressCell done={s.file_counts.completed} failed={s.file_counts.failed + s.file_counts.cancelled} total={s.file_counts.total} label={`Files indexed in ${s.id}`} />
                  </td>
                  <td className="num">{formatBytes(s.usage_bytes)}</td>
                  <td>{formatTime(s.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
