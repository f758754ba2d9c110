import { GbnfBuilder, gbnfClass, gbnfLiteral, GrammarTooLargeError, UnsatisfiableError } from "./gbnf-builder.ts";

/** What a JSON Schema says about one number. Bounds are JSON numbers, read as the decimals they are written as. */
export interface NumberConstraints {
  integer: boolean;
  minimum?: number | undefined;
  maximum?: number | undefined;
  exclusiveMinimum?: number | undefined;
  exclusiveMaximum?: number | undefined;
  multipleOf?: number | undefined;
}

/** Digits before the point when no bound asks for more: keeps integers within 2^53. */
const INT_DIGITS = 15;
/** Digits after the point for a `number` without `multipleOf`. */
export const FRACTION_DIGITS = 6;
/** Automaton states allowed before falling back to listing values. */
const MAX_STATES = 6_000;
/** Values listed when the automaton would be too large. */
const MAX_LISTED = 200;

const PLAIN_INTEGER = '"-"? ("0" | [1-9] [0-9]{0,14})';
const PLAIN_NUMBER = `${PLAIN_INTEGER} ("." [0-9]{1,${FRACTION_DIGITS}})?`;

/** An exact decimal n / 10^e. */
interface Decimal {
  n: bigint;
  e: number;
}

/** The decimal a JSON number is written as (JavaScript's shortest round-trip form). */
function toDecimal(x: number): Decimal {
  const [mantissa = "0", exp = "0"] = String(x).toLowerCase().split("e");
  const [whole = "0", frac = ""] = mantissa.split(".");
  let n = BigInt(whole + frac);
  let e = frac.length - Number(exp);
  if (e < 0) {
    n *= 10n ** BigInt(-e);
    e = 0;
  }
  return { n, e };
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}
function ceilDiv(a: bigint, b: bigint): bigint {
  return -floorDiv(-a, b);
}
function gcd(a: bigint, b: bigint): bigint {
  let [x, y] = [a < 0n ? -a : a, b < 0n ? -b : b];
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}
function digitsOf(n: bigint): number {
  return (n < 0n ? -n : n).toString().length;
}

/** Scaled by 10^f: the decimal as a fraction numerator / denominator. */
function scaled(d: Decimal, f: number): [bigint, bigint] {
  return [d.n * 10n ** BigInt(f), 10n ** BigInt(d.e)];
}

/**
 * GBNF for a JSON number (or integer) meeting the schema's bounds and `multipleOf` exactly, within
 * what the grammar writes: no exponent, at most 15 integer digits unless a bound needs more, and
 * for `number` at most 6 decimals (or exactly the decimals `multipleOf` allows). A value is N / 10^f
 * for f decimals; for each f the allowed N form an integer range, with multiples of k, written by a
 * digit-by-digit automaton (tight against the bounds, free in between, tracking N mod k). If that
 * automaton would be too large, a list of the allowed values nearest the lower bound is used: a
 * subset, so still conforming.
 */
export function numberGrammar(b: GbnfBuilder, c: NumberConstraints): string {
  const bounded = [c.minimum, c.maximum, c.exclusiveMinimum, c.exclusiveMaximum, c.multipleOf].some((v) => typeof v === "number" && Number.isFinite(v));
  if (!bounded) return b.rule(c.integer ? "integer" : "number", c.integer ? PLAIN_INTEGER : PLAIN_NUMBER);
  if (c.multipleOf !== undefined && !(c.multipleOf > 0)) throw new UnsatisfiableError("'multipleOf' must be greater than 0");
  const step = c.multipleOf === undefined ? undefined : toDecimal(c.multipleOf);
  const maxF = c.integer ? 0 : step === undefined ? FRACTION_DIGITS : step.e;
  const boundDigits = [c.minimum, c.maximum, c.exclusiveMinimum, c.exclusiveMaximum]
    .filter((v): v is number => typeof v === "number" && Number.isFinite(v))
    .map((v) => digitsOf(BigInt(Math.trunc(v))));
  const intDigits = Math.max(INT_DIGITS, ...boundDigits);
  const pieces: { lo: bigint; hi: bigint; f: number; k: bigint }[] = [];
  for (let f = 0; f <= maxF; f++) {
    let lo = -(10n ** BigInt(intDigits + f) - 1n);
    let hi = -lo;
    const raise = (v: bigint): void => void (v > lo && (lo = v));
    const lower = (v: bigint): void => void (v < hi && (hi = v));
    if (c.minimum !== undefined) raise(ceilDiv(...scaled(toDecimal(c.minimum), f)));
    if (c.exclusiveMinimum !== undefined) raise(floorDiv(...scaled(toDecimal(c.exclusiveMinimum), f)) + 1n);
    if (c.maximum !== undefined) lower(floorDiv(...scaled(toDecimal(c.maximum), f)));
    if (c.exclusiveMaximum !== undefined) lower(ceilDiv(...scaled(toDecimal(c.exclusiveMaximum), f)) - 1n);
    // N / 10^f is a multiple of p / 10^e exactly when N is a multiple of 10^f p / gcd(10^f p, 10^e).
    let k = 1n;
    if (step !== undefined) {
      const top = 10n ** BigInt(f) * step.n;
      k = top / gcd(top, 10n ** BigInt(step.e));
    }
    const first = ceilDiv(lo, k) * k;
    if (first <= hi) pieces.push({ lo, hi, f, k });
  }
  if (pieces.length === 0) throw new UnsatisfiableError("no number satisfies these bounds and 'multipleOf'");
  try {
    const writer = new DigitWriter(b);
    const options = pieces.flatMap(({ lo, hi, f, k }) => {
      const out: string[] = [];
      if (hi >= 0n) {
        const expr = writer.range(lo > 0n ? lo : 0n, hi, f, k);
        if (expr !== undefined) out.push(expr);
      }
      if (lo < 0n) {
        const expr = writer.range(hi < -1n ? -hi : 1n, -lo, f, k);
        if (expr !== undefined) out.push(`"-" ${expr}`);
      }
      return out;
    });
    if (options.length === 0) throw new UnsatisfiableError("no number satisfies these bounds and 'multipleOf'");
    return b.rule("num", options.join(" | "));
  } catch (error) {
    if (!(error instanceof GrammarTooLargeError)) throw error;
    return b.rule("num", listed(pieces).map(gbnfLiteral).join(" | "));
  }
}

/** Up to MAX_LISTED allowed values, nearest zero first within each piece. */
function listed(pieces: readonly { lo: bigint; hi: bigint; f: number; k: bigint }[]): string[] {
  const out = new Set<string>();
  for (const { lo, hi, f, k } of pieces) {
    const start = lo <= 0n && hi >= 0n ? 0n : lo > 0n ? ceilDiv(lo, k) * k : floorDiv(hi, k) * k;
    for (let i = 0n; out.size < MAX_LISTED; i++) {
      const up = start + i * k;
      const down = start - i * k;
      if ((up > hi || up < lo) && (down < lo || down > hi)) break;
      for (const n of [up, down]) if (n >= lo && n <= hi) out.add(render(n, f));
    }
  }
  return [...out];
}

function render(n: bigint, f: number): string {
  const digits = (n < 0n ? -n : n).toString().padStart(f + 1, "0");
  const text = f === 0 ? digits : `${digits.slice(0, -f)}.${digits.slice(-f)}`;
  return n < 0n ? `-${text}` : text;
}

/** Writes the decimal strings of non-negative integers N in a range, with f digits after the point. */
class DigitWriter {
  readonly #b: GbnfBuilder;
  readonly #free = new Map<string, string | undefined>();
  #states = 0;

  constructor(b: GbnfBuilder) {
    this.#b = b;
  }

  /** GBNF for N in [lo, hi] (lo ≥ 0) divisible by k, written with f decimals; undefined when none. */
  range(lo: bigint, hi: bigint, f: number, k: bigint): string | undefined {
    const options: string[] = [];
    const maxLength = Math.max(hi.toString().length, f + 1);
    for (let length = f + 1; length <= maxLength; length++) {
      const floor = length === f + 1 ? 0n : 10n ** BigInt(length - 1);
      const ceil = 10n ** BigInt(length) - 1n;
      const a = lo > floor ? lo : floor;
      const z = hi < ceil ? hi : ceil;
      if (a > z) continue;
      const memo = new Map<string, string | undefined>();
      const expr = this.#tight(a.toString().padStart(length, "0"), z.toString().padStart(length, "0"), 0, true, true, 0n, f, k, memo);
      if (expr !== undefined) options.push(expr);
    }
    if (options.length === 0) return undefined;
    return options.length === 1 ? options[0] : `(${options.join(" | ")})`;
  }

  #count(): void {
    if (++this.#states > MAX_STATES) throw new GrammarTooLargeError("the number automaton is too large");
  }

  /** Digits from `pos` of a length-`x.length` string bounded by x and z where still tight. */
  #tight(x: string, z: string, pos: number, tl: boolean, th: boolean, rem: bigint, f: number, k: bigint, memo: Map<string, string | undefined>): string | undefined {
    const length = x.length;
    if (!tl && !th) return this.#freeDigits(length - pos, rem, f, k);
    if (pos === length) return rem === 0n ? '""' : undefined;
    const key = `${pos},${tl},${th},${rem}`;
    if (memo.has(key)) return memo.get(key);
    this.#count();
    const from = tl ? Number(x[pos]) : 0;
    const to = th ? Number(z[pos]) : 9;
    const byNext = new Map<string, number[]>();
    for (let d = from; d <= to; d++) {
      const next = this.#tight(x, z, pos + 1, tl && d === from, th && d === to, (rem * 10n + BigInt(d)) % k, f, k, memo);
      if (next !== undefined) byNext.set(next, [...(byNext.get(next) ?? []), d]);
    }
    const dot = f > 0 && pos === length - f ? '"." ' : "";
    const options = [...byNext].map(([next, digits]) => `${dot}${digitClass(digits)}${next === '""' ? "" : ` ${next}`}`);
    const expr = options.length === 0 ? undefined : this.#b.rule("d", options.join(" | "));
    memo.set(key, expr);
    return expr;
  }

  /** Any `left` digits continuing a number with remainder `rem`, ending divisible by k. */
  #freeDigits(left: number, rem: bigint, f: number, k: bigint): string | undefined {
    if (left === 0) return rem === 0n ? '""' : undefined;
    if (k === 1n) {
      const before = left - f;
      if (before <= 0) return f > left ? `[0-9]{${left}}` : `"." [0-9]{${left}}`.replace("{1}", "");
      return f === 0 ? `[0-9]{${left}}` : `[0-9]{${before}} "." [0-9]{${f}}`;
    }
    const key = `${left},${rem},${f},${k}`;
    if (this.#free.has(key)) return this.#free.get(key);
    this.#count();
    const byNext = new Map<string, number[]>();
    for (let d = 0; d <= 9; d++) {
      const next = this.#freeDigits(left - 1, (rem * 10n + BigInt(d)) % k, f, k);
      if (next !== undefined) byNext.set(next, [...(byNext.get(next) ?? []), d]);
    }
    const dot = f > 0 && left === f ? '"." ' : "";
    const options = [...byNext].map(([next, digits]) => `${dot}${digitClass(digits)}${next === '""' ? "" : ` ${next}`}`);
    const expr = options.length === 0 ? undefined : this.#b.rule("f", options.join(" | "));
    this.#free.set(key, expr);
    return expr;
  }
}

function digitClass(digits: number[]): string {
  if (digits.length === 1) return `"${digits[0]}"`;
  const ranges: [number, number][] = [];
  for (const d of digits) {
    const last = ranges[ranges.length - 1];
    if (last !== undefined && last[1] === d + 47) last[1] = d + 48;
    else ranges.push([d + 48, d + 48]);
  }
  return gbnfClass(ranges);
}
