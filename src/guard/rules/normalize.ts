/**
 * The matching form of a text: what the rule matcher scans instead of the original, so that trivial
 * disguises of a listed word still match it, with every unit mapped back to the original span it came from.
 *
 * Steps, in order (patterns go through the same function, so a pattern and its disguised uses agree):
 * 1. Per code point: compatibility decomposition (NFKD: full-width → half-width, ligatures, circled letters),
 *    lower case, nonspacing marks dropped (`kïll`, strike-through overlays), recomposed (NFC); format
 *    characters dropped (zero-width spaces and joiners, soft hyphens).
 * 2. Whitespace, `-`, `_` and Unicode dashes become one space per run, so `self-harm` = `self harm`.
 * 3. Letters spelled apart are joined: three or more one-character tokens separated by the same one to
 *    three of ` .*·•|/\+~` (`k.i.l.l`, `k i l l`, `k-i-l-l`); separators between two CJK characters are dropped.
 * 4. Leetspeak inside tokens that hold a letter: 0→o 1→i 3→e 4→a 5→s 7→t @→a $→s, and `!` between two
 *    such characters → i. Tokens without a letter (`10`, `kill -9`) and counts with a unit (`12yo`, `3rd`,
 *    `4k`) are left alone, so numbers keep their meaning for patterns that use them.
 */

import { CJK, DIGIT, FOLD_DROP, FOLDED_UNIT, LETTER, SEPARATOR, TOKEN, UNIT_CLASS, WORD, foldCodePoint, foldUnit, isCjkUnit } from "./unit-classes.ts";

export { isCjkUnit, isWordUnit } from "./unit-classes.ts";

/** Text in matching form, with each UTF-16 unit's source span in the original. */
export class NormalizedText {
  /** Units of the matching form; only the first `length` are used. */
  readonly codes: Uint16Array;
  readonly length: number;
  /** Per unit: where its source begins in the original. */
  readonly starts: Int32Array;
  /** Per unit: where its source ends in the original (exclusive). */
  readonly ends: Int32Array;
  #text: string | undefined;

  constructor(codes: Uint16Array, starts: Int32Array, ends: Int32Array, length: number) {
    this.codes = codes;
    this.starts = starts;
    this.ends = ends;
    this.length = length;
  }

  /** The matching form as a string (built on first use: only regexes need it). */
  get text(): string {
    this.#text ??= DECODER.decode(this.codes.subarray(0, this.length));
    return this.#text;
  }

  /** The original span of the matching-form span [start, end); empty spans map to an empty span. */
  originalSpan(start: number, end: number): [number, number] {
    if (end <= start) {
      const at = start < this.length ? (this.starts[start] as number) : start > 0 ? (this.ends[start - 1] as number) : 0;
      return [at, at];
    }
    return [this.starts[start] as number, this.ends[end - 1] as number];
  }
}

// utf-16le decoding of the unit buffer keeps one output unit per input unit (a lone surrogate becomes U+FFFD).
const DECODER = new TextDecoder("utf-16le");

const SPACE = 32;
const BANG = 33;
const MAX_SEPARATOR_RUN = 3;

/** Leetspeak digits and symbols → the letters they stand for (0 = not one). */
const LEET = new Uint8Array(128);
for (const [from, to] of ["0o", "1i", "3e", "4a", "5s", "7t", "@a", "$s", "!i"]) LEET[(from as string).charCodeAt(0)] = (to as string).charCodeAt(0);

/** A number with a unit or ordinal suffix: not leetspeak (`12yo`, `3rd`, `4k`, `5g`, `60fps`). */
const COUNT_WITH_UNIT =
  /^[0-9]+(?:st|nd|rd|th|s|yo|y|yr|yrs|k|m|b|d|g|x|p|am|pm|kb|mb|gb|tb|px|hz|khz|mhz|ghz|fps|mm|cm|km|kg|lb|lbs|ft|h|hr|hrs|min|ms|ml)$/;

/** Units with their source spans; steps 3 and 4 rewrite it in place (they only drop or replace units). */
interface Units {
  codes: Uint16Array;
  starts: Int32Array;
  ends: Int32Array;
  length: number;
}

/** Past this many units, a buffer four times larger than needed is given back rather than kept. */
const LARGE_BUFFER = 1 << 20;

/** Gives `units` room for `size` units, keeping the first `keep`. */
function reserve(units: Units, size: number, keep: number): void {
  const capacity = units.codes.length;
  if (capacity >= size && !(capacity > LARGE_BUFFER && capacity > size * 4)) return;
  const codes = new Uint16Array(size);
  const starts = new Int32Array(size);
  const ends = new Int32Array(size);
  codes.set(units.codes.subarray(0, keep));
  starts.set(units.starts.subarray(0, keep));
  ends.set(units.ends.subarray(0, keep));
  units.codes = codes;
  units.starts = starts;
  units.ends = ends;
}

/** Steps 1 and 2 into `units`: each unit folded (cached per unit), whitespace and dashes collapsed to one space. */
function foldUnits(original: string, units: Units): void {
  const n = original.length;
  // Most units fold to at most one unit; only the rare expanding code points (ﬁ, ㍱) need more room.
  reserve(units, n + 16, 0);
  let { codes, starts, ends } = units;
  let w = 0;
  for (let i = 0; i < n; ) {
    const unit = original.charCodeAt(i);
    const known = FOLDED_UNIT[unit] as number;
    const folded = known !== 0 ? known : foldUnit(unit);
    if (folded > 0) {
      const code = folded - 1;
      if (code === SPACE && w > 0 && codes[w - 1] === SPACE) {
        ends[w - 1] = i + 1;
      } else {
        codes[w] = code;
        starts[w] = i;
        ends[w] = i + 1;
        w++;
      }
      i++;
      continue;
    }
    if (folded === FOLD_DROP) {
      i++;
      continue;
    }
    const codePoint = original.codePointAt(i) as number;
    const size = codePoint > 0xffff ? 2 : 1;
    const form = foldCodePoint(codePoint);
    if (w + form.length + (n - i) > codes.length) {
      reserve(units, (w + form.length + (n - i)) * 2, w);
      ({ codes, starts, ends } = units);
    }
    for (let k = 0; k < form.length; k++) {
      const code = form.charCodeAt(k);
      if (code === SPACE && w > 0 && codes[w - 1] === SPACE) {
        ends[w - 1] = i + size;
      } else {
        codes[w] = code;
        starts[w] = i;
        ends[w] = i + size;
        w++;
      }
    }
    i += size;
  }
  units.length = w;
}

/** Whether a unit next to a one-character token leaves it standing alone (not a letter, digit or token symbol). */
function isLoneNeighbour(unit: number): boolean {
  return ((UNIT_CLASS[unit] as number) & (TOKEN | WORD)) === 0;
}

/** The end of the run of spelling separators starting at `i`. */
function separatorRunEnd(codes: Uint16Array, n: number, i: number): number {
  let j = i;
  while (j < n && ((UNIT_CLASS[codes[j] as number] as number) & SEPARATOR) !== 0) j++;
  return j;
}

/**
 * Where a run of spelled-apart letters starting with the one-character token at `r` ends (its last token),
 * or -1 when there is no such run: three or more tokens, each pair separated by the same one to three
 * separators (so `k.i.l.l x` stops before the x), at least half of them letters.
 */
function spelledRunEnd(codes: Uint16Array, n: number, r: number): number {
  let last = r;
  let count = 1;
  let letters = ((UNIT_CLASS[codes[r] as number] as number) & LETTER) !== 0 ? 1 : 0;
  let separator = -1;
  for (;;) {
    const next = separatorRunEnd(codes, n, last + 1);
    const gap = next - (last + 1);
    if (gap < 1 || gap > MAX_SEPARATOR_RUN || next >= n) break;
    if (separator >= 0 && !sameUnits(codes, separator, last + 1, gap)) break;
    const cls = UNIT_CLASS[codes[next] as number] as number;
    if ((cls & TOKEN) === 0 || (next + 1 < n && !isLoneNeighbour(codes[next + 1] as number))) break;
    if (separator < 0) separator = last + 1;
    count++;
    if ((cls & LETTER) !== 0) letters++;
    last = next;
  }
  return count >= 3 && letters * 2 >= count ? last : -1;
}

/** Whether the `length` units at `a` equal those at `b`, and the run at `a` is exactly `length` long. */
function sameUnits(codes: Uint16Array, a: number, b: number, length: number): boolean {
  for (let k = 0; k < length; k++) if (codes[a + k] !== codes[b + k]) return false;
  return ((UNIT_CLASS[codes[a + length] as number] as number) & SEPARATOR) === 0;
}

/**
 * The first position where step 3 may change anything, or -1: a separator run between two CJK units, or
 * a one-character token followed by separators and another one. Most texts have none, and then the
 * rewriting pass is skipped entirely.
 */
function firstSpelledCandidate(codes: Uint16Array, n: number): number {
  for (let r = 1; r < n - 1; r++) {
    if (((UNIT_CLASS[codes[r] as number] as number) & SEPARATOR) === 0) continue;
    const end = separatorRunEnd(codes, n, r);
    if (end >= n) break;
    const before = UNIT_CLASS[codes[r - 1] as number] as number;
    const after = UNIT_CLASS[codes[end] as number] as number;
    if ((before & CJK) !== 0 && (after & CJK) !== 0) return r;
    const loneBefore = r < 2 || isLoneNeighbour(codes[r - 2] as number);
    const loneAfter = end + 1 >= n || isLoneNeighbour(codes[end + 1] as number);
    if ((before & TOKEN) !== 0 && (after & TOKEN) !== 0 && loneBefore && loneAfter) return r - 1;
    r = end - 1;
  }
  return -1;
}

/** Step 3, in place: spelled-apart letters joined, separators between CJK characters dropped. */
function joinSpelled(units: Units): void {
  const { codes, starts, ends, length: n } = units;
  const first = firstSpelledCandidate(codes, n);
  if (first < 0) return;
  // Nothing before `first` changes: start rewriting there.
  let w = first;
  /** The unit before `r` as it was read (units before `r` may already be rewritten). */
  let previous = first > 0 ? (codes[first - 1] as number) : SPACE;
  for (let r = first; r < n; ) {
    const c = codes[r] as number;
    const cls = UNIT_CLASS[c] as number;
    if ((cls & SEPARATOR) === 0 && ((cls & TOKEN) === 0 || !isLoneNeighbour(previous))) {
      // The common case: a unit that is neither a separator nor the start of a one-character token.
      if (w !== r) {
        codes[w] = c;
        starts[w] = starts[r] as number;
        ends[w] = ends[r] as number;
      }
      w++;
      previous = c;
      r++;
      continue;
    }
    let keepFrom = r;
    let keepTo = r + 1;
    let tokensOnly = false;
    if ((cls & SEPARATOR) !== 0) {
      keepTo = separatorRunEnd(codes, n, r);
      if (r > 0 && keepTo < n && keepTo - r <= MAX_SEPARATOR_RUN && isCjkUnit(previous) && isCjkUnit(codes[keepTo] as number)) keepFrom = keepTo;
    } else if ((cls & TOKEN) !== 0 && isLoneNeighbour(previous) && (r + 1 >= n || isLoneNeighbour(codes[r + 1] as number))) {
      const last = spelledRunEnd(codes, n, r);
      if (last >= 0) {
        keepTo = last + 1;
        tokensOnly = true;
      }
    }
    for (let k = keepFrom; k < keepTo; k++) {
      if (tokensOnly && ((UNIT_CLASS[codes[k] as number] as number) & TOKEN) === 0) continue;
      if (w !== k) {
        codes[w] = codes[k] as number;
        starts[w] = starts[k] as number;
        ends[w] = ends[k] as number;
      }
      w++;
    }
    previous = codes[keepTo - 1] as number;
    r = keepTo;
  }
  units.length = w;
}

/** Whether unit `k` belongs to a token for leetspeak: a token unit, or `!` between two (k!ll, not kill!). */
function inToken(codes: Uint16Array, n: number, k: number): boolean {
  const c = codes[k] as number;
  if (((UNIT_CLASS[c] as number) & TOKEN) !== 0) return true;
  return (
    c === BANG && k > 0 && k + 1 < n && ((UNIT_CLASS[codes[k - 1] as number] as number) & TOKEN) !== 0 && ((UNIT_CLASS[codes[k + 1] as number] as number) & TOKEN) !== 0
  );
}

/** Step 4, in place: leetspeak decoded inside tokens that hold a letter (only tokens with a leet unit are read). */
function decodeLeet(units: Units): void {
  const { codes, length: n } = units;
  for (let i = 0; i < n; i++) {
    const c = codes[i] as number;
    if (c >= 128 || LEET[c] === 0 || !inToken(codes, n, i)) continue;
    let start = i;
    while (start > 0 && inToken(codes, n, start - 1)) start--;
    let end = i + 1;
    while (end < n && inToken(codes, n, end)) end++;
    decodeToken(codes, start, end);
    i = end - 1;
  }
}

/** Decodes one token's leetspeak if it holds a letter and is not a count with a unit (`12yo`). */
function decodeToken(codes: Uint16Array, start: number, end: number): void {
  let hasLetter = false;
  for (let k = start; k < end && !hasLetter; k++) hasLetter = ((UNIT_CLASS[codes[k] as number] as number) & LETTER) !== 0;
  if (!hasLetter) return;
  if (((UNIT_CLASS[codes[start] as number] as number) & DIGIT) !== 0 && COUNT_WITH_UNIT.test(DECODER.decode(codes.subarray(start, end)))) return;
  for (let k = start; k < end; k++) {
    const mapped = LEET[codes[k] as number] as number;
    if (mapped !== 0) codes[k] = mapped;
  }
}

/**
 * Normalises texts into buffers it keeps: a text of 8,000 characters needs 80 KB of typed arrays, and
 * allocating them per call cost more than the normalisation itself. Each result is valid until the next
 * call (a matcher scans synchronously, so it holds one of these).
 */
export class Normalizer {
  readonly #units: Units = { codes: new Uint16Array(0), starts: new Int32Array(0), ends: new Int32Array(0), length: 0 };

  /** The matching form of `original`, each unit mapped back to its source span; valid until the next call. */
  normalize(original: string): NormalizedText {
    const units = this.#units;
    foldUnits(original, units);
    joinSpelled(units);
    decodeLeet(units);
    return new NormalizedText(units.codes, units.starts, units.ends, units.length);
  }
}

/** The matching form of `original`, each unit mapped back to its source span (in buffers of its own). */
export function normalizeText(original: string): NormalizedText {
  return new Normalizer().normalize(original);
}

/** Literals already in matching form: lower-case words one space apart, or CJK and lower-case letters. */
const PLAIN_WORDS = /^[a-z']+(?: [a-z']+)*$|^[a-z'\u3400-\u4dbf\u4e00-\u9fff]+$/;
/** Three one-letter words in a row, which step 3 would join. */
const SPELLED = /(?:^| )[a-z](?: [a-z]){2,}(?: |$)/;

/** The matching form of a pattern literal: normalised like text, without the spaces at its ends. */
export function normalizeLiteral(literal: string): string {
  // Lists hold tens of thousands of expanded literals, nearly all already plain: skip the buffers for those.
  if (PLAIN_WORDS.test(literal) && !SPELLED.test(literal)) return literal;
  return normalizeText(literal).text.trim();
}
