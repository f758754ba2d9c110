import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assertSchema } from "../helpers/openapi.ts";

describe("the OpenAPI schema helper the integration tests rely on", () => {
  it("rejects objects that break the schema", () => {
    assert.throws(() => assertSchema("CreateChatCompletionResponse", {}), /does not match/);
    assert.throws(() => assertSchema("Model", { id: "x", object: "model", created: "yesterday", owned_by: "me" }), /does not match/);
    assert.throws(() => assertSchema("ErrorResponse", { error: { message: "m", type: "t", code: null } }), /param/);
    assert.throws(
      () => assertSchema("CreateChatCompletionStreamResponse", { id: "a", object: "chat.completion", created: 1, model: "m", choices: [] }),
      /does not match/,
    );
  });

  it("accepts nullable fields as null (OpenAPI 3.0 nullable is converted)", () => {
    assertSchema("CreateChatCompletionStreamResponse", {
      id: "a",
      object: "chat.completion.chunk",
      created: 1,
      model: "m",
      usage: null,
      choices: [{ index: 0, delta: { content: "x" }, logprobs: null, finish_reason: null }],
    });
  });
});
