import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { zodResponseFormat } from "openai/helpers/zod";
import { z } from "zod";
import { assertSchema } from "../helpers/openapi.ts";
import { raw, startTestServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

const WEATHER = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "Current weather for a city",
    strict: true,
    parameters: {
      type: "object",
      properties: { city: { type: "string", maxLength: 30 }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
      required: ["city", "unit"],
      additionalProperties: false,
    },
  },
};
const TIME = {
  type: "function" as const,
  function: {
    name: "get_time",
    parameters: { type: "object", properties: { zone: { type: "string", enum: ["UTC", "CET"] } }, required: ["zone"], additionalProperties: false },
  },
};
const ASK = [{ role: "user" as const, content: "What is the weather in Paris?" }];

function checkWeatherArgs(text: string): void {
  const args = JSON.parse(text) as { city: unknown; unit: unknown };
  assert.equal(typeof args.city, "string");
  assert.ok((args.city as string).length <= 30);
  assert.ok(args.unit === "celsius" || args.unit === "fahrenheit");
  assert.deepEqual(Object.keys(args).sort(), ["city", "unit"]);
}

/** Seeded runs per property: enough to catch a grammar that lets bad output through, at a few seconds each. */
const RUNS = 30;

describe("function calling", () => {
  it("forces a named function: 30 of 30 seeded runs parse and match the schema", async () => {
    for (let seed = 0; seed < RUNS; seed++) {
      const res = await server.client.chat.completions.create({
        model: "stories",
        messages: ASK,
        tools: [WEATHER, TIME],
        tool_choice: { type: "function", function: { name: "get_weather" } },
        seed,
        max_tokens: 200,
      });
      if (seed < 3) assertSchema("CreateChatCompletionResponse", res);
      const choice = res.choices[0]!;
      assert.equal(choice.finish_reason, "tool_calls");
      assert.equal(choice.message.content, null);
      const calls = choice.message.tool_calls!;
      assert.equal(calls.length, 1);
      const call = calls[0]!;
      assert.match(call.id, /^call_/);
      assert.equal(call.type, "function");
      assert.equal(call.type === "function" && call.function.name, "get_weather");
      if (call.type === "function") checkWeatherArgs(call.function.arguments);
    }
  });

  it("with tool_choice required: 30 of 30 runs call one of the tools with valid arguments", async () => {
    const names = new Set<string>();
    for (let seed = 0; seed < RUNS; seed++) {
      const res = await server.client.chat.completions.create({ model: "stories", messages: ASK, tools: [WEATHER, TIME], tool_choice: "required", seed, max_tokens: 300 });
      const calls = res.choices[0]!.message.tool_calls!;
      assert.equal(res.choices[0]!.finish_reason, "tool_calls");
      assert.ok(calls.length >= 1);
      for (const call of calls) {
        assert.equal(call.type, "function");
        if (call.type !== "function") continue;
        names.add(call.function.name);
        if (call.function.name === "get_weather") checkWeatherArgs(call.function.arguments);
        else assert.ok(["UTC", "CET"].includes((JSON.parse(call.function.arguments) as { zone: string }).zone));
      }
    }
    assert.ok(names.size >= 1);
  });

  it("makes at most one call when parallel_tool_calls is false", async () => {
    for (let seed = 0; seed < 10; seed++) {
      const res = await server.client.chat.completions.create({
        model: "stories", messages: ASK, tools: [WEATHER, TIME], tool_choice: "required", parallel_tool_calls: false, seed, max_tokens: 300,
      });
      assert.equal(res.choices[0]!.message.tool_calls!.length, 1);
    }
  });

  it("streams tool-call deltas with index, id and type that reassemble to the non-streamed calls", async () => {
    const body = { model: "stories", messages: ASK, tools: [WEATHER, TIME], tool_choice: "required" as const, seed: 21, max_tokens: 300 };
    const whole = await server.client.chat.completions.create(body);
    const stream = await server.client.chat.completions.create({ ...body, stream: true });
    const calls: { id?: string; name?: string; arguments: string }[] = [];
    let finish: string | null = null;
    let argumentChunks = 0;
    for await (const chunk of stream) {
      assertSchema("CreateChatCompletionStreamResponse", chunk);
      for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
        assert.equal(typeof delta.index, "number");
        const call = (calls[delta.index] ??= { arguments: "" });
        if (delta.id) {
          assert.equal(delta.type, "function");
          call.id = delta.id;
          call.name = delta.function?.name;
        }
        if (delta.function?.arguments) {
          call.arguments += delta.function.arguments;
          argumentChunks++;
        }
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(finish, "tool_calls");
    assert.ok(argumentChunks > calls.length, "arguments arrive in several pieces");
    const expected = whole.choices[0]!.message.tool_calls!.map((c) => (c.type === "function" ? { name: c.function.name, arguments: c.function.arguments } : {}));
    assert.deepEqual(calls.map((c) => ({ name: c.name, arguments: c.arguments })), expected);
  });

  it("runs the weather-tool loop over three turns, feeding results back with tool messages", async () => {
    const messages: Parameters<typeof server.client.chat.completions.create>[0]["messages"] = [
      { role: "system", content: "You are a weather assistant." },
      { role: "user", content: "What is the weather in Paris?" },
    ];
    for (let turn = 0; turn < 3; turn++) {
      const call = await server.client.chat.completions.create({ model: "stories", messages, tools: [WEATHER], tool_choice: "required", seed: turn, max_tokens: 200 });
      const toolCalls = call.choices[0]!.message.tool_calls!;
      assert.ok(toolCalls.length >= 1);
      messages.push(call.choices[0]!.message);
      for (const tc of toolCalls) messages.push({ role: "tool", tool_call_id: tc.id, content: JSON.stringify({ temperature: 21 + turn, sky: "clear" }) });
      const answer = await server.client.chat.completions.create({ model: "stories", messages, tools: [WEATHER], seed: turn, max_tokens: 30 });
      assertSchema("CreateChatCompletionResponse", answer);
      const choice = answer.choices[0]!;
      assert.ok(choice.finish_reason === "stop" || choice.finish_reason === "length" || choice.finish_reason === "tool_calls");
      messages.push(choice.message);
      messages.push({ role: "user", content: `And on day ${turn + 2}?` });
    }
    assert.ok(messages.length >= 12);
  });

  it("completes the SDK's runTools loop, calling the local function", async () => {
    const seen: unknown[] = [];
    const runner = server.client.chat.completions.runTools({
      model: "stories",
      messages: ASK,
      max_tokens: 200,
      seed: 2,
      tool_choice: { type: "function", function: { name: "get_weather" } },
      tools: [
        {
          type: "function",
          function: {
            name: "get_weather",
            description: "Current weather for a city",
            parameters: WEATHER.function.parameters,
            function: (args: { city: string; unit: string }) => {
              seen.push(args);
              return JSON.stringify({ city: args.city, temperature: 20 });
            },
            parse: (text: string) => JSON.parse(text) as { city: string; unit: string },
          },
        },
      ],
    });
    await runner.done();
    assert.equal(seen.length, 1);
    assert.equal(typeof (seen[0] as { city: unknown }).city, "string");
    const tool = runner.messages.find((m) => m.role === "tool");
    assert.ok(tool, "the function's result went back into the conversation");
  });

  it("accepts the deprecated functions / function_call and answers in that shape", async () => {
    const res = await raw(server, "/v1/chat/completions", {
      body: JSON.stringify({
        model: "stories",
        messages: ASK,
        functions: [WEATHER.function].map(({ strict: _s, ...f }) => f),
        function_call: { name: "get_weather" },
        seed: 1,
        max_tokens: 200,
      }),
    });
    assert.equal(res.status, 200, res.text);
    assertSchema("CreateChatCompletionResponse", res.body);
    const choice = (res.body as { choices: { finish_reason: string; message: { function_call: { name: string; arguments: string } } }[] }).choices[0]!;
    assert.equal(choice.finish_reason, "function_call");
    assert.equal(choice.message.function_call.name, "get_weather");
    checkWeatherArgs(choice.message.function_call.arguments);
    const followUp = await raw(server, "/v1/chat/completions", {
      body: JSON.stringify({
        model: "stories",
        messages: [...ASK, { role: "assistant", content: null, function_call: choice.message.function_call }, { role: "function", name: "get_weather", content: "{\"t\":20}" }],
        functions: [{ name: "get_weather", parameters: WEATHER.function.parameters }],
        max_tokens: 10,
      }),
    });
    assert.equal(followUp.status, 200, followUp.text);
  });
});

const PERSON = {
  type: "object",
  properties: {
    name: { type: "string", maxLength: 20 },
    age: { type: "integer" },
    role: { type: "string", enum: ["admin", "user", "guest"] },
    tags: { type: "array", items: { type: "string", maxLength: 10 }, minItems: 1, maxItems: 3 },
    address: { type: "object", properties: { city: { type: "string", maxLength: 20 }, zip: { type: "string", maxLength: 8 } }, required: ["city", "zip"], additionalProperties: false },
  },
  required: ["name", "age", "role", "tags", "address"],
  additionalProperties: false,
};

describe("structured outputs", () => {
  it("json_object: 30 of 30 seeded runs are one valid JSON object, without mentioning JSON", async () => {
    // All at once: the engine's sequences run them side by side (what is checked is each answer, not its timing).
    const answers = await Promise.all(
      Array.from({ length: RUNS }, (_, seed) =>
        server.client.chat.completions.create({ model: "stories", messages: [{ role: "user", content: "返回一个用户对象" }], response_format: { type: "json_object" }, seed, max_tokens: 400 }),
      ),
    );
    for (const res of answers) {
      const choice = res.choices[0]!;
      if (choice.finish_reason === "length") continue;
      const value = JSON.parse(choice.message.content!) as unknown;
      assert.equal(typeof value, "object");
      assert.ok(value !== null && !Array.isArray(value));
    }
  });

  it("strict json_schema: 30 of 30 seeded runs conform (nested objects, arrays, enums, required)", async () => {
    let complete = 0;
    for (let seed = 0; seed < RUNS; seed++) {
      const res = await server.client.chat.completions.create({
        model: "stories",
        messages: [{ role: "user", content: "Make a person" }],
        response_format: { type: "json_schema", json_schema: { name: "person", strict: true, schema: PERSON } },
        seed,
        max_tokens: 600,
      });
      const choice = res.choices[0]!;
      assert.equal(choice.finish_reason, "stop", `seed ${seed} finished with ${choice.finish_reason}`);
      complete++;
      const p = JSON.parse(choice.message.content!) as Record<string, unknown>;
      assert.deepEqual(Object.keys(p).sort(), ["address", "age", "name", "role", "tags"]);
      assert.ok(Number.isInteger(p.age));
      assert.ok(["admin", "user", "guest"].includes(p.role as string));
      assert.ok(Array.isArray(p.tags) && p.tags.length >= 1 && p.tags.length <= 3);
      const address = p.address as Record<string, unknown>;
      assert.deepEqual(Object.keys(address).sort(), ["city", "zip"]);
    }
    assert.equal(complete, RUNS);
  });

  it("streams JSON modes: the concatenated deltas parse", async () => {
    const stream = await server.client.chat.completions.create({
      model: "stories", messages: [{ role: "user", content: "person" }], stream: true, seed: 3, max_tokens: 600,
      response_format: { type: "json_schema", json_schema: { name: "person", strict: true, schema: PERSON } },
    });
    let text = "";
    for await (const chunk of stream) {
      assertSchema("CreateChatCompletionStreamResponse", chunk);
      text += chunk.choices[0]?.delta.content ?? "";
    }
    const p = JSON.parse(text) as Record<string, unknown>;
    assert.ok("address" in p);
  });

  it("works with client.chat.completions.parse and a zod schema", async () => {
    const Event = z.object({ title: z.string().max(20), day: z.enum(["mon", "tue", "wed"]), guests: z.array(z.string().max(10)).max(3) });
    const res = await server.client.chat.completions.parse({
      model: "stories",
      messages: [{ role: "user", content: "Plan an event" }],
      response_format: zodResponseFormat(Event, "event"),
      seed: 4,
      max_tokens: 400,
    });
    const parsed = res.choices[0]!.message.parsed;
    assert.ok(parsed);
    assert.ok(["mon", "tue", "wed"].includes(parsed.day));
    assert.ok(Array.isArray(parsed.guests));
  });
});
