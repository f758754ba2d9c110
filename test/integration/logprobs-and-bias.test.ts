import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { LlamaModel } from "node-llama-cpp";
import { assertSchema } from "../helpers/openapi.ts";
import { loadStoriesModel, startTestServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;
let model: LlamaModel;
let engine: Awaited<ReturnType<typeof loadStoriesModel>>;
before(async () => {
  server = await startTestServer();
  engine = await loadStoriesModel();
  model = engine.model;
});
after(async () => {
  await server.close();
  await engine.dispose();
});

const STORY = [{ role: "user" as const, content: "Once upon a time" }];

describe("logprobs", () => {
  it("returns one entry per generated token, sorted alternatives, consistent with the sampled tokens", async () => {
    const res = await server.client.chat.completions.create({ model: "stories", messages: STORY, max_tokens: 40, seed: 8, logprobs: true, top_logprobs: 5 });
    assertSchema("CreateChatCompletionResponse", res);
    const choice = res.choices[0]!;
    const content = choice.logprobs!.content!;
    assert.equal(content.length, res.usage!.completion_tokens);
    for (const entry of content) {
      assert.ok(entry.logprob <= 0);
      assert.equal(entry.top_logprobs.length, 5);
      const tops = entry.top_logprobs.map((t) => t.logprob);
      assert.deepEqual(tops, [...tops].sort((a, b) => b - a), "alternatives are sorted");
      assert.ok(entry.logprob <= tops[0]! + 1e-9);
      const same = entry.top_logprobs.find((t) => t.token === entry.token);
      if (same) assert.ok(Math.abs(same.logprob - entry.logprob) < 1e-9);
      assert.ok(Array.isArray(entry.bytes));
    }
    const bytes = Buffer.from(content.flatMap((e) => e.bytes ?? []));
    assert.equal(bytes.toString("utf8").trimStart(), choice.message.content!.trimStart(), "the tokens' bytes spell the content");
    const sum = content[0]!.top_logprobs.reduce((s, t) => s + Math.exp(t.logprob), 0);
    assert.ok(sum > 0 && sum <= 1 + 1e-6, "probabilities of alternatives sum to at most 1");
  });

  it("picks the top alternative at temperature 0, and streams the same logprobs", async () => {
    const body = { model: "stories", messages: STORY, max_tokens: 25, temperature: 0, logprobs: true, top_logprobs: 2 };
    const whole = await server.client.chat.completions.create(body);
    for (const entry of whole.choices[0]!.logprobs!.content!) assert.equal(entry.token, entry.top_logprobs[0]!.token);
    const stream = await server.client.chat.completions.create({ ...body, stream: true });
    const streamed: unknown[] = [];
    for await (const chunk of stream) {
      assertSchema("CreateChatCompletionStreamResponse", chunk);
      streamed.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    }
    assert.deepEqual(streamed, whole.choices[0]!.logprobs!.content);
  });

  it("gives logprobs without alternatives when top_logprobs is not set", async () => {
    const res = await server.client.chat.completions.create({ model: "stories", messages: STORY, max_tokens: 5, logprobs: true });
    for (const entry of res.choices[0]!.logprobs!.content!) assert.deepEqual(entry.top_logprobs, []);
  });
});

describe("logit_bias", () => {
  it("−100 removes a token that otherwise appears; +100 forces one", async () => {
    const base = { model: "stories", messages: STORY, max_tokens: 80, temperature: 0, logprobs: true } as const;
    const free = await server.client.chat.completions.create(base);
    const counts = new Map<string, number>();
    for (const e of free.choices[0]!.logprobs!.content!) counts.set(e.token, (counts.get(e.token) ?? 0) + 1);
    const [common] = [...counts.entries()].filter(([t]) => t.trim() !== "").sort((a, b) => b[1] - a[1])[0]!;
    const pieces = model.fileInfo.metadata.tokenizer!.ggml.tokens as readonly string[];
    const id = pieces.indexOf(common.replace(/ /g, "\u2581"));
    assert.ok(id > 0, `found token id for '${common}'`);
    const banned = await server.client.chat.completions.create({ ...base, logit_bias: { [id]: -100 } });
    const tokens = banned.choices[0]!.logprobs!.content!.map((e) => e.token);
    assert.ok(!tokens.includes(common), `'${common}' appeared ${counts.get(common)} times before and never after`);
    const forced = await server.client.chat.completions.create({ ...base, max_tokens: 10, temperature: 1, seed: 3, logit_bias: { [id]: 100 } });
    assert.ok(forced.choices[0]!.logprobs!.content!.every((e) => e.token === common));
  });
});
