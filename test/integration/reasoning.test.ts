import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { assertSchema } from "../helpers/openapi.ts";
import { STORIES, startTestServer, type TestServer } from "../helpers/server.ts";

// The tiny model served with a reasoning format (Qwen's, with <think> … </think>): it never closes
// its thinking by itself, so every budget is reached exactly, which makes the budgets observable.
let server: TestServer;
before(async () => {
  server = await startTestServer({ models: [{ id: "thinker", path: STORIES, aliases: [], chatTemplate: "qwen" }] });
});
after(async () => {
  await server.close();
});

const ASK = [{ role: "user" as const, content: "Once upon a time" }];

describe("reasoning_effort on a model whose format thinks", () => {
  it("maps effort to a thinking budget, counts reasoning tokens, and keeps thinking out of content", async () => {
    const minimal = await server.client.chat.completions.create({ model: "thinker", messages: ASK, reasoning_effort: "minimal", max_tokens: 300, seed: 1 });
    assertSchema("CreateChatCompletionResponse", minimal);
    const usage = minimal.usage!;
    assert.equal(usage.completion_tokens_details!.reasoning_tokens, 256);
    assert.equal(usage.completion_tokens, 300, "reasoning tokens count towards max_tokens, as in OpenAI's API");
    assert.equal(minimal.choices[0]!.finish_reason, "length");
    assert.ok(!minimal.choices[0]!.message.content!.includes("think>"));

    const none = await server.client.chat.completions.create({ model: "thinker", messages: ASK, reasoning_effort: "none", max_tokens: 40, seed: 1 });
    assert.equal(none.usage!.completion_tokens_details!.reasoning_tokens, 0);
    assert.ok(none.choices[0]!.message.content!.length > 0);
  });

  it("streams no thinking as content and reports reasoning tokens in the usage chunk", async () => {
    const stream = await server.client.chat.completions.create({
      model: "thinker", messages: ASK, reasoning_effort: "minimal", max_tokens: 280, seed: 2, stream: true, stream_options: { include_usage: true },
    });
    let content = "";
    let reasoning = -1;
    for await (const chunk of stream) {
      assertSchema("CreateChatCompletionStreamResponse", chunk);
      content += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) reasoning = chunk.usage.completion_tokens_details!.reasoning_tokens!;
    }
    assert.equal(reasoning, 256);
    const whole = await server.client.chat.completions.create({ model: "thinker", messages: ASK, reasoning_effort: "minimal", max_tokens: 280, seed: 2 });
    assert.equal(content, whole.choices[0]!.message.content);
  });

  it("thinks at medium effort by default", async () => {
    const res = await server.client.chat.completions.create({ model: "thinker", messages: ASK, max_tokens: 50, seed: 3 });
    assert.equal(res.usage!.completion_tokens_details!.reasoning_tokens, 50);
    assert.equal(res.choices[0]!.message.content, "");
  });
});
