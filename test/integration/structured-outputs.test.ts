import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import OpenAI from "openai";
import { zodResponseFormat, zodTextFormat } from "openai/helpers/zod";
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

type Schema = Record<string, unknown>;

const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
(addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);

/** Asserts that `value` conforms to the JSON Schema sent (every keyword, formats included). */
function assertConforms(schema: Schema, value: unknown): void {
  // The SDK's zod schemas name draft-07 as their dialect; the keywords used mean the same in 2020-12.
  const { $schema: _dialect, ...rest } = schema;
  const validate = ajv.compile(rest);
  assert.ok(validate(value), `${JSON.stringify(value)} does not conform: ${ajv.errorsText(validate.errors)}`);
}

/** OpenAI's structured outputs guide example, plus a confidence in [0, 1]: the seed. */
const MATH_REASONING: Schema = {
  type: "object",
  properties: {
    steps: {
      type: "array",
      items: {
        type: "object",
        properties: { explanation: { type: "string" }, output: { type: "string" } },
        required: ["explanation", "output"],
        additionalProperties: false,
      },
    },
    final_answer: { type: "string" },
    confidence: { type: "number", minimum: 0, maximum: 1 },
  },
  required: ["steps", "final_answer", "confidence"],
  additionalProperties: false,
};
const MATH_PROMPT: OpenAI.Chat.ChatCompletionMessageParam[] = [
  { role: "system", content: "You are a helpful math tutor. Guide the user through the solution step by step." },
  { role: "user", content: "how can I solve 8x + 7 = -23" },
];

/** A zod schema with each refinement the issue names: .min(), .max(), .regex(), .email(), .uuid(). */
const Contact = z.object({
  name: z.string().min(2).max(12),
  code: z.string().regex(/^[A-Z]{2}-\d{3}$/),
  email: z.string().email(),
  id: z.string().uuid(),
  score: z.number().min(0).max(10),
  tags: z.array(z.string().max(8)).min(1).max(3),
});

const SEEDS = [1, 2, 3, 4, 5];

describe("structured outputs: OpenAI's strict rules over HTTP", () => {
  const post = (path: string, body: Schema) =>
    raw(server, path, { body: JSON.stringify(body), headers: { authorization: `Bearer ${server.apiKey}` } });
  const chatWith = (schema: Schema) => ({
    model: "stories",
    messages: [{ role: "user", content: "x" }],
    max_tokens: 300,
    response_format: { type: "json_schema", json_schema: { name: "answer", strict: true, schema } },
  });

  it("accepts the seed schema's minimum and maximum, which it used to refuse", async () => {
    const res = await post("/v1/chat/completions", chatWith(MATH_REASONING));
    assert.equal(res.status, 200, res.text);
    assertSchema("CreateChatCompletionResponse", res.body);
  });

  it("refuses a strict schema breaking OpenAI's rules with a 400 naming the place, in OpenAI's words", async () => {
    const cases: { schema: Schema; param: string; message: string }[] = [
      {
        schema: { type: "object", properties: { a: { type: "object", properties: { b: { type: "string" } }, required: ["b"] } }, required: ["a"], additionalProperties: false },
        param: "response_format.json_schema.schema.properties.a.additionalProperties",
        message: "Invalid schema for response_format 'answer': In context=('properties', 'a'), 'additionalProperties' is required to be supplied and to be false.",
      },
      {
        schema: { type: "object", properties: { a: { type: "string" }, b: { type: "string" } }, required: ["a"], additionalProperties: false },
        param: "response_format.json_schema.schema.required",
        message: "Invalid schema for response_format 'answer': In context=(), 'required' is required to be supplied and to be an array including every key in properties. Missing 'b'.",
      },
      {
        schema: { type: "object", properties: { a: { type: "string", allOf: [{ minLength: 1 }] } }, required: ["a"], additionalProperties: false },
        param: "response_format.json_schema.schema.properties.a.allOf",
        message: "Invalid schema for response_format 'answer': In context=('properties', 'a'), 'allOf' is not permitted.",
      },
      {
        schema: { anyOf: [{ type: "object", properties: {}, required: [], additionalProperties: false }] },
        param: "response_format.json_schema.schema",
        message: "Invalid schema for response_format 'answer': schema must be a JSON Schema of 'type: \"object\"', got 'type: \"None\"'.",
      },
    ];
    for (const { schema, param, message } of cases) {
      const res = await post("/v1/chat/completions", chatWith(schema));
      assert.equal(res.status, 400, res.text);
      assertSchema("ErrorResponse", res.body);
      assert.deepEqual(res.body, { error: { message, type: "invalid_request_error", param, code: "invalid_schema" } });
    }
  });

  it("applies the same rules to Responses text.format and strict function tools", async () => {
    const open = { type: "object", properties: { q: { type: "string" } }, required: ["q"] };
    const text = await post("/v1/responses", { model: "stories", input: "x", text: { format: { type: "json_schema", name: "f", strict: true, schema: open } } });
    assert.equal(text.status, 400, text.text);
    assert.equal((text.body as { error: { param: string } }).error.param, "text.format.schema.additionalProperties");
    const tool = await post("/v1/chat/completions", {
      model: "stories",
      messages: [{ role: "user", content: "x" }],
      tools: [{ type: "function", function: { name: "lookup", strict: true, parameters: open } }],
    });
    assert.equal(tool.status, 400, tool.text);
    assert.deepEqual((tool.body as { error: unknown }).error, {
      message: "Invalid schema for function 'lookup': In context=(), 'additionalProperties' is required to be supplied and to be false.",
      type: "invalid_request_error",
      param: "tools[0].function.parameters.additionalProperties",
      code: "invalid_schema",
    });
    const responsesTool = await post("/v1/responses", { model: "stories", input: "x", tools: [{ type: "function", name: "lookup", strict: true, parameters: open }] });
    assert.equal(responsesTool.status, 400, responsesTool.text);
    assert.equal((responsesTool.body as { error: { param: string } }).error.param, "tools[0].parameters.additionalProperties");
  });

  it("a pattern the grammar cannot express is a 400 naming the schema", async () => {
    const schema = { type: "object", properties: { a: { type: "string", pattern: "^(ab)\\1$" } }, required: ["a"], additionalProperties: false };
    const res = await post("/v1/chat/completions", chatWith(schema));
    assert.equal(res.status, 400, res.text);
    const error = (res.body as { error: { param: string; code: string } }).error;
    assert.equal(error.code, "invalid_schema");
    assert.match(error.param, /^response_format\.json_schema\.schema/);
  });
});

describe("structured outputs with the official SDK: every output conforms", () => {
  it("streams the math_reasoning schema; the streamed JSON parses and conforms", async () => {
    // The tiny story model may write `steps` (no maxItems) until max_tokens: such a choice ends with
    // finish_reason "length", as OpenAI's would; every choice that ends by itself must conform.
    let complete = 0;
    for (const seed of SEEDS) {
      const stream = await server.client.chat.completions.create({
        model: "stories",
        messages: MATH_PROMPT,
        response_format: { type: "json_schema", json_schema: { name: "math_reasoning", strict: true, schema: MATH_REASONING } },
        stream: true,
        seed,
        max_tokens: 1500,
      });
      let text = "";
      let finish: string | null = null;
      for await (const chunk of stream) {
        assertSchema("CreateChatCompletionStreamResponse", chunk);
        text += chunk.choices[0]?.delta.content ?? "";
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      assert.ok(finish === "stop" || finish === "length", `seed ${seed}: finish_reason ${finish}`);
      if (finish === "length") continue;
      complete++;
      assertConforms(MATH_REASONING, JSON.parse(text));
    }
    assert.ok(complete >= 3, `only ${complete} of ${SEEDS.length} seeds finished within max_tokens`);
  });

  it("the SDK's stream helper parses the same schema written in zod", async () => {
    const MathReasoning = z.object({
      steps: z.array(z.object({ explanation: z.string(), output: z.string() })),
      final_answer: z.string(),
      confidence: z.number().min(0).max(1),
    });
    const format = zodResponseFormat(MathReasoning, "math_reasoning");
    const stream = server.client.chat.completions.stream({ model: "stories", messages: MATH_PROMPT, response_format: format, seed: 7, max_tokens: 1500 });
    const final = await stream.finalChatCompletion();
    const parsed = final.choices[0]!.message.parsed;
    assert.ok(parsed, final.choices[0]!.message.content ?? "");
    assert.ok(parsed.confidence >= 0 && parsed.confidence <= 1);
    assertConforms(format.json_schema.schema as Schema, parsed);
  });

  it("client.chat.completions.parse with zod .min(), .max(), .regex(), .email(), .uuid()", async () => {
    const format = zodResponseFormat(Contact, "contact");
    for (const seed of SEEDS) {
      const res = await server.client.chat.completions.parse({
        model: "stories",
        messages: [{ role: "user", content: "Make up a contact." }],
        response_format: format,
        seed,
        max_tokens: 600,
      });
      assertSchema("CreateChatCompletionResponse", res);
      const { parsed, content } = res.choices[0]!.message;
      assert.ok(parsed, `seed ${seed}: ${content}`);
      assertConforms(format.json_schema.schema as Schema, JSON.parse(content!));
    }
  });

  it("Responses text.format with the same zod schema: client.responses.parse", async () => {
    const format = zodTextFormat(Contact, "contact");
    for (const seed of SEEDS.slice(0, 3)) {
      const res = await server.client.responses.parse({
        model: "stories",
        input: "Make up a contact.",
        text: { format },
        max_output_tokens: 600,
        temperature: 0.8 + seed / 100,
      });
      assertSchema("Response", res);
      assert.ok(res.output_parsed, res.output_text);
      assertConforms(format.schema as Schema, JSON.parse(res.output_text));
    }
  });

  it("a strict function tool whose arguments carry a pattern and a range", async () => {
    const parameters: Schema = {
      type: "object",
      properties: { sku: { type: "string", pattern: "^[A-Z]{3}-\\d{4}$" }, quantity: { type: "integer", minimum: 1, maximum: 9 } },
      required: ["sku", "quantity"],
      additionalProperties: false,
    };
    for (const seed of SEEDS) {
      const res = await server.client.chat.completions.create({
        model: "stories",
        messages: [{ role: "user", content: "Order two widgets." }],
        tools: [{ type: "function", function: { name: "order", description: "Places an order", strict: true, parameters } }],
        tool_choice: { type: "function", function: { name: "order" } },
        seed,
        max_tokens: 200,
      });
      assertSchema("CreateChatCompletionResponse", res);
      const call = res.choices[0]!.message.tool_calls?.[0];
      assert.ok(call && call.type === "function", JSON.stringify(res.choices[0]));
      assert.equal(call.function.name, "order");
      assertConforms(parameters, JSON.parse(call.function.arguments));
    }
  });

  it("schemas written by LangChain's and the Vercel AI SDK's helpers: every finished output conforms", async () => {
    const dir = new URL("../fixtures/schemas/", import.meta.url);
    let finished = 0;
    let runs = 0;
    for (const library of ["langchain", "vercel-ai"]) {
      for (const file of readdirSync(new URL(`${library}/`, dir))) {
        const schema = JSON.parse(readFileSync(new URL(`${library}/${file}`, dir), "utf8")) as Schema;
        // As those libraries send them: strict, except a schema that leaves a property optional.
        const strict = file !== "optional-fields.json";
        for (const seed of [1, 2]) {
          const res = await server.client.chat.completions.create({
            model: "stories",
            messages: [{ role: "user", content: "Fill in the form." }],
            response_format: { type: "json_schema", json_schema: { name: file.replace(/\W/g, "_"), strict, schema } },
            seed,
            max_tokens: 600,
          });
          runs++;
          const choice = res.choices[0]!;
          if (choice.finish_reason === "length") continue;
          assert.equal(choice.finish_reason, "stop");
          finished++;
          assertConforms(schema, JSON.parse(choice.message.content!));
        }
      }
    }
    assert.ok(finished >= runs / 2, `only ${finished} of ${runs} generations finished within max_tokens`);
  });
});
