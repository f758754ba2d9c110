/**
 * International Bank Account Numbers: a country code, two check digits and the national account
 * number (BBAN), written contiguously or in groups of four separated by single spaces, with the
 * exact length of that country and an ISO 7064 MOD 97-10 remainder of 1. Upper case only, as printed
 * and as banks write them.
 */
import { ibanRemainder } from "./checksums.ts";
import { type PiiDetector, detectorOf, tailStart } from "./detector.ts";

/** IBAN lengths by country (SWIFT IBAN registry). */
const LENGTHS: ReadonlyMap<string, number> = new Map([
  ["AD", 24], ["AE", 23], ["AL", 28], ["AT", 20], ["AZ", 28], ["BA", 20], ["BE", 16], ["BG", 22], ["BH", 22], ["BR", 29],
  ["BY", 28], ["CH", 21], ["CR", 22], ["CY", 28], ["CZ", 24], ["DE", 22], ["DK", 18], ["DO", 28], ["EE", 20], ["EG", 29],
  ["ES", 24], ["FI", 18], ["FO", 18], ["FR", 27], ["GB", 22], ["GE", 22], ["GI", 23], ["GL", 18], ["GR", 27], ["GT", 28],
  ["HR", 21], ["HU", 28], ["IE", 22], ["IL", 23], ["IQ", 23], ["IS", 26], ["IT", 27], ["JO", 30], ["KW", 30], ["KZ", 20],
  ["LB", 28], ["LC", 32], ["LI", 21], ["LT", 20], ["LU", 20], ["LV", 21], ["MC", 27], ["MD", 24], ["ME", 22], ["MK", 19],
  ["MR", 27], ["MT", 31], ["MU", 30], ["NL", 18], ["NO", 15], ["PK", 24], ["PL", 28], ["PS", 29], ["PT", 25], ["QA", 29],
  ["RO", 24], ["RS", 22], ["SA", 24], ["SC", 31], ["SE", 24], ["SI", 19], ["SK", 24], ["SM", 27], ["ST", 25], ["SV", 28],
  ["TL", 23], ["TN", 24], ["TR", 26], ["UA", 29], ["VA", 22], ["VG", 24], ["XK", 20],
]);

/** The longest candidate the grouped pattern takes (nine groups and a short one) before trimming, and the one character its end check reads. */
const HORIZON = 4 + 8 * 5 + 5 + 1;

// Groups are delimited by single spaces, so a run splits one way only. The grouped form may take one
// group too many (a following upper-case word or number); the check trims the span back to the
// country's length at a group boundary.
const IBAN = /(?<![\w.\-/@])[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}(?![\w@])|(?: [A-Z0-9]{4}){2,8}(?: [A-Z0-9]{1,4})?(?![\w@]))/g;

const PENDING = /(?<![A-Za-z0-9_])[A-Z](?:[A-Z](?:\d(?:\d[A-Z0-9 ]*)?)?)?$/g;

/** True for a valid IBAN without spaces. */
export function ibanValid(iban: string): boolean {
  return LENGTHS.get(iban.slice(0, 2)) === iban.length && ibanRemainder(iban) === 1;
}

/** The end of the accepted span of a candidate, or -1: the compact form of exactly the country's length. */
function acceptedEnd(candidate: string, start: number): number {
  const length = LENGTHS.get(candidate.slice(0, 2));
  if (length === undefined) return -1;
  if (!candidate.includes(" ")) return ibanValid(candidate) ? start + candidate.length : -1;
  // Walk the groups until the country's length is reached; it must be reached at a group end.
  let compact = "";
  let end = 0;
  for (const group of candidate.split(" ")) {
    compact += group;
    end += (end === 0 ? 0 : 1) + group.length;
    if (compact.length >= length) break;
  }
  return compact.length === length && ibanValid(compact) ? start + end : -1;
}

/** IBAN detector. */
export const IBAN_DETECTOR: PiiDetector = detectorOf(
  "iban",
  HORIZON,
  [{ re: IBAN, check: (m) => acceptedEnd(m[0], m.index) }],
  (text) => tailStart(text, HORIZON, PENDING),
);
