import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openAiPrice, priceUsage } from "../../src/core/pricing.ts";

describe("priceUsage", () => {
  it("bills cached prompt tokens at the cached-input price and the rest at the input price", () => {
    const pricing = { input: 2, cachedInput: 0.5, output: 8 };
    const usage = { promptTokens: 1_000_000, cachedTokens: 600_000, completionTokens: 250_000, reasoningTokens: 0 };
    assert.equal(priceUsage(usage, pricing), 0.4 * 2 + 0.6 * 0.5 + 0.25 * 8);
    assert.equal(priceUsage({ ...usage, cachedTokens: 0 }, pricing), 2 + 2);
  });
});

describe("OpenAI's price table", () => {
  it("prices OpenAI model names and dated snapshots, and knows nothing of local models", () => {
    assert.deepEqual(openAiPrice("gpt-4o-mini"), { input: 0.15, cachedInput: 0.075, output: 0.6 });
    assert.deepEqual(openAiPrice("gpt-4o-2024-08-06"), openAiPrice("gpt-4o"));
    assert.equal(openAiPrice("stories260K"), undefined);
  });
});
