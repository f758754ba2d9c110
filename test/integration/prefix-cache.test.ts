import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { LlamaModel } from "node-llama-cpp";
import type { ChatMessage } from "../../src/core/chat.ts";
import { renderChatPrompt, resolveChatFormat } from "../../src/providers/local/chat-prompt.ts";
import { loadStoriesModel, STORIES, startTestServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;
let model: LlamaModel;
let engine: Awaited<ReturnType<typeof loadStoriesModel>>;
before(async () => {
  server = await startTestServer({ models: [{ id: "stories", path: STORIES, aliases: [] }] });
  engine = await loadStoriesModel();
  model = engine.model;
});
after(async () => {
  await server.close();
  await engine.dispose();
});

const SYSTEM = `You are a storyteller. ${"Every story has a cat, a dog and a little girl who like to play in the park. ".repeat(12)}`;
const OTHER_SYSTEM = `Answer briefly. ${"Use short words and simple sentences, like a friendly teacher would do. ".repeat(12)}`;

/** Prompt tokens as the server renders them for this model. */
function promptTokens(messages: ChatMessage[]): number[] {
  return renderChatPrompt(resolveChatFormat(model, undefined), messages).text.tokenize(model.tokenizer);
}

function sharedPrefix(a: number[], b: number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

const ask = (system: string, user: string, extra: Record<string, unknown> = {}) =>
  server.client.chat.completions.create({
    model: "stories",
    messages: [{ role: "system", content: system }, { role: "user", content: user }],
    max_tokens: 30,
    seed: 5,
    ...extra,
  });

describe("prompt caching", () => {
  it("reports cached_tokens as exactly the shared prefix reused, and 0 for a different prefix", async () => {
    const first = await ask(SYSTEM, "Tell me about the cat.");
    assert.equal(first.usage!.prompt_tokens_details!.cached_tokens, 0, "a cold server has nothing cached");

    const second = await ask(SYSTEM, "Tell me about the dog.");
    const expected = sharedPrefix(
      promptTokens([{ role: "system", content: SYSTEM }, { role: "user", content: "Tell me about the cat.", parts: [] }]),
      promptTokens([{ role: "system", content: SYSTEM }, { role: "user", content: "Tell me about the dog.", parts: [] }]),
    );
    assert.ok(expected > 200, `the system prompt is long (${expected} shared tokens)`);
    assert.equal(second.usage!.prompt_tokens_details!.cached_tokens, expected);

    const other = await ask(OTHER_SYSTEM, "Tell me about the dog.");
    assert.equal(other.usage!.prompt_tokens_details!.cached_tokens, 0, "only the chat template's first tokens are shared: not worth reusing");
  });

  it("gives identical output for a fixed seed with and without a cache hit", async () => {
    const fresh = `Tell tales. ${"Small animals and their friends live in the forest by the river. ".repeat(12)}`;
    const miss = await ask(fresh, "Once upon a time", { max_tokens: 60 });
    const hit = await ask(fresh, "Once upon a time", { max_tokens: 60 });
    assert.equal(miss.usage!.prompt_tokens_details!.cached_tokens, 0);
    assert.equal(hit.usage!.prompt_tokens_details!.cached_tokens, hit.usage!.prompt_tokens - 1, "all but the last prompt token, which is evaluated for its logits");
    assert.equal(hit.choices[0]!.message.content, miss.choices[0]!.message.content);
  });

  it("decodes two concurrent streams together: neither waits for the other to finish", async () => {
    const arrivals: { stream: string; at: number }[] = [];
    const run = async (name: string, seed: number) => {
      const stream = await server.client.chat.completions.create({
        model: "stories", messages: [{ role: "user", content: `Story ${name}` }], max_tokens: 400, seed, stream: true,
        stream_options: { include_obfuscation: false },
      });
      for await (const chunk of stream) if (chunk.choices[0]?.delta.content) arrivals.push({ stream: name, at: performance.now() });
    };
    await Promise.all([run("a", 1), run("b", 2)]);
    const lastOf = (s: string) => Math.max(...arrivals.filter((x) => x.stream === s).map((x) => x.at));
    const firstOf = (s: string) => Math.min(...arrivals.filter((x) => x.stream === s).map((x) => x.at));
    assert.ok(firstOf("b") < lastOf("a") && firstOf("a") < lastOf("b"), "each stream started before the other ended");
    // Count how often the arrival order switches streams: interleaved decoding switches many times.
    let switches = 0;
    for (let i = 1; i < arrivals.length; i++) if (arrivals[i]!.stream !== arrivals[i - 1]!.stream) switches++;
    assert.ok(switches >= 10, `streams interleave (${switches} switches)`);
  });
});
