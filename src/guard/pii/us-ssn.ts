/**
 * US Social Security numbers: `AAA-GG-SSSS` with dashes or spaces (the same separator twice), or nine
 * bare digits when an SSN cue ("SSN", "social security") ends at most 20 characters before them.
 * Numbers the SSA never issues are rejected: area 000, 666 or 900–999, group 00, serial 0000.
 */
import { type PiiDetector, detectorOf, tailStart } from "./detector.ts";

const HORIZON = 11 + 2;

const SSN = new RegExp(
  String.raw`(?<![\w.\-/+@])(?:` +
    String.raw`(?<!\d[ -])\d{3}(?<s>[ -])\d{2}\k<s>\d{4}(?![\w@]|[ .,\-]\d)` +
    String.raw`|(?<bare>\d{9})(?![\w@]|[.,\-]\d)` +
    `)`,
  "g",
);

/** A cue that ends within 20 characters of where the bare number starts. */
const CUE = /(?:\bssn|social[\s-]+security|社会安全号)[\s\S]{0,20}$/i;
/** How far back the cue is looked for: the longest cue plus the 20-character gap. */
export const SSN_CUE_LOOKBACK = 15 + 20;

const PENDING = /(?<![A-Za-z0-9_])\d[\d .,-]*$/g;

/** True when area, group and serial are in issued ranges. */
export function ssnDigitsValid(digits: string): boolean {
  const area = Number(digits.slice(0, 3));
  return area !== 0 && area !== 666 && area < 900 && digits.slice(3, 5) !== "00" && digits.slice(5) !== "0000";
}

/** US Social Security number detector. */
export const US_SSN_DETECTOR: PiiDetector = detectorOf(
  "us_ssn",
  HORIZON,
  [
    {
      re: SSN,
      check(m, text) {
        const end = m.index + m[0].length;
        if (!ssnDigitsValid(m[0].replace(/[ -]/g, ""))) return -1;
        if (m.groups?.["bare"] !== undefined && !CUE.test(text.slice(Math.max(0, m.index - SSN_CUE_LOOKBACK), m.index))) return -1;
        return end;
      },
    },
  ],
  (text) => tailStart(text, HORIZON, PENDING),
);
