import { createHash } from "node:crypto";

/** A `system_fingerprint` that changes when the serving configuration of a model changes. */
export function systemFingerprint(...parts: readonly (string | number)[]): string {
  return `fp_${createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 10)}`;
}
