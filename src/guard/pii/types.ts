/**
 * Shared vocabulary of the PII detectors: the entity types, a finding, and the order in which
 * overlapping findings win.
 */

/** The kinds of personal data and secrets the detectors find. */
export type PiiType = "email" | "phone" | "payment_card" | "iban" | "us_ssn" | "prc_id" | "ip_address" | "secret";

/**
 * Every type, highest priority first: when two findings overlap, the one whose type comes first wins
 * (a PRC identity number is also a long digit run a card check could accept, a key may hold an e-mail-like
 * run), and between equal types the longer span wins.
 */
export const PII_TYPES: readonly PiiType[] = ["secret", "prc_id", "payment_card", "iban", "us_ssn", "email", "phone", "ip_address"];

/** One detected entity: `text` is `input.slice(start, end)`. */
export interface PiiFinding {
  type: PiiType;
  start: number;
  end: number;
  text: string;
}

/** Rank of a type in {@link PII_TYPES}: lower wins an overlap. */
export function priorityOf(type: PiiType): number {
  return PII_TYPES.indexOf(type);
}

/** The label a placeholder carries for a type: `payment_card` → `PAYMENT_CARD`. */
export function placeholderLabel(type: PiiType): string {
  return type.toUpperCase();
}
