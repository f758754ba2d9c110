import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { captureBodies, redactJson, REDACTED } from "../../src/services/request-log-capture.ts";

describe("request log capture", () => {
  it("redacts secret-named keys at any depth and sk- strings anywhere, leaving the rest", () => {
    const key = "sk-abcdefghijklmnopqrstuvwxyz012345";
    const { value, truncated } = redactJson(
      {
        model: "m",
        max_tokens: 5,
        api_key: "plain",
        apiKey: { nested: true },
        tools: [{ type: "mcp", headers: { Authorization: "Bearer x", "x-custom-auth": "c" }, client_secret: "s", access_token: "t", password: "p" }],
        messages: [{ role: "user", content: `use ${key} and sk-short` }],
        [key]: 1,
        usage: { prompt_tokens: 3 },
      },
      16_384,
    );
    assert.equal(truncated, false);
    assert.deepEqual(value, {
      model: "m",
      max_tokens: 5,
      api_key: REDACTED,
      apiKey: REDACTED,
      tools: [{ type: "mcp", headers: REDACTED, client_secret: REDACTED, access_token: REDACTED, password: REDACTED }],
      messages: [{ role: "user", content: `use ${REDACTED} and sk-short` }],
      [REDACTED]: 1,
      usage: { prompt_tokens: 3 },
    });
  });

  it("cuts to the byte budget, multi-byte text and long arrays included, and never leaves half a key", () => {
    for (const input of [{ text: "é✓".repeat(10_000) }, { items: Array.from({ length: 5000 }, (_, i) => i) }, "x".repeat(1100) + "sk-" + "a".repeat(40)]) {
      const { value, truncated } = redactJson(input, 1024);
      const text = JSON.stringify(value);
      assert.equal(truncated, true);
      assert.ok(Buffer.byteLength(text) <= 1024, `${Buffer.byteLength(text)} bytes`);
    }
    const split = redactJson(`${"x".repeat(1030)}sk-${"a".repeat(40)}`, 1035).value as string;
    assert.ok(!split.includes("sk-a"), split.slice(-60));
  });

  it("stores request and answer as one JSON text, null when there is neither", () => {
    assert.equal(captureBodies(undefined, undefined, 1024), null);
    assert.deepEqual(JSON.parse(captureBodies({ a: 1 }, { b: "token" }, 1024)!), { request: { a: 1 }, response: { b: "token" }, truncated: false });
  });
});
