import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApiError } from "../../src/core/errors.ts";
import { normalise } from "../../src/core/vectors.ts";
import { parseAttributeFilter, parseAttributes } from "../../src/protocol/openai/attribute-filters.ts";
import { FieldReader } from "../../src/protocol/openai/validate.ts";
import { parseCreateFileBatch, parseCreateVectorStore, parseSearch, readChunking } from "../../src/protocol/openai/vector-stores.ts";
import { matchesFilter } from "../../src/retrieval/attribute-filter.ts";
import { AUTO_CHUNKING } from "../../src/retrieval/chunker.ts";
import { fuseScores, type Candidate } from "../../src/retrieval/fusion.ts";
import type { AttributeFilter, Attributes, IndexHit } from "../../src/retrieval/types.ts";
import { VectorIndex } from "../../src/retrieval/vector-index.ts";
import { random } from "../helpers/random.ts";


/** A unit-length copy of `values`. */
const normalize = (values: Float32Array): Float32Array => normalise(values, values.length);

function unitVector(next: () => number, dims: number): Float32Array {
  return normalize(Float32Array.from({ length: dims }, () => next() * 2 - 1));
}

/** The dot product as the index computes it: float32 values summed in order. */
function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let d = 0; d < a.length; d++) sum += (a[d] as number) * (b[d] as number);
  return sum;
}

/** Exact top-k by brute force: best first, ties to the lower id. */
function bruteForce(vectors: Map<number, Float32Array>, query: Float32Array, limit: number, accept?: (id: number) => boolean): IndexHit[] {
  return [...vectors]
    .filter(([id]) => accept === undefined || accept(id))
    .map(([id, v]) => ({ id, score: dot(v, query) }))
    .sort((a, b) => b.score - a.score || a.id - b.id)
    .slice(0, limit);
}

/** Asserts `fn` throws a 400 invalid_request_error naming `param` (and `code` when given). */
function rejects400(fn: () => unknown, param: string, code?: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ApiError, `not an ApiError: ${String(error)}`);
    assert.equal(error.status, 400, error.message);
    assert.equal(error.type, "invalid_request_error");
    assert.equal(error.param, param, error.message);
    if (code !== undefined) assert.equal(error.code, code, error.message);
    return true;
  });
}

describe("VectorIndex", () => {
  it("finds exactly the brute-force top k on random unit vectors, also after removes and re-adds", () => {
    const next = random(7);
    const dims = 48;
    // A small initial capacity, so the packed array grows several times.
    const index = new VectorIndex(dims, 4);
    const vectors = new Map<number, Float32Array>();
    for (let id = 0; id < 600; id++) {
      const v = unitVector(next, dims);
      index.add(id * 3, v);
      vectors.set(id * 3, v);
    }
    const check = (round: string): void => {
      assert.equal(index.size, vectors.size);
      for (let q = 0; q < 25; q++) {
        const query = unitVector(next, dims);
        for (const limit of [1, 5, 40, vectors.size + 10]) {
          assert.deepEqual(index.search(query, limit), bruteForce(vectors, query, limit), `${round}: query ${q}, limit ${limit}`);
        }
      }
    };
    check("initial");
    // Remove a third (moving last slots into the gaps), including the last and the first slot.
    for (const id of [...vectors.keys()].filter((id) => id % 9 === 0 || id === 1797)) {
      index.remove(id);
      vectors.delete(id);
    }
    index.remove(999_999); // absent: nothing happens
    check("after removes");
    // Re-adding an id replaces its vector; new ids land in fresh slots.
    for (const id of [3, 6, 1794, 2000, 2001]) {
      const v = unitVector(next, dims);
      index.add(id, v);
      vectors.set(id, v);
    }
    check("after re-adds");
  });

  it("applies accept to every candidate and still returns the exact top k of those accepted", () => {
    const next = random(11);
    const dims = 16;
    const index = new VectorIndex(dims);
    const vectors = new Map<number, Float32Array>();
    for (let id = 0; id < 300; id++) {
      const v = unitVector(next, dims);
      index.add(id, v);
      vectors.set(id, v);
    }
    const odd = (id: number): boolean => id % 2 === 1;
    for (let q = 0; q < 20; q++) {
      const query = unitVector(next, dims);
      const hits = index.search(query, 10, odd);
      assert.ok(hits.every((h) => odd(h.id)));
      assert.deepEqual(hits, bruteForce(vectors, query, 10, odd));
    }
    assert.deepEqual(index.search(unitVector(next, dims), 10, () => false), []);
  });

  it("breaks ties by the lower id, whatever the slot order", () => {
    const index = new VectorIndex(3);
    const same = normalize(Float32Array.from([1, 2, 3]));
    const other = normalize(Float32Array.from([-1, 0, 0]));
    // Added in descending id order, then a remove moves the last slot forward.
    for (const id of [50, 40, 30, 20, 10, 5]) index.add(id, same);
    index.add(7, other);
    index.remove(40);
    const hits = index.search(same, 3);
    assert.deepEqual(
      hits.map((h) => h.id),
      [5, 10, 20],
    );
    assert.ok(hits.every((h) => h.score === hits[0]?.score));
    assert.deepEqual(
      index.search(same, 10).map((h) => h.id),
      [5, 10, 20, 30, 50, 7],
    );
    assert.deepEqual(
      index.search(same, 2, (id) => id !== 5).map((h) => h.id),
      [10, 20],
    );
  });

  it("gives one vector's similarity, and nothing for absent ids or mismatched dimensions", () => {
    const next = random(3);
    const index = new VectorIndex(8);
    const a = unitVector(next, 8);
    const b = unitVector(next, 8);
    index.add(1, a);
    index.add(2, b);
    const query = unitVector(next, 8);
    assert.equal(index.similarity(1, query), dot(a, query));
    assert.equal(index.similarity(2, query), dot(b, query));
    assert.ok(Math.abs((index.similarity(1, a) as number) - 1) < 1e-6, "a unit vector is identical to itself");
    // The search scores are the same numbers.
    const [top] = index.search(query, 1);
    assert.equal(top?.score, index.similarity(top?.id as number, query));
    assert.equal(index.similarity(3, query), undefined);
    assert.equal(index.similarity(1, new Float32Array(7)), undefined);
    index.remove(1);
    assert.equal(index.similarity(1, query), undefined);
    assert.equal(index.similarity(2, query), dot(b, query), "the moved vector keeps its own similarity");
  });

  it("refuses vectors of the wrong size and answers nothing for bad queries or limits", () => {
    const index = new VectorIndex(4);
    assert.throws(() => index.add(1, new Float32Array(5)), /5 dimensions added to an index of 4/);
    index.add(1, normalize(Float32Array.from([1, 0, 0, 0])));
    assert.deepEqual(index.search(new Float32Array(3), 5), []);
    assert.deepEqual(index.search(Float32Array.from([1, 0, 0, 0]), 0), []);
    assert.deepEqual(index.search(Float32Array.from([1, 0, 0, 0]), -1), []);
    assert.deepEqual(new VectorIndex(4).search(Float32Array.from([1, 0, 0, 0]), 3), []);
  });

});

describe("fuseScores", () => {
  const candidates: Candidate[] = [
    { id: 1, keyword: 4, cosine: 0.1 },
    { id: 2, keyword: 8, cosine: 0.5 },
    { id: 3, keyword: 0, cosine: 0.9 },
    { id: 4, keyword: 2, cosine: -0.4 },
    { id: 5, keyword: 6, cosine: 1.3 },
  ];

  it("reduces to the keyword score relative to the best one with weights text 1, embedding 0", () => {
    assert.deepEqual(fuseScores(candidates, { text: 1, embedding: 0 }), [
      { id: 2, score: 1 },
      { id: 5, score: 0.75 },
      { id: 1, score: 0.5 },
      { id: 4, score: 0.25 },
      { id: 3, score: 0 },
    ]);
    // Any positive weight alone gives the same scores.
    assert.deepEqual(fuseScores(candidates, { text: 3, embedding: 0 }), fuseScores(candidates, { text: 1, embedding: 0 }));
  });

  it("reduces to the cosine clamped to 0–1 with weights text 0, embedding 1", () => {
    assert.deepEqual(fuseScores(candidates, { text: 0, embedding: 1 }), [
      { id: 5, score: 1 },
      { id: 3, score: 0.9 },
      { id: 2, score: 0.5 },
      { id: 1, score: 0.1 },
      { id: 4, score: 0 },
    ]);
    // A negative weight counts as 0.
    assert.deepEqual(fuseScores(candidates, { text: -2, embedding: 1 }), fuseScores(candidates, { text: 0, embedding: 1 }));
  });

  it("returns nothing when both weights are 0 (or below)", () => {
    assert.deepEqual(fuseScores(candidates, { text: 0, embedding: 0 }), []);
    assert.deepEqual(fuseScores(candidates, { text: -1, embedding: -1 }), []);
    assert.deepEqual(fuseScores([], { text: 1, embedding: 1 }), []);
  });

  it("keeps the keyword order when the embedding cannot tell the candidates apart", () => {
    const next = random(5);
    const flat: Candidate[] = Array.from({ length: 30 }, (_, i) => ({ id: i, keyword: Math.round(next() * 1000) / 10, cosine: 0.37 }));
    const fused = fuseScores(flat, { text: 1, embedding: 1 });
    const byKeyword = [...flat].sort((a, b) => b.keyword - a.keyword || a.id - b.id).map((c) => c.id);
    assert.deepEqual(
      fused.map((h) => h.id),
      byKeyword,
    );
  });

  it("scores between 0 and 1, best first, ties to the lower id; 1 for the top keyword match that is identical in meaning", () => {
    const next = random(9);
    for (let round = 0; round < 20; round++) {
      const list: Candidate[] = Array.from({ length: 25 }, (_, i) => ({ id: 100 - i, keyword: next() < 0.3 ? 0 : next() * 20, cosine: next() * 3 - 1.5 }));
      const fused = fuseScores(list, { text: next() * 2, embedding: next() * 2 + 0.01 });
      assert.equal(fused.length, list.length);
      for (const [i, hit] of fused.entries()) {
        assert.ok(hit.score >= 0 && hit.score <= 1, `score ${hit.score}`);
        const prev = fused[i - 1];
        if (prev !== undefined) assert.ok(prev.score > hit.score || (prev.score === hit.score && prev.id < hit.id));
      }
    }
    const top = fuseScores(
      [
        { id: 9, keyword: 12, cosine: 1 },
        { id: 2, keyword: 3, cosine: 0.2 },
      ],
      { text: 1, embedding: 1 },
    );
    assert.deepEqual(top[0], { id: 9, score: 1 });
    // Equal scores: the lower id first.
    assert.deepEqual(
      fuseScores(
        [
          { id: 8, keyword: 5, cosine: 0.5 },
          { id: 3, keyword: 5, cosine: 0.5 },
          { id: 6, keyword: 5, cosine: 0.5 },
        ],
        { text: 1, embedding: 1 },
      ).map((h) => h.id),
      [3, 6, 8],
    );
  });

  it("scores semantic-only candidates by their cosine when no keyword matched", () => {
    const fused = fuseScores(
      [
        { id: 1, keyword: 0, cosine: 0.8 },
        { id: 2, keyword: 0, cosine: 0.4 },
      ],
      { text: 1, embedding: 1 },
    );
    assert.deepEqual(fused, [
      { id: 1, score: 0.4 },
      { id: 2, score: 0.2 },
    ]);
  });
});

describe("attribute filters", () => {
  const attrs: Attributes = { topic: "science", year: 2024, public: true, score: 0.5, empty: "" };
  const cmp = (type: string, key: string, value: unknown): AttributeFilter => parseAttributeFilter({ type, key, value }, "filters");
  const match = (type: string, key: string, value: unknown): boolean => matchesFilter(cmp(type, key, value), attrs);

  it("compares with every operator on strings, numbers and booleans", () => {
    assert.equal(match("eq", "topic", "science"), true);
    assert.equal(match("eq", "topic", "Science"), false);
    assert.equal(match("eq", "year", 2024), true);
    assert.equal(match("eq", "public", true), true);
    assert.equal(match("eq", "public", false), false);
    assert.equal(match("eq", "empty", ""), true);
    assert.equal(match("ne", "topic", "art"), true);
    assert.equal(match("ne", "topic", "science"), false);
    assert.equal(match("ne", "public", false), true);
    assert.equal(match("gt", "year", 2023), true);
    assert.equal(match("gt", "year", 2024), false);
    assert.equal(match("gte", "year", 2024), true);
    assert.equal(match("gte", "year", 2025), false);
    assert.equal(match("lt", "year", 2025), true);
    assert.equal(match("lt", "year", 2024), false);
    assert.equal(match("lte", "year", 2024), true);
    assert.equal(match("lte", "year", 2023), false);
    assert.equal(match("lt", "score", 0.75), true);
    assert.equal(match("gt", "score", 0.25), true);
    // Strings order by code unit.
    assert.equal(match("gt", "topic", "art"), true);
    assert.equal(match("lt", "topic", "sciencf"), true);
    assert.equal(match("gte", "topic", "science"), true);
    assert.equal(match("lte", "topic", "scienc"), false);
    assert.equal(match("in", "topic", ["art", "science"]), true);
    assert.equal(match("in", "topic", ["art"]), false);
    assert.equal(match("in", "year", [2023, 2024]), true);
    assert.equal(match("in", "year", ["2024"]), false, "in compares without coercion");
    assert.equal(match("nin", "topic", ["art"]), true);
    assert.equal(match("nin", "topic", ["science", "art"]), false);
    assert.equal(match("nin", "year", [2024]), false);
    assert.equal(match("in", "topic", []), false);
    assert.equal(match("nin", "topic", []), true);
  });

  it("fails every comparison on a missing key, ne and nin included", () => {
    for (const [type, value] of [
      ["eq", "x"],
      ["ne", "x"],
      ["gt", 1],
      ["gte", 1],
      ["lt", 1],
      ["lte", 1],
      ["in", ["x"]],
      ["nin", ["x"]],
    ] as const) {
      assert.equal(match(type, "missing", value), false, type);
    }
  });

  it("fails ordering comparisons across types, and equality never coerces", () => {
    for (const type of ["gt", "gte", "lt", "lte"]) {
      assert.equal(match(type, "year", "2024"), false, `${type} number vs string`);
      assert.equal(match(type, "topic", 5), false, `${type} string vs number`);
      assert.equal(match(type, "public", true), false, `${type} on booleans`);
      assert.equal(match(type, "year", true), false, `${type} number vs boolean`);
    }
    assert.equal(match("eq", "year", "2024"), false);
    assert.equal(match("eq", "public", "true"), false);
    assert.equal(match("eq", "public", 1), false);
  });

  it("combines with nested and/or", () => {
    const filter = parseAttributeFilter(
      {
        type: "or",
        filters: [
          {
            type: "and",
            filters: [
              { type: "eq", key: "topic", value: "science" },
              { type: "gte", key: "year", value: 2020 },
            ],
          },
          { type: "eq", key: "topic", value: "history" },
        ],
      },
      "filters",
    );
    assert.equal(matchesFilter(filter, attrs), true);
    assert.equal(matchesFilter(filter, { topic: "science", year: 2019 }), false);
    assert.equal(matchesFilter(filter, { topic: "history" }), true);
    assert.equal(matchesFilter(filter, {}), false);
    const and: AttributeFilter = { type: "and", filters: [cmp("eq", "public", true), cmp("nin", "topic", ["art"])] };
    assert.equal(matchesFilter(and, attrs), true);
    assert.equal(matchesFilter({ type: "and", filters: [...and.filters, cmp("eq", "missing", 1)] }, attrs), false);
    assert.equal(matchesFilter({ type: "or", filters: [cmp("eq", "missing", 1), cmp("lt", "score", 1)] }, attrs), true);
    // Empty compounds: and of nothing holds, or of nothing does not.
    assert.equal(matchesFilter({ type: "and", filters: [] }, attrs), true);
    assert.equal(matchesFilter({ type: "or", filters: [] }, attrs), false);
  });

  it("parses what it is given, without extra fields", () => {
    assert.deepEqual(parseAttributeFilter({ type: "in", key: "k", value: ["a", 1] }, "filters"), { type: "in", key: "k", value: ["a", 1] });
    assert.deepEqual(parseAttributeFilter({ type: "and", filters: [{ type: "eq", key: "k", value: false }] }, "filters"), {
      type: "and",
      filters: [{ type: "eq", key: "k", value: false }],
    });
  });

  it("answers 400s naming the param path for bad filters", () => {
    rejects400(() => parseAttributeFilter("eq", "filters"), "filters", "invalid_type");
    rejects400(() => parseAttributeFilter(null, "filters"), "filters", "invalid_type");
    rejects400(() => parseAttributeFilter([], "filters"), "filters", "invalid_type");
    rejects400(() => parseAttributeFilter({ key: "a", value: 1 }, "filters"), "filters.type", "missing_required_parameter");
    rejects400(() => parseAttributeFilter({ type: "like", key: "a", value: 1 }, "filters"), "filters.type", "invalid_value");
    rejects400(() => parseAttributeFilter({ type: 3, key: "a", value: 1 }, "filters"), "filters.type", "invalid_type");
    rejects400(() => parseAttributeFilter({ type: "eq", value: 1 }, "filters"), "filters.key", "missing_required_parameter");
    rejects400(() => parseAttributeFilter({ type: "eq", key: 5, value: 1 }, "filters"), "filters.key", "invalid_type");
    rejects400(() => parseAttributeFilter({ type: "eq", key: "a" }, "filters"), "filters.value", "missing_required_parameter");
    rejects400(() => parseAttributeFilter({ type: "eq", key: "a", value: null }, "filters"), "filters.value", "missing_required_parameter");
    rejects400(() => parseAttributeFilter({ type: "eq", key: "a", value: { x: 1 } }, "filters"), "filters.value", "invalid_type");
    rejects400(() => parseAttributeFilter({ type: "eq", key: "a", value: Number.POSITIVE_INFINITY }, "filters"), "filters.value", "invalid_type");
    rejects400(() => parseAttributeFilter({ type: "eq", key: "a", value: ["x"] }, "filters"), "filters.value", "invalid_value");
    rejects400(() => parseAttributeFilter({ type: "gt", key: "a", value: [1] }, "filters"), "filters.value", "invalid_value");
    rejects400(() => parseAttributeFilter({ type: "in", key: "a", value: "x" }, "filters"), "filters.value", "invalid_value");
    rejects400(() => parseAttributeFilter({ type: "nin", key: "a", value: 3 }, "filters"), "filters.value", "invalid_value");
    rejects400(() => parseAttributeFilter({ type: "in", key: "a", value: ["x", true] }, "filters"), "filters.value[1]", "invalid_type");
    rejects400(() => parseAttributeFilter({ type: "in", key: "a", value: [null] }, "filters"), "filters.value[0]", "invalid_type");
    rejects400(() => parseAttributeFilter({ type: "eq", key: "a", value: 1, extra: 2 }, "filters"), "filters.extra", "unknown_parameter");
    rejects400(() => parseAttributeFilter({ type: "and", filters: [], key: "a" }, "filters"), "filters.key", "unknown_parameter");
    rejects400(() => parseAttributeFilter({ type: "and" }, "filters"), "filters.filters", "missing_required_parameter");
    rejects400(() => parseAttributeFilter({ type: "or", filters: { type: "eq" } }, "filters"), "filters.filters", "invalid_type");
    rejects400(
      () => parseAttributeFilter({ type: "or", filters: [{ type: "eq", key: "a", value: 1 }, { type: "and", filters: [{ type: "in", key: "b", value: 1 }] }] }, "tools[0].filters"),
      "tools[0].filters.filters[1].filters[0].value",
      "invalid_value",
    );
  });

  it("limits nesting to 16 levels, and refuses a deeply nested body with a 400, not a stack overflow", () => {
    const nest = (levels: number): unknown => {
      let f: unknown = { type: "eq", key: "a", value: 1 };
      for (let i = 0; i < levels; i++) f = { type: "and", filters: [f] };
      return f;
    };
    assert.equal(matchesFilter(parseAttributeFilter(nest(16), "filters"), { a: 1 }), true);
    rejects400(() => parseAttributeFilter(nest(17), "filters"), `filters${".filters[0]".repeat(17)}`, "invalid_value");
    rejects400(() => parseAttributeFilter(nest(100_000), "filters"), `filters${".filters[0]".repeat(17)}`, "invalid_value");
  });

  it("parseAttributes: up to 16 keys of ≤ 64 characters, strings ≤ 512, numbers or booleans; null is none", () => {
    assert.equal(parseAttributes(undefined, "attributes"), undefined);
    assert.equal(parseAttributes(null, "attributes"), undefined);
    assert.deepEqual(parseAttributes({}, "attributes"), {});
    const sixteen = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i % 3 === 0 ? `v${i}` : i % 3 === 1 ? i : true]));
    assert.deepEqual(parseAttributes(sixteen, "attributes"), sixteen);
    rejects400(() => parseAttributes({ ...sixteen, k16: 1 }, "attributes"), "attributes", "object_above_max_properties");
    const key64 = "k".repeat(64);
    assert.deepEqual(parseAttributes({ [key64]: "x" }, "attributes"), { [key64]: "x" });
    rejects400(() => parseAttributes({ [`${key64}z`]: "x" }, "attributes"), `attributes.${key64}`, "invalid_value");
    assert.deepEqual(parseAttributes({ s: "x".repeat(512), n: -1.5, b: false, e: "" }, "attributes"), { s: "x".repeat(512), n: -1.5, b: false, e: "" });
    rejects400(() => parseAttributes({ s: "x".repeat(513) }, "attributes"), "attributes.s", "string_above_max_length");
    for (const bad of [null, { a: 1 }, [1], Number.NaN, Number.POSITIVE_INFINITY]) {
      rejects400(() => parseAttributes({ v: bad }, "files[2].attributes"), "files[2].attributes.v", "invalid_type");
    }
    rejects400(() => parseAttributes("tag", "attributes"), "attributes", "invalid_type");
    rejects400(() => parseAttributes([1, 2], "attributes"), "attributes", "invalid_type");
  });
});

describe("vector store request parsers", () => {
  const chunking = (value: unknown) => readChunking(new FieldReader({ chunking_strategy: value }, ""));
  const statik = (max: unknown, overlap: unknown) => chunking({ type: "static", static: { max_chunk_size_tokens: max, chunk_overlap_tokens: overlap } });
  const P = "chunking_strategy.static";

  it("readChunking: auto is 800/400; static takes 100–4096 tokens and an overlap of at most half", () => {
    assert.equal(readChunking(new FieldReader({}, "")), undefined);
    assert.equal(chunking(null), undefined);
    assert.deepEqual(chunking({ type: "auto" }), { maxTokens: 800, overlapTokens: 400 });
    assert.deepEqual(chunking({ type: "auto" }), { ...AUTO_CHUNKING });
    assert.deepEqual(statik(100, 50), { maxTokens: 100, overlapTokens: 50 });
    assert.deepEqual(statik(4096, 2048), { maxTokens: 4096, overlapTokens: 2048 });
    assert.deepEqual(statik(101, 50), { maxTokens: 101, overlapTokens: 50 });
    assert.deepEqual(statik(300, 0), { maxTokens: 300, overlapTokens: 0 });
    rejects400(() => statik(99, 0), `${P}.max_chunk_size_tokens`, "integer_below_min_value");
    rejects400(() => statik(4097, 0), `${P}.max_chunk_size_tokens`, "integer_above_max_value");
    rejects400(() => statik(200.5, 0), `${P}.max_chunk_size_tokens`, "invalid_type");
    rejects400(() => statik("800", 0), `${P}.max_chunk_size_tokens`, "invalid_type");
    rejects400(() => statik(100, 51), `${P}.chunk_overlap_tokens`, "invalid_value");
    rejects400(() => statik(101, 51), `${P}.chunk_overlap_tokens`, "invalid_value");
    rejects400(() => statik(4096, 2049), `${P}.chunk_overlap_tokens`, "invalid_value");
    rejects400(() => statik(800, -1), `${P}.chunk_overlap_tokens`, "integer_below_min_value");
    rejects400(() => statik(800, 1.5), `${P}.chunk_overlap_tokens`, "invalid_type");
    rejects400(() => statik(800, undefined), `${P}.chunk_overlap_tokens`, "missing_required_parameter");
    rejects400(() => statik(undefined, 100), `${P}.max_chunk_size_tokens`, "missing_required_parameter");
    rejects400(() => chunking({ type: "static" }), P, "missing_required_parameter");
    rejects400(() => chunking({ type: "static", static: { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400, extra: 1 } }), `${P}.extra`, "unknown_parameter");
    rejects400(() => chunking({ type: "auto", static: { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 } }), P, "unknown_parameter");
    rejects400(() => chunking({ type: "other" }), "chunking_strategy.type", "invalid_value");
    rejects400(() => chunking({}), "chunking_strategy.type", "missing_required_parameter");
    rejects400(() => chunking("auto"), "chunking_strategy", "invalid_type");
    // On a store, absent means auto.
    assert.deepEqual(parseCreateVectorStore({}).chunking, { maxTokens: 800, overlapTokens: 400 });
  });

  it("parseCreateFileBatch: file_ids with shared settings or files each with its own, never both", () => {
    rejects400(() => parseCreateFileBatch({ file_ids: ["file-a"], files: [{ file_id: "file-b" }] }), "files", "invalid_value");
    rejects400(() => parseCreateFileBatch({}), "file_ids", "missing_required_parameter");
    rejects400(() => parseCreateFileBatch({ file_ids: null, files: null }), "file_ids", "missing_required_parameter");
    rejects400(() => parseCreateFileBatch({ file_ids: [] }), "file_ids", "empty_array");
    rejects400(() => parseCreateFileBatch({ files: [] }), "files", "empty_array");
    rejects400(() => parseCreateFileBatch({ file_ids: ["file-a", ""] }), "file_ids[1]", "invalid_type");
    rejects400(() => parseCreateFileBatch({ file_ids: ["file-a", 7] }), "file_ids[1]", "invalid_type");
    rejects400(() => parseCreateFileBatch({ file_ids: Array.from({ length: 2001 }, (_, i) => `file-${i}`) }), "file_ids", "array_above_max_length");
    assert.equal(parseCreateFileBatch({ file_ids: Array.from({ length: 2000 }, (_, i) => `file-${i}`) }).length, 2000);
    rejects400(() => parseCreateFileBatch({ file_ids: ["file-a"], extra: true }), "extra", "unknown_parameter");

    const shared = parseCreateFileBatch({
      file_ids: ["file-a", "file-b"],
      chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 200, chunk_overlap_tokens: 100 } },
      attributes: { team: "docs" },
    });
    assert.deepEqual(shared, [
      { fileId: "file-a", param: "file_ids[0]", chunking: { maxTokens: 200, overlapTokens: 100 }, attributes: { team: "docs" } },
      { fileId: "file-b", param: "file_ids[1]", chunking: { maxTokens: 200, overlapTokens: 100 }, attributes: { team: "docs" } },
    ]);
    assert.deepEqual(parseCreateFileBatch({ file_ids: ["file-a"] }), [{ fileId: "file-a", param: "file_ids[0]", chunking: { maxTokens: 800, overlapTokens: 400 }, attributes: {} }]);
    // null for the other one is the same as absent.
    assert.equal(parseCreateFileBatch({ file_ids: ["file-a"], files: null }).length, 1);

    const each = parseCreateFileBatch({
      files: [{ file_id: "file-a", chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 100, chunk_overlap_tokens: 0 } }, attributes: { n: 1 } }, { file_id: "file-b" }],
    });
    assert.deepEqual(each, [
      { fileId: "file-a", param: "files[0].file_id", chunking: { maxTokens: 100, overlapTokens: 0 }, attributes: { n: 1 } },
      { fileId: "file-b", param: "files[1].file_id", chunking: { maxTokens: 800, overlapTokens: 400 }, attributes: {} },
    ]);
    rejects400(() => parseCreateFileBatch({ files: [{ file_id: "file-a" }], chunking_strategy: { type: "auto" } }), "chunking_strategy", "invalid_value");
    rejects400(() => parseCreateFileBatch({ files: [{ file_id: "file-a" }], attributes: { a: 1 } }), "attributes", "invalid_value");
    rejects400(() => parseCreateFileBatch({ files: [{ file_id: "file-a" }, {}] }), "files[1].file_id", "missing_required_parameter");
    rejects400(() => parseCreateFileBatch({ files: [{ file_id: "" }] }), "files[0].file_id", "empty_string");
    rejects400(() => parseCreateFileBatch({ files: [{ file_id: "file-a", foo: 1 }] }), "files[0].foo", "unknown_parameter");
    rejects400(() => parseCreateFileBatch({ files: ["file-a"] }), "files[0]", "invalid_type");
    rejects400(
      () => parseCreateFileBatch({ files: [{ file_id: "file-a", chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 100, chunk_overlap_tokens: 60 } } }] }),
      "files[0].chunking_strategy.static.chunk_overlap_tokens",
      "invalid_value",
    );
    rejects400(() => parseCreateFileBatch({ files: [{ file_id: "file-a", attributes: { x: [1] } }] }), "files[0].attributes.x", "invalid_type");
  });

  it("parseSearch: defaults, query forms and bounds", () => {
    assert.deepEqual(parseSearch({ query: "refund policy" }), { queries: ["refund policy"], rewriteQuery: false, maxResults: 10, filter: undefined, scoreThreshold: 0 });
    assert.deepEqual(parseSearch({ query: "a", rewrite_query: null, max_num_results: null, filters: null, ranking_options: null }), {
      queries: ["a"],
      rewriteQuery: false,
      maxResults: 10,
      filter: undefined,
      scoreThreshold: 0,
    });
    const full = parseSearch({
      query: ["one", "two"],
      rewrite_query: true,
      max_num_results: 50,
      filters: { type: "eq", key: "topic", value: "x" },
      ranking_options: { ranker: "auto", score_threshold: 0.25 },
    });
    assert.deepEqual(full, { queries: ["one", "two"], rewriteQuery: true, maxResults: 50, filter: { type: "eq", key: "topic", value: "x" }, scoreThreshold: 0.25 });
    assert.equal(parseSearch({ query: "a", max_num_results: 1 }).maxResults, 1);
    assert.equal(parseSearch({ query: "a", ranking_options: { ranker: "none" } }).scoreThreshold, 0);
    assert.equal(parseSearch({ query: "a", ranking_options: { score_threshold: 1 } }).scoreThreshold, 1);
    assert.equal(parseSearch({ query: Array.from({ length: 20 }, () => "q") }).queries.length, 20);
    assert.equal(parseSearch({ query: "x".repeat(10_000) }).queries[0]?.length, 10_000);

    rejects400(() => parseSearch({}), "query", "missing_required_parameter");
    rejects400(() => parseSearch({ query: null }), "query", "missing_required_parameter");
    rejects400(() => parseSearch({ query: 5 }), "query", "invalid_type");
    rejects400(() => parseSearch({ query: "   " }), "query", "empty_string");
    rejects400(() => parseSearch({ query: "x".repeat(10_001) }), "query", "string_above_max_length");
    rejects400(() => parseSearch({ query: [] }), "query", "empty_array");
    rejects400(() => parseSearch({ query: Array.from({ length: 21 }, () => "q") }), "query", "array_above_max_length");
    rejects400(() => parseSearch({ query: ["a", 2] }), "query[1]", "invalid_type");
    rejects400(() => parseSearch({ query: ["a", ""] }), "query[1]", "empty_string");
    rejects400(() => parseSearch({ query: "a", max_num_results: 0 }), "max_num_results", "integer_below_min_value");
    rejects400(() => parseSearch({ query: "a", max_num_results: 51 }), "max_num_results", "integer_above_max_value");
    rejects400(() => parseSearch({ query: "a", max_num_results: 2.5 }), "max_num_results", "invalid_type");
    rejects400(() => parseSearch({ query: "a", rewrite_query: "yes" }), "rewrite_query", "invalid_type");
    rejects400(() => parseSearch({ query: "a", ranking_options: { score_threshold: 1.5 } }), "ranking_options.score_threshold", "decimal_above_max_value");
    rejects400(() => parseSearch({ query: "a", ranking_options: { score_threshold: -0.1 } }), "ranking_options.score_threshold", "decimal_below_min_value");
    rejects400(() => parseSearch({ query: "a", ranking_options: { ranker: "fancy" } }), "ranking_options.ranker", "invalid_value");
    rejects400(() => parseSearch({ query: "a", ranking_options: { rerank: true } }), "ranking_options.rerank", "unknown_parameter");
    rejects400(() => parseSearch({ query: "a", filters: { type: "eq", key: "k" } }), "filters.value", "missing_required_parameter");
    rejects400(() => parseSearch({ query: "a", page: 2 }), "page", "unknown_parameter");
    rejects400(() => parseSearch("query"), "body", "invalid_type");
  });
});
