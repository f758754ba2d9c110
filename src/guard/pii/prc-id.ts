/**
 * Resident identity numbers of the People's Republic of China: 18 characters (6-digit region code,
 * birth date YYYYMMDD, 3-digit sequence, ISO 7064 MOD 11-2 check character 0–9 or X), contiguous or
 * grouped 6-8-4 with spaces, and the legacy 15-digit form (birth date YYMMDD in the 1900s, no check
 * character) when an ID cue such as 身份证 or "ID" precedes it. The region must be a real province-level code and the birth date a real day between
 * 1900-01-01 and today.
 */
import { cardNetworkValid } from "./card-networks.ts";
import { luhnValid, prcCheckChar } from "./checksums.ts";
import { type PiiDetector, detectorOf, tailStart } from "./detector.ts";

/** 18 characters grouped 6-8-4 with two spaces. */
const MAX_LENGTH = 20;
const HORIZON = MAX_LENGTH + 2;

const DAY = String.raw`(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])`;
const PRC_ID = new RegExp(
  String.raw`(?<![\w.\-/+@])[1-8]\d{5}(?:` +
    String.raw`(?<g>[ ]?)(?:18|19|20)\d{2}${DAY}\k<g>\d{3}[\dXx](?![\w@]|[.,\-]\d)` +
    String.raw`|\d{2}${DAY}\d{3}(?![\w@]|[.,\-]\d)` +
    `)`,
  "g",
);

const PENDING = /(?<![A-Za-z0-9_])[1-8][\d .,-]*(?:[Xx][.,-]?)?$/g;

/** Province-level codes (first two digits): mainland provinces, Taiwan, Hong Kong, Macau, and 83 for Taiwan residents' permits. */
const PROVINCES = new Set([11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83]);

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** True when YYYYMMDD is a real date from 1900-01-01 to today. */
function birthDateValid(yyyymmdd: string): boolean {
  const y = Number(yyyymmdd.slice(0, 4));
  const m = Number(yyyymmdd.slice(4, 6));
  const d = Number(yyyymmdd.slice(6, 8));
  if (y < 1900) return false;
  const date = new Date(Date.UTC(y, m - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) return false;
  const now = new Date();
  const today = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}`;
  return yyyymmdd <= today;
}

/** True when 18 digits have a PRC ID's region code and birth date, whatever their check character. */
export function prcIdShape(digits: string): boolean {
  return digits.length === 18 && PROVINCES.has(Number(digits.slice(0, 2))) && birthDateValid(digits.slice(6, 14));
}

/** True for a valid 18-character PRC identity number (no separators). */
export function prcIdValid(id: string): boolean {
  return prcIdShape(id.slice(0, 17) + "0") && prcCheckChar(id) === id[17]?.toUpperCase();
}

/** An identity-document cue ending within 20 characters of a legacy number. */
const LEGACY_CUE = /(?:身份证|证件|身份号码|\bID\b|identity)[\s\S]{0,20}$/i;
/** How far back the cue is looked for. */
export const PRC_CUE_LOOKBACK = 8 + 20;

/**
 * True for a plausible legacy 15-digit number: region, a 19YYMMDD birth date, an ID cue before it,
 * and not a valid card number. Without a check digit the form is weak evidence on its own: about one
 * random 15-digit run in 80 has a region and a date where an ID has them.
 */
function legacyIdValid(id: string, before: string): boolean {
  if (!PROVINCES.has(Number(id.slice(0, 2))) || !birthDateValid(`19${id.slice(6, 12)}`)) return false;
  return LEGACY_CUE.test(before) && !(cardNetworkValid(id) && luhnValid(id));
}

/** PRC resident identity number detector. */
export const PRC_ID_DETECTOR: PiiDetector = detectorOf(
  "prc_id",
  HORIZON,
  [
    {
      re: PRC_ID,
      check(m, text) {
        const id = m[0].replace(/ /g, "");
        const ok = id.length === 18 ? prcIdValid(id) : legacyIdValid(id, text.slice(Math.max(0, m.index - PRC_CUE_LOOKBACK), m.index));
        return ok ? m.index + m[0].length : -1;
      },
    },
  ],
  (text) => tailStart(text, HORIZON, PENDING),
);
