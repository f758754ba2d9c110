import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { assertSchema } from "../helpers/openapi.ts";
import { raw, sseData, startTestServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

const STORY = [{ role: "user" as const, content: "Once upon a time" }];

describe("POST /v1/chat/completions (official SDK)", () => {
  it("answers a plain request with a schema-valid completion and full usage", async () => {
    const res = await server.client.chat.completions.create({
      model: "stories",
      messages: [
        { role: "system", content: "你是一名资深运维工程师" },
        { role: "user", content: "CentOS如何安装Nginx?" },
      ],
      max_tokens: 30,
    });
    assertSchema("CreateChatCompletionResponse", res);
    assert.equal(res.object, "chat.completion");
    assert.match(res.id, /^chatcmpl-/);
    assert.equal(res.model, "stories");
    assert.equal(res.choices.length, 1);
    const choice = res.choices[0]!;
    assert.equal(choice.message.role, "assistant");
    assert.equal(typeof choice.message.content, "string");
    assert.ok(choice.finish_reason === "stop" || choice.finish_reason === "length");
    const usage = res.usage!;
    assert.ok(usage.prompt_tokens > 10);
    assert.ok(usage.completion_tokens > 0 && usage.completion_tokens <= 30);
    assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
    assert.equal(typeof usage.prompt_tokens_details?.cached_tokens, "number");
    assert.equal(usage.completion_tokens_details?.reasoning_tokens, 0);
  });

  it("carries a multi-turn conversation, with developer and assistant messages", async () => {
    const res = await server.client.chat.completions.create({
      model: "stories",
      messages: [
        { role: "developer", content: "Tell stories." },
        { role: "user", content: "Once upon a time" },
        { role: "assistant", content: "there was a little girl named Lily." },
        { role: "user", content: [{ type: "text", text: "What did she do next?" }] },
      ],
      max_tokens: 20,
      seed: 3,
    });
    assertSchema("CreateChatCompletionResponse", res);
    const single = await server.client.chat.completions.create({ model: "stories", messages: STORY, max_tokens: 20, seed: 3 });
    assert.ok(res.usage!.prompt_tokens > single.usage!.prompt_tokens + 10, "earlier turns are part of the prompt");
  });

  it("ends with finish_reason length exactly at max_tokens and max_completion_tokens", async () => {
    for (const limit of [{ max_tokens: 7 }, { max_completion_tokens: 7 }]) {
      const res = await server.client.chat.completions.create({
        model: "stories",
        messages: STORY,
        temperature: 0,
        ...limit,
      });
      if (res.choices[0]!.finish_reason === "length") assert.equal(res.usage!.completion_tokens, 7);
      else assert.ok(res.usage!.completion_tokens < 7);
    }
    const long = await server.client.chat.completions.create({ model: "stories", messages: STORY, max_tokens: 3, seed: 11 });
    assert.equal(long.choices[0]!.finish_reason, "length");
    assert.equal(long.usage!.completion_tokens, 3);
  });

  it("gives the same output for the same seed, and different outputs for different seeds", async () => {
    const ask = (seed: number) =>
      server.client.chat.completions.create({ model: "stories", messages: STORY, max_tokens: 40, seed, temperature: 1 });
    const [a, b, c] = await Promise.all([ask(42), ask(42), ask(7)]);
    assert.equal(a.choices[0]!.message.content, b.choices[0]!.message.content);
    assert.notEqual(a.choices[0]!.message.content, c.choices[0]!.message.content);
    assert.equal(a.system_fingerprint, b.system_fingerprint);
  });

  it("honours temperature 0 (greedy), top_p and the penalties, negative values included", async () => {
    const ask = (extra: Record<string, number>) =>
      server.client.chat.completions
        .create({ model: "stories", messages: STORY, max_tokens: 120, ...extra })
        .then((r) => r.choices[0]!.message.content!);
    assert.equal(await ask({ temperature: 0, seed: 1 }), await ask({ temperature: 0, seed: 2 }), "greedy ignores the seed");
    assert.equal(await ask({ top_p: 0.000001, seed: 1 }), await ask({ temperature: 0, seed: 9 }), "a tiny top_p keeps only the top token");
    const uniqueWords = (text: string) => new Set(text.toLowerCase().split(/\W+/).filter(Boolean)).size;
    const repetitive = await ask({ temperature: 0, frequency_penalty: -2 });
    const varied = await ask({ temperature: 0, frequency_penalty: 2 });
    const neutral = await ask({ temperature: 0 });
    assert.notEqual(varied, neutral);
    assert.ok(uniqueWords(varied) > uniqueWords(repetitive), `+2 (${uniqueWords(varied)} words) is more varied than -2 (${uniqueWords(repetitive)})`);
    const presence = await ask({ temperature: 0, presence_penalty: 2 });
    assert.notEqual(presence, neutral);
  });

  it("returns n choices, each indexed, with summed completion tokens", async () => {
    const res = await server.client.chat.completions.create({ model: "stories", messages: STORY, max_tokens: 25, n: 2, seed: 5 });
    assertSchema("CreateChatCompletionResponse", res);
    assert.deepEqual(res.choices.map((c) => c.index), [0, 1]);
    assert.notEqual(res.choices[0]!.message.content, res.choices[1]!.message.content);
    const one = await server.client.chat.completions.create({ model: "stories", messages: STORY, max_tokens: 25, seed: 5 });
    assert.equal(res.choices[0]!.message.content, one.choices[0]!.message.content, "choice 0 uses the request's seed");
  });

  it("takes n up to OpenAI's 128 beyond what the model runs at once, in waves", async () => {
    const stats = server.registry.list().find((m) => m.descriptor.id === "stories")!.stats();
    const n = (stats.sequences ?? 0) + (stats.queue_size ?? 0) + 5;
    assert.ok(n <= 128, `the test model's capacity leaves room under 128 (n = ${n})`);
    const res = await server.client.chat.completions.create({ model: "stories", messages: STORY, max_tokens: 3, n, seed: 5 });
    assertSchema("CreateChatCompletionResponse", res);
    assert.deepEqual(res.choices.map((c) => c.index), Array.from({ length: n }, (_, i) => i));
    // Every choice generated at least one token and at most max_tokens, and all are counted.
    assert.ok(res.usage!.completion_tokens >= n && res.usage!.completion_tokens <= 3 * n, `completion_tokens ${res.usage!.completion_tokens} for ${n} choices`);
    assert.ok(res.choices.every((c) => c.message.content !== null && c.message.content.length > 0));
  });

  it("stops at a stop sequence and leaves it out of the content", async () => {
    const free = await server.client.chat.completions.create({ model: "stories", messages: STORY, max_tokens: 60, seed: 9, temperature: 0 });
    const text = free.choices[0]!.message.content!;
    const word = text.trim().split(/\s+/)[3];
    assert.ok(word, `enough words to pick a stop from: ${text}`);
    const stopped = await server.client.chat.completions.create({
      model: "stories",
      messages: STORY,
      max_tokens: 60,
      seed: 9,
      temperature: 0,
      stop: [word, "zzzz"],
    });
    const content = stopped.choices[0]!.message.content!;
    assert.equal(stopped.choices[0]!.finish_reason, "stop");
    assert.ok(!content.includes(word));
    assert.equal(content, text.slice(0, text.indexOf(word)));
  });

  it("answers through an alias, naming the model it used", async () => {
    const res = await server.client.chat.completions.create({ model: "gpt-5.4-mini", messages: STORY, max_tokens: 5 });
    assert.equal(res.model, "stories");
  });

  it("rejects a prompt longer than the context with context_length_exceeded naming both numbers", async () => {
    const long = "Once upon a time there was a cat. ".repeat(400);
    const res = await raw(server, "/v1/chat/completions", { body: JSON.stringify({ model: "stories", messages: [{ role: "user", content: long }] }) });
    assert.equal(res.status, 400);
    assertSchema("ErrorResponse", res.body);
    const error = (res.body as { error: { code: string; message: string; param: string } }).error;
    assert.equal(error.code, "context_length_exceeded");
    assert.match(error.message, /maximum context length is 2048 tokens/);
    assert.match(error.message, /resulted in \d{4,} tokens/);
    const withMax = await raw(server, "/v1/chat/completions", {
      body: JSON.stringify({ model: "stories", messages: STORY, max_tokens: 5000 }),
    });
    assert.equal(withMax.status, 400);
    assert.match((withMax.body as { error: { message: string } }).error.message, /2048 tokens.*\(\d+ in the messages, 5000 in the completion\)/);
  });
});

describe("streaming", () => {
  it("streams chunks like OpenAI: role first, finish_reason last, no usage unless asked", async () => {
    const stream = await server.client.chat.completions.create({ model: "stories", messages: STORY, max_tokens: 20, seed: 1, stream: true });
    const chunks = [];
    for await (const chunk of stream) {
      assertSchema("CreateChatCompletionStreamResponse", chunk);
      chunks.push(chunk);
    }
    assert.ok(chunks.length >= 3);
    assert.equal(chunks[0]!.choices[0]!.delta.role, "assistant");
    assert.equal(chunks.at(-1)!.choices[0]!.finish_reason, "length");
    assert.ok(chunks.every((c) => c.usage === undefined), "no usage field without include_usage");
    assert.ok(chunks.slice(0, -1).every((c) => c.choices[0]!.finish_reason === null));
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1);
    const streamed = chunks.map((c) => c.choices[0]!.delta.content ?? "").join("");
    const whole = await server.client.chat.completions.create({ model: "stories", messages: STORY, max_tokens: 20, seed: 1 });
    assert.equal(streamed, whole.choices[0]!.message.content, "stream and non-stream agree for one seed");
  });

  it("adds a final usage chunk with empty choices when include_usage is set", async () => {
    const stream = await server.client.chat.completions.create({
      model: "stories",
      messages: [{ role: "user", content: "介绍一下Linux" }],
      max_tokens: 10,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) {
      assertSchema("CreateChatCompletionStreamResponse", chunk);
      chunks.push(chunk);
    }
    const last = chunks.at(-1)!;
    assert.deepEqual(last.choices, []);
    assert.ok(last.usage);
    assert.equal(last.usage.completion_tokens, 10);
    assert.equal(typeof last.usage.prompt_tokens_details?.cached_tokens, "number");
    assert.equal(last.usage.completion_tokens_details?.reasoning_tokens, 0);
    assert.ok(chunks.slice(0, -1).every((c) => c.usage === null), "usage is null on every other chunk");
  });

  it("frames raw SSE exactly: data lines, blank-line separators, data: [DONE] at the end", async () => {
    const res = await raw(server, "/v1/chat/completions", {
      body: JSON.stringify({ model: "stories", messages: STORY, max_tokens: 5, stream: true, stream_options: { include_obfuscation: false } }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    assert.ok(res.text.endsWith("data: [DONE]\n\n"));
    const frames = sseData(res.text);
    assert.equal(frames.at(-1), "[DONE]");
    for (const frame of frames.slice(0, -1)) {
      const chunk = JSON.parse(frame) as Record<string, unknown>;
      assertSchema("CreateChatCompletionStreamResponse", chunk);
      assert.equal("obfuscation" in chunk, false);
    }
  });

  it("streams n=2 choices, each with its own role chunk and finish", async () => {
    const stream = await server.client.chat.completions.create({ model: "stories", messages: STORY, max_tokens: 8, n: 2, stream: true });
    const finishes = new Map<number, string>();
    const roles = new Set<number>();
    for await (const chunk of stream) {
      assertSchema("CreateChatCompletionStreamResponse", chunk);
      for (const c of chunk.choices) {
        if (c.delta.role) roles.add(c.index);
        if (c.finish_reason) finishes.set(c.index, c.finish_reason);
      }
    }
    assert.deepEqual([...roles].sort(), [0, 1]);
    assert.deepEqual([...finishes.keys()].sort(), [0, 1]);
  });

  it("keeps multi-byte text intact: the 32k-vocabulary model streams exactly what it returns whole", async () => {
    const body = { model: "tiny-random", messages: [{ role: "user" as const, content: "你好，世界！介绍一下Linux 🐧" }], max_tokens: 60, seed: 4 };
    const whole = await server.client.chat.completions.create(body);
    const stream = await server.client.chat.completions.create({ ...body, stream: true });
    let streamed = "";
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ?? "";
    assert.equal(streamed, whole.choices[0]!.message.content);
    assert.ok(Buffer.from(streamed, "utf8").toString("utf8") === streamed);
  });
});

describe("operations", () => {
  it("reports readiness and per-model sequence use", async () => {
    const ready = await raw(server, "/ready");
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: "ready" });
    const health = await raw(server, "/health");
    assert.equal(health.status, 200);
    const models = (health.body as { models: Record<string, { sequences: number; busy: number }> }).models;
    // The built-in audio models come after the chat models.
    assert.deepEqual(Object.keys(models).slice(0, 2), ["stories", "tiny-random"]);
    assert.ok(Object.keys(models).slice(2).every((id) => id === "tts-local" || id === "stt-local"));
    assert.equal(models.stories!.sequences, 4);
  });
});

describe("models", () => {
  it("lists every model and alias in OpenAI's shape", async () => {
    const list = await raw(server, "/v1/models");
    assert.equal(list.status, 200);
    assertSchema("ListModelsResponse", list.body);
    const page = await server.client.models.list();
    const ids = page.data.map((m) => m.id);
    assert.deepEqual(ids.slice(0, 4), ["stories", "gpt-5.4-mini", "中文模型", "tiny-random"]);
    // Then the built-in audio models and their aliases (transcription only where PocketSphinx is installed).
    assert.deepEqual(ids.slice(4, 8), ["tts-local", "tts-1", "tts-1-hd", "gpt-4o-mini-tts"]);
  });

  it("retrieves one model, including a Chinese alias, and 404s an unknown one", async () => {
    const model = await server.client.models.retrieve("中文模型");
    assertSchema("Model", model);
    assert.equal(model.id, "中文模型");
    const chat = await server.client.chat.completions.create({ model: "中文模型", messages: [{ role: "user", content: "中文" }], max_tokens: 3 });
    assert.equal(chat.model, "stories");
    const missing = await raw(server, "/v1/models/nope");
    assert.equal(missing.status, 404);
    assertSchema("ErrorResponse", missing.body);
    assert.equal((missing.body as { error: { code: string } }).error.code, "model_not_found");
  });
});
