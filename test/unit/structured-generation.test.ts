import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getLlama, LlamaGrammarEvaluationState, type Llama, type LlamaContext, type LlamaContextSequence, type LlamaModel, type Token } from "node-llama-cpp";
import { compileJsonSchemaGrammar, compileToolCallGrammar } from "../../src/providers/local/grammar/json-schema-grammar.ts";
import { RandomSchemas } from "../helpers/random-schema.ts";
import { schemaValidator } from "../helpers/schema-validator.ts";
import { STORIES } from "../helpers/server.ts";

/**
 * The compiler's grammars in the real engine (stories260K, one thread): llama.cpp must parse every
 * one, and every value generated under one must conform to its schema (ajv).
 */
let llama: Llama;
let model: LlamaModel;
let context: LlamaContext;
let sequence: LlamaContextSequence;
before(async () => {
  llama = await getLlama({ build: "never", gpu: false });
  model = await llama.loadModel({ modelPath: STORIES });
  context = await model.createContext({ contextSize: 512, threads: 1, flashAttention: false, sequences: 1 });
  sequence = context.getSequence();
});
after(async () => {
  await context.dispose();
  await model.dispose();
  await llama.dispose();
});

const END = "\n\n\n\n";

/** Generates under a grammar until its four-newline end (or the token limit), as choice-generator does. */
async function generate(grammarText: string, seed: number, maxTokens: number): Promise<{ text: string; finish: "stop" | "length" }> {
  const grammar = await llama.createGrammar({ grammar: grammarText });
  await sequence.clearHistory();
  const prompt = model.tokenize("Once upon a time, the answer was", false);
  const out: Token[] = [];
  const state = new LlamaGrammarEvaluationState({ model, grammar });
  for await (const token of sequence.evaluate(prompt, { temperature: 0.8, seed, topK: 40, grammarEvaluationState: state })) {
    if (model.isEogToken(token)) break;
    out.push(token);
    const text = model.detokenize(out);
    const end = text.indexOf(END);
    if (end >= 0) return { text: text.slice(0, end), finish: "stop" };
    if (out.length >= maxTokens) return { text, finish: "length" };
  }
  const text = model.detokenize(out);
  return { text: text.includes(END) ? text.slice(0, text.indexOf(END)) : text, finish: "stop" };
}

/** The math_reasoning example from OpenAI's structured-outputs guide, with the bounds it was refused for. */
const MATH_REASONING = {
  type: "object",
  properties: {
    steps: { type: "array", items: { type: "object", properties: { explanation: { type: "string", maxLength: 40 }, output: { type: "string", maxLength: 20 } }, required: ["explanation", "output"], additionalProperties: false }, maxItems: 3 },
    final_answer: { type: "string", maxLength: 30 },
    confidence: { type: "number", minimum: 0, maximum: 1 },
  },
  required: ["steps", "final_answer", "confidence"],
  additionalProperties: false,
};

/** What zod's toJSONSchema writes for .email(), .uuid(), .datetime(), .regex().min().max(), .min().max(). */
const ZOD_LIKE = {
  type: "object",
  properties: {
    e: { type: "string", format: "email", pattern: "^(?:[A-Za-z0-9_'+\\-]+\\.)*[A-Za-z0-9_'+\\-]*[A-Za-z0-9_+-]@(?:[A-Za-z0-9][A-Za-z0-9\\-]*\\.)+[A-Za-z]{2,}$" },
    u: { type: "string", format: "uuid", pattern: "^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$" },
    d: { type: "string", format: "date-time", pattern: "^(?:(?:\\d\\d[2468][048]|\\d\\d[13579][26]|\\d\\d0[48]|[02468][048]00|[13579][26]00)-02-29|\\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|30)|(?:02)-(?:0[1-9]|1\\d|2[0-8])))T(?:(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d+)?(?:Z))$" },
    r: { type: "string", minLength: 2, maxLength: 8, pattern: "^[a-z]+$" },
    n: { type: "number", minimum: -90, maximum: 90 },
    i: { type: "integer", minimum: -5, maximum: 5 },
    m: { type: "number", minimum: 0, maximum: 100, multipleOf: 0.01 },
  },
  required: ["e", "u", "d", "r", "n", "i", "m"],
  additionalProperties: false,
};

const TREE = {
  type: "object",
  properties: { label: { type: "string", pattern: "^[A-Z][a-z]{0,5}$" }, children: { type: "array", items: { $ref: "#" }, maxItems: 2 } },
  required: ["label", "children"],
  additionalProperties: false,
};

describe("compiled grammars in the engine", () => {
  it("llama.cpp parses the grammars of 100 random schemas, the hard schemas and a tool envelope", async () => {
    for (let seed = 1000; seed < 1100; seed++) await llama.createGrammar({ grammar: compileJsonSchemaGrammar(new RandomSchemas(seed, { optional: seed % 2 === 0 }).object()) });
    for (const schema of [MATH_REASONING, ZOD_LIKE, TREE, {}, { type: "object", additionalProperties: true }]) await llama.createGrammar({ grammar: compileJsonSchemaGrammar(schema) });
    await llama.createGrammar({ grammar: compileToolCallGrammar([{ name: "get_weather", parameters: { type: "object", properties: { city: { type: "string", pattern: "^[A-Z][a-z]+$" } }, required: ["city"], additionalProperties: false } }]) });
  });

  it("llama.cpp parses grammars with long runs and nested counted repeats (its parser caps one repetition at 2,000 rules)", async () => {
    const one = (schema: unknown) => compileJsonSchemaGrammar({ type: "object", properties: { a: schema }, required: ["a"], additionalProperties: false } as never);
    const schemas = [
      { type: "string", minLength: 2001 },
      { type: "string", maxLength: 5000 },
      { type: "string", minLength: 2500, maxLength: 7000 },
      { type: "array", items: { type: "integer" }, minItems: 3000 },
      { type: "array", items: { type: "integer" }, maxItems: 4500 },
      { type: "string", pattern: "^(a{1,50}){1,50}$" },
      { type: "string", format: "email", minLength: 60, maxLength: 200 },
    ];
    for (const schema of schemas) await llama.createGrammar({ grammar: one(schema) });
  });

  it("hard schemas: math_reasoning (confidence in [0, 1]), zod-style formats and patterns, recursion: every output conforms", async () => {
    for (const [name, schema] of [["math_reasoning", MATH_REASONING], ["zod", ZOD_LIKE], ["tree", TREE]] as const) {
      const grammar = compileJsonSchemaGrammar(schema);
      const valid = schemaValidator(schema);
      let complete = 0;
      for (let seed = 1; seed <= 8; seed++) {
        const { text, finish } = await generate(grammar, seed, 600);
        if (finish === "length") continue;
        complete++;
        assert.ok(valid(JSON.parse(text)), `${name} seed ${seed}: ${text}`);
      }
      assert.ok(complete >= 6, `${name}: only ${complete} of 8 outputs completed within 600 tokens`);
    }
  });

  it("property-based: 200 seeded random schemas, generated with the real engine, 100% conform (ajv)", async () => {
    let cut = 0;
    const started = performance.now();
    for (let seed = 1; seed <= 200; seed++) {
      const schema = new RandomSchemas(seed, { optional: seed % 3 === 0 }).object();
      const { text, finish } = await generate(compileJsonSchemaGrammar(schema), seed, 200);
      if (finish === "length") {
        cut++;
        continue;
      }
      assert.ok(schemaValidator(schema)(JSON.parse(text)), `seed ${seed}: ${text} does not conform to ${JSON.stringify(schema)}`);
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`# 200 random schemas: ${200 - cut} complete and conforming, ${cut} cut at 200 tokens, ${seconds.toFixed(1)} s`);
    assert.ok(cut <= 20, `${cut} of 200 outputs were cut by the 200-token limit`);
  });
});
