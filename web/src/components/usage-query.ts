/**
 * Helpers for the usage, costs and request-log pages: query strings in the admin API's array form,
 * the bucket axis of a range, and folding (bucket × group) results into table cells and chart lines.
 */
import { useMemo } from "react";
import { listAll, type BucketPage } from "../api.ts";
import type { Project } from "../types.ts";
import type { Series } from "./chart.tsx";
import { useAsync } from "./common.tsx";

type Param = string | number | readonly string[] | undefined | null;

/** `?a=1&list[]=x&list[]=y`; empty strings, empty lists and undefined/null are left out. */
export function queryString(params: Record<string, Param>): string {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) for (const v of value as readonly string[]) q.append(`${name}[]`, v);
    else q.append(name, String(value));
  }
  const s = q.toString();
  return s === "" ? "" : `?${s}`;
}

/** Every bucket start from `start` (inclusive) to `end` (exclusive): the APIs leave empty buckets out, the charts need them as zeros. */
export function bucketStarts(start: number, end: number, width: number): number[] {
  const out: number[] = [];
  for (let t = start; t < end; t += width) out.push(t);
  return out;
}

export type Buckets<R> = BucketPage<R>["data"];

/** One table row: a bucket, a group (empty when ungrouped), and the group's summed results. */
export interface Cell<T> {
  start: number;
  group: string;
  value: T;
}

/**
 * Sums results per (bucket, group); `keyOf` returning null drops a result (a client-side filter).
 * Several results can share a key (costs grouped by model and project both, shown per project).
 */
export function aggregate<R, T>(buckets: Buckets<R>, keyOf: (r: R) => string | null, zero: () => T, add: (acc: T, r: R) => void): Cell<T>[] {
  const out: Cell<T>[] = [];
  for (const b of buckets) {
    const byGroup = new Map<string, T>();
    for (const r of b.results) {
      const key = keyOf(r);
      if (key === null) continue;
      let acc = byGroup.get(key);
      if (acc === undefined) {
        acc = zero();
        byGroup.set(key, acc);
      }
      add(acc, r);
    }
    for (const [group, value] of [...byGroup].sort((a, b2) => a[0].localeCompare(b2[0]))) out.push({ start: b.start_time, group, value });
  }
  return out;
}

/**
 * Chart lines, one per group, on the full bucket axis. At most `max` lines: past that the largest
 * `max - 1` groups and an "other" line summing the rest, so no two lines share the chart's 8 colours.
 */
export function groupSeries<T>(cells: readonly Cell<T>[], x: readonly number[], width: number, valueOf: (v: T) => number, labelOf: (group: string) => string, max = 8): Series[] {
  const first = x[0] ?? 0;
  const totals = new Map<string, number>();
  for (const c of cells) totals.set(c.group, (totals.get(c.group) ?? 0) + valueOf(c.value));
  const ranked = [...totals].sort((a, b) => b[1] - a[1]).map(([g]) => g);
  const shown = ranked.length > max ? ranked.slice(0, max - 1) : ranked;
  const lines = new Map<string, number[]>(shown.map((g) => [g, x.map(() => 0)]));
  const other = ranked.length > shown.length ? x.map(() => 0) : null;
  for (const c of cells) {
    const i = Math.round((c.start - first) / width);
    if (i < 0 || i >= x.length) continue;
    const line = lines.get(c.group) ?? other;
    if (line !== null) line[i] = (line[i] ?? 0) + valueOf(c.value);
  }
  const series: Series[] = shown.map((g) => ({ label: labelOf(g), values: lines.get(g) ?? [] }));
  if (other !== null) series.push({ label: "other", values: other });
  return series;
}

/** Every project (archived ones too, so old usage and log rows still get a name). */
export function useProjects(): { projects: Project[]; nameOf: (id: string | null) => string; error: string | null } {
  const { data, error } = useAsync(() => listAll<Project>("/v1/organization/projects?include_archived=true"), []);
  return useMemo(() => {
    const projects = data ?? [];
    const names = new Map(projects.map((p) => [p.id, p.name]));
    return { projects, nameOf: (id: string | null) => (id === null ? "—" : (names.get(id) ?? id)), error };
  }, [data, error]);
}

/** A `datetime-local` value (local time) as Unix seconds; undefined when empty or invalid. */
export function localInputToUnix(value: string): number | undefined {
  if (value === "") return undefined;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** An ISO time for CSV cells (spreadsheets parse it; locale strings they may not). */
export function isoTime(unix: number): string {
  return new Date(unix * 1000).toISOString();
}
