/**
 * bench/structured: tokens/s of grammar-constrained generation (our JSON Schema → GBNF compiler, a
 * schema of 10 properties with patterns, formats and ranges) versus unconstrained generation on the
 * same model, prompt, seed and settings, alternating in one run. Each round generates the
 * constrained value first, then the same number of tokens unconstrained, so both rates cover the
 * same positions. Target ratio (constrained / unconstrained) ≥ 0.8.
 *
 *   npm run bench:structured [-- --rounds 15 --model ../shared/models/stories260K.gguf]
 */
import { parseArgs } from "node:util";
import { getLlama, LlamaGrammarEvaluationState, type LlamaGrammar, type Token } from "node-llama-cpp";
import { compileJsonSchemaGrammar } from "../src/providers/local/grammar/json-schema-grammar.ts";
import { appendResults, machineFacts, median } from "./machine.ts";
import { STORIES } from "./server.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "15" },
    threads: { type: "string", default: "1" },
    model: { type: "string", default: STORIES },
  },
});
const ROUNDS = Number(values.rounds);
const THREADS = Number(values.threads);
const MODEL = values.model;
const TEMPERATURE = 0.8;
const MAX_TOKENS = 1000;
const END = "\n\n\n\n";

/** Ten properties: patterns, formats, integer and decimal ranges, multipleOf, an enum and an array. */
export const SCHEMA = {
  type: "object",
  properties: {
    name: { type: "string", pattern: "^[A-Z][a-z]{1,10}$" },
    code: { type: "string", pattern: "^[A-Z]{3}-\\d{3}$" },
    email: { type: "string", format: "email" },
    born: { type: "string", format: "date" },
    age: { type: "integer", minimum: 0, maximum: 120 },
    score: { type: "number", minimum: 0, maximum: 1 },
    latitude: { type: "number", minimum: -90, maximum: 90 },
    price: { type: "number", minimum: 0, exclusiveMaximum: 1000, multipleOf: 0.01 },
    color: { type: "string", enum: ["red", "green", "blue"] },
    tags: { type: "array", items: { type: "string", pattern: "^[a-z]{2,8}$" }, minItems: 1, maxItems: 3 },
  },
  required: ["name", "code", "email", "born", "age", "score", "latitude", "price", "color", "tags"],
  additionalProperties: false,
};

function modelId(): string {
  return (MODEL.split("/").pop() ?? MODEL).replace(/\.gguf$/i, "");
}

async function main(): Promise<void> {
  const llama = await getLlama({ build: "never", gpu: false, maxThreads: 0 });
  const model = await llama.loadModel({ modelPath: MODEL });
  const context = await model.createContext({ sequences: 1, contextSize: 2048, threads: THREADS, flashAttention: false, batchSize: 128 });
  const sequence = context.getSequence();
  const compileStarted = performance.now();
  const text = compileJsonSchemaGrammar(SCHEMA);
  const compileMs = performance.now() - compileStarted;
  const grammar = await llama.createGrammar({ grammar: text });
  const prompt = model.tokenize("Once upon a time, there was a little girl named", false);

  /** Tokens and seconds from the first sampled token on (prompt evaluation excluded). */
  const run = async (seed: number, limit: number, g: LlamaGrammar | undefined): Promise<{ tokens: number; seconds: number; text: string }> => {
    await sequence.clearHistory();
    const out: Token[] = [];
    let first = 0;
    let decoded = "";
    const options = { temperature: TEMPERATURE, seed, topK: 40, topP: 1, minP: 0, ...(g ? { grammarEvaluationState: new LlamaGrammarEvaluationState({ model, grammar: g }) } : {}) };
    for await (const token of sequence.evaluate(prompt, options)) {
      if (first === 0) first = performance.now();
      if (model.isEogToken(token)) break;
      out.push(token);
      // Both runs decode every token, as the server does; the constrained one stops at the grammar's end.
      decoded += model.detokenize([token]);
      if (g !== undefined && decoded.endsWith("\n") && decoded.includes(END)) break;
      if (out.length >= limit) break;
    }
    return { tokens: out.length, seconds: (performance.now() - first) / 1000, text: decoded };
  };

  const constrainedRates: number[] = [];
  const freeRates: number[] = [];
  const ratios: number[] = [];
  const counts: number[] = [];
  let sample = "";
  try {
    await run(0, 50, grammar);
    await run(0, 50, undefined);
    for (let round = 1; round <= ROUNDS; round++) {
      const c = await run(round, MAX_TOKENS, grammar);
      const f = await run(round, c.tokens, undefined);
      constrainedRates.push(c.tokens / c.seconds);
      freeRates.push(f.tokens / f.seconds);
      ratios.push(c.tokens / c.seconds / (f.tokens / f.seconds));
      counts.push(c.tokens);
      if (round === 1) sample = c.text.trim();
      console.log(`round ${round}: constrained ${c.tokens} tok in ${c.seconds.toFixed(3)} s, unconstrained ${f.tokens} tok in ${f.seconds.toFixed(3)} s`);
    }
  } finally {
    await context.dispose();
    await model.dispose();
    await llama.dispose();
  }
  const paired = median(ratios);
  console.log(`constrained ${median(constrainedRates).toFixed(0)} tok/s, unconstrained ${median(freeRates).toFixed(0)} tok/s, median paired ratio ${paired.toFixed(3)} (target >= 0.8)`);
  appendResults(`## structured: grammar-constrained vs unconstrained generation (${new Date().toISOString()})

- Machine: ${machineFacts()}
- Model: ${modelId()}, node-llama-cpp directly, ${THREADS} thread(s), flash attention off, temperature ${TEMPERATURE}, top-k 40, seed = round; prompt evaluation excluded
- Schema: 10 properties (2 patterns, email and date formats, integer range, decimal ranges [0, 1] and [-90, 90], price with multipleOf 0.01, an enum, an array of patterned strings); grammar of ${text.split("\n").length - 1} rules compiled in ${compileMs.toFixed(1)} ms
- Constrained tokens per round (the unconstrained run generates as many): ${counts.join(", ")}
- A value generated (round 1): \`${sample.replace(/`/g, "'")}\`

| generation | median tokens/s over ${ROUNDS} rounds |
|---|---|
| unconstrained | ${median(freeRates).toFixed(0)} |
| under the schema's grammar | ${median(constrainedRates).toFixed(0)} |
| **median of per-round ratios constrained / unconstrained** | **${paired.toFixed(3)}** (target ≥ 0.8) |
`);
}

await main();
