import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  MODERATION_CATEGORIES,
  combineVerdicts,
  emptyVerdict,
  parentCategory,
  type ModerationCategory,
} from "../../src/guard/moderation-categories.ts";
import { loadRuleFile, parseRuleSet, RuleFileError } from "../../src/guard/rules/rule-file.ts";
import { RuleEngine } from "../../src/guard/rules/rule-engine.ts";
import { EN_BENIGN, EN_HARMFUL, ZH_BENIGN, ZH_HARMFUL, type LabelledExample } from "../fixtures/moderation-examples.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;
const engine = new RuleEngine();

/** The categories an example must flag: its own and their parents. */
function expected(example: LabelledExample): Set<ModerationCategory> {
  const out = new Set<ModerationCategory>();
  for (const c of example.categories) {
    out.add(c);
    const parent = parentCategory(c);
    if (parent !== undefined) out.add(parent);
  }
  return out;
}

describe("moderation categories", () => {
  it("lists OpenAI's thirteen categories, each subcategory under an existing parent", () => {
    assert.equal(MODERATION_CATEGORIES.length, 13);
    assert.equal(parentCategory("hate/threatening"), "hate");
    assert.equal(parentCategory("self-harm/instructions"), "self-harm");
    assert.equal(parentCategory("illicit/violent"), "illicit");
    assert.equal(parentCategory("violence"), undefined);
  });

  it("makes an empty verdict and combines verdicts by max score, OR of flags and union of input types", () => {
    const empty = emptyVerdict();
    assert.equal(empty.flagged, false);
    assert.ok(MODERATION_CATEGORIES.every((c) => empty.scores[c] === 0 && !empty.categories[c] && empty.appliedInputTypes[c].length === 0));
    const text = emptyVerdict(["text"]);
    text.scores.violence = 0.3;
    const image = emptyVerdict(["image"]);
    image.scores.violence = 0.8;
    image.categories.violence = true;
    image.flagged = true;
    image.scores.sexual = 0.1;
    const combined = combineVerdicts([text, image]);
    assert.equal(combined.flagged, true);
    assert.equal(combined.scores.violence, 0.8);
    assert.equal(combined.scores.sexual, 0.1);
    assert.equal(combined.categories.violence, true);
    assert.equal(combined.categories.sexual, false);
    assert.deepEqual(combined.appliedInputTypes.violence, ["image", "text"]);
    assert.equal(combineVerdicts([]).flagged, false);
  });
});

describe("rule engine on the labelled fixture", () => {
  for (const [lang, harmful, benign] of [
    ["English", EN_HARMFUL, EN_BENIGN],
    ["Chinese", ZH_HARMFUL, ZH_BENIGN],
  ] as const) {
    it(`flags ${lang} harmful examples and leaves benign ones alone`, () => {
      assert.ok(harmful.length >= 60 && benign.length >= 40);
      let tp = 0;
      let fp = 0;
      let expectedCategories = 0;
      let foundCategories = 0;
      const misses: string[] = [];
      for (const example of harmful) {
        const verdict = engine.classify(example.text);
        if (verdict.flagged) tp++;
        for (const category of expected(example)) {
          expectedCategories++;
          if (verdict.categories[category]) foundCategories++;
          else misses.push(`miss ${category}: ${JSON.stringify(example.text)}`);
        }
      }
      for (const text of benign) {
        const verdict = engine.classify(text);
        if (verdict.flagged) {
          fp++;
          misses.push(`false positive: ${JSON.stringify(text)} (${verdict.matches.map((m) => `${m.category} "${m.text}"`).join(", ")})`);
        }
      }
      const recall = tp / harmful.length;
      const precision = tp / (tp + fp);
      const categoryRecall = foundCategories / expectedCategories;
      console.log(
        `${lang}: ${harmful.length} harmful, ${benign.length} benign; flagged recall ${recall.toFixed(3)}, ` +
          `precision ${precision.toFixed(3)}; expected categories found ${categoryRecall.toFixed(3)}`,
      );
      if (misses.length > 0) console.log(`  ${misses.join("\n  ")}`);
      assert.ok(recall >= 0.9, `recall ${recall}`);
      assert.ok(precision >= 0.95, `precision ${precision}`);
      assert.ok(categoryRecall >= 0.85, `category recall ${categoryRecall}`);
    });
  }

  it("fills every category of the verdict, with scores in [0, 1] and text as the applied input type", () => {
    const verdict = engine.classify("I will kill you, you worthless idiot");
    for (const category of MODERATION_CATEGORIES) {
      const score = verdict.scores[category];
      assert.ok(score >= 0 && score <= 1);
      assert.equal(verdict.categories[category], score >= 0.5);
      assert.deepEqual(verdict.appliedInputTypes[category], ["text"]);
    }
    assert.equal(verdict.flagged, true);
    assert.ok(verdict.categories["harassment/threatening"] && verdict.categories.harassment && verdict.categories.violence);
  });
});

describe("rule engine scoring", () => {
  it("combines distinct rules as a noisy OR and counts a rule once however often it matches", () => {
    const weak = new RuleEngine({ builtins: false, ruleSets: [parseRuleSet({ rules: [{ category: "violence", phrase: "(fight|brawl)", weight: 0.3 }, { category: "violence", phrase: "punch(es)?", weight: 0.3 }] }, "test")] });
    assert.ok(Math.abs(weak.classify("a fight, a brawl, another fight").scores.violence - 0.3) < 1e-12);
    const both = weak.classify("a fight with punches");
    assert.ok(Math.abs(both.scores.violence - (1 - 0.7 * 0.7)) < 1e-12);
    assert.equal(both.categories.violence, true);
    assert.equal(weak.classify("a fight").categories.violence, false);
  });

  it("counts a match inside a longer match of the same category once, at the stronger weight", () => {
    const verdict = engine.classify("The singer committed suicide in 1994.");
    assert.ok(verdict.matches.length >= 2, "both the word and the phrase matched");
    assert.ok(Math.abs(verdict.scores["self-harm"] - 0.3) < 1e-12);
    assert.equal(verdict.flagged, false);
  });

  it("propagates a subcategory's evidence to its parent", () => {
    const verdict = engine.classify("Death to all Muslims!");
    assert.equal(verdict.categories["hate/threatening"], true);
    assert.ok(verdict.scores.hate >= verdict.scores["hate/threatening"]);
    assert.equal(verdict.categories.hate, true);
  });

  it("applies per-category thresholds", () => {
    const strict = new RuleEngine({ thresholds: { violence: 0.2 } });
    assert.equal(strict.classify("The earthquake killed 30 people.").categories.violence, true);
    assert.equal(engine.classify("The earthquake killed 30 people.").categories.violence, false);
    const lax = new RuleEngine({ thresholds: 0.99 });
    assert.equal(lax.classify("I will kill you").flagged, false);
  });

  it("drops matches overlapping an exception, only for the exception's categories", () => {
    assert.equal(engine.classify("kill the process and restart it").matches.length, 0);
    assert.equal(engine.classify("请帮我杀掉这个进程").matches.length, 0);
    const both = engine.classify("kill the process, then kill yourself");
    assert.ok(both.matches.some((m) => m.text === "kill yourself"));
    assert.equal(both.flagged, true);
  });

  it("reports matches at their spans in the original text, through normalisation", () => {
    const text = "Hey!! ｙｏｕ ａｒｅ a  Ｗ0RTHL3SS   l.o.s.e.r — 我要 杀了你";
    const verdict = engine.classify(text);
    assert.equal(verdict.flagged, true);
    for (const m of verdict.matches) assert.equal(text.slice(m.start, m.end), m.text);
    assert.ok(verdict.matches.some((m) => m.category === "harassment" && m.text === "ｙｏｕ ａｒｅ a  Ｗ0RTHL3SS"));
    assert.ok(verdict.matches.some((m) => m.category === "harassment" && m.text === "Ｗ0RTHL3SS   l.o.s.e.r"));
    assert.ok(verdict.matches.some((m) => m.category === "harassment/threatening" && m.text === "要 杀了你"));
  });

  it("defeats case, full-width, leetspeak and spelled-out evasions", () => {
    for (const text of ["KILL YOURSELF", "ｋｉｌｌ ｙｏｕｒｓｅｌｆ", "k1ll y0urs3lf", "k.i.l.l yourself", "k i l l yourself", "k-i-l-l yourself", "kill\u200b yourself", "kïll yourself"]) {
      assert.equal(engine.classify(text).categories["self-harm/instructions"], true, text);
    }
    for (const text of ["我想 自 杀", "我想自*杀", "傻 逼"]) assert.equal(engine.classify(text).flagged, true, text);
  });

  it("can run without the built-in lists or with one language", () => {
    assert.equal(new RuleEngine({ builtins: false }).classify("I will kill you").flagged, false);
    const english = new RuleEngine({ languages: ["en"] });
    assert.equal(english.classify("I will kill you").flagged, true);
    assert.equal(english.classify("我要杀了你").flagged, false);
  });
});

describe("rule files", () => {
  const dir = mkdtempSync(join(tmpdir(), "moderation-rules-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("loads YAML and JSON rule files and adds them to the built-in lists", () => {
    const yaml = loadRuleFile(join(FIXTURES, "moderation-rules.yaml"));
    assert.ok(yaml.rules.length >= 4 && yaml.exceptions.length >= 2);
    const json = loadRuleFile(join(FIXTURES, "moderation-rules.json"));
    assert.ok(json.rules.length >= 2);
    const custom = new RuleEngine({ files: [join(FIXTURES, "moderation-rules.yaml"), join(FIXTURES, "moderation-rules.json")] });
    assert.ok(custom.ruleCount > engine.ruleCount);
    assert.equal(custom.classify("He curb-stomped the guy").categories.violence, true);
    assert.equal(custom.classify("I will end you").categories["harassment/threatening"], true);
    assert.equal(custom.classify("I will end you at Mario Kart").flagged, false, "the file's exception");
    assert.equal(custom.classify("where to buy cheap followers").categories.illicit, true, "a regex rule");
    assert.equal(custom.classify("你真是个菜狗").categories.harassment, true);
    assert.equal(custom.classify("Glorbs are vermin").categories.hate, true);
    assert.equal(custom.classify("In the game, glorbs are vermin in the game world").categories.hate, false);
    assert.equal(custom.classify("I will kill you").flagged, true, "built-ins still apply");
    const only = new RuleEngine({ builtins: false, files: [join(FIXTURES, "moderation-rules.json")] });
    assert.equal(only.classify("I will kill you").flagged, false);
    assert.equal(only.classify("spicy pics for sale").categories.sexual, true);
  });

  it("rejects a file with bad entries, naming each entry and the problem", () => {
    const raw = {
      rules: [
        { category: "violence", phrase: "fine" },
        { category: "violins", phrase: "bad category" },
        { category: "hate", phrase: "too heavy", weight: 1.5 },
        { category: "illicit", phrase: "both", pattern: "both" },
        { category: "sexual", phrase: "x", extra: true },
      ],
    };
    assert.throws(
      () => parseRuleSet(raw, "bad.yaml"),
      (e: Error) => {
        assert.ok(e instanceof RuleFileError);
        assert.match(e.message, /bad\.yaml/);
        assert.match(e.message, /rules\[1\] \("bad category"\)\.category/);
        assert.match(e.message, /rules\[2\] \("too heavy"\)\.weight/);
        assert.match(e.message, /rules\[3\] \("both"\): give exactly one of 'phrase' and 'pattern'/);
        assert.match(e.message, /rules\[4\] \("x"\)/);
        assert.doesNotMatch(e.message, /rules\[0\]/);
        return true;
      },
    );
  });

  it("rejects malformed phrases and unsafe regexes, naming the entry", () => {
    const raw = {
      rules: [
        { category: "violence", phrase: "unclosed (group" },
        { category: "illicit", pattern: "(a+)+b", regex: true },
        { category: "illicit", pattern: "(x)\\1", regex: true },
        { category: "hate", phrase: "colou?r" },
      ],
      exceptions: ["fine", { pattern: ".*", regex: true }],
    };
    assert.throws(
      () => parseRuleSet(raw, "patterns.yaml"),
      (e: Error) =>
        e instanceof RuleFileError &&
        /rules\[0\] \("unclosed \(group"\): unclosed "\("/.test(e.message) &&
        /rules\[1\] \("\(a\+\)\+b"\): a repeated group/.test(e.message) &&
        /rules\[2\] .*backreferences/.test(e.message) &&
        /rules\[3\] .*follows no group/.test(e.message) &&
        /exceptions\[1\] \("\.\*"\)/.test(e.message) &&
        !/exceptions\[0\]/.test(e.message),
    );
  });

  it("reports unreadable and unparsable files as RuleFileError", () => {
    assert.throws(() => loadRuleFile(join(dir, "missing.yaml")), (e: Error) => e instanceof RuleFileError && /Cannot read/.test(e.message));
    const broken = join(dir, "broken.json");
    writeFileSync(broken, '{"rules": [');
    assert.throws(() => loadRuleFile(broken), (e: Error) => e instanceof RuleFileError && /Cannot parse rule file .*broken\.json/.test(e.message));
    const yaml = join(dir, "bad.yml");
    writeFileSync(yaml, "rules:\n  - category: violence\n    phrase: ok\n  - category: nope\n    phrase: kaboom\n");
    assert.throws(() => new RuleEngine({ files: [yaml] }), (e: Error) => e instanceof RuleFileError && /bad\.yml[\s\S]*rules\[1\] \("kaboom"\)\.category/.test(e.message));
  });
});

describe("rule engine speed", () => {
  it("classifies an 8,000-character mixed English and Chinese text (printed, not asserted)", () => {
    const parts = [...EN_BENIGN, ...ZH_BENIGN, ...EN_HARMFUL.slice(0, 5).map((e) => e.text), ...ZH_HARMFUL.slice(0, 5).map((e) => e.text)];
    let text = "";
    for (let i = 0; text.length < 8000; i++) text += `${parts[(i * 7) % parts.length]} `;
    text = text.slice(0, 8000);
    for (let i = 0; i < 20; i++) engine.classify(text);
    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
      const started = performance.now();
      engine.classify(text);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    const built = performance.now();
    const fresh = new RuleEngine();
    const buildMs = performance.now() - built;
    console.log(
      `rule engine: ${fresh.ruleCount} rules built in ${buildMs.toFixed(0)} ms; classify ${text.length} chars: ` +
        `median ${(times[25] as number).toFixed(3)} ms, max ${(times[49] as number).toFixed(3)} ms over 50 runs`,
    );
  });
});
