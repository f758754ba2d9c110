/**
 * Typed placeholders for one request: `[EMAIL_1]`, `[PHONE_2]`, `[PAYMENT_CARD_1]`, numbered per type
 * in order of first appearance, the same value always getting the same placeholder. The vault spans
 * every text of the request (all messages in, the streamed answer out), so the model sees consistent
 * placeholders, and `restore` can put the original values back into what it writes.
 */
import { PII_TYPES, type PiiType, placeholderLabel } from "./types.ts";

/** Any well-formed placeholder; whether it is known is decided by the vault. */
export const PLACEHOLDER = new RegExp(`\\[(?:${PII_TYPES.map(placeholderLabel).join("|")})_[1-9]\\d*\\]`, "g");

/** Placeholder numbering and the placeholder → value map of one request. */
export class PlaceholderVault {
  private readonly byValue = new Map<string, string>();
  private readonly values = new Map<string, string>();
  private readonly counts = new Map<PiiType, number>();

  /** The placeholder for `value` of `type`: the one it already has, or the next number of that type. */
  placeholderFor(type: PiiType, value: string): string {
    const key = `${type}\u0000${value}`;
    const known = this.byValue.get(key);
    if (known !== undefined) return known;
    const n = (this.counts.get(type) ?? 0) + 1;
    this.counts.set(type, n);
    const placeholder = `[${placeholderLabel(type)}_${n}]`;
    this.byValue.set(key, placeholder);
    this.values.set(placeholder, value);
    return placeholder;
  }

  /** The original value behind a placeholder of this vault. */
  valueOf(placeholder: string): string | undefined {
    return this.values.get(placeholder);
  }

  /** Placeholder → original value, in order of first appearance. */
  entries(): Map<string, string> {
    return new Map(this.values);
  }

  /** How many distinct values the vault holds. */
  get size(): number {
    return this.values.size;
  }

  /** Puts the original values back for every placeholder of this vault in `text`; others stay as they are. */
  restore(text: string): string {
    return restorePlaceholders(text, this.values);
  }
}

/** Replaces each placeholder found in `placeholders` by its value; unknown placeholders are left alone. */
export function restorePlaceholders(text: string, placeholders: ReadonlyMap<string, string>): string {
  if (placeholders.size === 0 || !text.includes("[")) return text;
  return text.replace(PLACEHOLDER, (p) => placeholders.get(p) ?? p);
}
