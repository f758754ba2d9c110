import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import type { ChatStreamPart } from "../../src/core/chat.ts";
import { SseDataDecoder } from "../../src/core/sse-reader.ts";
import { parseChatCompletionRequest } from "../../src/protocol/openai/chat-completions-parse.ts";
import { anthropicAdapter } from "../../src/providers/anthropic/adapter.ts";
import { toAnthropicBody } from "../../src/providers/anthropic/convert-request.ts";
import { azureOpenAiAdapter, openAiCompatibleAdapter } from "../../src/providers/openai-compatible/adapter.ts";
import { toOpenAiChatBody } from "../../src/providers/openai-compatible/convert-request.ts";
import type { AdapterTarget, UpstreamAdapter } from "../../src/providers/upstream/adapter.ts";
import { UpstreamError } from "../../src/providers/upstream/upstream-error.ts";
import { random } from "../helpers/random.ts";

const target: AdapterTarget = { id: "dep-1", baseUrl: "https://upstream.example/v1/", apiKey: "sk-test", model: "up-model", apiVersion: undefined, defaultMaxTokens: 1024 };

function fixture(name: string): Buffer {
  return readFileSync(new URL(`../fixtures/sse/${name}`, import.meta.url));
}

/** What one recorded stream gives: its parts, then the error that ended it, if any. */
interface Replay {
  parts: ChatStreamPart[];
  error?: unknown;
}

/**
 * Replays recorded bytes through the SSE decoder and an adapter's converter as the router does
 * (stopping at `[DONE]`), delivered in chunks cut at `cuts` (byte offsets).
 */
function replay(adapter: UpstreamAdapter, bytes: Buffer, cuts: readonly number[] = []): Replay {
  const convert = adapter.streamConverter(target);
  const decoder = new SseDataDecoder();
  const parts: ChatStreamPart[] = [];
  const feed = (events: string[]): boolean => {
    for (const data of events) {
      if (data === "[DONE]") return true;
      parts.push(...convert(data));
    }
    return false;
  };
  try {
    let from = 0;
    for (const cut of [...cuts, bytes.length]) {
      if (feed(decoder.push(bytes.subarray(from, cut)))) return { parts };
      from = cut;
    }
    feed(decoder.end());
    return { parts };
  } catch (error) {
    return { parts, error };
  }
}

/**
 * Awkward ways to cut a stream: a byte at a time, inside every multi-byte character, between every
 * CR and its LF, just after every `data:` and blank line, and a few seeded random chunkings.
 */
function awkwardCuts(bytes: Buffer): { name: string; cuts: number[] }[] {
  const all = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
  const inCharacters = all.filter((i) => ((bytes[i] as number) & 0xc0) === 0x80);
  const inCrLf = all.filter((i) => bytes[i - 1] === 0x0d && bytes[i] === 0x0a);
  const text = bytes.toString("latin1");
  const afterFields = all.filter((i) => text.startsWith("data:", i - 5) || text.startsWith("\n\n", i - 2));
  const ways = [
    { name: "one byte at a time", cuts: all },
    { name: "inside multi-byte characters", cuts: inCharacters },
    { name: "between CR and LF", cuts: inCrLf },
    { name: "after field names and blank lines", cuts: afterFields },
  ];
  const next = random(14);
  for (let round = 0; round < 8; round++) {
    ways.push({ name: `random chunking ${round}`, cuts: all.filter(() => next() < 0.05) });
  }
  return ways;
}

/** Checks a fixture gives `expected` however its bytes are cut. */
function assertReplays(adapter: UpstreamAdapter, name: string, expected: Replay): void {
  const bytes = fixture(name);
  assert.deepEqual(replay(adapter, bytes), expected, `${name} whole`);
  for (const { name: way, cuts } of awkwardCuts(bytes)) assert.deepEqual(replay(adapter, bytes, cuts), expected, `${name} ${way}`);
}

const usage = (promptTokens: number, completionTokens: number, cachedTokens: number, reasoningTokens: number): ChatStreamPart => ({
  type: "usage",
  usage: { promptTokens, completionTokens, cachedTokens, reasoningTokens },
});

describe("OpenAI-compatible stream converter (recorded streams)", () => {
  it("turns text deltas, the finish and the usage-only last chunk into parts; comments and role-only deltas give none", () => {
    assertReplays(openAiCompatibleAdapter, "openai-text.sse", {
      parts: [
        { type: "text-delta", choice: 0, text: "Café" },
        { type: "text-delta", choice: 0, text: " au lait ☕" },
        { type: "text-delta", choice: 0, text: ", s'il vous plaît 😀." },
        { type: "finish", choice: 0, finishReason: "stop" },
        usage(1117, 12, 1024, 0),
      ],
    });
  });

  it("starts a tool call at the delta with an id and streams its arguments by index", () => {
    assertReplays(openAiCompatibleAdapter, "openai-tool-calls.sse", {
      parts: [
        { type: "tool-call-start", choice: 0, index: 0, id: "call_DdmO9pD3xa9XTPNJ32zg2hcA", name: "get_weather" },
        { type: "tool-call-delta", choice: 0, index: 0, arguments: '{"ci' },
        { type: "tool-call-delta", choice: 0, index: 0, arguments: 'ty": "Zü' },
        { type: "tool-call-delta", choice: 0, index: 0, arguments: 'rich"}' },
        { type: "tool-call-start", choice: 0, index: 1, id: "call_Hm7kS0qBnE1vY0tDk2mXb9Qa", name: "get_time" },
        { type: "tool-call-delta", choice: 0, index: 1, arguments: '{"tz": "Europe/Zurich"}' },
        { type: "finish", choice: 0, finishReason: "tool_calls" },
        usage(84, 41, 0, 0),
      ],
    });
  });

  it("keeps interleaved choices apart with their logprobs, over CRLF line endings, with usage on the last chunk", () => {
    const hello = { token: "Hello", logprob: -0.25, bytes: [72, 101, 108, 108, 111] };
    const hi = { token: "Hi", logprob: -1.5, bytes: [72, 105] };
    assertReplays(azureOpenAiAdapter, "openai-choices.sse", {
      parts: [
        { type: "text-delta", choice: 1, text: "Hello", logprobs: [{ ...hello, topLogprobs: [hello, hi] }] },
        { type: "text-delta", choice: 0, text: "Hi", logprobs: [{ ...hi, topLogprobs: [hello, hi] }] },
        { type: "text-delta", choice: 0, text: " ✓", logprobs: [{ token: " ✓", logprob: -0.0625, bytes: [32, 226, 156, 147], topLogprobs: [] }] },
        { type: "finish", choice: 0, finishReason: "stop" },
        { type: "text-delta", choice: 1, text: " there", logprobs: [{ token: " there", logprob: -0.5, bytes: null, topLogprobs: [] }] },
        { type: "finish", choice: 1, finishReason: "length" },
        usage(12, 5, 0, 2),
      ],
    });
  });

  it("ends at an error event with a retryable 502 naming the deployment, after the parts before it", () => {
    const bytes = fixture("openai-error.sse");
    for (const { name, cuts } of [{ name: "whole", cuts: [] }, ...awkwardCuts(bytes)]) {
      const { parts, error } = replay(openAiCompatibleAdapter, bytes, cuts);
      assert.deepEqual(parts, [{ type: "text-delta", choice: 0, text: "Partial" }], name);
      assert.ok(error instanceof UpstreamError, name);
      assert.deepEqual(
        { status: error.status, message: error.message, type: error.type, code: error.code, retryable: error.retryable },
        { status: 502, message: "The upstream deployment 'dep-1' failed mid-stream: The server had an error while processing your request. Sorry about that!", type: "server_error", code: "upstream_error", retryable: true },
        name,
      );
    }
  });

  it("treats a payload that is not JSON as a retryable broken stream", () => {
    const convert = openAiCompatibleAdapter.streamConverter(target);
    assert.throws(() => convert('{"choices":['), (e: unknown) => e instanceof UpstreamError && e.status === 502 && e.retryable && e.message === "The upstream deployment 'dep-1' sent a malformed stream.");
  });
});

describe("Anthropic stream converter (recorded streams)", () => {
  it("streams text blocks and sends usage at message_stop; pings give nothing", () => {
    assertReplays(anthropicAdapter, "anthropic-text.sse", {
      parts: [
        { type: "text-delta", choice: 0, text: "Hello" },
        { type: "text-delta", choice: 0, text: "! Grüße 👋 aus Zürich." },
        { type: "finish", choice: 0, finishReason: "stop" },
        usage(25, 15, 0, 0),
      ],
    });
  });

  it("numbers tool_use blocks in order, skips thinking, gives '{}' to a tool with no input, and counts cache reads and writes in the prompt", () => {
    assertReplays(anthropicAdapter, "anthropic-tools.sse", {
      parts: [
        { type: "text-delta", choice: 0, text: "Okay, let's check the weather for San Francisco, CA:" },
        { type: "tool-call-start", choice: 0, index: 0, id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", name: "get_weather" },
        { type: "tool-call-delta", choice: 0, index: 0, arguments: '{"location":' },
        { type: "tool-call-delta", choice: 0, index: 0, arguments: ' "San Francisco, CA", "unit": "fahrenheit"}' },
        { type: "tool-call-start", choice: 0, index: 1, id: "toolu_01Kx9vQpTmB2mZ8yW3cR4dFh", name: "get_time" },
        { type: "tool-call-delta", choice: 0, index: 1, arguments: "{}" },
        { type: "finish", choice: 0, finishReason: "tool_calls" },
        usage(472 + 1024 + 100, 89, 1024, 0),
      ],
    });
  });

  it("ends at an error event: overloaded is a retryable 502, after the parts before it", () => {
    const bytes = fixture("anthropic-error.sse");
    for (const { name, cuts } of [{ name: "whole", cuts: [] }, ...awkwardCuts(bytes)]) {
      const { parts, error } = replay(anthropicAdapter, bytes, cuts);
      assert.deepEqual(parts, [{ type: "text-delta", choice: 0, text: "Once upon" }], name);
      assert.ok(error instanceof UpstreamError, name);
      assert.deepEqual(
        { status: error.status, message: error.message, type: error.type, code: error.code, retryable: error.retryable },
        { status: 502, message: "The upstream deployment 'dep-1' failed mid-stream: Overloaded", type: "server_error", code: "upstream_error", retryable: true },
        name,
      );
    }
  });

  it("maps the other error types and stop reasons", () => {
    const errorOf = (type: string): { status: number; code: string | null; retryable: boolean } => {
      try {
        anthropicAdapter.streamConverter(target)(JSON.stringify({ type: "error", error: { type, message: "m" } }));
      } catch (e) {
        assert.ok(e instanceof UpstreamError);
        return { status: e.status, code: e.code, retryable: e.retryable };
      }
      assert.fail("no error");
    };
    assert.deepEqual(errorOf("rate_limit_error"), { status: 429, code: "rate_limit_exceeded", retryable: true });
    assert.deepEqual(errorOf("api_error"), { status: 502, code: "upstream_error", retryable: true });
    assert.deepEqual(errorOf("invalid_request_error"), { status: 502, code: "upstream_error", retryable: false });
    const finish = (stop_reason: string): ChatStreamPart[] => anthropicAdapter.streamConverter(target)(JSON.stringify({ type: "message_delta", delta: { stop_reason }, usage: { output_tokens: 1 } }));
    assert.deepEqual(
      ["end_turn", "stop_sequence", "max_tokens", "model_context_window_exceeded", "tool_use", "refusal", "pause_turn"].map((r) => finish(r)),
      [["stop"], ["stop"], ["length"], ["length"], ["tool_calls"], ["content_filter"], ["stop"]].map(([finishReason]) => [{ type: "finish", choice: 0, finishReason }]),
    );
  });
});

/** One request using most of what the converters translate: system and developer turns, an image, a tool round trip. */
const request = parseChatCompletionRequest({
  model: "m",
  messages: [
    { role: "system", content: "Be brief." },
    { role: "developer", content: "Use metric units." },
    { role: "user", content: [{ type: "text", text: "What is in this picture, and the weather?" }, { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=", detail: "low" } }] },
    { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Bern"}' } }] },
    { role: "tool", tool_call_id: "call_1", content: "12 °C" },
    { role: "user", content: "Thanks" },
  ],
  temperature: 0.5,
  top_p: 0.9,
  stop: ["END"],
  max_completion_tokens: 300,
  seed: 7,
  tools: [{ type: "function", function: { name: "get_weather", description: "Current weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false }, strict: true } }],
  tool_choice: "required",
  parallel_tool_calls: false,
}).request;

const weatherSchema = { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false };

describe("request converters", () => {
  it("OpenAI-compatible: every parameter as the client gave it, the upstream's model name, and usage asked for", () => {
    assert.deepEqual(toOpenAiChatBody(request, "gpt-4o", true), {
      model: "gpt-4o",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "system", content: "Use metric units." },
        {
          role: "user",
          content: [
            { type: "text", text: "What is in this picture, and the weather?" },
            { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=", detail: "low" } },
          ],
        },
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Bern"}' } }] },
        { role: "tool", tool_call_id: "call_1", content: "12 °C" },
        { role: "user", content: "Thanks" },
      ],
      stream: true,
      temperature: 0.5,
      top_p: 0.9,
      n: 1,
      stream_options: { include_usage: true },
      seed: 7,
      max_completion_tokens: 300,
      stop: ["END"],
      tools: [{ type: "function", function: { name: "get_weather", description: "Current weather", parameters: weatherSchema, strict: true } }],
      tool_choice: "required",
      parallel_tool_calls: false,
    });
  });

  it("OpenAI-compatible: dropped parameters are left out, images become plain text", () => {
    const body = toOpenAiChatBody(request, "gpt-4o", false, new Set(["seed", "stop", "image_url", "parallel_tool_calls", "temperature"]));
    assert.equal(body.stream, false);
    assert.equal("stream_options" in body, false);
    for (const name of ["seed", "stop", "parallel_tool_calls", "temperature"]) assert.equal(name in body, false, name);
    assert.deepEqual((body.messages as unknown[])[2], { role: "user", content: "What is in this picture, and the weather?" });
  });

  it("Anthropic: system on top, images as base64 sources, tool calls as tool_use, results merged into the next user turn", () => {
    assert.deepEqual(toAnthropicBody(request, "claude-sonnet-4", 1024, new Set()), {
      model: "claude-sonnet-4",
      max_tokens: 300,
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is in this picture, and the weather?" },
            { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
          ],
        },
        { role: "assistant", content: [{ type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Bern" } }] },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "call_1", content: "12 °C" },
            { type: "text", text: "Thanks" },
          ],
        },
      ],
      stream: true,
      system: "Be brief.\n\nUse metric units.",
      temperature: 0.5,
      top_p: 0.9,
      stop_sequences: ["END"],
      tools: [{ name: "get_weather", description: "Current weather", input_schema: weatherSchema }],
      tool_choice: { type: "any", disable_parallel_tool_use: true },
    });
  });

  it("Anthropic: the default output cap when none is asked, and an empty turn padded", () => {
    const bare = parseChatCompletionRequest({ model: "m", messages: [{ role: "user", content: "" }] }).request;
    assert.deepEqual(toAnthropicBody(bare, "claude", 1024, new Set()), {
      model: "claude",
      max_tokens: 1024,
      messages: [{ role: "user", content: [{ type: "text", text: " " }] }],
      stream: true,
      temperature: 1,
    });
  });

  it("adapters build the calls: URLs, auth headers, and the upstream model in forwarded and embeddings bodies", () => {
    const chat = openAiCompatibleAdapter.streamCall(target, request, new Set());
    assert.equal(chat.url, "https://upstream.example/v1/chat/completions");
    assert.deepEqual(chat.headers, { "content-type": "application/json", accept: "text/event-stream", authorization: "Bearer sk-test" });
    const forwarded = openAiCompatibleAdapter.forwardCall(target, "/responses", { model: "public", input: "hi", stream: true });
    assert.deepEqual({ url: forwarded.url, accept: forwarded.headers.accept, body: JSON.parse(String(forwarded.body)) }, { url: "https://upstream.example/v1/responses", accept: "text/event-stream", body: { model: "up-model", input: "hi", stream: true } });
    const embeddings = azureOpenAiAdapter.embeddingsCall({ ...target, baseUrl: "https://r.openai.azure.com", model: "emb 3" }, ["a", [1, 2]], 64);
    assert.deepEqual(
      { url: embeddings.url, headers: embeddings.headers, body: JSON.parse(String(embeddings.body)) },
      {
        url: "https://r.openai.azure.com/openai/deployments/emb%203/embeddings?api-version=2024-10-21",
        headers: { "content-type": "application/json", accept: "application/json", "api-key": "sk-test" },
        body: { model: "emb 3", input: ["a", [1, 2]], encoding_format: "float", dimensions: 64 },
      },
    );
    const anthropic = anthropicAdapter.streamCall(target, request, new Set());
    assert.deepEqual(anthropic.headers, { "content-type": "application/json", accept: "text/event-stream", "anthropic-version": "2023-06-01", "x-api-key": "sk-test" });
    assert.equal(anthropic.url, "https://upstream.example/v1/messages");
    assert.deepEqual([...anthropicAdapter.forwards], []);
    assert.deepEqual(openAiCompatibleAdapter.realtimeCall?.(target), { url: "wss://upstream.example/v1/realtime?model=up-model", headers: { authorization: "Bearer sk-test" } });
    assert.deepEqual(azureOpenAiAdapter.realtimeCall?.({ ...target, baseUrl: "https://r.openai.azure.com", model: "my rt" }), { url: "wss://r.openai.azure.com/openai/v1/realtime?model=my+rt", headers: { "api-key": "sk-test" } });
    assert.deepEqual([...openAiCompatibleAdapter.forwards].sort(), ["/audio/speech", "/audio/transcriptions", "/audio/translations", "/completions", "/embeddings", "/images/edits", "/images/generations", "/images/variations", "/moderations", "/realtime", "/responses"]);
  });

  it("embeddings answers: input order by index, truncated and unit length, usage or a local count; malformed ones are 502s", () => {
    const read = (text: string, dimensions?: number) => openAiCompatibleAdapter.embeddingsFrom(target, text, { model: "public", inputs: ["hello", [1, 2, 3]], dimensions });
    const answer = JSON.stringify({ object: "list", data: [{ object: "embedding", index: 1, embedding: [0, 3, 4] }, { object: "embedding", index: 0, embedding: [2, 0, 0] }], usage: { prompt_tokens: 9, total_tokens: 9 } });
    const full = read(answer);
    assert.deepEqual(full.vectors.map((v) => [...v]), [[1, 0, 0], [0, 0.6000000238418579, 0.800000011920929]]);
    assert.equal(full.promptTokens, 9);
    const cut = read(answer.replace(',"usage":{"prompt_tokens":9,"total_tokens":9}', ""), 2);
    assert.deepEqual(cut.vectors.map((v) => [...v]), [[1, 0], [0, 1]]);
    assert.equal(cut.promptTokens, 1 + 3, "one token for 'hello', three ids");
    const status = (text: string, dimensions?: number): [number, string] => {
      try {
        read(text, dimensions);
      } catch (e) {
        assert.ok(e instanceof Error && "status" in e);
        return [e.status as number, e.message];
      }
      assert.fail("no error");
    };
    assert.deepEqual(status(answer, 4), [400, "The model 'public' gives 3-dimension embeddings, fewer than 'dimensions' (4)."]);
    assert.deepEqual(status("<html>"), [502, "The upstream deployment 'dep-1' sent a malformed embeddings answer: not JSON."]);
    assert.deepEqual(status(JSON.stringify({ data: [{ embedding: [1] }] })), [502, "The upstream deployment 'dep-1' sent a malformed embeddings answer: expected 2 embeddings."]);
    assert.deepEqual(status(JSON.stringify({ data: [{ index: 0, embedding: [1] }, { index: 0, embedding: [1] }] })), [502, "The upstream deployment 'dep-1' sent a malformed embeddings answer: bad or repeated index."]);
    assert.deepEqual(status(JSON.stringify({ data: [{ embedding: [1] }, { embedding: [1, 2] }] })), [502, "The upstream deployment 'dep-1' sent a malformed embeddings answer: embeddings of different lengths."]);
    assert.deepEqual(status(JSON.stringify({ data: [{ embedding: [1] }, { embedding: ["x"] }] })), [502, "The upstream deployment 'dep-1' sent a malformed embeddings answer: an embedding is not a list of numbers."]);
  });
});
