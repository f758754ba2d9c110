import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import type { ChatStreamPart, TokenLogprob } from "../../src/core/chat.ts";
import { ApiError } from "../../src/core/errors.ts";
import { HONOURED_PARAMETERS, REJECTED_PARAMETERS, parseResponsesRequest } from "../../src/protocol/openai/responses-parse.ts";
import {
  ResponseStreamBuilder,
  collectResponse,
  renderErrorEvent,
  type ResponseStreamEvent,
} from "../../src/protocol/openai/responses-stream.ts";
import { itemsToChatMessages, toChatRequest } from "../../src/protocol/openai/responses-to-chat.ts";
import type { ResponseInputItem, ResponseOutputItem } from "../../src/protocol/openai/responses-types.ts";
import { SPEC_PATH, assertSchema } from "../helpers/openapi.ts";
import { checkEvents } from "../helpers/response-events.ts";

const PNG_1X1 =
  "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
const base = { model: "m", input: "hi" };
const weather = { type: "function", name: "get_weather", description: "Weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }, strict: false };

function rejects(body: Record<string, unknown>, param: string, code?: string | RegExp, message?: RegExp): void {
  assert.throws(
    () => parseResponsesRequest(body),
    (e: unknown) => {
      assert.ok(e instanceof ApiError, `expected an ApiError, got ${String(e)}`);
      assert.equal(e.status, 400);
      assert.equal(e.type, "invalid_request_error");
      assert.equal(e.param, param, e.message);
      if (typeof code === "string") assert.equal(e.code, code, e.message);
      else if (code) assert.match(e.code ?? "", code);
      if (message) assert.match(e.message, message);
      return true;
    },
  );
}

function specFields(): string[] {
  type Schema = { $ref?: string; allOf?: Schema[]; properties?: Record<string, unknown> };
  const schemas = (JSON.parse(readFileSync(SPEC_PATH, "utf8")) as { components: { schemas: Record<string, Schema> } }).components.schemas;
  const walk = (s: Schema): string[] => {
    if (s.$ref) return walk(schemas[s.$ref.split("/").pop() ?? ""] ?? {});
    return [...(s.allOf ?? []).flatMap(walk), ...Object.keys(s.properties ?? {})];
  };
  return [...new Set(walk(schemas.CreateResponse ?? {}))];
}


function run(builder: ResponseStreamBuilder, parts: readonly ChatStreamPart[]): ResponseStreamEvent[] {
  return [...builder.start(), ...parts.flatMap((p) => builder.push(p)), ...builder.end()];
}

const usage: ChatStreamPart = { type: "usage", usage: { promptTokens: 12, completionTokens: 5, cachedTokens: 4, reasoningTokens: 0 } };

describe("Responses request parsing", () => {
  test("classifies every field of CreateResponse", () => {
    const fields = specFields();
    assert.ok(fields.length >= 30);
    const known = new Set([...HONOURED_PARAMETERS, ...REJECTED_PARAMETERS]);
    assert.deepEqual(fields.filter((f) => !known.has(f)), [], "fields the server does not classify");
    assert.deepEqual([...known].filter((f) => !fields.includes(f)), [], "classified fields the spec lacks");
  });

  test("a string input is one user message, with OpenAI's defaults", () => {
    const req = parseResponsesRequest(base);
    assert.deepEqual(req.input, [{ type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] }]);
    assert.equal(req.store, true);
    assert.equal(req.stream, false);
    assert.equal(req.background, false);
    assert.equal(req.truncation, "disabled");
    assert.equal(req.parallelToolCalls, true);
    assert.equal(req.toolChoice, "none");
    assert.deepEqual(req.echo, { tools: [], toolChoice: "auto", textFormat: { type: "text" } });
    assert.deepEqual(req.metadata, {});
    assert.deepEqual(req.include, []);
  });

  test("parses every supported input item form", () => {
    const req = parseResponsesRequest({
      model: "m",
      instructions: "Be brief.",
      input: [
        { role: "developer", content: "Answer in French." },
        { role: "system", content: [{ type: "input_text", text: "sys" }] },
        {
          type: "message",
          role: "user",
          content: [
            { type: "input_text", text: "What is this?" },
            { type: "input_image", image_url: "https://example.com/a.png", detail: "low" },
            { type: "input_image", image_url: PNG_1X1 },
            { type: "input_image", file_id: "file-123", detail: "high" },
            { type: "input_file", file_id: "file-456" },
            { type: "input_file", filename: "a.txt", file_data: "data:text/plain;base64,aGk=" },
          ],
        },
        { role: "assistant", content: "A cat." },
        { type: "message", id: "msg_1", role: "assistant", status: "completed", content: [{ type: "output_text", text: "Yes", annotations: [], logprobs: [] }, { type: "refusal", refusal: "No" }] },
        { type: "function_call", id: "fc_1", call_id: "call_1", name: "get_weather", arguments: "{\"city\":\"Paris\"}", status: "completed" },
        { type: "function_call_output", call_id: "call_1", output: "sunny" },
        { type: "function_call_output", call_id: "call_1", output: [{ type: "input_text", text: "still " }, { type: "input_text", text: "sunny" }] },
        { type: "item_reference", id: "msg_old" },
        { id: "fc_old" },
      ],
    });
    assert.equal(req.instructions, "Be brief.");
    const expected: ResponseInputItem[] = [
      { type: "message", role: "developer", content: [{ type: "input_text", text: "Answer in French." }] },
      { type: "message", role: "system", content: [{ type: "input_text", text: "sys" }] },
      {
        type: "message",
        role: "user",
        content: [
          { type: "input_text", text: "What is this?" },
          { type: "input_image", image_url: "https://example.com/a.png", file_id: null, detail: "low" },
          { type: "input_image", image_url: PNG_1X1, file_id: null, detail: "auto" },
          { type: "input_image", image_url: null, file_id: "file-123", detail: "high" },
          { type: "input_file", file_id: "file-456" },
          { type: "input_file", file_id: null, file_data: "data:text/plain;base64,aGk=", filename: "a.txt" },
        ],
      },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "A cat.", annotations: [], logprobs: [] }] },
      { type: "message", id: "msg_1", role: "assistant", status: "completed", content: [{ type: "output_text", text: "Yes", annotations: [], logprobs: [] }, { type: "refusal", refusal: "No" }] },
      { type: "function_call", id: "fc_1", call_id: "call_1", name: "get_weather", arguments: "{\"city\":\"Paris\"}", status: "completed" },
      { type: "function_call_output", call_id: "call_1", output: "sunny" },
      { type: "function_call_output", call_id: "call_1", output: [{ type: "input_text", text: "still " }, { type: "input_text", text: "sunny" }] },
      { type: "item_reference", id: "msg_old" },
      { type: "item_reference", id: "fc_old" },
    ];
    assert.deepEqual(req.input, expected);
    // The normalised items are themselves valid wire items, ready to be stored and listed back.
    assertSchema("InputMessage", req.input[2]);
    assertSchema("OutputMessage", req.input[4]);
    assertSchema("FunctionToolCall", req.input[5]);
    assertSchema("FunctionCallOutputItemParam", req.input[6]);
    assertSchema("FunctionCallOutputItemParam", req.input[7]);
    assertSchema("ItemReferenceParam", req.input[8]);
  });

  test("parses tools, tool_choice, text.format, reasoning and the other honoured settings", () => {
    const schema = { type: "object", properties: { answer: { type: "string" } }, required: ["answer"], additionalProperties: false };
    const req = parseResponsesRequest({
      ...base,
      tools: [weather, { type: "function", name: "noop", parameters: null, strict: null }],
      tool_choice: { type: "function", name: "get_weather" },
      parallel_tool_calls: false,
      max_output_tokens: 64,
      temperature: 0.2,
      top_p: 0.9,
      top_logprobs: 3,
      include: ["message.output_text.logprobs", "reasoning.encrypted_content"],
      reasoning: { effort: "low", summary: "auto" },
      metadata: { team: "a" },
      truncation: "auto",
      stream: true,
      stream_options: { include_obfuscation: false },
      user: "u",
      safety_identifier: "s",
      prompt_cache_key: "k",
      service_tier: "auto",
      max_tool_calls: 3,
      previous_response_id: "resp_1",
      store: true,
      background: true,
    });
    assert.deepEqual(req.tools.map((t) => [t.name, t.strict]), [["get_weather", false], ["noop", false]]);
    assert.deepEqual(req.tools[0]?.wireParameters, weather.parameters);
    assert.deepEqual(req.toolChoice, { name: "get_weather" });
    assert.deepEqual(req.echo.tools, [
      { type: "function", name: "get_weather", description: "Weather", parameters: weather.parameters, strict: false },
      { type: "function", name: "noop", description: null, parameters: null, strict: null },
    ]);
    assert.deepEqual(req.echo.toolChoice, { type: "function", name: "get_weather" });
    assert.equal(req.includeObfuscation, false);
    assert.equal(req.reasoningEffort, "low");
    assert.equal(req.previousResponseId, "resp_1");

    const chat = toChatRequest(req, itemsToChatMessages(req.instructions, req.input));
    assert.equal(chat.maxTokens, 64);
    assert.equal(chat.n, 1);
    assert.deepEqual(chat.stop, []);
    assert.equal(chat.sampling.temperature, 0.2);
    assert.equal(chat.sampling.topP, 0.9);
    assert.equal(chat.topLogprobs, 3);
    assert.equal(chat.parallelToolCalls, false);
    assert.equal(chat.reasoningEffort, "low");
    assert.equal(chat.priority, "interactive");

    const json = parseResponsesRequest({ ...base, text: { format: { type: "json_schema", name: "answer", schema, strict: true, description: "d" }, verbosity: "medium" }, conversation: { id: "conv_1" } });
    assert.equal(json.conversation, "conv_1");
    assert.deepEqual(json.echo.textFormat, { type: "json_schema", name: "answer", schema, strict: true, description: "d" });
    assert.equal(json.responseFormat.type, "json_schema");
    const chatJson = toChatRequest(json, []);
    assert.deepEqual(chatJson.responseFormat.type === "json_schema" && chatJson.responseFormat.wireSchema, schema);
    assert.equal(chatJson.sampling.temperature, 1);
    assert.equal(chatJson.sampling.topP, 1);
    assert.equal(chatJson.topLogprobs, undefined);
    assert.equal(parseResponsesRequest({ ...base, conversation: "conv_2" }).conversation, "conv_2");
  });

  test("allowed_tools offers the model only the allowed functions", () => {
    const req = parseResponsesRequest({
      ...base,
      tools: [weather, { ...weather, name: "other" }],
      tool_choice: { type: "allowed_tools", mode: "required", tools: [{ type: "function", name: "other" }] },
    });
    assert.deepEqual(req.tools.map((t) => t.name), ["other"]);
    assert.equal(req.toolChoice, "required");
    assert.deepEqual(req.echo.toolChoice, { type: "allowed_tools", mode: "required", tools: [{ type: "function", name: "other" }] });
  });

  test("rejects bad requests with OpenAI's param paths and codes", () => {
    rejects({ input: "hi" }, "model", "missing_required_parameter");
    rejects({ model: "m" }, "input", "missing_required_parameter");
    rejects({ model: "m", input: 5 }, "input", "invalid_type");
    rejects({ ...base, foo: 1 }, "foo", "unknown_parameter", /Unrecognized request argument/);
    rejects({ model: "m", input: [{ role: "user", content: "a" }, { role: "user", content: [{ type: "input_text", text: 3 }] }] }, "input[1].content[0].text", "invalid_type");
    rejects({ model: "m", input: [{ role: "user", content: 3 }] }, "input[0].content", "invalid_type");
    rejects({ model: "m", input: [{ role: "tool", content: "x" }] }, "input[0].role", "invalid_value");
    rejects({ model: "m", input: [{ role: "user", content: "x", bogus: true }] }, "input[0].bogus", "unknown_parameter");
    rejects({ model: "m", input: [{ role: "assistant", content: [{ type: "input_text", text: "x" }] }] }, "input[0].content[0].type", "invalid_value");
    rejects({ model: "m", input: [{ role: "user", content: [{ type: "input_image", image_url: "ftp://x/y.png" }] }] }, "input[0].content[0].image_url", "invalid_image_url");
    rejects({ model: "m", input: [{ role: "system", content: [{ type: "input_image", image_url: "https://x/y.png" }] }] }, "input[0].content[0].type", "unsupported_content_type");
    rejects({ model: "m", input: [{ type: "function_call", name: "f", arguments: "{}" }] }, "input[0].call_id", "missing_required_parameter");
    rejects({ model: "m", input: [{ type: "reasoning", id: "rs_1", summary: [] }] }, "input[0].type", "unsupported_parameter");
    rejects({ model: "m", input: [{ type: "bogus" }] }, "input[0].type", "invalid_value");
    rejects({ ...base, tools: [weather, { type: "computer_use_preview" }] }, "tools[1].type", "unsupported_parameter", /not supported: of the built-in tools this server has/);
    rejects({ ...base, tools: [{ type: "function", name: "bad name" }] }, "tools[0].name", "invalid_value");
    rejects({ ...base, tools: [weather, weather] }, "tools[1].name", "invalid_value");
    rejects({ ...base, tools: [weather], tool_choice: { type: "function", name: "nope" } }, "tool_choice.name", "invalid_value");
    rejects({ ...base, tool_choice: "required" }, "tool_choice");
    rejects({ ...base, tool_choice: { type: "computer_use_preview" } }, "tool_choice.type", "unsupported_parameter");
    rejects({ ...base, metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])) }, "metadata", "object_above_max_properties");
    rejects({ ...base, metadata: { k: 1 } }, "metadata.k", "invalid_type");
    rejects({ ...base, metadata: { k: "x".repeat(513) } }, "metadata.k", "string_above_max_length");
    rejects({ ...base, previous_response_id: "resp_1", conversation: "conv_1" }, "conversation", "mutually_exclusive_parameters");
    rejects({ ...base, text: { format: { type: "json_schema", schema: { type: "object" } } } }, "text.format.name", "missing_required_parameter");
    rejects({ ...base, text: { format: { type: "json_schema", name: "x", strict: true, schema: { type: "object", not: {} } } } }, "text.format.schema.not", "invalid_schema");
    rejects({ ...base, text: { format: { type: "xml" } } }, "text.format.type", "invalid_value");
    rejects({ ...base, text: { verbosity: "low" } }, "text.verbosity", "unsupported_parameter");
    rejects({ ...base, max_output_tokens: 8 }, "max_output_tokens", "integer_below_min_value");
    rejects({ ...base, temperature: 2.5 }, "temperature", "decimal_above_max_value");
    rejects({ ...base, top_p: "1" }, "top_p", "invalid_type");
    rejects({ ...base, include: ["bogus"] }, "include[0]", "invalid_value");
    rejects({ ...base, stream_options: { include_obfuscation: false } }, "stream_options");
    rejects({ ...base, service_tier: "flex" }, "service_tier", "unsupported_parameter");
    rejects({ ...base, reasoning: { summary: "detailed" } }, "reasoning.summary", "unsupported_parameter");
    rejects({ ...base, store: false, background: true }, "background", "invalid_value");
    rejects({ ...base, safety_identifier: "x".repeat(65) }, "safety_identifier", "string_above_max_length");
  });

  test("rejects every field it cannot honour by name, and takes null as the default", () => {
    const samples: Record<string, unknown> = {
      prompt: { id: "pmpt_1" },
      prompt_cache_retention: "24h",
      prompt_cache_options: { ttl: "30m" },
      moderation: { model: "omni-moderation-latest" },
      context_management: [{ type: "compaction" }],
    };
    for (const field of REJECTED_PARAMETERS) {
      rejects({ ...base, [field]: samples[field] }, field, "unsupported_parameter");
      parseResponsesRequest({ ...base, [field]: null });
    }
  });
});

describe("Responses items to chat messages", () => {
  test("converts a tool loop: instructions, calls joined into one assistant turn, outputs as tool messages", () => {
    const req = parseResponsesRequest({
      model: "m",
      instructions: "Be brief.",
      input: [
        { role: "developer", content: "dev" },
        { role: "user", content: [{ type: "input_text", text: "Weather in " }, { type: "input_text", text: "Paris?" }, { type: "input_image", image_url: PNG_1X1 }] },
        { role: "assistant", content: "Checking." },
        { type: "function_call", call_id: "call_1", name: "get_weather", arguments: "{\"city\":\"Paris\"}" },
        { type: "function_call", call_id: "call_2", name: "get_weather", arguments: "{\"city\":\"Lyon\"}" },
        { type: "function_call_output", call_id: "call_1", output: "sunny" },
        { type: "function_call_output", call_id: "call_2", output: [{ type: "input_text", text: "rain" }] },
        { type: "function_call", call_id: "call_3", name: "get_weather", arguments: "{}" },
        { type: "function_call_output", call_id: "call_3", output: "?" },
      ],
    });
    const messages = itemsToChatMessages(req.instructions, req.input);
    assert.equal(messages.length, 8);
    assert.deepEqual(messages[0], { role: "system", content: "Be brief." });
    assert.deepEqual(messages[1], { role: "system", content: "dev" });
    const user = messages[2];
    assert.ok(user?.role === "user");
    assert.equal(user.content, "Weather in Paris?");
    assert.deepEqual(user.parts.map((p) => p.type), ["text", "text", "image"]);
    assert.equal(user.parts[2]?.type === "image" && user.parts[2].param, "input[1].content[2]");
    assert.deepEqual(messages[3], {
      role: "assistant",
      content: "Checking.",
      toolCalls: [
        { id: "call_1", name: "get_weather", arguments: "{\"city\":\"Paris\"}" },
        { id: "call_2", name: "get_weather", arguments: "{\"city\":\"Lyon\"}" },
      ],
    });
    assert.deepEqual(messages[4], { role: "tool", content: "sunny", toolCallId: "call_1" });
    assert.deepEqual(messages[5], { role: "tool", content: "rain", toolCallId: "call_2" });
    assert.deepEqual(messages[6], { role: "assistant", content: "", toolCalls: [{ id: "call_3", name: "get_weather", arguments: "{}" }] });
    assert.deepEqual(messages[7], { role: "tool", content: "?", toolCallId: "call_3" });
  });

  test("takes a stored response's output items as history", () => {
    const history: ResponseOutputItem[] = [
      { type: "message", id: "msg_1", status: "completed", role: "assistant", content: [{ type: "output_text", text: "Let me look.", annotations: [], logprobs: [] }] },
      { type: "function_call", id: "fc_1", call_id: "call_9", name: "lookup", arguments: "{}", status: "completed" },
    ];
    const input = parseResponsesRequest({ model: "m", previous_response_id: "resp_1", input: [{ type: "function_call_output", call_id: "call_9", output: "42" }] }).input;
    const messages = itemsToChatMessages(undefined, [{ type: "message", role: "user", content: [{ type: "input_text", text: "q" }] }, ...history, ...input], { firstInputIndex: 3 });
    assert.deepEqual(messages.slice(1), [
      { role: "assistant", content: "Let me look.", toolCalls: [{ id: "call_9", name: "lookup", arguments: "{}" }] },
      { role: "tool", content: "42", toolCallId: "call_9" },
    ]);
  });

  test("refuses outputs without a call, files, file ids and unresolved references", () => {
    const bad = (items: ResponseInputItem[], param: string) =>
      assert.throws(() => itemsToChatMessages(undefined, items, { firstInputIndex: 1 }), (e: unknown) => e instanceof ApiError && e.status === 400 && e.param === param);
    const user: ResponseInputItem = { type: "message", role: "user", content: [{ type: "input_text", text: "x" }] };
    bad([user, { type: "function_call_output", call_id: "call_x", output: "1" }], "input[0].call_id");
    bad([user, { type: "message", role: "user", content: [{ type: "input_file", file_id: "file-1" }] }], "input[0].content[0].type");
    bad([user, { type: "message", role: "user", content: [{ type: "input_image", image_url: null, file_id: "file-1", detail: "auto" }] }], "input[0].content[0].file_id");
    assert.throws(() => itemsToChatMessages(undefined, [{ type: "item_reference", id: "msg_1" }]), /not resolved/);
  });
});

describe("Responses stream builder", () => {
  test("streams a text answer in OpenAI's event order, every event valid", async () => {
    const req = parseResponsesRequest({ ...base, stream: true, instructions: "Be kind.", metadata: { a: "b" } });
    const builder = new ResponseStreamBuilder({ request: req, model: "served-model" });
    const parts: ChatStreamPart[] = [
      { type: "text-delta", choice: 0, text: "Hello" },
      { type: "text-delta", choice: 0, text: ", " },
      { type: "text-delta", choice: 1, text: "ignored" },
      { type: "text-delta", choice: 0, text: "world" },
      { type: "finish", choice: 0, finishReason: "stop" },
      usage,
    ];
    const events = run(builder, parts);
    checkEvents(events);
    assert.deepEqual(events.map((e) => e.type), [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    const deltas = events.flatMap((e) => (e.type === "response.output_text.delta" ? [e.delta] : []));
    const { logprobs: _dropped, ...withoutLogprobs } = events[4] as ResponseStreamEvent & { logprobs: unknown };
    assert.throws(() => assertSchema("ResponseTextDeltaEvent", withoutLogprobs), /logprobs/, "the schema check has teeth");
    assert.ok(events.every((e) => e.type !== "response.output_text.delta" || typeof e.obfuscation === "string"), "obfuscation is on by default");

    const final = builder.response;
    assertSchema("Response", final);
    assert.equal(final.status, "completed");
    assert.equal(final.model, "served-model");
    assert.equal(final.instructions, "Be kind.");
    assert.ok(final.id.startsWith("resp_"));
    assert.ok(typeof final.completed_at === "number");
    assert.deepEqual(final.metadata, { a: "b" });
    assert.deepEqual(final.usage, { input_tokens: 12, input_tokens_details: { cached_tokens: 4, cache_write_tokens: 0 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 17 });
    assert.equal(final.output.length, 1);
    const message = final.output[0];
    assert.ok(message?.type === "message");
    assert.ok(message.id.startsWith("msg_"));
    assert.equal(message.status, "completed");
    assert.deepEqual(message.content, [{ type: "output_text", text: "Hello, world", annotations: [], logprobs: [] }]);
    assert.equal(deltas.join(""), "Hello, world");
    assert.deepEqual(builder.output, final.output);

    const created = events[0];
    assert.ok(created?.type === "response.created");
    assert.equal(created.response.status, "in_progress");
    assert.deepEqual(created.response.output, []);
    assert.equal(created.response.usage, undefined);
    const added = events[2];
    assert.ok(added?.type === "response.output_item.added" && added.item.type === "message");
    assert.equal(added.item.status, "in_progress");
    assert.deepEqual(added.item.content, [], "an event shows the item as it was then");

    // The non-streamed path runs the same builder and ends with the same object.
    const plain = await collectResponse(new ResponseStreamBuilder({ request: parseResponsesRequest(base), id: "resp_fixed", createdAt: 1 }), parts);
    assertSchema("Response", plain);
    assert.equal(plain.id, "resp_fixed");
    assert.equal(plain.created_at, 1);
    assert.deepEqual(plain.output.map((o) => o.type === "message" && o.content[0]?.text), ["Hello, world"]);
  });

  test("streams tool calls as function_call items whose argument deltas add up", () => {
    const req = parseResponsesRequest({ ...base, stream: true, stream_options: { include_obfuscation: false }, tools: [weather] });
    const builder = new ResponseStreamBuilder({ request: req });
    const parts: ChatStreamPart[] = [
      { type: "tool-call-start", choice: 0, index: 0, id: "call_a", name: "get_weather" },
      { type: "tool-call-delta", choice: 0, index: 0, arguments: "{\"city\":" },
      { type: "tool-call-delta", choice: 0, index: 0, arguments: "\"Paris\"}" },
      { type: "tool-call-start", choice: 0, index: 1, id: "call_b", name: "get_weather" },
      { type: "tool-call-delta", choice: 0, index: 1, arguments: "{\"city\":\"Lyon\"}" },
      { type: "finish", choice: 0, finishReason: "tool_calls" },
      usage,
    ];
    const events = run(builder, parts);
    checkEvents(events);
    assert.deepEqual(events.map((e) => e.type), [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed",
    ]);
    assert.ok(events.every((e) => !("obfuscation" in e)), "include_obfuscation: false turns padding off");
    const final = builder.response;
    assertSchema("Response", final);
    assert.equal(final.status, "completed");
    assert.deepEqual(final.tools, [{ ...weather, strict: false }]);
    assert.equal(final.tool_choice, "auto");
    const calls = final.output.filter((o) => o.type === "function_call");
    assert.deepEqual(calls.map((c) => [c.call_id, c.name, c.arguments, c.status]), [
      ["call_a", "get_weather", "{\"city\":\"Paris\"}", "completed"],
      ["call_b", "get_weather", "{\"city\":\"Lyon\"}", "completed"],
    ]);
    assert.ok(calls.every((c) => c.id.startsWith("fc_")));
    for (const [index, call] of calls.entries()) {
      const deltas = events.flatMap((e) => (e.type === "response.function_call_arguments.delta" && e.output_index === index ? [e.delta] : []));
      assert.equal(deltas.join(""), call.arguments);
      const done = events.find((e) => e.type === "response.function_call_arguments.done" && e.output_index === index);
      assert.ok(done?.type === "response.function_call_arguments.done" && done.item_id === call.id && done.name === call.name);
    }
  });

  test("text before a tool call closes the message first", () => {
    const builder = new ResponseStreamBuilder({ request: parseResponsesRequest({ ...base, tools: [weather] }) });
    const events = run(builder, [
      { type: "text-delta", choice: 0, text: "Let me check." },
      { type: "tool-call-start", choice: 0, index: 0, id: "call_a", name: "get_weather" },
      { type: "tool-call-delta", choice: 0, index: 0, arguments: "{}" },
      { type: "finish", choice: 0, finishReason: "tool_calls" },
    ]);
    checkEvents(events);
    const types = events.map((e) => e.type);
    assert.ok(types.indexOf("response.output_item.done") < types.lastIndexOf("response.output_item.added"));
    assert.deepEqual(builder.response.output.map((o) => o.type), ["message", "function_call"]);
    assertSchema("Response", builder.response);
  });

  test("a length stop ends in response.incomplete with the items incomplete", () => {
    const builder = new ResponseStreamBuilder({ request: parseResponsesRequest({ ...base, max_output_tokens: 16 }) });
    const events = run(builder, [{ type: "text-delta", choice: 0, text: "Once upon" }, { type: "finish", choice: 0, finishReason: "length" }, usage]);
    checkEvents(events);
    const last = events.at(-1);
    assert.equal(last?.type, "response.incomplete");
    const final = builder.response;
    assertSchema("Response", final);
    assert.equal(final.status, "incomplete");
    assert.deepEqual(final.incomplete_details, { reason: "max_output_tokens" });
    assert.equal(final.max_output_tokens, 16);
    assert.equal((final.output[0] as { status?: string } | undefined)?.status, "incomplete");
  });

  test("an empty generation still answers with a message", () => {
    const builder = new ResponseStreamBuilder({ request: parseResponsesRequest(base) });
    const events = run(builder, [{ type: "finish", choice: 0, finishReason: "stop" }]);
    checkEvents(events);
    assert.deepEqual(builder.response.output.map((o) => o.type === "message" && o.content[0]?.text), [""]);
    assert.ok(!events.some((e) => e.type === "response.output_text.delta"));
  });

  test("carries logprobs in deltas and in the final text part", () => {
    const builder = new ResponseStreamBuilder({ request: parseResponsesRequest({ ...base, include: ["message.output_text.logprobs"], top_logprobs: 1 }) });
    const logprob: TokenLogprob = { token: "Hi", logprob: -0.1, bytes: null, topLogprobs: [{ token: "Hi", logprob: -0.1, bytes: [72, 105] }] };
    const events = run(builder, [{ type: "text-delta", choice: 0, text: "Hi", logprobs: [logprob] }, { type: "finish", choice: 0, finishReason: "stop" }]);
    checkEvents(events);
    const delta = events.find((e) => e.type === "response.output_text.delta");
    assert.ok(delta?.type === "response.output_text.delta");
    assert.deepEqual(delta.logprobs, [{ token: "Hi", logprob: -0.1, top_logprobs: [{ token: "Hi", logprob: -0.1 }] }]);
    const final = builder.response;
    assertSchema("Response", final);
    assert.equal(final.top_logprobs, 1);
    const part = final.output[0]?.type === "message" ? final.output[0].content[0] : undefined;
    assert.deepEqual(part?.logprobs, [{ token: "Hi", logprob: -0.1, bytes: [72, 105], top_logprobs: [{ token: "Hi", logprob: -0.1, bytes: [72, 105] }] }]);
  });

  test("a failure gives response.failed, and errors render as error events", () => {
    const builder = new ResponseStreamBuilder({ request: parseResponsesRequest({ ...base, stream: true }) });
    const events = [...builder.start(), ...builder.push({ type: "text-delta", choice: 0, text: "Par" }), ...builder.fail(new Error("engine crashed"))];
    checkEvents(events);
    const final = builder.response;
    assertSchema("Response", final);
    assert.equal(final.status, "failed");
    assert.equal(final.error?.code, "server_error");
    assert.doesNotMatch(final.error?.message ?? "", /engine crashed/, "internal errors reveal nothing");
    assert.equal((final.output[0] as { status?: string } | undefined)?.status, "incomplete");
    assert.deepEqual(builder.end(), [], "a finished response takes no more events");

    const error = builder.errorEvent(new ApiError(429, "Slow down", { type: "rate_limit_error", code: "rate_limit_exceeded" }));
    assertSchema("ResponseErrorEvent", error);
    assert.equal(error.sequence_number, events.length);
    assert.deepEqual(error, { type: "error", code: "rate_limit_exceeded", message: "Slow down", param: null, sequence_number: events.length });
    const limited = new ResponseStreamBuilder({ request: parseResponsesRequest(base) });
    limited.fail(new ApiError(429, "Slow down", { type: "rate_limit_error" }));
    assert.deepEqual(limited.response.error, { code: "rate_limit_exceeded", message: "Slow down" });
    assertSchema("ResponseErrorEvent", renderErrorEvent(new ApiError(400, "Bad", { type: "invalid_request_error", param: "input" }), 0));
  });

  test("a background response starts queued", () => {
    const builder = new ResponseStreamBuilder({ request: parseResponsesRequest({ ...base, background: true }) });
    assert.equal(builder.response.status, "queued");
    const [created, inProgress] = builder.start();
    assert.ok(created?.type === "response.created" && inProgress?.type === "response.in_progress");
    assert.equal(created.response.status, "queued");
    assert.equal(inProgress.response.status, "in_progress");
    assertSchema("Response", builder.response);
  });
});

describe("built-in tools in tool_choice", () => {
  const tools = [
    { type: "function", name: "lookup", parameters: { type: "object", properties: {} } },
    { type: "code_interpreter", container: { type: "auto" } },
    { type: "web_search" },
    { type: "image_generation", model: "cloud-image" },
    { type: "mcp", server_label: "docs", server_url: "https://mcp.example.com/mcp", require_approval: { never: { tool_names: ["search"] } }, headers: { "x-key": "secret" } },
  ];

  test("allowed_tools restricts the server's tools as it restricts functions", () => {
    const only = parseResponsesRequest({ model: "m", input: "hi", tools, tool_choice: { type: "allowed_tools", mode: "auto", tools: [{ type: "code_interpreter" }, { type: "mcp", server_label: "docs" }] } });
    assert.deepEqual(only.tools, []);
    assert.ok(only.codeInterpreter !== undefined);
    assert.equal(only.webSearch, undefined);
    assert.equal(only.imageGeneration, undefined);
    assert.deepEqual(only.mcp.map((m) => m.label), ["docs"]);
    assert.deepEqual(only.mcp[0]?.approval, { default: true, always: [], never: ["search"] });
    assert.equal(only.mcp[0]?.headers["x-key"], "secret");
    const all = parseResponsesRequest({ model: "m", input: "hi", tools });
    assert.ok(all.codeInterpreter && all.webSearch && all.imageGeneration && all.mcp.length === 1 && all.tools.length === 1);
    const none = parseResponsesRequest({ model: "m", input: "hi", tools, tool_choice: "none" });
    assert.ok(!none.codeInterpreter && !none.webSearch && !none.imageGeneration && none.mcp.length === 0);
  });

  test("forcing a server tool, and refusing choices of tools not given", () => {
    assert.equal(parseResponsesRequest({ model: "m", input: "hi", tools, tool_choice: { type: "image_generation" } }).imageGeneration?.forced, true);
    assert.equal(parseResponsesRequest({ model: "m", input: "hi", tools, tool_choice: { type: "web_search_preview" } }).webSearch?.forced, true);
    assert.deepEqual(parseResponsesRequest({ model: "m", input: "hi", tools, tool_choice: { type: "mcp", server_label: "docs", name: "search" } }).mcpForced, { label: "docs", name: "search" });
    for (const [choice, param] of [
      [{ type: "mcp", server_label: "nope" }, "tool_choice.server_label"],
      [{ type: "allowed_tools", mode: "auto", tools: [{ type: "mcp", server_label: "nope" }] }, "tool_choice.tools[0].server_label"],
    ] as const) {
      assert.throws(() => parseResponsesRequest({ model: "m", input: "hi", tools, tool_choice: choice }), (e: unknown) => e instanceof ApiError && e.param === param);
    }
    assert.throws(() => parseResponsesRequest({ model: "m", input: "hi", tools: [{ type: "image_generation" }], tool_choice: { type: "code_interpreter" } }), (e: unknown) => e instanceof ApiError && e.param === "tool_choice.type");
    assert.throws(() => parseResponsesRequest({ model: "m", input: "hi", tools: [{ type: "image_generation", partial_images: 4 }] }), (e: unknown) => e instanceof ApiError && e.param === "tools[0].partial_images");
    assert.throws(() => parseResponsesRequest({ model: "m", input: "hi", tools: [{ type: "image_generation", action: "edit" }] }), (e: unknown) => e instanceof ApiError && e.param === "tools[0].action");
  });
});
