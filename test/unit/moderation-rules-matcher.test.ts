import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AhoCorasick } from "../../src/guard/rules/aho-corasick.ts";
import { compilePhrase, Matcher } from "../../src/guard/rules/matcher.ts";
import { isWordUnit, normalizeLiteral, normalizeText } from "../../src/guard/rules/normalize.ts";
import { PatternSet } from "../../src/guard/rules/pattern-set.ts";
import { expandPhrase, PhraseSyntaxError } from "../../src/guard/rules/phrase-expansion.ts";
import { compileRegexNotation, compileSafeRegex, UnsafeRegexError } from "../../src/guard/rules/safe-regex.ts";
import { random } from "../helpers/random.ts";

/** Each unit of the matching form with the original text it came from. */
function sources(text: string): string[] {
  const n = normalizeText(text);
  return Array.from({ length: n.length }, (_, i) => text.slice(n.starts[i], n.ends[i]));
}

describe("normalisation", () => {
  it("folds case, full-width forms, ligatures, accents and invisible characters", () => {
    assert.equal(normalizeText("KiLL ＹＯＵ　ｎｏｗ").text, "kill you now");
    assert.equal(normalizeText("ﬁnd the Ｃａｆé").text, "find the cafe");
    assert.equal(normalizeText("ki\u200bl\u00adl k\u0336i\u0336l\u0336l\u0336").text, "kill kill");
    assert.equal(normalizeText("self-harm and self_harm — self\u2014harm").text, "self harm and self harm self harm");
    assert.equal(normalizeText("a \t\n\n  b").text, "a b");
  });

  it("decodes leetspeak inside words but leaves numbers alone", () => {
    assert.equal(normalizeText("k1ll h4te $ex n00b @ss k!ll").text, "kill hate sex noob ass kill");
    assert.equal(normalizeText("kill -9 1234, 3rd place, 12yo, 4k video, $100, v1.2").text, "kill 9 1234, 3rd place, 12yo, 4k video, $100, vi.2");
    assert.equal(normalizeText("wow!").text, "wow!");
  });

  it("joins letters spelled apart and drops separators between CJK characters", () => {
    assert.equal(normalizeText("k.i.l.l, k i l l, k-i-l-l, k * i * l * l, k1ll").text, "kill, kill, kill, kill, kill");
    assert.equal(normalizeText("k.i.l.l y o u").text, "kill you", "a change of separator ends a run");
    assert.equal(normalizeText("I am a b").text, "i am a b");
    assert.equal(normalizeText("version 1 2 3").text, "version 1 2 3");
    assert.equal(normalizeText("自 杀, 自*杀, 自 . 杀").text, "自杀, 自杀, 自杀");
    assert.equal(normalizeText("我 is here").text, "我 is here");
  });

  it("maps every unit back to the original text it came from", () => {
    assert.deepEqual(sources("ＡＢ"), ["Ａ", "Ｂ"]);
    assert.deepEqual(sources("k.i.l.l  x"), ["k", "i", "l", "l", "  ", "x"]);
    assert.deepEqual(sources("ﬁ😀"), ["ﬁ", "ﬁ", "😀", "😀"]);
    const text = "Ｋ１ＬＬ  ｙｏｕ — 自 杀";
    const n = normalizeText(text);
    assert.equal(n.text, "kill you 自杀");
    assert.deepEqual(n.originalSpan(0, 4), [0, 4]);
    assert.equal(text.slice(...n.originalSpan(5, 8)), "ｙｏｕ");
    assert.equal(text.slice(...n.originalSpan(9, 11)), "自 杀");
  });

  it("normalises a literal like text, trimmed", () => {
    assert.equal(normalizeLiteral("  Kill   Yourself "), "kill yourself");
    assert.equal(normalizeLiteral("自杀"), "自杀");
    assert.equal(normalizeLiteral("h4te"), "hate");
  });

  it("classes word units for boundaries: letters of any alphabet, not CJK", () => {
    assert.ok(isWordUnit("a".charCodeAt(0)) && isWordUnit("é".charCodeAt(0)) && isWordUnit("ж".charCodeAt(0)) && isWordUnit("7".charCodeAt(0)));
    assert.ok(!isWordUnit(" ".charCodeAt(0)) && !isWordUnit("我".charCodeAt(0)) && !isWordUnit("'".charCodeAt(0)));
  });
});

describe("phrase notation", () => {
  it("expands alternatives, optional groups, nesting and escapes", () => {
    assert.deepEqual(expandPhrase("kill(s|ed|ing)?"), ["kill", "kills", "killed", "killing"]);
    assert.deepEqual(expandPhrase("(i|we) (hate|despise) you"), ["i hate you", "i despise you", "we hate you", "we despise you"]);
    assert.deepEqual(expandPhrase("a((b|c)d)?"), ["a", "abd", "acd"]);
    assert.deepEqual(expandPhrase("x|y z"), ["x", "y z"]);
    assert.deepEqual(expandPhrase("c\\+\\+ \\(lang\\) really\\?"), ["c++ (lang) really?"]);
    assert.deepEqual(expandPhrase("(a|a|)b"), ["ab", "b"]);
  });

  it("rejects malformed phrases with the reason", () => {
    assert.throws(() => expandPhrase("kill(s"), (e: Error) => e instanceof PhraseSyntaxError && /unclosed/.test(e.message));
    assert.throws(() => expandPhrase("kill)s"), (e: Error) => e instanceof PhraseSyntaxError && /unmatched/.test(e.message));
    assert.throws(() => expandPhrase("colou?r"), (e: Error) => e instanceof PhraseSyntaxError && /follows no group/.test(e.message));
    assert.throws(() => expandPhrase("trailing\\"), PhraseSyntaxError);
    const huge = Array.from({ length: 13 }, () => "(a|b)").join("");
    assert.throws(() => expandPhrase(huge), (e: Error) => /more than 4096/.test(e.message));
  });

  it("compiles long products into chained parts, short phrases into one part", () => {
    assert.deepEqual(compilePhrase("Kill(s)? yourself"), [{ literals: ["kill yourself", "kills yourself"], spaced: false }]);
    const verbs = "(kill|murder|stab|strangle|shoot|poison|drown|burn|bury|behead|torture|hang)";
    const targets = "(you|u|ya|him|her|them|everyone|your family|your kids|your wife)";
    const parts = compilePhrase(`(i will|i'll|imma|i'm going to|im gonna|we will) ${verbs} ${targets}`);
    assert.ok(parts.length >= 2, JSON.stringify(parts.map((p) => p.literals.length)));
    assert.ok(parts.slice(1).every((p) => p.spaced));
    const cjk = compilePhrase("(我|老子|我们)(要|会|一定要|一定会|迟早|早晚|马上)(杀了|弄死|打死|砍死|捅死|宰了|干掉)(你|你们|你全家|你妈)");
    assert.ok(cjk.length >= 2 && cjk.slice(1).every((p) => !p.spaced));
    // Optional pieces join the part after them; a trailing optional joins the part before.
    assert.equal(compilePhrase("kill (him)?").length, 1);
  });
});

describe("Aho–Corasick", () => {
  /** Every occurrence by brute force, as "literal@end", sorted. */
  function naive(literals: string[], text: string): string[] {
    const out: string[] = [];
    literals.forEach((literal, i) => {
      for (let at = text.indexOf(literal); at >= 0; at = text.indexOf(literal, at + 1)) out.push(`${i}@${at + literal.length}`);
    });
    return out.sort();
  }

  it("finds the same occurrences as brute force, in dense and sparse form", () => {
    const next = random(7);
    const alphabet = "abcab杀死你 ";
    const pick = (length: number): string => Array.from({ length }, () => alphabet[Math.floor(next() * alphabet.length)]).join("");
    for (let round = 0; round < 30; round++) {
      const literals = [...new Set(Array.from({ length: 1 + Math.floor(next() * 40) }, () => pick(1 + Math.floor(next() * 5))))];
      const text = pick(300);
      const codes = Uint16Array.from(text, (c) => c.charCodeAt(0));
      const expected = naive(literals, text);
      for (const denseLimit of [1 << 22, 0]) {
        const automaton = new AhoCorasick(literals, { denseLimit });
        assert.equal(automaton.dense, denseLimit > 0);
        const found: string[] = [];
        automaton.scan(codes, codes.length, (literal, end) => found.push(`${literal}@${end}`));
        assert.deepEqual(found.sort(), expected, `round ${round}, dense ${automaton.dense}`);
      }
    }
  });

  it("reports only whole words when given a word test", () => {
    const automaton = new AhoCorasick(["kill", "ill", "a", "c++"], { isWordUnit });
    const text = "skill killer kill, ill a c++ c+++ 我kill你";
    const codes = Uint16Array.from(text, (c) => c.charCodeAt(0));
    const found: string[] = [];
    automaton.scan(codes, codes.length, (literal, end) => found.push(`${["kill", "ill", "a", "c++"][literal]}@${end}`));
    assert.deepEqual(found, ["kill@17", "ill@22", "a@24", "c++@28", "c++@32", "kill@39"]);
  });
});

describe("safe regexes", () => {
  it("accepts ordinary patterns and adds the g and u flags", () => {
    const regex = compileSafeRegex("\\b(?:buy|sell) (cheap )?followers\\b");
    assert.equal(regex.flags, "giu");
    for (const ok of ["\\d{3}-\\d{4}", "(ab)+c", "(?:foo|bar) baz", "[a-z]+@example\\.com", "\\p{L}{2,5}", "(?<year>\\d{4})", "a.{0,40}?b", "(?<=x)y"]) {
      assert.doesNotThrow(() => compileSafeRegex(ok), ok);
    }
  });

  it("rejects nested quantifiers, repeated alternations, backreferences, empty matches and leading .*", () => {
    const cases: [string, RegExp][] = [
      ["(a+)+b", /repeated group/],
      ["(a*)*", /repeated group/],
      ["(a|aa)+", /repeated group/],
      ["((ab)+c)*", /repeated group/],
      ["(\\w+\\s?){2,}x", /repeated group/],
      ["(x)\\1", /backreferences/],
      ["(?<n>x)\\k<n>", /backreferences/],
      ["a*", /empty string/],
      [".*secret", /leading/],
      ["(unclosed", /invalid regex/],
      ["a{2", /invalid regex/],
      ["x".repeat(1001), /longer than/],
      ["", /empty/],
    ];
    for (const [source, reason] of cases) {
      assert.throws(() => compileSafeRegex(source), (e: Error) => e instanceof UnsafeRegexError && reason.test(e.message), source);
    }
  });

  it("reads /source/flags notation, allowing only i, m and s", () => {
    assert.equal(compileRegexNotation("/Secret/").flags, "gu");
    assert.equal(compileRegexNotation("/a.b/is").flags, "gisu");
    assert.equal(compileRegexNotation("plain").flags, "giu");
    assert.throws(() => compileRegexNotation("/x/y"), UnsafeRegexError);
  });
});

describe("matcher", () => {
  it("matches alphabetic phrases on word boundaries and CJK phrases anywhere", () => {
    const matcher = new Matcher([{ source: "kill(s)?" }, { source: "杀了你" }, { source: "c\\+\\+" }]);
    const text = "skills kills killing 要杀了你吧 c++";
    assert.deepEqual(
      matcher.scan(text).map((h) => [h.pattern, text.slice(h.start, h.end)]),
      [[0, "kills"], [1, "杀了你"], [2, "c++"]],
    );
  });

  it("chains the parts of a long phrase, one space apart, and finds the whole span", () => {
    const verbs = "(kill|murder|stab|strangle|shoot|poison|drown|burn|bury|behead|torture|hang)";
    const matcher = new Matcher([{ source: `(i will|i'll|imma|i'm going to|im gonna|we will) ${verbs} (you|him|them|your family|your kids)` }]);
    const text = "Honestly I'M GOING TO  str4ngle your family. i will bury the hatchet. I will stab, you";
    assert.deepEqual(matcher.scan(text).map((h) => text.slice(h.start, h.end)), ["I'M GOING TO  str4ngle your family"]);
  });

  it("runs regexes on the normalised text or on the original, reporting original spans", () => {
    const matcher = new Matcher([{ source: "\\bk+ill\\b", regex: true }, { source: "/Secret-\\d+/", regex: true, on: "original" }]);
    const text = "ＫＫILL it, secret-1, Secret-2";
    assert.deepEqual(matcher.scan(text).map((h) => [h.pattern, text.slice(h.start, h.end)]), [[0, "ＫＫILL"], [1, "Secret-2"]]);
  });
});

describe("PatternSet", () => {
  it("finds banned words through evasions, at original offsets", () => {
    const set = new PatternSet({ words: ["project falcon", "机密", "drop(ped)? table"] });
    assert.equal(set.size, 3);
    const text = "Re: PROJECT   F4LC0N — 这是机密！ Also: dropped-table";
    const found = set.find(text);
    assert.deepEqual(
      found.map((m) => [m.kind, m.pattern, m.text]),
      [
        ["word", "project falcon", "PROJECT   F4LC0N"],
        ["word", "机密", "机密"],
        ["word", "drop(ped)? table", "dropped-table"],
      ],
    );
    for (const m of found) assert.equal(text.slice(m.start, m.end), m.text);
    assert.equal(set.test("projects falconry"), false);
  });

  it("finds regexes on the original text by default, or on the normalised text", () => {
    const original = new PatternSet({ regexes: ["\\b\\d{4}-\\d{4}-\\d{4}-\\d{4}\\b", "/TOP SECRET/"] });
    const text = "card 4111-1111-1111-1111, top secret, TOP SECRET";
    assert.deepEqual(original.find(text).map((m) => [m.kind, m.text]), [["regex", "4111-1111-1111-1111"], ["regex", "TOP SECRET"]]);
    const normalized = new PatternSet({ regexes: ["ignore (all )?previous instructions"], regexesOn: "normalized" });
    const prompt = "Please IGNORE   all previous-instructions";
    assert.deepEqual(normalized.find(prompt).map((m) => m.text), ["IGNORE   all previous-instructions"]);
  });

  it("rejects unsafe regexes and malformed words when built", () => {
    assert.throws(() => new PatternSet({ regexes: ["(a+)+$"] }), /Invalid banned word or regex: .*\(a\+\)\+\$.*repeated group/);
    assert.throws(() => new PatternSet({ words: ["ok", "bad (word"] }), /bad \(word.*unclosed/);
    assert.deepEqual(new PatternSet({}).find("anything"), []);
  });
});
