/**
 * Admission control for configured regexes. They run on the request path, on every input, in V8's
 * backtracking engine, which cannot be interrupted: one catastrophic pattern would stall the event loop.
 * Rather than time each run (impossible to stop synchronously) or cap input lengths (which only bounds
 * the damage), a pattern is checked once, when it is configured:
 *
 * - it compiles with the `u` flag (strict syntax: no silently literal `\q` or stray `{`);
 * - no group that contains a quantifier or an alternation is itself repeated (`*`, `+`, `{n,}`, `{n,m}`
 *   with m > 1): this excludes the exponential shapes `(a+)+`, `(a*)*`, `(a|a)*`, `(\w+\s?)+`;
 *   `?` on such a group is allowed (it can only double the work once);
 * - no backreferences (`\1`, `\k<name>`), which can make matching NP-hard;
 * - no leading `.*` or `.+`: searching already tries every start, so it only turns a linear scan into
 *   a quadratic one;
 * - it cannot match the empty string (an empty match flags nothing and repeats at every offset);
 * - the source is at most {@link MAX_REGEX_LENGTH} characters.
 *
 * Polynomial backtracking through adjacent overlapping quantifiers (`\w+\w+x`) is still possible, and
 * is bounded by the input length; such patterns are an operator's to avoid.
 */

/** Longest accepted regex source. */
export const MAX_REGEX_LENGTH = 1000;

/** Flags a configured regex may ask for; `g` and `u` are always added. */
const ALLOWED_FLAGS = /^[ims]*$/;

/** A regex rejected by the checks above, with the reason. */
export class UnsafeRegexError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsafeRegexError";
  }
}

interface GroupState {
  /** Holds a quantifier or an alternation somewhere inside. */
  risky: boolean;
}

/** The reason `source` is unsafe by the rules above, or undefined when it is acceptable. */
function structuralProblem(source: string): string | undefined {
  const stack: GroupState[] = [{ risky: false }];
  /** What the last atom was: a group (and whether risky), another atom, or nothing yet. */
  let last: "none" | "atom" | "safe-group" | "risky-group" = "none";
  let atoms = 0;
  /** The pattern so far is one `.` at top level. */
  let leadingDot = false;
  const markRisky = (): void => {
    for (const group of stack) group.risky = true;
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    if (c === "\\") {
      const next = source[i + 1] ?? "";
      if (/[1-9]/.test(next) || next === "k") return "backreferences are not allowed";
      i++;
      // \p{…}, \u{…}, \x.. : skip the braces so they are not read as a quantifier.
      if ((next === "p" || next === "P" || next === "u") && source[i + 1] === "{") {
        const close = source.indexOf("}", i);
        if (close > 0) i = close;
      }
      last = "atom";
      atoms++;
      leadingDot = false;
      continue;
    }
    if (c === "[") {
      // A class is one atom; skip to its closing bracket (escapes inside skipped too).
      let j = i + 1;
      if (source[j] === "^") j++;
      if (source[j] === "]") j++;
      for (; j < source.length && source[j] !== "]"; j++) if (source[j] === "\\") j++;
      i = j;
      last = "atom";
      atoms++;
      leadingDot = false;
      continue;
    }
    if (c === "(") {
      // Skip group syntax: (?: (?= (?! (?<= (?<! (?<name>
      if (source[i + 1] === "?") {
        if (source[i + 2] === "<" && source[i + 3] !== "=" && source[i + 3] !== "!") {
          const close = source.indexOf(">", i);
          if (close > 0) i = close;
        } else {
          i += source[i + 2] === "<" ? 3 : 2;
        }
      }
      stack.push({ risky: false });
      last = "none";
      leadingDot = false;
      continue;
    }
    if (c === ")") {
      const group = stack.pop();
      if (group === undefined || stack.length === 0) return "unbalanced parentheses";
      last = group.risky ? "risky-group" : "safe-group";
      atoms++;
      continue;
    }
    if (c === "|") {
      markRisky();
      last = "none";
      leadingDot = false;
      continue;
    }
    if (c === "*" || c === "+" || c === "?" || c === "{") {
      let repeats: boolean;
      let unbounded: boolean;
      if (c === "{") {
        const close = source.indexOf("}", i);
        const body = close > 0 ? source.slice(i + 1, close) : "";
        const m = /^(\d+)(,(\d*))?$/.exec(body);
        if (!m) continue; // the u flag would have rejected a stray brace; nothing to judge here
        const max = m[2] === undefined ? Number(m[1]) : m[3] === "" ? Infinity : Number(m[3]);
        repeats = max > 1;
        unbounded = max === Infinity;
        i = close;
      } else {
        repeats = c !== "?";
        unbounded = repeats;
      }
      if (source[i + 1] === "?") i++; // lazy form
      if (repeats && last === "risky-group") {
        return "a repeated group may not contain a quantifier or an alternation (nested quantifiers can backtrack exponentially)";
      }
      if (unbounded && leadingDot) return "a leading .* or .+ only slows the search (every start is tried anyway): drop it";
      markRisky();
      last = "atom";
      leadingDot = false;
      continue;
    }
    last = "atom";
    atoms++;
    leadingDot = c === "." && atoms === 1 && stack.length === 1;
  }
  if (stack.length !== 1) return "unbalanced parentheses";
  return undefined;
}

/**
 * Compiles a configured regex after the checks above, with `g` and `u` added to `flags` (of which only
 * `i`, `m`, `s` are accepted). Throws {@link UnsafeRegexError} naming the problem.
 */
export function compileSafeRegex(source: string, flags = "i"): RegExp {
  if (!ALLOWED_FLAGS.test(flags)) throw new UnsafeRegexError(`flags "${flags}" are not allowed (only i, m, s)`);
  if (source.length === 0) throw new UnsafeRegexError("the regex is empty");
  if (source.length > MAX_REGEX_LENGTH) throw new UnsafeRegexError(`the regex is longer than ${MAX_REGEX_LENGTH} characters`);
  let regex: RegExp;
  try {
    regex = new RegExp(source, `${flags}gu`);
  } catch (error) {
    throw new UnsafeRegexError(`invalid regex: ${(error as Error).message}`);
  }
  const problem = structuralProblem(source);
  if (problem !== undefined) throw new UnsafeRegexError(problem);
  if (new RegExp(source, `${flags}u`).test("")) throw new UnsafeRegexError("the regex matches the empty string");
  return regex;
}

/**
 * A regex written either as a bare source (`kill\s+you`, compiled case-insensitive) or as a literal with
 * its flags (`/Kill/` for case-sensitive, `/a.b/is`). Returns the compiled regex; throws like {@link compileSafeRegex}.
 */
export function compileRegexNotation(notation: string): RegExp {
  const literal = /^\/(.*)\/([a-z]*)$/s.exec(notation);
  if (literal) return compileSafeRegex(literal[1] as string, literal[2] as string);
  return compileSafeRegex(notation);
}
