import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Bm25Index } from "../../src/retrieval/bm25-index.ts";
import { analyze } from "../../src/retrieval/text-analyzer.ts";
import { CORPUS, QUERIES } from "../fixtures/retrieval-corpus.ts";
import { random } from "../helpers/random.ts";

/** BM25 of one term, written out from the formula. */
function bm25(tf: number, df: number, n: number, dl: number, avgdl: number): number {
  const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
  return (idf * tf * 2.2) / (tf + 1.2 * (1 - 0.75 + (0.75 * dl) / avgdl));
}

function near(actual: number, expected: number): void {
  assert.ok(Math.abs(actual - expected) < 1e-12, `${actual} ≠ ${expected}`);
}


describe("analyze", () => {
  it("lowercases, splits on non-word characters, drops stop words and stems English words", () => {
    assert.deepEqual(analyze("The REFUNDS were refunded; shipping & shipped items!"), ["refund", "refund", "ship", "ship", "item"]);
    assert.deepEqual(analyze("Don't forget the user's guide, it's on page 3."), ["forget", "user", "guid", "page", "3"]);
    assert.deepEqual(analyze("a I x"), []);
  });

  it("keeps numbers, including decimals and thousands", () => {
    assert.deepEqual(analyze("Version 3.5 costs 1,000 USD in 2024, not 1,2,3"), ["version", "3.5", "cost", "1000", "usd", "2024", "1", "2", "3"]);
    assert.deepEqual(analyze("h100 x86_64 pg_dump"), ["h100", "x86", "64", "pg", "dump"]);
  });

  it("handles Unicode: accents, compatibility forms, and CJK as character pairs", () => {
    assert.deepEqual(analyze("École CAFÉ Straße ﬁle Ｆｕｌｌ"), ["école", "café", "straße", "file", "full"]);
    assert.deepEqual(analyze("東京の天気"), ["東京", "京の", "の天", "天気"]);
    assert.deepEqual(analyze("雨"), ["雨"]);
  });

  it("analyzes a megabyte of prose in well under a second", () => {
    const prose = CORPUS.map((d) => d.text).join("\n");
    const text = prose.repeat(Math.ceil(1_000_000 / prose.length));
    const started = performance.now();
    const terms = analyze(text);
    const elapsed = performance.now() - started;
    assert.ok(terms.length > 100_000);
    assert.ok(elapsed < 1000, `${elapsed} ms`);
  });
});

describe("Bm25Index", () => {
  // Terms after analysis (stop words dropped, Porter stems): 1: cat cat sat mat (4) · 2: dog sat log (3) ·
  // 3: cat dog friend (3). N = 3, avgdl = 10/3; df: cat 2, dog 2, sat 2, mat 1, log 1, friend 1.
  const docs: [number, string][] = [
    [1, "The cat and the cat sat on the mat"],
    [2, "A dog sat on a log"],
    [3, "Cats and dogs are friends"],
  ];
  const avgdl = 10 / 3;

  it("scores by Okapi BM25 (k1 = 1.2, b = 0.75), matching a hand computation", () => {
    const index = new Bm25Index();
    for (const [id, text] of docs) index.add(id, text);
    assert.equal(index.size, 3);

    const cat = index.search("cat", 10);
    assert.deepEqual(cat.map((h) => h.id), [1, 3]);
    near(cat[0]?.score ?? 0, bm25(2, 2, 3, 4, avgdl));
    near(cat[1]?.score ?? 0, bm25(1, 2, 3, 3, avgdl));

    // Two terms: sums; "mat" is rarer (df 1), so it weighs more than "dog" (df 2).
    const hits = index.search("dog mat", 10);
    assert.deepEqual(hits.map((h) => h.id), [1, 2, 3]);
    near(hits[0]?.score ?? 0, bm25(1, 1, 3, 4, avgdl));
    near(hits[1]?.score ?? 0, bm25(1, 2, 3, 3, avgdl));
    near(hits[2]?.score ?? 0, bm25(1, 2, 3, 3, avgdl));
    // Documents 2 and 3 tie exactly (same tf, same length): the lower id comes first.
    assert.equal(hits[1]?.score, hits[2]?.score);

    // Word forms meet at the stem; a repeated query term counts once; unknown terms score nothing.
    assert.deepEqual(index.search("CATS!", 10), index.search("cat", 10));
    assert.deepEqual(index.search("cat cat cats", 10), index.search("cat", 10));
    assert.deepEqual(index.search("unicorn", 10), []);
    assert.deepEqual(index.search("the and", 10), []);
  });

  it("keeps the limit and the accept filter, asking the filter only about matching documents", () => {
    const index = new Bm25Index();
    for (const [id, text] of docs) index.add(id, text);
    assert.deepEqual(index.search("dog mat", 2).map((h) => h.id), [1, 2]);
    assert.deepEqual(index.search("dog mat", 0), []);
    const asked: number[] = [];
    const hits = index.search("dog mat", 2, (id) => {
      asked.push(id);
      return id !== 1;
    });
    assert.deepEqual(hits.map((h) => h.id), [2, 3]);
    assert.deepEqual(asked.sort(), [1, 2, 3]);
    assert.deepEqual(index.search("log", 10, (id) => id !== 2), []);
    // A filter that throws leaves the index as it was.
    assert.throws(() => index.search("dog mat", 10, () => {
      throw new Error("filter failed");
    }), /filter failed/);
    assert.deepEqual(index.search("dog mat", 10).map((h) => h.id), [1, 2, 3]);
    near(index.search("dog mat", 10)[0]?.score ?? 0, bm25(1, 1, 3, 4, avgdl));
  });

  it("replaces a document added again under the same id", () => {
    const index = new Bm25Index();
    index.add(1, "apples and pears");
    index.add(1, "bananas");
    assert.equal(index.size, 1);
    assert.deepEqual(index.search("apple", 10), []);
    assert.deepEqual(index.search("banana", 10).map((h) => h.id), [1]);
    index.remove(1);
    index.remove(1);
    assert.equal(index.size, 0);
    assert.deepEqual(index.search("banana", 10), []);
  });

  it("after any sequence of adds and removes, searches exactly as an index built from the survivors", () => {
    const next = random(7);
    const words = CORPUS.flatMap((d) => d.text.split(/\s+/));
    const text = (): string => Array.from({ length: 5 + Math.floor(next() * 60) }, () => words[Math.floor(next() * words.length)]).join(" ");
    const live = new Map<number, string>();
    const index = new Bm25Index();
    // Enough removals to run the compaction (it starts at 1,024 removed documents) more than once.
    for (let step = 0; step < 6000; step++) {
      const id = Math.floor(next() * 1500);
      if (next() < 0.45 && live.has(id)) {
        index.remove(id);
        live.delete(id);
      } else {
        const t = text();
        index.add(id, t);
        live.set(id, t);
      }
      if (step % 1000 === 999 || step === 5999) {
        const rebuilt = new Bm25Index();
        for (const [i, t] of [...live].sort((a, b) => a[0] - b[0])) rebuilt.add(i, t);
        assert.equal(index.size, live.size);
        for (const q of QUERIES.slice(0, 12)) {
          const got = index.search(q.query, 20);
          const want = rebuilt.search(q.query, 20);
          assert.deepEqual(got.map((h) => h.id), want.map((h) => h.id), q.query);
          got.forEach((h, i) => near(h.score, want[i]?.score ?? NaN));
        }
      }
    }
  });

  it("finds the labelled answers in the retrieval corpus (recall@5 of BM25 alone)", () => {
    const index = new Bm25Index();
    CORPUS.forEach((doc, i) => index.add(i, doc.text));
    let found = 0;
    let relevant = 0;
    let reciprocalRanks = 0;
    for (const q of QUERIES) {
      const top = index.search(q.query, 5).map((h) => CORPUS[h.id]?.id);
      found += q.relevant.filter((id) => top.includes(id)).length;
      relevant += q.relevant.length;
      const rank = top.findIndex((id) => id !== undefined && q.relevant.includes(id));
      if (rank >= 0) reciprocalRanks += 1 / (rank + 1);
    }
    const recall = found / relevant;
    console.log(`BM25 on the retrieval corpus (${CORPUS.length} documents, ${QUERIES.length} queries): recall@5 ${recall.toFixed(3)}, MRR@5 ${(reciprocalRanks / QUERIES.length).toFixed(3)}`);
    assert.ok(recall > 0.5);
  });

  it("searches 10,000 chunks of ~100 words in well under 10 ms", () => {
    const next = random(42);
    const words = CORPUS.flatMap((d) => d.text.split(/\s+/));
    const index = new Bm25Index();
    const started = performance.now();
    for (let id = 0; id < 10_000; id++) {
      index.add(id, Array.from({ length: 100 }, () => words[Math.floor(next() * words.length)]).join(" "));
    }
    const built = performance.now() - started;
    for (const q of QUERIES) index.search(q.query, 10); // warm up
    const rounds = 5;
    const times: number[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const q of QUERIES) {
        const t = performance.now();
        index.search(q.query, 10);
        times.push(performance.now() - t);
      }
    }
    times.sort((a, b) => a - b);
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    const p50 = times[Math.floor(times.length / 2)] ?? 0;
    const p99 = times[Math.floor(times.length * 0.99)] ?? 0;
    console.log(`BM25 over 10,000 chunks of 100 words: indexed in ${built.toFixed(0)} ms; search mean ${mean.toFixed(3)} ms, p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms`);
    assert.ok(mean < 10, `mean search time ${mean} ms`);
  });
});
