import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { assertSchema } from "../helpers/openapi.ts";
import { raw, startTestServer, type TestServer } from "../helpers/server.ts";

const KEY = "sk-test-bad-requests-0123456789";
let server: TestServer;
before(async () => {
  server = await startTestServer({ env: { MODELPORT_API_KEYS: KEY, MODELPORT_BODY_LIMIT: "65536" } });
});
after(async () => {
  await server.close();
});

const ok = { model: "stories", messages: [{ role: "user" as const, content: "Once upon a time" }], max_tokens: 3 };
const withBody = (extra: Record<string, unknown>) => JSON.stringify({ ...ok, ...extra });
const msgs = (messages: unknown) => withBody({ messages });
const TOOL = { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } };
const DEEP = Array.from({ length: 11 }).reduce<Record<string, unknown>>((inner) => ({ type: "object", properties: { a: inner } }), { type: "string" });

interface Case {
  name: string;
  path?: string;
  method?: string;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  status: number;
  type?: string;
  code: string | null;
  param: string | null;
}

const cases: Case[] = [
  { name: "malformed JSON", body: '{"model":', status: 400, code: "invalid_json", param: null },
  { name: "empty body", body: "", status: 400, code: "invalid_json", param: null },
  { name: "JSON array instead of object", body: "[1,2]", status: 400, code: "invalid_type", param: "body" },
  { name: "bytes that are not UTF-8", body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), status: 400, code: "invalid_encoding", param: null },
  { name: "body over the limit", body: withBody({ user: "x".repeat(70_000) }), status: 413, code: "request_too_large", param: null },
  { name: "missing model", body: JSON.stringify({ messages: ok.messages }), status: 400, code: "missing_required_parameter", param: "model" },
  { name: "model of the wrong type", body: withBody({ model: 42 }), status: 400, code: "invalid_type", param: "model" },
  { name: "unknown model", body: withBody({ model: "gpt-9-ultra" }), status: 404, code: "model_not_found", param: "model" },
  { name: "missing messages", body: JSON.stringify({ model: "stories" }), status: 400, code: "missing_required_parameter", param: "messages" },
  { name: "empty messages", body: msgs([]), status: 400, code: "empty_array", param: "messages" },
  { name: "messages not an array", body: msgs("hello"), status: 400, code: "invalid_type", param: "messages" },
  { name: "message that is a string", body: msgs(["hello"]), status: 400, code: "invalid_type", param: "messages[0]" },
  { name: "message without role", body: msgs([{ content: "hi" }]), status: 400, code: "missing_required_parameter", param: "messages[0].role" },
  { name: "unknown role", body: msgs([{ role: "wizard", content: "hi" }]), status: 400, code: "invalid_value", param: "messages[0].role" },
  { name: "content of the wrong type", body: msgs([{ role: "user", content: 5 }]), status: 400, code: "invalid_type", param: "messages[0].content" },
  { name: "user message without content", body: msgs([{ role: "user" }]), status: 400, code: "missing_required_parameter", param: "messages[0].content" },
  { name: "unknown field in a message", body: msgs([{ role: "user", content: "hi", mood: "happy" }]), status: 400, code: "unknown_parameter", param: "messages[0].mood" },
  { name: "unknown content part type", body: msgs([{ role: "user", content: [{ type: "video", video: "x" }] }]), status: 400, code: "invalid_value", param: "messages[0].content[0].type" },
  { name: "image input to a local model", body: msgs([{ role: "user", content: [{ type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }] }]), status: 400, code: "unsupported_content_type", param: "messages[0].content[0]" },
  { name: "tool message without a preceding call", body: msgs([{ role: "user", content: "hi" }, { role: "tool", content: "42", tool_call_id: "call_x" }]), status: 400, code: null, param: "messages[1].tool_call_id" },
  { name: "unrecognized top-level argument", body: withBody({ temperture: 0.5 }), status: 400, code: "unknown_parameter", param: "temperture" },
  { name: "temperature above 2", body: withBody({ temperature: 3 }), status: 400, code: "decimal_above_max_value", param: "temperature" },
  { name: "temperature as a string", body: withBody({ temperature: "hot" }), status: 400, code: "invalid_type", param: "temperature" },
  { name: "top_p below 0", body: withBody({ top_p: -0.1 }), status: 400, code: "decimal_below_min_value", param: "top_p" },
  { name: "max_tokens of 0", body: withBody({ max_tokens: 0 }), status: 400, code: "integer_below_min_value", param: "max_tokens" },
  { name: "max_tokens not an integer", body: withBody({ max_tokens: 1.5 }), status: 400, code: "invalid_type", param: "max_tokens" },
  { name: "max_tokens and max_completion_tokens together", body: withBody({ max_completion_tokens: 3 }), status: 400, code: null, param: "max_tokens" },
  { name: "n of 0", body: withBody({ n: 0 }), status: 400, code: "integer_below_min_value", param: "n" },
  { name: "n above 128", body: withBody({ n: 129 }), status: 400, code: "integer_above_max_value", param: "n" },
  { name: "five stop sequences", body: withBody({ stop: ["a", "b", "c", "d", "e"] }), status: 400, code: "array_above_max_length", param: "stop" },
  { name: "stop entry not a string", body: withBody({ stop: [1] }), status: 400, code: "invalid_type", param: "stop[0]" },
  { name: "empty stop string", body: withBody({ stop: "" }), status: 400, code: "empty_string", param: "stop" },
  { name: "presence_penalty above 2", body: withBody({ presence_penalty: 2.5 }), status: 400, code: "decimal_above_max_value", param: "presence_penalty" },
  { name: "frequency_penalty below -2", body: withBody({ frequency_penalty: -3 }), status: 400, code: "decimal_below_min_value", param: "frequency_penalty" },
  { name: "seed not an integer", body: withBody({ seed: 1.5 }), status: 400, code: "invalid_type", param: "seed" },
  { name: "stream not a boolean", body: withBody({ stream: "yes" }), status: 400, code: "invalid_type", param: "stream" },
  { name: "stream_options without stream", body: withBody({ stream_options: { include_usage: true } }), status: 400, code: null, param: "stream_options" },
  { name: "unknown stream option", body: withBody({ stream: true, stream_options: { include_everything: true } }), status: 400, code: "unknown_parameter", param: "stream_options.include_everything" },
  { name: "metadata value not a string", body: withBody({ metadata: { k: 1 } }), status: 400, code: "invalid_type", param: "metadata.k" },
  { name: "audio without the audio modality", body: withBody({ audio: { voice: "alloy", format: "mp3" } }), status: 400, code: "invalid_value", param: "audio" },
  { name: "prediction (rejected)", body: withBody({ prediction: { type: "content", content: "x" } }), status: 400, code: "unsupported_parameter", param: "prediction" },
  { name: "web_search_options (rejected)", body: withBody({ web_search_options: {} }), status: 400, code: "unsupported_parameter", param: "web_search_options" },
  { name: "function name with spaces", body: withBody({ tools: [{ type: "function", function: { name: "get weather" } }] }), status: 400, code: "invalid_value", param: "tools[0].function.name" },
  { name: "tool of an unsupported type", body: withBody({ tools: [{ type: "custom", custom: { name: "x" } }] }), status: 400, code: "unsupported_parameter", param: "tools[0].type" },
  { name: "tool_choice naming an unknown function", body: withBody({ tools: [TOOL], tool_choice: { type: "function", function: { name: "nope" } } }), status: 400, code: "invalid_value", param: "tool_choice.function.name" },
  { name: "tool_choice without tools", body: withBody({ tool_choice: "required" }), status: 400, code: null, param: "tool_choice" },
  { name: "tools and functions together", body: withBody({ tools: [TOOL], functions: [{ name: "f" }] }), status: 400, code: null, param: "functions" },
  { name: "strict schema with 'not'", body: withBody({ response_format: { type: "json_schema", json_schema: { name: "x", strict: true, schema: { type: "object", properties: { a: { not: { type: "string" } } } } } } }), status: 400, code: "invalid_schema", param: "response_format.json_schema.schema.properties.a.not" },
  { name: "strict schema with an unsupported format", body: withBody({ response_format: { type: "json_schema", json_schema: { name: "x", strict: true, schema: { type: "object", properties: { a: { type: "string", format: "uri" } }, required: ["a"], additionalProperties: false } } } }), status: 400, code: "invalid_schema", param: "response_format.json_schema.schema.properties.a.format" },
  { name: "schema nested too deep", body: withBody({ response_format: { type: "json_schema", json_schema: { name: "x", schema: DEEP } } }), status: 400, code: "invalid_schema", param: "response_format.json_schema.schema" + ".properties.a".repeat(10) },
  { name: "unknown response_format type", body: withBody({ response_format: { type: "yaml" } }), status: 400, code: "invalid_value", param: "response_format.type" },
  { name: "top_logprobs without logprobs", body: withBody({ top_logprobs: 3 }), status: 400, code: null, param: "top_logprobs" },
  { name: "top_logprobs above 20", body: withBody({ logprobs: true, top_logprobs: 21 }), status: 400, code: "integer_above_max_value", param: "top_logprobs" },
  { name: "logprobs with a JSON mode", body: withBody({ logprobs: true, response_format: { type: "json_object" } }), status: 400, code: "unsupported_parameter", param: "logprobs" },
  { name: "logit_bias key that is not a token id", body: withBody({ logit_bias: { abc: 1 } }), status: 400, code: "invalid_value", param: "logit_bias.abc" },
  { name: "logit_bias above 100", body: withBody({ logit_bias: { "5": 150 } }), status: 400, code: "decimal_above_max_value", param: "logit_bias.5" },
  { name: "logit_bias token outside the vocabulary", body: withBody({ logit_bias: { "99999": 5 } }), status: 400, code: "invalid_value", param: "logit_bias.99999" },
  { name: "reasoning_effort for a model that does not reason", body: withBody({ reasoning_effort: "low" }), status: 400, code: "unsupported_parameter", param: "reasoning_effort" },
  { name: "reasoning_effort that does not exist", body: withBody({ reasoning_effort: "extreme" }), status: 400, code: "invalid_value", param: "reasoning_effort" },
  { name: "image data URL of a non-image type", body: msgs([{ role: "user", content: [{ type: "image_url", image_url: { url: "data:text/plain;base64,aGVsbG8=" } }] }]), status: 400, code: "invalid_image_format", param: "messages[0].content[0]" },
  { name: "image data URL with broken base64", body: msgs([{ role: "user", content: [{ type: "image", image: "data:image/png;base64,@@@" }] }]), status: 400, code: "invalid_base64", param: "messages[0].content[0]" },
  { name: "image detail that does not exist", body: msgs([{ role: "user", content: [{ type: "image_url", image_url: { url: "https://example.com/a.png", detail: "ultra" } }] }]), status: 400, code: "invalid_value", param: "messages[0].content[0].detail" },
  { name: "unknown route", path: "/v1/chat/complete", body: withBody({}), status: 404, code: "unknown_url", param: null },
  { name: "wrong method on a route", path: "/v1/chat/completions", method: "DELETE", status: 404, code: "unknown_url", param: null },
  { name: "bad percent-encoding in a path", path: "/v1/models/%E4%zz", method: "GET", status: 400, code: "invalid_url", param: null },
  { name: "missing API key", body: withBody({}), headers: { authorization: "" }, status: 401, type: "authentication_error", code: "invalid_api_key", param: null },
  { name: "wrong API key", body: withBody({}), headers: { authorization: "Bearer sk-wrong" }, status: 401, type: "authentication_error", code: "invalid_api_key", param: null },
  { name: "not Bearer auth", body: withBody({}), headers: { authorization: `Basic ${KEY}` }, status: 401, type: "authentication_error", code: "invalid_api_key", param: null },
];

describe("bad requests get the exact status and OpenAI's error envelope", () => {
  it(`covers ${cases.length} distinct cases`, () => {
    assert.ok(cases.length >= 25);
  });

  for (const c of cases) {
    it(c.name, async () => {
      const res = await raw(server, c.path ?? "/v1/chat/completions", {
        ...(c.method ? { method: c.method } : {}),
        ...(c.body !== undefined ? { body: c.body } : {}),
        headers: { authorization: `Bearer ${KEY}`, ...c.headers },
      });
      assert.equal(res.status, c.status, res.text);
      assertSchema("ErrorResponse", res.body);
      const error = (res.body as { error: { type: string; code: string | null; param: string | null; message: string } }).error;
      assert.equal(error.type, c.type ?? "invalid_request_error");
      assert.equal(error.code, c.code);
      assert.equal(error.param, c.param);
      assert.ok(error.message.length > 10);
      assert.match(res.headers.get("x-request-id") ?? "", /^req_[0-9a-f]{32}$/);
      assert.ok(!res.text.includes(KEY), "the key never appears in a response");
    });
  }

  it("keeps serving while bad requests and broken connections arrive alongside a stream", async () => {
    const garbage = new Promise<string>((resolve) => {
      const socket = connect(server.port, "127.0.0.1", () => socket.end("NOT HTTP AT ALL\r\n\r\n"));
      let text = "";
      socket.on("data", (d) => (text += d.toString()));
      socket.on("close", () => resolve(text));
      socket.on("error", () => resolve(text));
    });
    const halfBody = new Promise<void>((resolve) => {
      const socket = connect(server.port, "127.0.0.1", () => {
        socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"model":"sto`);
        setTimeout(() => socket.destroy(), 50);
      });
      socket.on("close", () => resolve());
      socket.on("error", () => resolve());
    });
    const client = server.client.withOptions({ apiKey: KEY });
    const stream = client.chat.completions.create({ ...ok, max_tokens: 30, stream: true } as const);
    const bad = Promise.all(cases.slice(0, 10).map((c) => raw(server, "/v1/chat/completions", { body: c.body ?? "", headers: { authorization: `Bearer ${KEY}` } })));
    let text = "";
    for await (const chunk of await stream) text += chunk.choices[0]?.delta.content ?? "";
    const [garbageReply] = await Promise.all([garbage, halfBody, bad]);
    assert.match(garbageReply, /^HTTP\/1\.1 400/);
    assert.ok(text.length > 0);
    const after = await client.chat.completions.create(ok);
    assertSchema("CreateChatCompletionResponse", after);
  });

  it("accepts a valid request with the key, and echoes a caller's x-request-id", async () => {
    const res = await raw(server, "/v1/chat/completions", {
      body: withBody({ user: "u-1", metadata: { team: "ops" }, store: false, temperature: 0, top_p: 0.9, presence_penalty: -1, frequency_penalty: 1.5, seed: -12345678901, logprobs: false, tools: null }),
      headers: { authorization: `Bearer ${KEY}`, "x-request-id": "trace-abc.123" },
    });
    assert.equal(res.status, 200, res.text);
    assertSchema("CreateChatCompletionResponse", res.body);
    assert.equal(res.headers.get("x-request-id"), "trace-abc.123");
  });
});
