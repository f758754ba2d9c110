import { useState } from "react";
import { api, listAll, projectKey } from "../api.ts";
import { ErrorBox, errorText, formatTime, Loading, useAsync } from "../components/common.tsx";
import { NeedsKey, ProgressCell, useAutoRefresh } from "./objects-common.tsx";

interface Batch {
  id: string;
  status: string;
  endpoint: string;
  created_at: number;
  request_counts: { total: number; completed: number; failed: number };
}

/** Statuses in which a batch can still be cancelled (and is still changing). */
const RUNNING = new Set(["validating", "in_progress"]);

/** The project's batches, newest first, with cancel for running ones. */
export function BatchesTab(props: { tick: number }) {
  const hasKey = projectKey() !== null;
  const batches = useAsync((signal) => (hasKey ? listAll<Batch>("/v1/batches", { as: "project", signal }, 300) : Promise.resolve([])), [props.tick, hasKey]);
  const [error, setError] = useState<string | null>(null);
  const busy = (batches.data ?? []).some((b) => RUNNING.has(b.status) || b.status === "finalizing" || b.status === "cancelling");
  useAutoRefresh(busy, batches.reload);

  const cancel = async (id: string): Promise<void> => {
    setError(null);
    try {
      await api(`/v1/batches/${encodeURIComponent(id)}/cancel`, { method: "POST", as: "project" });
    } catch (err) {
      setError(errorText(err));
    }
    batches.reload();
  };

  if (!hasKey) return <NeedsKey />;
  return (
    <>
      <ErrorBox error={batches.error} />
      <ErrorBox error={error} />
      <Loading loading={batches.loading && batches.data === undefined} />
      {busy && <p className="muted small">Refreshing every 5 seconds while a batch runs.</p>}
      {batches.data !== undefined && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Status</th>
                <th scope="col">Endpoint</th>
                <th scope="col">Requests</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {batches.data.length === 0 && (
                <tr>
                  <td colSpan={6} className="muted">
                    No batches.
                  </td>
                </tr>
              )}
              {batches.data.map((b) => (
                <tr key={b.id}>
                  <td>
                    <code>{b.id}</code>
                  </td>
                  <td>
                    <span className={b.status === "completed" ? "badge ok" : b.status === "failed" || b.status === "expired" ? "badge error" : "badge"}>{b.status}</span>
                  </td>
                  <td>{b.endpoint}</td>
                  <td>
                    <ProgressCell done={b.request_counts.completed} failed={b.request_counts.failed} total={b.request_counts.total} label={`Progress of ${b.id}`} />
                  </td>
                  <td>{formatTime(b.created_at)}</td>
                  <td>
                    {RUNNING.has(b.status) && (
                      <button type="button" className="danger" onClick={() => void cancel(b.id)} aria-label={`Cancel ${b.id}`}>
                        Cancel
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
