import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { detectPii } from "../../src/guard/pii/detect.ts";
import { PII_TYPES, type PiiType } from "../../src/guard/pii/types.ts";
import { PII_NEGATIVES, PII_POSITIVES } from "../fixtures/pii-corpus.ts";

interface Tally {
  positives: number;
  tp: number;
  fp: number;
  fn: number;
}

/** Scores every string of the corpus: a finding is a true positive when an expected entity has its type and text. */
function score(): { tallies: Map<PiiType, Tally>; misses: string[] } {
  const tallies = new Map<PiiType, Tally>(PII_TYPES.map((t) => [t, { positives: 0, tp: 0, fp: 0, fn: 0 }]));
  const tally = (t: PiiType): Tally => tallies.get(t) as Tally;
  const misses: string[] = [];
  const cases = [...PII_POSITIVES, ...PII_NEGATIVES.map((text) => ({ text, expected: [] }))];
  for (const { text, expected } of cases) {
    const open = expected.map((e) => ({ ...e }));
    for (const e of expected) tally(e.type).positives++;
    for (const f of detectPii(text)) {
      const i = open.findIndex((e) => e.type === f.type && e.text === f.text);
      if (i >= 0) {
        tally(f.type).tp++;
        open.splice(i, 1);
      } else {
        tally(f.type).fp++;
        misses.push(`FP ${f.type} ${JSON.stringify(f.text)} in ${JSON.stringify(text)}`);
      }
    }
    for (const e of open) {
      tally(e.type).fn++;
      misses.push(`FN ${e.type} ${JSON.stringify(e.text)} in ${JSON.stringify(text)}`);
    }
  }
  return { tallies, misses };
}

describe("PII corpus", () => {
  it("has at least 300 positive and 300 hard negative strings, 25+ entities of every type", () => {
    assert.ok(PII_POSITIVES.length >= 300, `${PII_POSITIVES.length} positives`);
    assert.ok(PII_NEGATIVES.length >= 300, `${PII_NEGATIVES.length} negatives`);
    for (const type of PII_TYPES) {
      const n = PII_POSITIVES.flatMap((c) => c.expected).filter((e) => e.type === type).length;
      assert.ok(n >= 25, `${type}: ${n} entities`);
    }
  });

  it("reaches precision and recall ≥ 0.98 for every type", () => {
    const { tallies, misses } = score();
    const rows = [...tallies].map(([type, t]) => {
      const precision = t.tp + t.fp === 0 ? 1 : t.tp / (t.tp + t.fp);
      const recall = t.positives === 0 ? 1 : t.tp / t.positives;
      return { type, positives: t.positives, TP: t.tp, FP: t.fp, FN: t.fn, precision: precision.toFixed(3), recall: recall.toFixed(3) };
    });
    console.log(`PII corpus: ${PII_POSITIVES.length} positive strings, ${PII_NEGATIVES.length} hard negatives`);
    console.table(rows);
    if (misses.length > 0) console.log(misses.join("\n"));
    for (const r of rows) {
      assert.ok(Number(r.precision) >= 0.98, `${r.type} precision ${r.precision}`);
      assert.ok(Number(r.recall) >= 0.98, `${r.type} recall ${r.recall}`);
    }
  });
});
