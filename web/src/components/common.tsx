import { useCallback, useEffect, useState, type ReactNode } from "react";
import { ApiError } from "../api.ts";

/** Runs `load` now and whenever `deps` change (or `reload()` is called); keeps its result, error and loading state. */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]): { data: T | undefined; error: string | null; loading: boolean; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    load(controller.signal)
      .then((d) => {
        if (controller.signal.aborted) return;
        setData(d);
        setError(null);
      })
      .catch((e: unknown) => {
        if (controller.signal.aborted) return;
        setError(errorText(e));
      })
      .finally(() => {
        if (!controller.signal.aborted) setLoading(false);
      });
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/** Calls `fn` every `ms` while the page is visible. */
export function useInterval(fn: () => void, ms: number): void {
  useEffect(() => {
    const id = setInterval(() => {
      if (document.visibilityState === "visible") fn();
    }, ms);
    return () => clearInterval(id);
  }, [fn, ms]);
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.param !== null ? `${e.message} (${e.param})` : e.message;
  return e instanceof Error ? e.message : String(e);
}

/** An error message announced to screen readers. */
export function ErrorBox(props: { error: string | null }) {
  if (props.error === null) return null;
  return (
    <p role="alert" className="error">
      {props.error}
    </p>
  );
}

export function Loading(props: { loading: boolean }) {
  return props.loading ? (
    <p className="muted" aria-live="polite">
      Loading…
    </p>
  ) : null;
}

/** A page's heading and intro, with optional actions on the right. */
export function PageHeader(props: { title: string; children?: ReactNode }) {
  return (
    <div className="page-header">
      <h1>{props.title}</h1>
      <div className="actions">{props.children}</div>
    </div>
  );
}

export function formatTime(unix: number | null | undefined): string {
  if (unix === null || unix === undefined) return "—";
  return new Date(unix * 1000).toLocaleString();
}

export function formatNumber(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined) return "—";
  return n.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function formatUsd(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  return `$${n.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: n !== 0 && Math.abs(n) < 0.01 ? 6 : 2 })}`;
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** Downloads rows as a CSV file (quoted per RFC 4180). */
export function downloadCsv(name: string, header: readonly string[], rows: readonly (readonly (string | number | boolean | null)[])[]): void {
  const cell = (v: string | number | boolean | null): string => {
    const s = v === null ? "" : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const text = [header, ...rows].map((r) => r.map(cell).join(",")).join("\r\n");
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** The time ranges the charts offer, with the bucket width each is drawn in. */
export const RANGES = {
  "1h": { seconds: 3600, bucket: "1m", label: "Last hour" },
  "24h": { seconds: 86_400, bucket: "1h", label: "Last 24 hours" },
  "30d": { seconds: 30 * 86_400, bucket: "1d", label: "Last 30 days" },
} as const;

export type RangeKey = keyof typeof RANGES;

/** A range's start and end, aligned to its bucket width so buckets match across the usage, cost and stats APIs. */
export function rangeBounds(range: RangeKey): { start: number; end: number; bucket: string; width: number } {
  const r = RANGES[range];
  const width = r.bucket === "1m" ? 60 : r.bucket === "1h" ? 3600 : 86_400;
  const end = Math.ceil((Date.now() / 1000 + 1) / width) * width;
  return { start: end - Math.ceil(r.seconds / width) * width, end, bucket: r.bucket, width };
}

export function RangePicker(props: { value: RangeKey; onChange: (r: RangeKey) => void }) {
  return (
    <div role="group" aria-label="Time range" className="segmented">
      {(Object.keys(RANGES) as RangeKey[]).map((k) => (
        <button key={k} type="button" aria-pressed={props.value === k} onClick={() => props.onChange(k)}>
          {k}
        </button>
      ))}
    </div>
  );
}
