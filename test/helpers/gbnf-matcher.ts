/**
 * A small GBNF recogniser for tests: parses llama.cpp's grammar syntax (rules, literals, character
 * classes with ranges and negation, groups, alternation, `* + ? {m} {m,} {m,n}`) and decides
 * whether a whole text is in the grammar's language, so tests can check what a grammar accepts
 * rather than how it is written.
 */
type Expr =
  | { kind: "lit"; cps: number[] }
  | { kind: "class"; negated: boolean; ranges: [number, number][] }
  | { kind: "ref"; name: string }
  | { kind: "seq"; items: Expr[] }
  | { kind: "alt"; options: Expr[] }
  | { kind: "rep"; expr: Expr; min: number; max: number };

function parseChar(src: number[], pos: number): [number, number] {
  const c = src[pos] as number;
  if (c !== 0x5c) return [c, pos + 1];
  const e = String.fromCodePoint(src[pos + 1] as number);
  const simple: Record<string, number> = { n: 10, r: 13, t: 9, "\\": 92, '"': 34, "[": 91, "]": 93, "-": 45 };
  if (e in simple) return [simple[e] as number, pos + 2];
  const width = e === "x" ? 2 : e === "u" ? 4 : e === "U" ? 8 : 0;
  if (width === 0) throw new Error(`bad escape \\${e}`);
  const hex = String.fromCodePoint(...src.slice(pos + 2, pos + 2 + width));
  return [Number.parseInt(hex, 16), pos + 2 + width];
}

function parseRules(text: string): Map<string, Expr> {
  const rules = new Map<string, Expr>();
  const src = [...text].map((c) => c.codePointAt(0) as number);
  let pos = 0;
  const at = (): string => (pos < src.length ? String.fromCodePoint(src[pos] as number) : "");
  const skip = (newlines: boolean): void => {
    while (pos < src.length && (at() === " " || at() === "\t" || (newlines && (at() === "\n" || at() === "\r")) || at() === "#")) {
      if (at() === "#") while (pos < src.length && at() !== "\n") pos++;
      else pos++;
    }
  };
  const name = (): string => {
    let out = "";
    while (/[a-zA-Z0-9_-]/.test(at())) out += src[pos++] !== undefined ? String.fromCodePoint(src[pos - 1] as number) : "";
    return out;
  };
  function alternatives(nested: boolean): Expr {
    const options: Expr[] = [sequence(nested)];
    while (at() === "|") {
      pos++;
      skip(true);
      options.push(sequence(nested));
    }
    return options.length === 1 ? (options[0] as Expr) : { kind: "alt", options };
  }
  function sequence(nested: boolean): Expr {
    const items: Expr[] = [];
    for (;;) {
      skip(nested);
      const c = at();
      let item: Expr;
      if (c === '"') {
        pos++;
        const cps: number[] = [];
        while (at() !== '"') {
          const [cp, next] = parseChar(src, pos);
          cps.push(cp);
          pos = next;
        }
        pos++;
        item = { kind: "lit", cps };
      } else if (c === "[") {
        pos++;
        const negated = at() === "^";
        if (negated) pos++;
        const ranges: [number, number][] = [];
        while (at() !== "]") {
          const [lo, next] = parseChar(src, pos);
          pos = next;
          if (at() === "-" && String.fromCodePoint(src[pos + 1] as number) !== "]") {
            const [hi, after] = parseChar(src, pos + 1);
            pos = after;
            ranges.push([lo, hi]);
          } else ranges.push([lo, lo]);
        }
        pos++;
        item = { kind: "class", negated, ranges };
      } else if (c === "(") {
        pos++;
        skip(true);
        item = alternatives(true);
        skip(true);
        if (at() !== ")") throw new Error(`expected ) at ${pos}`);
        pos++;
      } else if (/[a-zA-Z0-9_-]/.test(c)) {
        const save = pos;
        const n = name();
        skip(false);
        if (at() === ":" && String.fromCodePoint(src[pos + 1] as number) === ":") {
          pos = save;
          break;
        }
        pos = save + n.length;
        item = { kind: "ref", name: n };
      } else break;
      for (;;) {
        const q = at();
        if (q === "*") item = { kind: "rep", expr: item, min: 0, max: Infinity };
        else if (q === "+") item = { kind: "rep", expr: item, min: 1, max: Infinity };
        else if (q === "?") item = { kind: "rep", expr: item, min: 0, max: 1 };
        else if (q === "{") {
          const close = src.indexOf(0x7d, pos);
          const body = String.fromCodePoint(...src.slice(pos + 1, close));
          const [m, n] = body.includes(",") ? body.split(",") : [body, body];
          item = { kind: "rep", expr: item, min: Number(m), max: n === "" ? Infinity : Number(n) };
          pos = close;
        } else break;
        pos++;
      }
      items.push(item);
    }
    return items.length === 1 ? (items[0] as Expr) : { kind: "seq", items };
  }
  for (;;) {
    skip(true);
    if (pos >= src.length) break;
    const n = name();
    skip(false);
    if (String.fromCodePoint(...src.slice(pos, pos + 3)) !== "::=") throw new Error(`expected ::= after ${n} at ${pos}`);
    pos += 3;
    skip(false);
    if (rules.has(n)) throw new Error(`rule ${n} defined twice`);
    rules.set(n, alternatives(false));
  }
  for (const expr of rules.values()) checkRefs(expr, rules);
  return rules;
}

function checkRefs(expr: Expr, rules: Map<string, Expr>): void {
  switch (expr.kind) {
    case "ref": if (!rules.has(expr.name)) throw new Error(`undefined rule ${expr.name}`); break;
    case "seq": expr.items.forEach((e) => checkRefs(e, rules)); break;
    case "alt": expr.options.forEach((e) => checkRefs(e, rules)); break;
    case "rep": checkRefs(expr.expr, rules); break;
    default: break;
  }
}

/** A parsed grammar that answers whether it accepts a text. */
export class GbnfMatcher {
  readonly #rules: Map<string, Expr>;

  constructor(grammar: string) {
    this.#rules = parseRules(grammar);
    if (!this.#rules.has("root")) throw new Error("no root rule");
  }

  get ruleCount(): number {
    return this.#rules.size;
  }

  /** Whether `root` matches all of `text`. */
  accepts(text: string): boolean {
    const cps = [...text].map((c) => c.codePointAt(0) as number);
    const memo = new Map<string, Set<number>>();
    const ends = (expr: Expr, pos: number): Set<number> => {
      switch (expr.kind) {
        case "lit": {
          for (let i = 0; i < expr.cps.length; i++) if (cps[pos + i] !== expr.cps[i]) return new Set();
          return new Set([pos + expr.cps.length]);
        }
        case "class": {
          const c = cps[pos];
          if (c === undefined) return new Set();
          const inside = expr.ranges.some(([lo, hi]) => c >= lo && c <= hi);
          return inside !== expr.negated ? new Set([pos + 1]) : new Set();
        }
        case "ref": {
          const key = `${expr.name}@${pos}`;
          const known = memo.get(key);
          if (known !== undefined) return known;
          memo.set(key, new Set()); // left recursion (which llama.cpp rejects) finds nothing
          const out = ends(this.#rules.get(expr.name) as Expr, pos);
          memo.set(key, out);
          return out;
        }
        case "seq": {
          let at = new Set([pos]);
          for (const item of expr.items) {
            const next = new Set<number>();
            for (const p of at) for (const e of ends(item, p)) next.add(e);
            at = next;
            if (at.size === 0) break;
          }
          return at;
        }
        case "alt": {
          const out = new Set<number>();
          for (const o of expr.options) for (const e of ends(o, pos)) out.add(e);
          return out;
        }
        case "rep": {
          const out = new Set<number>();
          let frontier = new Set([pos]);
          const seen = new Set<string>();
          for (let count = 0; frontier.size > 0; count++) {
            if (count >= expr.min) for (const p of frontier) out.add(p);
            if (count >= expr.max) break;
            const next = new Set<number>();
            for (const p of frontier) {
              for (const e of ends(expr.expr, p)) {
                const key = `${Math.min(count + 1, expr.min)}:${e}`;
                if (expr.max === Infinity && seen.has(key)) continue;
                seen.add(key);
                next.add(e);
              }
            }
            frontier = next;
          }
          return out;
        }
      }
    };
    return ends({ kind: "ref", name: "root" }, 0).has(cps.length);
  }
}

/**
 * Random texts of a grammar's language (a walk choosing alternatives and repeat counts at random;
 * past `depth` nested rules it takes the shortest way out), to check a grammar never admits a value
 * its schema rejects.
 */
export function sampleGrammar(grammar: string, rng: () => number, depth = 24): string {
  const rules = parseRules(grammar);
  const cost = new Map<string, number>();
  const size = (e: Expr): number => {
    switch (e.kind) {
      case "lit": return e.cps.length;
      case "class": return 1;
      case "ref": return cost.get(e.name) ?? Infinity;
      case "seq": return e.items.reduce((a, i) => a + size(i), 0);
      case "alt": return Math.min(...e.options.map(size));
      case "rep": return e.min === 0 ? 0 : e.min * size(e.expr);
    }
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (const [name, expr] of rules) {
      const c = size(expr);
      if (c < (cost.get(name) ?? Infinity)) {
        cost.set(name, c);
        changed = true;
      }
    }
  }
  const pickChar = (e: Extract<Expr, { kind: "class" }>): number => {
    const pool = e.negated ? [[0x20, 0x7e], [0xe9, 0xe9], [0x4e2d, 0x4e2d]].map(([lo, hi]) => [lo, hi] as [number, number]) : e.ranges;
    for (let tries = 0; tries < 200; tries++) {
      const [lo, hi] = pool[Math.floor(rng() * pool.length)] as [number, number];
      const c = lo + Math.floor(rng() * (hi - lo + 1));
      if (!e.negated || !e.ranges.some(([a, b]) => c >= a && c <= b)) return c;
    }
    throw new Error("no character found for a negated class");
  };
  const walk = (e: Expr, d: number): string => {
    switch (e.kind) {
      case "lit": return String.fromCodePoint(...e.cps);
      case "class": return String.fromCodePoint(pickChar(e));
      case "ref": return walk(rules.get(e.name) as Expr, d + 1);
      case "seq": return e.items.map((i) => walk(i, d)).join("");
      case "alt": {
        const finite = e.options.filter((o) => size(o) < Infinity);
        if (d > depth) return walk(finite.reduce((a, b) => (size(b) < size(a) ? b : a)), d);
        return walk(finite[Math.floor(rng() * finite.length)] as Expr, d);
      }
      case "rep": {
        const top = Math.min(e.max, e.min + 3);
        const n = d > depth ? e.min : e.min + Math.floor(rng() * (top - e.min + 1));
        let out = "";
        for (let i = 0; i < n; i++) out += walk(e.expr, d);
        return out;
      }
    }
  };
  return walk({ kind: "ref", name: "root" }, 0);
}

/** What a compiled JSON grammar must accept for `text`: the value, then the four-newline end. */
export function acceptsJson(matcher: GbnfMatcher, text: string): boolean {
  return matcher.accepts(`${text}\n\n\n\n`);
}
