import { createHash } from "node:crypto";

/** Fingerprints by their parts: a server has a handful of models and one version. */
const cache = new Map<string, string>();
const MAX_CACHED = 1024;

/** A `system_fingerprint` that changes when the serving configuration of a model changes. */
export function systemFingerprint(...parts: readonly (string | number)[]): string {
  const key = parts.join("\u0000");
  let fingerprint = cache.get(key);
  if (fingerprint === undefined) {
    fingerprint = `fp_${createHash("sha256").update(key).digest("hex").slice(0, 10)}`;
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.set(key, fingerprint);
  }
  return fingerprint;
}
