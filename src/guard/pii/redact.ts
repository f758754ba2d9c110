/** Replacing findings by typed placeholders. */
import { PlaceholderVault } from "./placeholder-vault.ts";
import type { PiiFinding } from "./types.ts";

/** Options of {@link redactPii}. */
export interface RedactOptions {
  /**
   * Whether the result carries the placeholder → value map needed to restore the values later
   * (default true). With false the map is empty, so the values do not outlive the call unless a
   * `vault` keeps them.
   */
  restore?: boolean;
  /** Numbering and values shared with the other texts of the request; a fresh vault when omitted. */
  vault?: PlaceholderVault;
}

/** A redacted text and the placeholders it uses. */
export interface Redaction {
  text: string;
  /** Placeholder → original value for the placeholders in `text` (empty when `restore` is false). */
  placeholders: Map<string, string>;
}

/**
 * Replaces each finding (non-overlapping, as `detectPii` returns them) by a typed placeholder,
 * numbered per type in order of appearance; the same value gets the same placeholder.
 */
export function redactPii(text: string, findings: readonly PiiFinding[], options: RedactOptions = {}): Redaction {
  const vault = options.vault ?? new PlaceholderVault();
  const keep = options.restore !== false;
  const placeholders = new Map<string, string>();
  const sorted = [...findings].sort((a, b) => a.start - b.start);
  let out = "";
  let at = 0;
  for (const f of sorted) {
    if (f.start < at) throw new Error("redactPii: findings overlap");
    const value = text.slice(f.start, f.end);
    const placeholder = vault.placeholderFor(f.type, value);
    if (keep) placeholders.set(placeholder, value);
    out += text.slice(at, f.start) + placeholder;
    at = f.end;
  }
  return { text: out + text.slice(at), placeholders };
}
