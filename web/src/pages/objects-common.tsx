import { useEffect } from "react";
import { formatNumber } from "../components/common.tsx";

/** Reloads every 5 s while `active` (a batch or store still working) and the tab is visible. */
export function useAutoRefresh(active: boolean, reload: () => void): void {
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") reload();
    }, 5000);
    return () => clearInterval(timer);
  }, [active, reload]);
}

/** "done / total" with a progress bar named by `label` (the row's id, so each bar is told apart). */
export function ProgressCell(props: { done: number; failed: number; total: number; label: string }) {
  return (
    <div className="progress-cell">
      <span>
        {formatNumber(props.done)} done{props.failed > 0 ? `, ${formatNumber(props.failed)} failed` : ""} / {formatNumber(props.total)}
      </span>
      <progress className="progress" aria-label={props.label} max={Math.max(1, props.total)} value={props.total === 0 ? 0 : props.done + props.failed} />
    </div>
  );
}

/** Shown in place of a list until a project key is chosen. */
export function NeedsKey() {
  return <p className="muted">Enter a project key above to see that project's objects.</p>;
}
