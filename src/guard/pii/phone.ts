/**
 * Phone numbers: international numbers written with a leading `+` (E.164, 8–15 digits, grouped with
 * spaces, dashes, dots or parentheses), mainland China mobiles (`1[3-9]` + 9 digits, optionally
 * `+86`/`0086`/`(+86)` and 3-4-4 grouping) and China landlines with an area code (`010-12345678`,
 * `(0571) 8888 8888`). Bare national numbers of other countries are not matched: without a country code
 * they cannot be told apart from order ids and other digit runs.
 */
import { type PiiDetector, detectorOf, tailStart } from "./detector.ts";

/** Longest accepted number: 15 digits with a separator between most of them, a `+` and one `(0)`. */
const MAX_LENGTH = 32;
/** The end checks look at up to three characters after a number (`" (5"`). */
const HORIZON = MAX_LENGTH + 3;

// Not after a word character, a dot, dash, slash, plus or @: that would make the digits part of an
// id, a decimal, a date, a path or an expression. Every alternative ends with a check that no digit
// group continues the number, so a number is never the prefix of a longer one.
const CN_PREFIX = String.raw`(?:(?:\+|00)86[ -]?|\(\+?86\)[ -]?)?`;
const PHONE = new RegExp(
  String.raw`(?<![\w.\-/+@])(?:` +
    // Mainland China mobile, contiguous (it may sit in a space-separated list) or 3-4-4 with one kind
    // of separator (then no digit group may come right before or after it).
    String.raw`(?<cn>${CN_PREFIX}1[3-9]\d{9}(?![\w@]|[.,\-]\d)` +
    String.raw`|(?<!\d[ -])${CN_PREFIX}1[3-9]\d(?<ms>[ -])\d{4}\k<ms>\d{4}(?![\w@]|[ .,\-]\d))` +
    // China landline: area code 010, 02x or 0xxx, then a 7–8 digit local number starting 2–9.
    String.raw`|(?<land>(?<!\d[ -])(?:\(0(?:10|2\d|[3-9]\d{2})\)[ -]?|0(?:10|2\d|[3-9]\d{2})[ -])(?:[2-9]\d{6,7}|[2-9]\d{2,3}[ -]\d{4})(?![\w@]|[ .,\-]\d))` +
    // International: + country code and digit groups; each group starts with a separator or a
    // parenthesis, so a digit run splits one way only and matching stays linear.
    String.raw`|(?<intl>(?:\+[1-9]\d*|\(\+[1-9]\d{0,2}\))(?:[ .\-]?\(\d+\)[ .\-]?\d+|[ .\-]\d+)*(?![\w@]|[ .,\-]\(?\d|\(\d))` +
    `)`,
  "g",
);

/** The trailing run an unfinished number could still be growing in. */
const PENDING = /(?<![A-Za-z0-9_])[+(\d][\d +().,-]*$/g;

const CC_TWO = new Set([20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98]);
/** Three-digit country codes, as ranges of the ITU plan (a few unassigned codes inside do no harm). */
const CC_THREE: readonly (readonly [number, number])[] = [
  [211, 218], [220, 269], [290, 299], [350, 359], [370, 389], [420, 423], [500, 509], [590, 599], [670, 692], [850, 856], [880, 886], [960, 968], [970, 977], [992, 998],
];

/** National significant number lengths where the plan is fixed or narrow; others get 6–12. */
const NATIONAL_LENGTH: ReadonlyMap<string, readonly [number, number]> = new Map([
  ["7", [10, 10]], ["33", [9, 9]], ["34", [9, 9]], ["39", [6, 11]], ["44", [9, 10]], ["49", [6, 13]], ["61", [9, 9]], ["65", [8, 8]],
  ["60", [8, 10]], ["81", [9, 10]], ["82", [8, 10]], ["91", [10, 10]], ["852", [8, 8]], ["853", [8, 8]], ["886", [8, 9]],
]);

function countryCode(digits: string): string | undefined {
  const one = digits.slice(0, 1);
  if (one === "1" || one === "7") return one;
  if (CC_TWO.has(Number(digits.slice(0, 2)))) return digits.slice(0, 2);
  const three = Number(digits.slice(0, 3));
  return CC_THREE.some(([lo, hi]) => three >= lo && three <= hi) ? digits.slice(0, 3) : undefined;
}

/** A mainland China number without country code or trunk 0: a mobile or an area code and local number. */
function chinaNational(n: string): boolean {
  return /^(?:1[3-9]\d{9}|(?:10|2\d)[2-9]\d{7}|[3-9]\d{2}[2-9]\d{6,7})$/.test(n);
}

/** Validates an international number: known country code, plausible national length, ≤ 15 digits. */
function internationalValid(candidate: string): boolean {
  // "(0)" is the national trunk prefix some write after the country code; it is not dialled from abroad.
  const digits = candidate.replace("(0)", "").replace(/\D/g, "");
  if (digits.length < 8 || digits.length > 15) return false;
  const cc = countryCode(digits);
  if (cc === undefined) return false;
  const national = digits.slice(cc.length);
  if (cc === "1") return /^[2-9]\d{2}[2-9]\d{6}$/.test(national);
  if (cc === "86") return chinaNational(national);
  const [min, max] = NATIONAL_LENGTH.get(cc) ?? [6, 12];
  return national.length >= min && national.length <= max;
}

/** Phone number detector. */
export const PHONE_DETECTOR: PiiDetector = detectorOf(
  "phone",
  HORIZON,
  [
    {
      re: PHONE,
      check(m) {
        const end = m.index + m[0].length;
        if (m[0].length > MAX_LENGTH) return -1;
        if (m.groups?.["intl"] !== undefined) return internationalValid(m[0]) ? end : -1;
        return end;
      },
    },
  ],
  (text) => tailStart(text, HORIZON, PENDING),
);
