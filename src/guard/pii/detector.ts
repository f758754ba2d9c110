/**
 * The shape every PII detector has, and the scanning helpers they share.
 *
 * A detector finds candidates with precompiled, linear-time regexes and runs its validator only on
 * them. Its result for a position depends only on the text around that position (a bounded look
 * back, the match, and a few characters after it), never on where the scan began: a rejected
 * candidate lets the scan resume one character later, and only an accepted finding is skipped over.
 * That is what lets the stream scanner rescan from any cut that is not inside a finding and get
 * exactly the findings of a one-shot scan.
 */
import type { PiiFinding, PiiType } from "./types.ts";

/** Validates one regex match: the end of the accepted span (it starts at the match), or -1 to reject it. */
export type MatchCheck = (match: RegExpExecArray, text: string) => number;

/** A candidate finder (a global regex) and the validator its matches go through. */
export interface Matcher {
  re: RegExp;
  check: MatchCheck;
}

/** One family of entities: finds them in a whole text, and says where an unfinished one may start. */
export interface PiiDetector {
  readonly type: PiiType;
  /**
   * The most characters, from the start of a finding, that decide it: its longest accepted span plus
   * the characters its end checks look at. Past this, an unfinished candidate can no longer become one.
   */
  readonly horizon: number;
  /**
   * Appends to `out` every finding that starts at or after `from` and before `until` (default: the
   * end); earlier text is still looked back at, and a finding may end after `until`.
   */
  scan(text: string, from: number, out: PiiFinding[], until?: number): void;
  /**
   * The earliest index where a finding could start whose outcome still depends on text not yet seen,
   * assuming `text` may continue; `text.length` when there is none. It may err early (that only
   * delays output), never late.
   */
  pendingStart(text: string): number;
}

/** Accepts the whole match. */
export const WHOLE_MATCH: MatchCheck = (m) => m.index + m[0].length;

/** Runs one matcher over `text` from `from`, appending validated findings of `type` that start before `until` to `out`. */
export function scanMatcher(matcher: Matcher, type: PiiType, text: string, from: number, out: PiiFinding[], until = text.length): void {
  const { re, check } = matcher;
  re.lastIndex = from;
  for (let m = re.exec(text); m !== null && m.index < until; m = re.exec(text)) {
    const end = check(m, text);
    if (end > m.index) {
      out.push({ type, start: m.index, end, text: text.slice(m.index, end) });
      re.lastIndex = end;
    } else {
      // Rejected: the next candidate may start inside this one, exactly as a scan begun there would see it.
      re.lastIndex = m.index + 1;
    }
  }
}

/**
 * The index of the leftmost match of `re` (global, anchored with `$`) that starts within the last
 * `window` characters of `text`, or `text.length`. Used to find where an unfinished candidate starts.
 */
export function tailStart(text: string, window: number, re: RegExp): number {
  re.lastIndex = Math.max(0, text.length - window);
  const m = re.exec(text);
  return m === null ? text.length : m.index;
}

/**
 * A regex source matching any non-empty prefix of `literal`, or all of it followed by `rest`:
 * `prefixPattern("sk-", "[a-z]*")` is `s(?:k(?:-[a-z]*)?)?`. It recognises a key prefix still being typed.
 */
export function prefixPattern(literal: string, rest: string): string {
  let source = rest;
  for (let i = literal.length - 1; i >= 0; i--) {
    const ch = (literal[i] as string).replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
    source = i === literal.length - 1 ? `${ch}${source}` : `${ch}(?:${source})?`;
  }
  return source;
}

/** A detector built from matchers that share one type. */
export function detectorOf(type: PiiType, horizon: number, matchers: readonly Matcher[], pendingStart: (text: string) => number): PiiDetector {
  return {
    type,
    horizon,
    scan(text, from, out, until) {
      for (const matcher of matchers) scanMatcher(matcher, type, text, from, out, until);
    },
    pendingStart,
  };
}
