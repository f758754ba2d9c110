/** One-shot detection: every detector over a text, overlaps resolved by type priority. */
import type { PiiDetector } from "./detector.ts";
import { detectorsFor } from "./detectors.ts";
import { type PiiFinding, type PiiType, priorityOf } from "./types.ts";

/**
 * Finds PII in `text` (all types, or only `types`): non-overlapping findings sorted by start. Where two
 * candidates overlap, the higher-priority type wins (see `PII_TYPES`), then the longer span.
 */
export function detectPii(text: string, types?: readonly PiiType[]): PiiFinding[] {
  return resolveOverlaps(scanAll(detectorsFor(types), text, 0));
}

/** Every detector's findings that start in [`from`, `until`), overlaps not yet resolved. */
export function scanAll(detectors: readonly PiiDetector[], text: string, from: number, until = text.length): PiiFinding[] {
  const found: PiiFinding[] = [];
  for (const detector of detectors) detector.scan(text, from, found, until);
  return found;
}

function byStart(a: PiiFinding, b: PiiFinding): number {
  return a.start - b.start || a.end - b.end;
}

/**
 * Keeps a non-overlapping subset, sorted by start: greedily by type priority, then length, then
 * position. Whether a finding survives depends only on the findings it (transitively) overlaps, so
 * resolving a part of a text gives the same answer as resolving the whole.
 */
export function resolveOverlaps(findings: readonly PiiFinding[]): PiiFinding[] {
  const sorted = [...findings].sort(byStart);
  let overlapping = false;
  for (let i = 1; i < sorted.length; i++) {
    if ((sorted[i] as PiiFinding).start < (sorted[i - 1] as PiiFinding).end) overlapping = true;
  }
  if (!overlapping) return sorted;
  const ranked = [...findings].sort(
    (a, b) => priorityOf(a.type) - priorityOf(b.type) || b.end - b.start - (a.end - a.start) || a.start - b.start,
  );
  const kept: PiiFinding[] = [];
  for (const f of ranked) {
    if (!kept.some((k) => k.start < f.end && f.start < k.end)) kept.push(f);
  }
  return kept.sort(byStart);
}
