/**
 * Per-UTF-16-unit facts the normaliser and the matcher look up in their inner loops: character classes in
 * one table, and each unit's folded (matching) form, computed once per unit and cached.
 */

/** A letter, digit or mark of an alphabetic script: part of a word for boundary checks. */
export const WORD = 1;
/** A unit of a script written without spaces (CJK ideographs, kana, Hangul) or a surrogate. */
export const CJK = 2;
/** An ASCII letter or digit, or a symbol leetspeak uses for a letter (`@`, `$`). */
export const TOKEN = 4;
/** A separator people put between spelled-apart letters: ` .*|/\+~·•`. */
export const SEPARATOR = 8;
/** An ASCII lower-case letter. */
export const LETTER = 16;
/** An ASCII digit. */
export const DIGIT = 32;

/** The classes of every BMP unit (bit set of the constants above). */
export const UNIT_CLASS: Uint8Array = (() => {
  const table = new Uint8Array(0x10000);
  const word = /[\p{L}\p{N}\p{M}]/u;
  for (let c = 0; c < 0x2e80; c++) if (word.test(String.fromCharCode(c))) table[c] = WORD;
  const cjk = (from: number, to: number): void => {
    for (let c = from; c <= to; c++) table[c] = CJK;
  };
  cjk(0x2e80, 0x9fff);
  cjk(0xac00, 0xdfff);
  cjk(0xf900, 0xfaff);
  for (let c = 97; c <= 122; c++) table[c] = WORD | TOKEN | LETTER;
  for (let c = 48; c <= 57; c++) table[c] = WORD | TOKEN | DIGIT;
  for (const c of "@$") table[c.charCodeAt(0)] = TOKEN;
  for (const c of " .*|/\\+~\u00b7\u2022") table[c.charCodeAt(0)] = SEPARATOR;
  return table;
})();

/**
 * Whether a unit is part of a word for boundary checks: a letter, digit or mark of an alphabetic script.
 * CJK characters are not (those scripts have no spaces, so a Latin term beside them still stands alone).
 */
export function isWordUnit(unit: number): boolean {
  return ((UNIT_CLASS[unit] as number) & WORD) !== 0;
}

/** Whether a unit belongs to a script written without spaces (CJK ideographs, kana, Hangul) or is a surrogate. */
export function isCjkUnit(unit: number): boolean {
  return ((UNIT_CLASS[unit] as number) & CJK) !== 0;
}

const SPACE = 32;
const FORMAT = /\p{Cf}/u;
const NONSPACING = /\p{Mn}/gu;
const WHITESPACE = /\s/u;
const DASH = /[\u2010-\u2015\u2212\ufe58\ufe63]/u;

/**
 * The matching form of one code point: compatibility decomposition, lower case, nonspacing marks dropped,
 * recomposed; whitespace, dashes, `-` and `_` as a space; curly quotes straight; format characters dropped ("").
 */
export function foldCodePoint(codePoint: number): string {
  const char = String.fromCodePoint(codePoint);
  if (FORMAT.test(char)) return "";
  if (WHITESPACE.test(char) || DASH.test(char) || codePoint === 45 || codePoint === 95) return " ";
  if (codePoint === 0x2018 || codePoint === 0x2019) return "'";
  if (codePoint === 0x201c || codePoint === 0x201d) return '"';
  return char.normalize("NFKD").toLowerCase().replace(NONSPACING, "").normalize("NFC").replace(/[\s_-]+/gu, " ");
}

/** {@link foldUnit}'s answer for a unit dropped entirely (zero-width space, soft hyphen). */
export const FOLD_DROP = -2;
/** {@link foldUnit}'s answer for a unit whose form is not one unit (ligatures, surrogates): use {@link foldCodePoint}. */
export const FOLD_SLOW = -1;

/** Per BMP unit: 0 not yet known (ask {@link foldUnit}), else {@link FOLD_DROP}, {@link FOLD_SLOW} or the folded unit + 1. */
export const FOLDED_UNIT = new Int32Array(0x10000);
for (let c = 0; c < 128; c++) FOLDED_UNIT[c] = (c >= 65 && c <= 90 ? c + 32 : c === 45 || c === 95 || (c >= 9 && c <= 13) ? SPACE : c) + 1;

/** The folded form of a unit as one unit + 1, or {@link FOLD_DROP} or {@link FOLD_SLOW}. Cached per unit. */
export function foldUnit(unit: number): number {
  const known = FOLDED_UNIT[unit] as number;
  if (known !== 0) return known;
  let value: number;
  if (unit >= 0xd800 && unit <= 0xdfff) value = FOLD_SLOW;
  else {
    const folded = foldCodePoint(unit);
    value = folded.length === 0 ? FOLD_DROP : folded.length === 1 ? folded.charCodeAt(0) + 1 : FOLD_SLOW;
  }
  FOLDED_UNIT[unit] = value;
  return value;
}
