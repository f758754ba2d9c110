import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getLlama, type Llama, type LlamaGrammar, type LlamaModel, type Token } from "node-llama-cpp";
import type { ChatStreamPart } from "../../src/core/chat.ts";
import { generateChoice } from "../../src/providers/local/choice-generator.ts";
import { compileJsonSchemaGrammar } from "../../src/providers/local/grammar/json-schema-grammar.ts";
import type { Sampled, Sampler } from "../../src/providers/local/token-sampler.ts";
import { STORIES } from "../helpers/server.ts";

let llama: Llama;
let model: LlamaModel;
let grammar: LlamaGrammar;
before(async () => {
  llama = await getLlama({ build: "never", gpu: false });
  model = await llama.loadModel({ modelPath: STORIES });
  grammar = await llama.createGrammar({ grammar: compileJsonSchemaGrammar({ type: "object", properties: { name: { type: "string" } } }) });
});
after(async () => {
  await model.dispose();
  await llama.dispose();
});

/** A sampler that plays back scripted text, one phase at a time, recording what each phase was given. */
class ScriptedSampler implements Sampler {
  readonly generated: Token[] = [];
  readonly wantsLogprobs = false;
  readonly grammars: (LlamaGrammar | undefined)[] = [];
  readonly #script: string[];
  constructor(script: string[]) {
    this.#script = [...script];
  }
  async *phase(_input: Token[], g: LlamaGrammar | undefined): AsyncGenerator<Sampled> {
    this.grammars.push(g);
    for (const token of model.tokenize(this.#script.shift() ?? "", false, "trimLeadingSpace")) {
      this.generated.push(token);
      yield { token };
    }
  }
}

async function collect(sampler: Sampler, maxCalls: number): Promise<ChatStreamPart[]> {
  const parts: ChatStreamPart[] = [];
  const gen = generateChoice(model, sampler, {
    index: 0, input: [1 as Token], limit: 1000, stops: [], reasoning: undefined,
    mode: { type: "tools", grammar, forced: false, maxCalls },
  }, new AbortController().signal);
  for await (const part of gen) parts.push(part);
  return parts;
}

describe("tool calls in auto mode", () => {
  it("switches to the call grammar when the model opens <tool_call>, and parses parallel calls", async () => {
    const sampler = new ScriptedSampler([
      "Let me check.<tool_call>\n",
      '{"name": "get_weather", "arguments": {"city": "Paris"}}\n\n\n\n',
      "<tool_call>\n",
      '{"name": "get_time", "arguments": {"zone": "UTC"}}\n\n\n\n',
      "",
    ]);
    const parts = await collect(sampler, 8);
    assert.deepEqual(sampler.grammars, [undefined, grammar, undefined, grammar, undefined], "the grammar applies to calls only");
    const text = parts.filter((p) => p.type === "text-delta").map((p) => (p as { text: string }).text).join("");
    assert.equal(text, "Let me check.");
    const starts = parts.filter((p) => p.type === "tool-call-start") as { index: number; name: string; id: string }[];
    assert.deepEqual(starts.map((s) => [s.index, s.name]), [[0, "get_weather"], [1, "get_time"]]);
    assert.ok(starts.every((s) => /^call_/.test(s.id)));
    const args = [0, 1].map((i) => parts.filter((p) => p.type === "tool-call-delta" && p.index === i).map((p) => (p as { arguments: string }).arguments).join(""));
    assert.deepEqual(args.map((a) => JSON.parse(a)), [{ city: "Paris" }, { zone: "UTC" }]);
    assert.deepEqual(parts.at(-1), { type: "finish", choice: 0, finishReason: "tool_calls" });
  });

  it("stops after one call when parallel calls are off, and answers in text when no call is opened", async () => {
    const one = await collect(new ScriptedSampler(["<tool_call>\n", '{"name": "a", "arguments": {}}\n\n\n\n', "<tool_call>\n"]), 1);
    assert.equal(one.filter((p) => p.type === "tool-call-start").length, 1);
    const plain = await collect(new ScriptedSampler(["Just text, no calls."]), 8);
    assert.deepEqual(plain.filter((p) => p.type !== "text-delta"), [{ type: "finish", choice: 0, finishReason: "stop" }]);
  });
});
