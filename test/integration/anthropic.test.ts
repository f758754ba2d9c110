import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import OpenAI from "openai";
import { startFakeAnthropic, type FakeAnthropic } from "../helpers/fake-anthropic.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { raw, sseData, startTestServer, type TestServer } from "../helpers/server.ts";

const SECRET = "sk-ant-secret-never-shown";
let fake: FakeAnthropic;
let server: TestServer;
let client: OpenAI;

const model = (name: string, deployment: string, extra: Record<string, unknown> = {}) => ({ name, deployments: [deployment], maxRetries: 2, breakerThreshold: 100, breakerCooldownMs: 0, ...extra });

before(async () => {
  fake = await startFakeAnthropic(SECRET);
  process.env.TEST_ANTHROPIC_KEY = SECRET;
  server = await startTestServer({
    models: [],
    upstreams: {
      deployments: [
        { id: "claude", provider: "anthropic", baseUrl: fake.url, apiKeyEnv: "TEST_ANTHROPIC_KEY", model: "claude-sonnet-4-5", timeoutMs: 2000 },
        { id: "claude-lenient", provider: "anthropic", baseUrl: fake.url, apiKeyEnv: "TEST_ANTHROPIC_KEY", model: "claude-sonnet-4-5", dropUnsupportedParams: true },
        { id: "claude-rpm", provider: "anthropic", baseUrl: fake.url, apiKeyEnv: "TEST_ANTHROPIC_KEY", model: "claude-haiku", rpm: 3 },
        { id: "claude-tpm", provider: "anthropic", baseUrl: fake.url, apiKeyEnv: "TEST_ANTHROPIC_KEY", model: "claude-haiku", tpm: 2000 },
        { id: "claude-wrong-key", provider: "anthropic", baseUrl: fake.url, model: "claude-haiku" },
      ],
      models: [
        model("claude", "claude"),
        model("claude-lenient", "claude-lenient"),
        model("claude-rpm", "claude-rpm"),
        model("claude-tpm", "claude-tpm"),
        model("claude-wrong-key", "claude-wrong-key"),
      ],
    },
  });
  client = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
});
after(async () => {
  await server.close();
  await fake.close();
});
beforeEach(() => {
  fake.seen.length = 0;
  fake.script(() => ({ kind: "text", text: "Hello from Claude" }));
});

type Sent = { system?: string; messages: { role: string; content: { type: string; [k: string]: unknown }[] }[]; [k: string]: unknown };
const sent = (i = 0): Sent => fake.seen[i]!.body as Sent;

describe("Anthropic Messages adapter", () => {
  it("translates a chat request (system, turns, stop, sampling) and the answer, with cache tokens in usage", async () => {
    fake.script(() => ({ kind: "text", text: "Hello from Claude", usage: { input_tokens: 20, cache_read_input_tokens: 100, cache_creation_input_tokens: 30, output_tokens: 4 } }));
    const res = await client.chat.completions.create({
      model: "claude",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "developer", content: "Answer in English." },
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello!" },
        { role: "user", content: "How are you?" },
      ],
      temperature: 0.3,
      top_p: 0.9,
      stop: ["END"],
    });
    assertSchema("CreateChatCompletionResponse", res);
    assert.equal(res.choices[0]!.message.content, "Hello from Claude");
    assert.equal(res.choices[0]!.finish_reason, "stop");
    assert.deepEqual(
      { prompt: res.usage!.prompt_tokens, cached: res.usage!.prompt_tokens_details?.cached_tokens, completion: res.usage!.completion_tokens, total: res.usage!.total_tokens },
      { prompt: 150, cached: 100, completion: 4, total: 154 },
    );
    const body = sent();
    assert.equal(body.model, "claude-sonnet-4-5");
    assert.equal(body.system, "Be brief.\n\nAnswer in English.");
    assert.deepEqual(body.messages.map((m) => m.role), ["user", "assistant", "user"]);
    assert.deepEqual(body.messages[2]!.content, [{ type: "text", text: "How are you?" }]);
    assert.equal(body.max_tokens, 4096, "Anthropic requires max_tokens: the deployment's default is sent");
    assert.equal(body.temperature, 0.3);
    assert.equal(body.top_p, 0.9);
    assert.deepEqual(body.stop_sequences, ["END"]);
    assert.equal(body.stream, true);
    assert.equal(fake.seen[0]!.headers["x-api-key"], SECRET);
    assert.equal(fake.seen[0]!.headers.authorization, undefined);
  });

  it("streams events as chat-completion chunks; usage only when asked; max_tokens maps to length", async () => {
    fake.script(() => ({ kind: "text", text: "one two three", stopReason: "max_tokens", usage: { output_tokens: 3 } }));
    const stream = await client.chat.completions.create({ model: "claude", messages: [{ role: "user", content: "Count" }], max_tokens: 3, stream: true, stream_options: { include_usage: true } });
    let text = "";
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      assertSchema("CreateChatCompletionStreamResponse", chunk);
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, "one two three");
    assert.equal(finish, "length");
    assert.equal(usage?.completion_tokens, 3);
    assert.equal(sent().max_tokens, 3);

    const plain = await raw(server, "/v1/chat/completions", { body: JSON.stringify({ model: "claude", messages: [{ role: "user", content: "Hi" }], stream: true }) });
    assert.equal(sseData(plain.text).at(-1), "[DONE]");
    assert.ok(!plain.text.includes('"usage":{'), "no usage chunk unless the client asked for one");
  });

  it("runs the official SDK's tool loop: tool_use blocks become tool calls, tool results go back as tool_result blocks", async () => {
    let turn = 0;
    fake.script(() => (++turn === 1 ? { kind: "tool", name: "get_weather", input: '{"city":"Paris"}', id: "toolu_01X" } : { kind: "text", text: "It is sunny in Paris." }));
    const seenArgs: unknown[] = [];
    const runner = client.chat.completions.runTools({
      model: "claude",
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tool_choice: "required",
      parallel_tool_calls: false,
      tools: [
        {
          type: "function",
          function: { name: "get_weather", description: "Current weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }, function: (args: unknown) => (seenArgs.push(args), "sunny, 24 C"), parse: JSON.parse },
        },
      ],
    });
    // runTools keeps tool_choice "required" on every turn; the fake answers with text on the second.
    assert.equal(await runner.finalContent(), "It is sunny in Paris.");
    assert.deepEqual(seenArgs, [{ city: "Paris" }]);
    const first = sent(0);
    assert.deepEqual(first.tools, [{ name: "get_weather", description: "Current weather", input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }]);
    assert.deepEqual(first.tool_choice, { type: "any", disable_parallel_tool_use: true });
    const second = sent(1);
    assert.deepEqual(second.messages.map((m) => m.role), ["user", "assistant", "user"]);
    assert.deepEqual(second.messages[1]!.content, [
      { type: "text", text: "Let me check." },
      { type: "tool_use", id: "toolu_01X", name: "get_weather", input: { city: "Paris" } },
    ]);
    assert.deepEqual(second.messages[2]!.content, [{ type: "tool_result", tool_use_id: "toolu_01X", content: "sunny, 24 C" }]);
    const calls = (await runner.finalChatCompletion()).choices[0]!.message;
    assert.equal(calls.content, "It is sunny in Paris.");
  });

  it("streams a tool call as OpenAI tool-call deltas with finish_reason tool_calls", async () => {
    fake.script(() => ({ kind: "tool", name: "lookup", input: '{"q":"modelport"}' }));
    const res = await raw(server, "/v1/chat/completions", {
      body: JSON.stringify({ model: "claude", stream: true, messages: [{ role: "user", content: "?" }], tools: [{ type: "function", function: { name: "lookup", parameters: { type: "object", properties: { q: { type: "string" } } } } }], tool_choice: { type: "function", function: { name: "lookup" } } }),
    });
    const chunks = sseData(res.text).slice(0, -1).map((f) => JSON.parse(f) as OpenAI.ChatCompletionChunk);
    for (const c of chunks) assertSchema("CreateChatCompletionStreamResponse", c);
    const args = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []).map((t) => t.function?.arguments ?? "").join("");
    assert.equal(args, '{"q":"modelport"}');
    assert.equal(chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []).find((t) => t.id)?.id, "toolu_01A");
    assert.equal(chunks.at(-1)!.choices[0]!.finish_reason, "tool_calls");
    assert.deepEqual(sent().tool_choice, { type: "tool", name: "lookup", disable_parallel_tool_use: false });
  });

  it("sends images as base64 or URL sources", async () => {
    const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
    await client.chat.completions.create({
      model: "claude",
      messages: [{ role: "user", content: [{ type: "text", text: "What is this?" }, { type: "image_url", image_url: { url: `data:image/png;base64,${png}` } }, { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } }] }],
    });
    assert.deepEqual(sent().messages[0]!.content, [
      { type: "text", text: "What is this?" },
      { type: "image", source: { type: "base64", media_type: "image/png", data: png } },
      { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
    ]);
  });

  it("answers 400 naming a parameter Anthropic lacks, unless the deployment opts into dropping it", async () => {
    for (const [body, param] of [
      [{ seed: 7 }, "seed"],
      [{ temperature: 1.5 }, "temperature"],
      [{ logprobs: true }, "logprobs"],
      [{ n: 2 }, "n"],
      [{ response_format: { type: "json_object" } }, "response_format"],
      [{ frequency_penalty: 0.5 }, "frequency_penalty"],
    ] as const) {
      const res = await raw(server, "/v1/chat/completions", { body: JSON.stringify({ model: "claude", messages: [{ role: "user", content: "Hi" }], ...body }) });
      assert.equal(res.status, 400, param);
      assertSchema("ErrorResponse", res.body);
      const error = (res.body as { error: { param: string; code: string; type: string } }).error;
      assert.deepEqual([error.param, error.code, error.type], [param, "unsupported_parameter", "invalid_request_error"]);
    }
    assert.equal(fake.seen.length, 0, "nothing reached the upstream");

    const res = await client.chat.completions.create({ model: "claude-lenient", messages: [{ role: "user", content: "Hi" }], seed: 7, temperature: 1.5, frequency_penalty: 0.5 });
    assert.equal(res.choices[0]!.message.content, "Hello from Claude");
    assert.deepEqual([sent().seed, sent().temperature, sent().frequency_penalty], [undefined, undefined, undefined]);
  });

  it("retries Anthropic's 529 overloaded and 429 (honouring retry-after), and maps request errors", async () => {
    fake.script((n) => (n === 1 ? { kind: "error", status: 529, type: "overloaded_error", message: "Overloaded" } : n === 2 ? { kind: "error", status: 429, type: "rate_limit_error", message: "slow", headers: { "retry-after": "0" } } : { kind: "text", text: "finally" }));
    const res = await client.chat.completions.create({ model: "claude", messages: [{ role: "user", content: "Hi" }] });
    assert.equal(res.choices[0]!.message.content, "finally");
    assert.equal(fake.seen.length, 3);

    fake.seen.length = 0;
    fake.script(() => ({ kind: "error", status: 400, type: "invalid_request_error", message: "prompt is too long: 250000 tokens > 200000 maximum" }));
    const long = await raw(server, "/v1/chat/completions", { body: JSON.stringify({ model: "claude", messages: [{ role: "user", content: "Hi" }] }) });
    assert.equal(long.status, 400);
    assert.equal((long.body as { error: { code: string } }).error.code, "context_length_exceeded");
    assert.equal(fake.seen.length, 1, "request errors are not retried");

    const denied = await raw(server, "/v1/chat/completions", { body: JSON.stringify({ model: "claude-wrong-key", messages: [{ role: "user", content: "Hi" }] }) });
    assert.equal(denied.status, 502);
    assert.equal((denied.body as { error: { code: string } }).error.code, "upstream_auth_failed");
    assert.ok(!denied.text.includes(SECRET) && !denied.text.includes("x-api-key"));
  });

  it("ends a stream with an SSE error event when Anthropic fails mid-stream", async () => {
    fake.script(() => ({ kind: "stream-error", afterText: "partial ", type: "overloaded_error" }));
    const res = await raw(server, "/v1/chat/completions", { body: JSON.stringify({ model: "claude", messages: [{ role: "user", content: "Hi" }], stream: true }) });
    assert.equal(res.status, 200);
    const frames = sseData(res.text);
    assert.ok(frames.some((f) => f.includes('"content":"partial "')));
    const last = JSON.parse(frames.at(-1)!) as { error?: { type: string; message: string } };
    assert.equal(last.error?.type, "server_error");
    assert.equal(fake.seen.length, 1, "never retried after the first byte");
  });
});

describe("the Responses API over an upstream without it", () => {
  it("bridges Responses through chat to Anthropic, and stores the turn for previous_response_id", async () => {
    const first = await client.responses.create({ model: "claude", instructions: "Be brief.", input: "Hi" });
    assertSchema("Response", first);
    assert.equal(first.output_text, "Hello from Claude");
    assert.equal(sent().system, "Be brief.");
    fake.script(() => ({ kind: "text", text: "Again" }));
    const second = await client.responses.create({ model: "claude", previous_response_id: first.id, input: "More" });
    assert.equal(second.output_text, "Again");
    assert.deepEqual(sent(1).messages.map((m) => [m.role, m.content]), [
      ["user", [{ type: "text", text: "Hi" }]],
      ["assistant", [{ type: "text", text: "Hello from Claude" }]],
      ["user", [{ type: "text", text: "More" }]],
    ]);
  });
});

describe("per-deployment limits", () => {
  it("holds a deployment to its RPM: the fourth request in a burst is a 429 with Retry-After", async () => {
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 4; i++) {
      const res = await raw(server, "/v1/chat/completions", { body: JSON.stringify({ model: "claude-rpm", messages: [{ role: "user", content: "Hi" }] }) });
      statuses.push(res.status);
      if (res.status === 429) {
        retryAfter = res.headers.get("retry-after") ?? undefined;
        assert.equal((res.body as { error: { code: string } }).error.code, "rate_limit_exceeded");
      }
    }
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    assert.ok(Number(retryAfter) >= 1, `retry-after ${retryAfter}`);
    assert.equal(fake.seen.length, 3, "the limited request never reached the upstream");
  });

  it("reserves TPM by the tokenizer's estimate and reconciles with the usage the upstream reports", async () => {
    const ask = (maxTokens: number) => raw(server, "/v1/chat/completions", { body: JSON.stringify({ model: "claude-tpm", messages: [{ role: "user", content: "Hi" }], max_tokens: maxTokens }) });
    // Each reserves ~1,510 of 2,000 tokens; the upstream reports 26 used, so the next fits again.
    fake.script(() => ({ kind: "text", text: "ok", usage: { input_tokens: 25, output_tokens: 1 } }));
    assert.equal((await ask(1500)).status, 200);
    assert.equal((await ask(1500)).status, 200, "the first reservation was reconciled down to actual usage");
    // This one really uses 1,900 tokens: the bucket is now nearly empty.
    fake.script(() => ({ kind: "text", text: "long", usage: { input_tokens: 1800, output_tokens: 100 } }));
    assert.equal((await ask(1500)).status, 200);
    const refused = await ask(1500);
    assert.equal(refused.status, 429);
    assert.match((refused.body as { error: { message: string } }).error.message, /rate limit/);
    assert.equal(fake.seen.length, 3);
  });
});
