import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import type { TokenLogprob } from "../../src/core/chat.ts";
import { ApiError } from "../../src/core/errors.ts";
import { COMPLETION_FIELDS, DEFAULT_COMPLETION_MAX_TOKENS, parseCompletionRequest } from "../../src/protocol/openai/completions-parse.ts";
import { CompletionChunkSerializer, LegacyLogprobsBuilder, renderCompletion } from "../../src/protocol/openai/completions-render.ts";
import { selectBest } from "../../src/services/endpoints/completions.ts";
import { assertSchema, SPEC_PATH } from "../helpers/openapi.ts";

const base = { model: "m", prompt: "Once" };
const rejects = (body: Record<string, unknown>, param: string) =>
  assert.throws(() => parseCompletionRequest({ ...base, ...body }), (e: unknown) => e instanceof ApiError && e.status === 400 && e.param === param);

const lp = (token: string, logprob: number, top: [string, number][] = []): TokenLogprob => ({ token, logprob, bytes: null, topLogprobs: top.map(([t, l]) => ({ token: t, logprob: l, bytes: null })) });

describe("completions request parsing", () => {
  it("classifies every field of CreateCompletionRequest, and documents each in docs/compatibility.md", () => {
    const spec = JSON.parse(readFileSync(SPEC_PATH, "utf8")) as { components: { schemas: { CreateCompletionRequest: { properties: Record<string, unknown> } } } };
    const fields = Object.keys(spec.components.schemas.CreateCompletionRequest.properties).sort();
    assert.deepEqual([...COMPLETION_FIELDS].sort(), fields);
    const doc = readFileSync(new URL("../../docs/compatibility.md", import.meta.url), "utf8");
    const section = doc.slice(doc.indexOf("## Completions"));
    assert.ok(section.length > 100, "docs/compatibility.md has a Completions section");
    for (const field of fields) assert.match(section, new RegExp(`^\\| \`${field}\` \\|`, "m"), `docs row for ${field}`);
  });

  it("fills OpenAI's defaults", () => {
    const parsed = parseCompletionRequest(base);
    assert.equal(parsed.request.maxTokens, DEFAULT_COMPLETION_MAX_TOKENS);
    assert.equal(DEFAULT_COMPLETION_MAX_TOKENS, 16);
    assert.deepEqual([parsed.n, parsed.bestOf, parsed.request.n], [1, 1, 1]);
    assert.deepEqual(parsed.request.sampling, { temperature: 1, topP: 1, seed: undefined, presencePenalty: 0, frequencyPenalty: 0, logitBias: new Map() });
    assert.deepEqual([parsed.echo, parsed.logprobs, parsed.request.logprobs, parsed.request.promptLogprobs, parsed.stream, parsed.includeUsage, parsed.includeObfuscation], [false, undefined, undefined, false, false, false, true]);
    assert.deepEqual(parseCompletionRequest({ model: "m", prompt: null }).request.prompts, [""]);
    rejects({ prompt: undefined }, "prompt");
  });

  it("reads the four prompt forms", () => {
    assert.deepEqual(parseCompletionRequest({ ...base, prompt: "a" }).request.prompts, ["a"]);
    assert.deepEqual(parseCompletionRequest({ ...base, prompt: ["a", ""] }).request.prompts, ["a", ""]);
    assert.deepEqual(parseCompletionRequest({ ...base, prompt: [1, 2] }).request.prompts, [[1, 2]]);
    assert.deepEqual(parseCompletionRequest({ ...base, prompt: [[1], [2, 3]] }).request.prompts, [[1], [2, 3]]);
    for (const prompt of [5, {}, [], [[]], [true], ["a", 1], [1, "a"], [1, -1], [1, 0.5], [[1], 2]]) rejects({ prompt }, "prompt");
  });

  it("generates best_of per prompt and computes logprobs to rank them, even when not shown", () => {
    const parsed = parseCompletionRequest({ ...base, n: 2, best_of: 5 });
    assert.deepEqual([parsed.n, parsed.bestOf, parsed.request.n, parsed.logprobs, parsed.request.logprobs], [2, 5, 5, undefined, 0]);
    assert.equal(parseCompletionRequest({ ...base, best_of: 3, logprobs: 4 }).request.logprobs, 4);
    assert.equal(parseCompletionRequest({ ...base, n: 3, stream: true }).request.n, 3);
    rejects({ n: 3, best_of: 2 }, "best_of");
    rejects({ best_of: 0 }, "best_of");
    rejects({ best_of: 2, stream: true }, "best_of");
  });

  it("scores the prompt only for echo with logprobs, and refuses echo with suffix", () => {
    assert.equal(parseCompletionRequest({ ...base, echo: true }).request.promptLogprobs, false);
    assert.equal(parseCompletionRequest({ ...base, echo: true, logprobs: 0 }).request.promptLogprobs, true);
    assert.equal(parseCompletionRequest({ ...base, suffix: "" }).request.suffix, undefined);
    assert.equal(parseCompletionRequest({ ...base, suffix: "end" }).request.suffix, "end");
    rejects({ echo: true, suffix: "end" }, "suffix");
    assert.equal(parseCompletionRequest({ ...base, echo: true, max_tokens: 0 }).request.maxTokens, 0);
  });

  it("folds any integer seed onto 32 bits and reads the stream options", () => {
    assert.equal(parseCompletionRequest({ ...base, seed: -1 }).request.sampling.seed, 2 ** 32 - 1);
    assert.equal(parseCompletionRequest({ ...base, seed: 2 ** 40 + 3 }).request.sampling.seed, 3);
    const parsed = parseCompletionRequest({ ...base, stream: true, stream_options: { include_usage: true, include_obfuscation: false } });
    assert.deepEqual([parsed.includeUsage, parsed.includeObfuscation], [true, false]);
    rejects({ stream_options: { include_usage: true } }, "stream_options");
  });
});

describe("completions rendering", () => {
  const env = { id: "cmpl-x", created: 1, model: "m", systemFingerprint: "fp_x" };
  const usage = { promptTokens: 3, completionTokens: 2, cachedTokens: 0, reasoningTokens: 0 };

  it("builds legacy logprobs: offsets in code points from the prompt's start, the chosen token among its alternatives", () => {
    const builder = new LegacyLogprobsBuilder();
    builder.skip("🐶 dog");
    const out = builder.build([lp(" runs", -0.5, [[" sleeps", -0.2]]), lp(" 🐕", -1, [[" 🐕", -1], [" cat", -2]])]);
    assert.deepEqual(out, {
      tokens: [" runs", " 🐕"],
      token_logprobs: [-0.5, -1],
      top_logprobs: [{ " sleeps": -0.2, " runs": -0.5 }, { " 🐕": -1, " cat": -2 }],
      text_offset: [5, 10],
    });
    assert.deepEqual(new LegacyLogprobsBuilder().build([{ token: "A", logprob: null, topLogprobs: null }, lp("b", -1)]).top_logprobs, [null, { b: -1 }]);
  });

  it("renders a text_completion object that matches the spec, echo and all", () => {
    const choice = { promptText: "Hi", promptLogprobs: [lp("Hi", -3)], text: " there", logprobs: [lp(" there", -1)], finishReason: "length" as const };
    const plain = renderCompletion(env, [choice], usage, { echo: false, logprobs: undefined });
    assertSchema("CreateCompletionResponse", plain);
    assert.deepEqual((plain.choices as unknown[])[0], { text: " there", index: 0, logprobs: null, finish_reason: "length" });
    const echoed = renderCompletion(env, [choice, { ...choice, finishReason: "stop" }], usage, { echo: true, logprobs: 0 });
    assertSchema("CreateCompletionResponse", echoed);
    assert.deepEqual((echoed.choices as unknown[])[1], { text: "Hi there", index: 1, logprobs: { tokens: ["Hi", " there"], token_logprobs: [-3, -1], top_logprobs: [{ Hi: -3 }, { " there": -1 }], text_offset: [0, 2] }, finish_reason: "stop" });
    assert.deepEqual(echoed.usage, { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5, prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } });
  });

  it("serialises stream chunks: the prompt only when echoed, offsets running on, usage last", () => {
    const frames = (echo: boolean) => {
      const s = new CompletionChunkSerializer(env, { echo, logprobs: 0, includeUsage: true, includeObfuscation: false });
      return [
        s.chunk({ type: "prompt", choice: 0, text: "Hi", logprobs: [{ token: "Hi", logprob: null, topLogprobs: null }] }),
        s.chunk({ type: "text-delta", choice: 0, text: " there", logprobs: [lp(" there", -1)] }),
        s.chunk({ type: "finish", choice: 0, finishReason: "stop" }),
        s.chunk({ type: "usage", usage }),
      ].map((f) => (f === undefined ? undefined : (JSON.parse(f.replace(/^data: /, "")) as Record<string, unknown> & { choices: Record<string, unknown>[] })));
    };
    const [prompt, delta, finish, last] = frames(false);
    assert.equal(prompt, undefined);
    assert.deepEqual(delta!.choices, [{ text: " there", index: 0, logprobs: { tokens: [" there"], token_logprobs: [-1], top_logprobs: [{ " there": -1 }], text_offset: [2] }, finish_reason: null }]);
    assert.equal(delta!.usage, null);
    assert.equal(delta!.obfuscation, undefined);
    assert.equal(delta!.object, "text_completion");
    assert.deepEqual(finish!.choices[0]!.finish_reason, "stop");
    assert.deepEqual(last!.choices, []);
    assertSchema("CreateCompletionResponse", last);
    const echoed = frames(true);
    assert.equal(echoed[0]!.choices[0]!.text, "Hi");
    assert.deepEqual((echoed[1]!.choices[0]!.logprobs as { text_offset: number[] }).text_offset, [2]);
  });

  it("keeps the n candidates with the best mean logprob per prompt, best first", () => {
    const c = (name: string, logprobs: number[]) => ({ name, logprobs: logprobs.map((l) => lp("x", l)) });
    const candidates = [c("a", [-1, -1]), c("b", [-0.1, -0.3]), c("empty", []), c("d", [-0.5]), c("e", [-2]), c("f", [-0.2, -0.2])];
    assert.deepEqual(selectBest(candidates, 2, 3, 2).map((x) => x.name), ["b", "a", "f", "d"]);
    assert.deepEqual(selectBest(candidates, 3, 2, 2).map((x) => x.name), candidates.map((x) => x.name));
  });
});
