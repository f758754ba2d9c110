/**
 * The phrase notation of rule lists: literal text with alternative groups, expanded into the plain strings
 * the automaton matches. `kill(s|ed|ing)? (you|u)` is kill you, kill u, kills you, … killing u.
 *
 * - `(a|b|c)` one of the alternatives; `(…)?` optionally; groups nest; an empty alternative is allowed.
 * - `?` anywhere else is an error (`colou?r` would silently mean "colou?r"): write `colo(u)?r`, or `\?`.
 * - `|` outside any group separates whole alternatives.
 * - `\` makes the next character literal: `c\+\+`, `\(`.
 * Expansion is a product, so long phrases are not expanded whole: {@link phraseItems} cuts them at
 * top-level spaces into words the matcher chains back together (see matcher.ts), and one segment that
 * stands for more than {@link MAX_EXPANSIONS} strings is an error rather than a slow start.
 */

/** Most strings one phrase may expand to. */
export const MAX_EXPANSIONS = 4096;

/** A phrase that cannot be expanded: unbalanced parentheses, a dangling escape, or too many strings. */
export class PhraseSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PhraseSyntaxError";
  }
}

class Parser {
  readonly #source: string;
  #at = 0;

  constructor(source: string) {
    this.#source = source;
  }

  parse(): string[] {
    const out = this.#alternatives();
    if (this.#at < this.#source.length) throw new PhraseSyntaxError(`unmatched ")" at offset ${this.#at}`);
    return out;
  }

  /** sequence ('|' sequence)* — up to a ')' or the end. */
  #alternatives(): string[] {
    const out = new Set(this.#sequence());
    while (this.#source[this.#at] === "|") {
      this.#at++;
      for (const s of this.#sequence()) out.add(s);
      capped(out.size);
    }
    return [...out];
  }

  /** Literal characters and groups, up to '|', ')' or the end. */
  #sequence(): string[] {
    let out = [""];
    let literal = "";
    const flush = (): void => {
      if (literal) out = out.map((s) => s + literal);
      literal = "";
    };
    for (;;) {
      const c = this.#source[this.#at];
      if (c === undefined || c === "|" || c === ")") break;
      this.#at++;
      if (c === "\\") {
        const next = this.#source[this.#at];
        if (next === undefined) throw new PhraseSyntaxError("a trailing \\ escapes nothing");
        literal += next;
        this.#at++;
      } else if (c === "(") {
        const open = this.#at - 1;
        const inner = this.#alternatives();
        if (this.#source[this.#at] !== ")") throw new PhraseSyntaxError(`unclosed "(" at offset ${open}`);
        this.#at++;
        const options = this.#source[this.#at] === "?" ? (this.#at++, ["", ...inner]) : inner;
        flush();
        capped(out.length * options.length);
        out = out.flatMap((prefix) => options.map((option) => prefix + option));
      } else if (c === "?") {
        // Only a group can be optional; a stray ? is far more often a mistake than a wanted question mark.
        throw new PhraseSyntaxError(`"?" at offset ${this.#at - 1} follows no group: write (x)? for an optional x, or \\? for a question mark`);
      } else {
        literal += c;
      }
    }
    flush();
    return out;
  }
}

function capped(count: number): void {
  if (count > MAX_EXPANSIONS) throw new PhraseSyntaxError(`expands to more than ${MAX_EXPANSIONS} strings`);
}

/** The distinct strings a phrase stands for, in order of first appearance. */
export function expandPhrase(phrase: string): string[] {
  return [...new Set(new Parser(phrase).parse())];
}

/** One top-level piece of a phrase and what separates it from the piece before. */
export interface PhraseItem {
  source: string;
  /** A space stood before it (else it follows the previous piece directly, or is the first). */
  spaced: boolean;
}

/**
 * A phrase cut into its top-level pieces: runs of literal text and groups (with their `?`), split at
 * spaces and at group edges. `(i|we) will (kill|hurt) you` → `(i|we)`, `will`, `(kill|hurt)`, `you`, all
 * spaced; `(要|会)(杀了|弄死)你` → three unspaced pieces. A phrase with a top-level `|` is one piece
 * (its alternatives are whole phrases).
 */
export function phraseItems(phrase: string): PhraseItem[] {
  const items: PhraseItem[] = [];
  let depth = 0;
  let from = 0;
  let spaced = false;
  const cut = (to: number): void => {
    if (to > from) {
      items.push({ source: phrase.slice(from, to), spaced });
      spaced = false;
    }
    from = to;
  };
  for (let i = 0; i < phrase.length; i++) {
    const c = phrase[i];
    if (c === "\\") {
      i++;
    } else if (c === "(") {
      if (depth === 0) cut(i);
      depth++;
    } else if (c === ")") {
      depth--;
      if (depth === 0) cut(phrase[i + 1] === "?" ? ++i + 1 : i + 1);
    } else if (depth === 0 && c === "|") {
      return [{ source: phrase, spaced: false }];
    } else if (depth === 0 && c === " ") {
      cut(i);
      from = i + 1;
      spaced = true;
    }
  }
  cut(phrase.length);
  return items;
}
