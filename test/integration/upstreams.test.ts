import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import OpenAI from "openai";
import { assertSchema } from "../helpers/openapi.ts";
import { startFakeUpstream, type FakeUpstream } from "../helpers/fake-upstream.ts";
import { raw, sseData, STORIES, startTestServer, type TestServer } from "../helpers/server.ts";

const SECRET = "sk-upstream-secret-should-never-leak";
let a: FakeUpstream;
let b: FakeUpstream;
let server: TestServer;
let client: OpenAI;

before(async () => {
  a = await startFakeUpstream();
  b = await startFakeUpstream();
  process.env.TEST_UPSTREAM_KEY = SECRET;
  server = await startTestServer({
    models: [{ id: "stories", path: STORIES, aliases: [] }],
    upstreams: {
      deployments: [
        { id: "a", provider: "openai-compatible", baseUrl: a.url, apiKeyEnv: "TEST_UPSTREAM_KEY", model: "gpt-4o-mini", weight: 3, timeoutMs: 400 },
        { id: "b", provider: "openai-compatible", baseUrl: b.url, model: "gpt-4o-mini", weight: 1, timeoutMs: 400 },
        { id: "azure", provider: "azure-openai", apiVersion: "2024-10-21", baseUrl: b.url.replace(/\/v1$/, ""), apiKeyEnv: "TEST_UPSTREAM_KEY", model: "my-gpt4o", weight: 1, timeoutMs: 2000 },
      ],
      models: [
        { name: "cloud", aliases: [], deployments: ["a", "b"], fallbacks: ["stories"], contextFallbacks: [], maxRetries: 2, deadlineMs: 5000, breakerThreshold: 3, breakerCooldownMs: 60_000 },
        { name: "only-a", aliases: [], deployments: ["a"], fallbacks: [], contextFallbacks: [], maxRetries: 2, deadlineMs: 5000, breakerThreshold: 100, breakerCooldownMs: 0 },
        { name: "azure", aliases: [], deployments: ["azure"], fallbacks: [], contextFallbacks: [], maxRetries: 0, deadlineMs: 5000, breakerThreshold: 3, breakerCooldownMs: 1000 },
        { name: "a-then-local", aliases: [], deployments: ["a"], fallbacks: ["stories"], contextFallbacks: [], maxRetries: 1, deadlineMs: 5000, breakerThreshold: 100, breakerCooldownMs: 0 },
      ],
    },
  });
  client = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
});
after(async () => {
  await server.close();
  await a.close();
  await b.close();
});
beforeEach(() => {
  a.seen.length = 0;
  b.seen.length = 0;
  a.script(() => ({ kind: "stream", text: "Hello from upstream A" }));
  b.script(() => ({ kind: "stream", text: "Hello from upstream B" }));
});

describe("OpenAI-compatible upstreams", () => {
  it("proxies non-streaming and streaming requests exactly, always asking the upstream for usage", async () => {
    const res = await client.chat.completions.create({ model: "only-a", messages: [{ role: "user", content: "Hi" }], max_tokens: 20, temperature: 0.5 });
    assertSchema("CreateChatCompletionResponse", res);
    assert.equal(res.choices[0]!.message.content, "Hello from upstream A");
    assert.equal(res.usage!.prompt_tokens, 11);
    const sent = a.seen[0]!;
    assert.equal(sent.body.model, "gpt-4o-mini");
    assert.equal(sent.body.stream, true);
    assert.deepEqual(sent.body.stream_options, { include_usage: true });
    assert.equal(sent.body.max_completion_tokens, 20);
    assert.equal(sent.headers.authorization, `Bearer ${SECRET}`);

    const stream = await raw(server, "/v1/chat/completions", { body: JSON.stringify({ model: "only-a", messages: [{ role: "user", content: "Hi" }], stream: true }) });
    const frames = sseData(stream.text);
    assert.equal(frames.at(-1), "[DONE]");
    for (const f of frames.slice(0, -1)) assertSchema("CreateChatCompletionStreamResponse", JSON.parse(f));
    assert.ok(!stream.text.includes('"usage":{'), "no usage chunk unless the client asked for one");
  });

  it("addresses Azure OpenAI deployments by URL, api-version and api-key header", async () => {
    const res = await client.chat.completions.create({ model: "azure", messages: [{ role: "user", content: "Hi" }] });
    assert.equal(res.choices[0]!.message.content, "Hello from upstream B");
    const sent = b.seen[0]!;
    assert.equal(sent.url, "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21");
    assert.equal(sent.headers["api-key"], SECRET);
    assert.equal(sent.headers.authorization, undefined);
  });

  it("streams upstream tool calls through, and the SDK's runTools loop works over them", async () => {
    let turn = 0;
    a.script(() => (++turn === 1 ? { kind: "stream", text: "", toolCall: { name: "get_weather", arguments: '{"city":"Paris"}' } } : { kind: "stream", text: "It is sunny." }));
    const seenArgs: unknown[] = [];
    const runner = client.chat.completions.runTools({
      model: "only-a",
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tools: [{ type: "function", function: { name: "get_weather", description: "weather", parameters: { type: "object", properties: { city: { type: "string" } } }, function: (args: unknown) => (seenArgs.push(args), "sunny"), parse: JSON.parse } }],
    });
    assert.equal(await runner.finalContent(), "It is sunny.");
    assert.deepEqual(seenArgs, [{ city: "Paris" }]);
    const second = a.seen[1]!.body.messages as { role: string; tool_call_id?: string }[];
    assert.ok(second.some((m) => m.role === "tool" && m.tool_call_id === "call_up1"), "the tool result went back to the upstream");
  });

  it("retries a 429, honouring Retry-After, then answers", async () => {
    a.script((n) => (n === 1 ? { kind: "json", status: 429, body: { error: { message: "slow down", type: "rate_limit_error", code: "rate_limit_exceeded" } }, headers: { "retry-after-ms": "300" } } : { kind: "stream", text: "ok" }));
    const started = performance.now();
    const res = await client.chat.completions.create({ model: "only-a", messages: [{ role: "user", content: "Hi" }] });
    assert.equal(res.choices[0]!.message.content, "ok");
    assert.equal(a.seen.length, 2);
    assert.ok(performance.now() - started >= 290, "waited as the upstream asked");
  });

  it("gives up after the retries with a 502 in OpenAI's envelope, without leaking the upstream key", async () => {
    a.script(() => ({ kind: "json", status: 500, body: { error: { message: `internal error, key ${SECRET}` } } }));
    const res = await raw(server, "/v1/chat/completions", { body: JSON.stringify({ model: "only-a", messages: [{ role: "user", content: "Hi" }] }) });
    assert.equal(res.status, 502);
    assertSchema("ErrorResponse", res.body);
    assert.equal(a.seen.length, 3, "one attempt and two retries");
    assert.ok(!res.text.includes(SECRET));
  });

  it("passes request errors through with their status, and does not retry them", async () => {
    a.script(() => ({ kind: "json", status: 400, body: { error: { message: "bad value for temperature", type: "invalid_request_error", param: "temperature", code: "invalid_value" } } }));
    const res = await raw(server, "/v1/chat/completions", { body: JSON.stringify({ model: "only-a", messages: [{ role: "user", content: "Hi" }] }) });
    assert.equal(res.status, 400);
    assert.deepEqual((res.body as { error: { param: string; code: string } }).error.param, "temperature");
    assert.equal(a.seen.length, 1);
  });

  it("times out a hanging deployment and retries on the other one", async () => {
    a.script(() => ({ kind: "hang" }));
    let answered = 0;
    for (let i = 0; i < 3; i++) {
      const res = await client.chat.completions.create({ model: "cloud", messages: [{ role: "user", content: "Hi" }] });
      if (res.choices[0]!.message.content === "Hello from upstream B") answered++;
    }
    assert.equal(answered, 3);
  });

  it("opens the circuit of a failing deployment, and falls back to the local engine when none is left", async () => {
    a.script(() => ({ kind: "json", status: 503, body: {} }));
    b.script(() => ({ kind: "json", status: 503, body: {} }));
    const res = await client.chat.completions.create({ model: "cloud", messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 5 });
    assert.equal(res.model, "stories", "served by the local fallback");
    // Each request tries both deployments (ties go at random, so the split of its three attempts
    // varies); within three requests both have failed three times in a row and rest.
    const open = async () => {
      const health = (await raw(server, "/health")).body as { models: { cloud: Record<string, number> } };
      return (health.models.cloud["a.circuit_open"] ?? 0) + (health.models.cloud["b.circuit_open"] ?? 0);
    };
    for (let i = 0; i < 2 && (await open()) < 2; i++) {
      await client.chat.completions.create({ model: "cloud", messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 5 });
    }
    assert.equal(await open(), 2);
    const hitsBefore = a.seen.length + b.seen.length;
    const rested = await client.chat.completions.create({ model: "cloud", messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 5 });
    assert.equal(rested.model, "stories");
    assert.equal(a.seen.length + b.seen.length, hitsBefore, "resting deployments are skipped");
  });

  it("never retries a stream after its first byte: a reset mid-stream ends it with an SSE error event", async () => {
    a.script(() => ({ kind: "stream", text: "one two three four five six", resetAfterChunks: 3 }));
    const res = await raw(server, "/v1/chat/completions", { body: JSON.stringify({ model: "only-a", messages: [{ role: "user", content: "Hi" }], stream: true }) });
    assert.equal(res.status, 200);
    const frames = sseData(res.text);
    const last = JSON.parse(frames.at(-1)!) as { error?: { type: string } };
    assert.equal(last.error?.type, "server_error");
    assert.equal(a.seen.length, 1);
  });

  it("falls back from an upstream to the local engine", async () => {
    a.script(() => ({ kind: "json", status: 500, body: {} }));
    const res = await client.chat.completions.create({ model: "a-then-local", messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 5 });
    assert.equal(res.model, "stories");
    assert.equal(a.seen.length, 2);
  });
});

describe("load balancing", () => {
  it("spreads sequential requests by weight (3:1 within 5% over 1,000)", async () => {
    const lb = await startTestServer({
      models: [{ id: "stories", path: STORIES, aliases: [] }],
      upstreams: {
        deployments: [
          { id: "a", provider: "openai-compatible", baseUrl: a.url, model: "m", weight: 3, timeoutMs: 2000 },
          { id: "b", provider: "openai-compatible", baseUrl: b.url, model: "m", weight: 1, timeoutMs: 2000 },
        ],
        models: [{ name: "lb", aliases: [], deployments: ["a", "b"], fallbacks: [], contextFallbacks: [], maxRetries: 0, deadlineMs: 5000, breakerThreshold: 3, breakerCooldownMs: 1000 }],
      },
    });
    try {
      const lbClient = new OpenAI({ baseURL: lb.baseURL, apiKey: "unused", maxRetries: 0 });
      for (let i = 0; i < 1000; i++) await lbClient.chat.completions.create({ model: "lb", messages: [{ role: "user", content: "x" }] });
      const share = a.seen.length / (a.seen.length + b.seen.length);
      assert.equal(a.seen.length + b.seen.length, 1000, "no request lost or duplicated");
      assert.ok(Math.abs(share - 0.75) <= 0.05, `deployment a got ${(share * 100).toFixed(1)}%`);
    } finally {
      await lb.close();
    }
  });
});

describe("another Modelport process as a real upstream", () => {
  it("serves chat, streams and forced tool calls through the gateway", async () => {
    const { spawnServe } = await import("../helpers/cli.ts");
    const { mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const upstream = await spawnServe(["-m", STORIES, "--data-dir", join(mkdtempSync(join(tmpdir(), "modelport-up-")), "data")], { MODELPORT_API_KEYS: "sk-inner-upstream-key" });
    process.env.TEST_INNER_KEY = "sk-inner-upstream-key";
    let gateway: TestServer | undefined;
    try {
    gateway = await startTestServer({
      models: [],
      upstreams: {
        deployments: [{ id: "inner", provider: "openai-compatible", baseUrl: `${upstream.url}/v1`, apiKeyEnv: "TEST_INNER_KEY", model: "stories260K", weight: 1, timeoutMs: 10_000 }],
        models: [{ name: "remote-stories", aliases: [], deployments: ["inner"], fallbacks: [], contextFallbacks: [], maxRetries: 1, deadlineMs: 20_000, breakerThreshold: 3, breakerCooldownMs: 1000 }],
      },
    });
      const gw = new OpenAI({ baseURL: gateway.baseURL, apiKey: "unused", maxRetries: 0 });
      const res = await gw.chat.completions.create({ model: "remote-stories", messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 12, seed: 3 });
      assertSchema("CreateChatCompletionResponse", res);
      assert.equal(res.model, "remote-stories");
      assert.ok(res.usage!.completion_tokens > 0);
      const stream = await gw.chat.completions.create({ model: "remote-stories", messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 12, seed: 3, stream: true, stream_options: { include_usage: true } });
      let text = "";
      let usage;
      for await (const chunk of stream) {
        assertSchema("CreateChatCompletionStreamResponse", chunk);
        text += chunk.choices[0]?.delta.content ?? "";
        usage = chunk.usage ?? usage;
      }
      assert.equal(text, res.choices[0]!.message.content, "same seed, same text, streamed or not");
      assert.equal(usage?.completion_tokens, res.usage!.completion_tokens);
      const tool = await gw.chat.completions.create({
        model: "remote-stories",
        messages: [{ role: "user", content: "Weather in Paris?" }],
        tools: [{ type: "function", function: { name: "get_weather", strict: true, parameters: { type: "object", properties: { city: { type: "string", maxLength: 20 } }, required: ["city"], additionalProperties: false } } }],
        tool_choice: "required",
        seed: 1,
        max_tokens: 100,
      });
      const call = tool.choices[0]!.message.tool_calls![0]!;
      assert.equal(call.type === "function" && call.function.name, "get_weather");
      if (call.type === "function") assert.equal(typeof (JSON.parse(call.function.arguments) as { city: unknown }).city, "string");
      assert.equal(tool.choices[0]!.finish_reason, "tool_calls");
    } finally {
      await gateway?.close();
      upstream.child.kill("SIGTERM");
      await upstream.exited;
    }
  });
});

describe("other endpoints pass through to upstreams", () => {
  const responseBody = {
    id: "resp_up1", object: "response", created_at: 1, status: "completed", model: "gpt-4o-mini", output: [{ type: "message", id: "msg_1", status: "completed", role: "assistant", content: [{ type: "output_text", text: "Hi from Responses", annotations: [] }] }],
    usage: { input_tokens: 12, input_tokens_details: { cached_tokens: 4 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 2 }, total_tokens: 17 },
  };

  it("relays POST /v1/responses with the upstream model name, retries before answering, and meters its usage", async () => {
    a.script((n) => (n === 1 ? { kind: "json", status: 503, body: {} } : { kind: "json", status: 200, body: responseBody }));
    const res = await client.responses.create({ model: "only-a", input: "Hello", max_output_tokens: 50 });
    assert.equal(res.output_text, "Hi from Responses");
    assert.equal(a.seen.length, 2, "the 503 was retried");
    assert.equal(a.seen[1]!.url, "/v1/responses");
    assert.deepEqual(a.seen[1]!.body, { model: "gpt-4o-mini", input: "Hello", max_output_tokens: 50 });
    assert.equal(a.seen[1]!.headers.authorization, `Bearer ${SECRET}`);
    await server.meter.flush();
    const [row] = await server.storage.db.all("SELECT * FROM usage_records ORDER BY created_at DESC, rowid DESC LIMIT 1", []);
    assert.deepEqual([row?.model, Number(row?.input_tokens), Number(row?.cached_tokens), Number(row?.output_tokens)], ["only-a", 12, 4, 5]);
  });

  it("relays a Responses stream byte for byte and meters the usage of its response.completed event", async () => {
    const events = [
      { type: "response.created", sequence_number: 0, response: { ...responseBody, status: "in_progress", output: [], usage: null } },
      { type: "response.output_text.delta", sequence_number: 1, item_id: "msg_1", output_index: 0, content_index: 0, delta: "Hi from Responses", logprobs: [] },
      { type: "response.completed", sequence_number: 2, response: { ...responseBody, usage: { ...responseBody.usage, input_tokens: 30 } } },
    ];
    a.script(() => ({ kind: "sse", frames: events.map((e) => JSON.stringify(e)) }));
    const stream = await client.responses.create({ model: "only-a", input: "Hello", stream: true });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    assert.deepEqual(types, ["response.created", "response.output_text.delta", "response.completed"]);
    await server.meter.flush();
    const [row] = await server.storage.db.all("SELECT * FROM usage_records ORDER BY created_at DESC, rowid DESC LIMIT 1", []);
    assert.equal(Number(row?.input_tokens), 30);
  });

  it("ends a relayed stream that breaks mid-way with an error event", async () => {
    a.script(() => ({ kind: "sse", frames: [JSON.stringify({ type: "response.created", sequence_number: 0 })], reset: true }));
    const res = await raw(server, "/v1/responses", { body: JSON.stringify({ model: "only-a", input: "Hello", stream: true }) });
    assert.equal(res.status, 200);
    assert.match(res.text, /event: error\ndata: \{"error":\{"message":"The upstream of 'only-a' failed mid-stream\./);
  });

  it("relays embeddings to Azure's deployment URL, and passes upstream request errors through", async () => {
    b.script(() => ({ kind: "json", status: 200, body: { object: "list", data: [{ object: "embedding", index: 0, embedding: [0.1, 0.2] }], model: "my-gpt4o", usage: { prompt_tokens: 3, total_tokens: 3 } } }));
    const res = await client.embeddings.create({ model: "azure", input: "hello", encoding_format: "float" });
    assert.deepEqual(res.data[0]!.embedding, [0.1, 0.2]);
    assert.equal(b.seen[0]!.url, "/openai/deployments/my-gpt4o/embeddings?api-version=2024-10-21");
    b.script(() => ({ kind: "json", status: 400, body: { error: { message: "bad input", type: "invalid_request_error", param: "input", code: null } } }));
    const bad = await raw(server, "/v1/embeddings", { body: JSON.stringify({ model: "azure", input: [] }) });
    assert.equal(bad.status, 400);
    assert.equal((bad.body as { error: { param: string } }).error.param, "input");
  });

  it("answers 400 for a model that cannot take the endpoint, and 404 for an unknown model", async () => {
    const local = await raw(server, "/v1/moderations", { body: JSON.stringify({ model: "stories", input: "x" }) });
    assert.equal(local.status, 400);
    assertSchema("ErrorResponse", local.body);
    assert.equal((local.body as { error: { code: string } }).error.code, "unsupported_endpoint");
    const unknown = await raw(server, "/v1/responses", { body: JSON.stringify({ model: "nope", input: "x" }) });
    assert.equal(unknown.status, 404);
    const noModel = await raw(server, "/v1/responses", { body: JSON.stringify({ input: "x" }) });
    assert.equal((noModel.body as { error: { param: string } }).error.param, "model");
  });
});
