import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { countTokens, encode } from "gpt-tokenizer";
import { AUTO_CHUNKING, type Chunk, chunkText } from "../../src/retrieval/chunker.ts";
import { CORPUS } from "../fixtures/retrieval-corpus.ts";
import { random } from "../helpers/random.ts";

const PLAIN = { disallowedSpecial: new Set<string>() };


/**
 * Prose from the corpus vocabulary with a numbered marker every ten words ("(17)"), so that each chunk's
 * place in the text is unambiguous.
 */
function uniqueProse(words: number): string {
  const next = random(1);
  const vocabulary = CORPUS.flatMap((d) => d.text.split(/\s+/)).filter((w) => w !== "");
  const parts: string[] = [];
  for (let i = 0; i < words; i++) {
    parts.push(vocabulary[Math.floor(next() * vocabulary.length)] ?? "word");
    if (i % 10 === 9) parts.push(`(${i})`);
    parts.push(i % 23 === 22 ? "\n\n" : " ");
  }
  return parts.join("");
}

/** Asserts the chunks are slices of the text, in order, overlapping or touching, from its start to its end. */
function assertCovers(text: string, chunks: Chunk[]): number[] {
  const starts: number[] = [];
  let covered = 0;
  let previous = -1;
  for (const chunk of chunks) {
    const start = text.indexOf(chunk.text, previous + 1);
    assert.ok(start >= 0, "a chunk is not a slice of the text");
    assert.ok(start <= covered, `gap before a chunk at ${start} (covered up to ${covered})`);
    starts.push(start);
    covered = Math.max(covered, start + chunk.text.length);
    previous = start;
  }
  assert.equal(starts[0], 0);
  assert.equal(covered, text.length);
  return starts;
}

describe("chunkText", () => {
  it("cuts windows of at most maxTokens, overlapping by exactly overlapTokens, covering the whole text", () => {
    const text = uniqueProse(6000);
    for (const options of [AUTO_CHUNKING, { maxTokens: 300, overlapTokens: 0 }, { maxTokens: 100, overlapTokens: 50 }, { maxTokens: 4096, overlapTokens: 2048 }]) {
      const chunks = chunkText(text, options);
      assert.ok(chunks.length > 1);
      assertCovers(text, chunks);
      for (const [i, chunk] of chunks.entries()) {
        const tokens = encode(chunk.text, PLAIN);
        assert.equal(chunk.tokens, tokens.length, "tokens is the chunk's count by the tokenizer");
        assert.ok(chunk.tokens <= options.maxTokens);
        // Windows only shrink by the few tokens needed to end between words.
        if (i < chunks.length - 1) assert.ok(chunk.tokens > options.maxTokens - 40, `chunk ${i} has ${chunk.tokens} tokens`);
        const following = chunks[i + 1];
        if (following !== undefined && options.overlapTokens > 0) {
          const next = encode(following.text, PLAIN);
          assert.deepEqual(next.slice(0, options.overlapTokens), tokens.slice(-options.overlapTokens), `overlap after chunk ${i}`);
        }
      }
      // The windows step by maxTokens - overlapTokens (less the word snapping).
      const total = countTokens(text, PLAIN);
      const step = options.maxTokens - options.overlapTokens;
      const expected = Math.ceil((total - options.maxTokens) / step) + 1;
      assert.ok(chunks.length >= expected && chunks.length <= Math.ceil(expected * 1.1) + 1, `${chunks.length} chunks, ${expected} expected`);
    }
  });

  it("cuts between words", () => {
    const text = uniqueProse(3000);
    for (const chunk of chunkText(text, { maxTokens: 200, overlapTokens: 80 })) {
      const start = text.indexOf(chunk.text);
      const end = start + chunk.text.length;
      assert.ok(start === 0 || /\s/.test(text[start] ?? "") || /\s/.test(text[start - 1] ?? ""), "chunk starts inside a word");
      assert.ok(end === text.length || /\s/.test(text[end] ?? ""), "chunk ends inside a word");
    }
  });

  it("never splits a character, in text without spaces or made of multi-token characters", () => {
    const next = random(3);
    const cjk = Array.from({ length: 20_000 }, () => String.fromCodePoint(0x4e00 + Math.floor(next() * 3000))).join("");
    const emoji = Array.from({ length: 3000 }, () => ["👩‍👩‍👧", "🎉", "𝔘𝔫𝔦", "é", "ß", "\u0301", " "][Math.floor(next() * 7)]).join("");
    const mixed = Array.from({ length: 8000 }, () => ["日本語", "テキスト", "naïve", "😀", "x", "\n", " ", "  ", "·"][Math.floor(next() * 9)]).join("");
    for (const text of [cjk, emoji, mixed]) {
      for (const options of [{ maxTokens: 100, overlapTokens: 30 }, { maxTokens: 7, overlapTokens: 3 }, { maxTokens: 40, overlapTokens: 0 }]) {
        const chunks = chunkText(text, options);
        assertCovers(text, chunks);
        for (const chunk of chunks) {
          assert.doesNotMatch(chunk.text, /\p{Cs}/u, "a chunk ends inside a surrogate pair");
          assert.ok(!chunk.text.includes("\ufffd"));
          assert.equal(chunk.tokens, countTokens(chunk.text, PLAIN));
          assert.ok(chunk.tokens <= options.maxTokens, `${chunk.tokens} tokens`);
        }
      }
    }
  });

  it("gives small text one chunk, and empty or blank text none", () => {
    assert.deepEqual(chunkText("Hello, world.", AUTO_CHUNKING), [{ text: "Hello, world.", tokens: countTokens("Hello, world.") }]);
    const doc = CORPUS[0]?.text ?? "";
    assert.deepEqual(chunkText(doc, AUTO_CHUNKING), [{ text: doc, tokens: countTokens(doc) }]);
    assert.deepEqual(chunkText("", AUTO_CHUNKING), []);
    assert.deepEqual(chunkText(" \n\t ", AUTO_CHUNKING), []);
    // Special-token text is ordinary text in a document.
    assert.equal(chunkText("<|endoftext|> is text", AUTO_CHUNKING)[0]?.text, "<|endoftext|> is text");
  });

  it("rejects impossible options", () => {
    assert.throws(() => chunkText("x", { maxTokens: 0, overlapTokens: 0 }), RangeError);
    assert.throws(() => chunkText("x", { maxTokens: 100, overlapTokens: 100 }), RangeError);
    assert.throws(() => chunkText("x", { maxTokens: 100, overlapTokens: -1 }), RangeError);
    assert.throws(() => chunkText("x", { maxTokens: 10.5, overlapTokens: 1 }), RangeError);
  });

  it("chunks 10 MB of text in a few seconds", () => {
    const prose = uniqueProse(20_000);
    const text = prose.repeat(Math.ceil(10_000_000 / prose.length)).slice(0, 10_000_000);
    const started = performance.now();
    const chunks = chunkText(text, AUTO_CHUNKING);
    const elapsed = performance.now() - started;
    console.log(`chunked 10 MB into ${chunks.length} chunks of ≤ 800 tokens in ${elapsed.toFixed(0)} ms`);
    assert.ok(elapsed < 10_000, `${elapsed} ms`);
    assert.equal(chunks.at(-1)?.text.endsWith(text.slice(-100)), true);
  });
});
