import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { LlamaModel, Token } from "node-llama-cpp";
import OpenAI, { toFile } from "openai";
import { startFakeUpstream, type FakeUpstream } from "../helpers/fake-upstream.ts";
import { STORIES_FIM_TOKENS, writeStoriesWithFim } from "../helpers/fim-gguf.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { loadStoriesModel, raw, sseData, STORIES, startTestServer, type TestServer } from "../helpers/server.ts";

const PRICING = { input: 2, cachedInput: 0.5, output: 8 };
const PROMPT = "Once upon a time";

let server: TestServer;
let client: OpenAI;
let upstream: FakeUpstream;
let engine: Awaited<ReturnType<typeof loadStoriesModel>>;
let model: LlamaModel;
let fimPath: string;

before(async () => {
  fimPath = join(mkdtempSync(join(tmpdir(), "modelport-fim-")), "stories-fim.gguf");
  writeStoriesWithFim(STORIES, fimPath);
  upstream = await startFakeUpstream();
  server = await startTestServer({
    env: { MODELPORT_BATCH_CONCURRENCY: "2" },
    models: [
      { id: "stories", path: STORIES, aliases: [], pricing: PRICING },
      { id: "stories-fim", path: fimPath, aliases: [] },
    ],
    upstreams: {
      deployments: [{ id: "up", provider: "openai-compatible", baseUrl: upstream.url, model: "gpt-3.5-turbo-instruct", weight: 1, timeoutMs: 2000 }],
      models: [{ name: "cloud", aliases: [], deployments: ["up"], fallbacks: [], contextFallbacks: [], maxRetries: 0, deadlineMs: 5000, breakerThreshold: 100, breakerCooldownMs: 0 }],
    },
  });
  client = server.client;
  engine = await loadStoriesModel();
  model = engine.model;
});
after(async () => {
  await server.close();
  await upstream.close();
  await engine.dispose();
  rmSync(dirname(fimPath), { recursive: true, force: true });
});

type Choice = { text: string; index: number; finish_reason: string; logprobs: { tokens: string[]; token_logprobs: (number | null)[]; top_logprobs: (Record<string, number> | null)[]; text_offset: number[] } | null };
type Completion = { id: string; object: string; model: string; choices: Choice[]; usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } };

/** POSTs a completions body and returns the status and parsed body. */
async function complete(body: unknown): Promise<{ status: number; body: Completion & { error?: { param: string | null; code: string | null; message: string } } }> {
  const res = await raw(server, "/v1/completions", { body: typeof body === "string" ? body : JSON.stringify(body) });
  return { status: res.status, body: res.body as Completion & { error?: { param: string | null; code: string | null; message: string } } };
}

/**
 * Checks a completion or stream chunk against `CreateCompletionResponse`, where the spec is
 * stricter than OpenAI's own answers: a first prompt token with nothing before it has a null
 * logprob and null alternatives, and a stream chunk has `finish_reason: null` until its choice ends
 * and `usage: null` until the usage chunk. Those nulls are set aside (assertLegacyLogprobs checks
 * where they are); everything else must match.
 */
function assertCompletionSchema(value: Completion): void {
  const { usage, ...rest } = value as Completion & { usage: unknown };
  const choices = value.choices.map((c) => ({
    ...c,
    finish_reason: c.finish_reason ?? "length",
    logprobs: c.logprobs && {
      ...c.logprobs,
      token_logprobs: c.logprobs.token_logprobs.map((l, i) => (i === 0 && l === null ? 0 : l)),
      top_logprobs: c.logprobs.top_logprobs.map((t, i) => (i === 0 && t === null ? {} : t)),
    },
  }));
  assertSchema("CreateCompletionResponse", { ...rest, ...(usage === null ? {} : { usage }), choices });
}

/** A successful, spec-valid completion. */
async function ok(body: Record<string, unknown>): Promise<Completion> {
  const res = await complete(body);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assertCompletionSchema(res.body);
  return res.body;
}

/** The stories tokenizer's tokens for text, with the BOS the model adds to text prompts. */
const withBos = (text: string): number[] => [model.tokens.bos as number, ...model.tokenize(text, false)];

/**
 * The legacy logprobs object against the spec, which types `token_logprobs` and `top_logprobs` as
 * numbers and objects: OpenAI itself puts null for a first prompt token that has no context, so
 * nulls are checked to be exactly there and the rest against the schema.
 */
function assertLegacyLogprobs(lp: NonNullable<Choice["logprobs"]>, text: string, options: { nullFirst: boolean; top: number; offset: number }): void {
  const n = lp.tokens.length;
  assert.ok(lp.token_logprobs.length === n && lp.top_logprobs.length === n && lp.text_offset.length === n, "parallel arrays");
  lp.token_logprobs.forEach((l, i) => {
    if (i === 0 && options.nullFirst) {
      assert.equal(l, null);
      assert.equal(lp.top_logprobs[0], null);
      return;
    }
    assert.equal(typeof l, "number");
    assert.ok((l as number) <= 0);
    const top = lp.top_logprobs[i] as Record<string, number>;
    assert.ok(Object.keys(top).length >= 1 && Object.keys(top).length <= options.top + 1, `up to logprobs + 1 alternatives: ${JSON.stringify(top)}`);
    assert.equal(top[lp.tokens[i]!], l, "the chosen token is among its alternatives");
    for (const v of Object.values(top)) assert.ok(v <= 0);
  });
  let offset = options.offset;
  lp.text_offset.forEach((o, i) => {
    assert.equal(o, offset, `text_offset[${i}]`);
    offset += [...lp.tokens[i]!].length;
  });
  assert.equal(lp.tokens.join(""), text.slice(text.length - lp.tokens.join("").length), "the tokens spell the text");
}

describe("/v1/completions on local models", () => {
  it("completes a string prompt with the official SDK: 16 tokens by default, usage as the model counts it", async () => {
    const res = await client.completions.create({ model: "stories", prompt: PROMPT, temperature: 0 });
    assertSchema("CreateCompletionResponse", res);
    assert.equal(res.object, "text_completion");
    assert.match(res.id, /^cmpl-/);
    assert.equal(res.model, "stories");
    assert.equal(res.choices.length, 1);
    const choice = res.choices[0]!;
    assert.equal(choice.index, 0);
    assert.equal(choice.logprobs, null);
    assert.ok(choice.text.length > 0);
    assert.equal(res.usage!.prompt_tokens, withBos(PROMPT).length);
    assert.ok(res.usage!.completion_tokens <= 16);
    assert.equal(choice.finish_reason, res.usage!.completion_tokens === 16 ? "length" : "stop");
    // No chat template: the text continues the story the prompt began.
    assert.equal(model.detokenize(model.tokenize(`${PROMPT}${choice.text}`, false).slice(0, model.tokenize(PROMPT, false).length)), PROMPT);
    const longer = await client.completions.create({ model: "stories", prompt: PROMPT, temperature: 0, max_tokens: 40 });
    assert.ok(longer.choices[0]!.text.startsWith(choice.text), "max_tokens only cuts the same greedy text");
    assert.ok(longer.usage!.completion_tokens > 16);
  });

  it("takes every prompt form, with n choices per prompt at index prompt * n + i", async () => {
    const prompts = [PROMPT, "The little dog", "Lily and Ben"];
    const single = await Promise.all(prompts.map((p) => ok({ model: "stories", prompt: p, temperature: 0, max_tokens: 10 })));
    const many = await ok({ model: "stories", prompt: prompts, n: 2, temperature: 0, max_tokens: 10 });
    assert.equal(many.choices.length, 6);
    many.choices.forEach((c, k) => {
      assert.equal(c.index, k);
      assert.equal(c.text, single[Math.floor(k / 2)]!.choices[0]!.text, `choice ${k} continues prompt ${Math.floor(k / 2)}`);
    });
    assert.equal(many.usage.prompt_tokens, prompts.reduce((s, p) => s + withBos(p).length, 0), "each prompt counted once");
    assert.equal(many.usage.completion_tokens, 2 * single.reduce((s, r) => s + r.usage.completion_tokens, 0), "every choice counted");
    // Token ids are taken as given: with the BOS the text prompt gets, they continue the same way.
    const tokens = await ok({ model: "stories", prompt: withBos(PROMPT), temperature: 0, max_tokens: 10 });
    assert.equal(tokens.choices[0]!.text, single[0]!.choices[0]!.text);
    assert.equal(tokens.usage.prompt_tokens, withBos(PROMPT).length);
    const arrays = await ok({ model: "stories", prompt: prompts.map(withBos), temperature: 0, max_tokens: 10 });
    assert.deepEqual(arrays.choices.map((c) => c.text), single.map((s) => s.choices[0]!.text));
    // A new document by default: a null prompt starts from BOS alone.
    const blank = await ok({ model: "stories", prompt: null, temperature: 0, max_tokens: 5 });
    assert.equal(blank.usage.prompt_tokens, 1);
  });

  it("takes more prompts than the model can run at once, in waves, as evaluation harnesses send them", async () => {
    const stats = server.registry.list().find((m) => m.descriptor.id === "stories")!.stats();
    // Every sequence plus every queue place: the most one request could take at once.
    const capacity = (stats.sequences ?? 0) + (stats.queue_size ?? 0);
    assert.ok(capacity > 0, "the model reports its sequences and queue");
    const prompts = Array.from({ length: capacity + 7 }, (_, i) => `${PROMPT} ${i}`);
    const res = await ok({ model: "stories", prompt: prompts, temperature: 0, max_tokens: 2 });
    assert.equal(res.choices.length, prompts.length);
    res.choices.forEach((c, k) => assert.equal(c.index, k));
    const last = await ok({ model: "stories", prompt: prompts.at(-1)!, temperature: 0, max_tokens: 2 });
    assert.equal(res.choices.at(-1)!.text, last.choices[0]!.text, "the last wave continues its own prompt");
    assert.equal(res.usage.completion_tokens, res.choices.length * 2);
  });

  it("returns prompt token logprobs for echo with logprobs and max_tokens 0, as lm-evaluation-harness asks", async () => {
    const prompt = `${PROMPT} there was a little girl`;
    const res = await ok({ model: "stories", prompt, echo: true, logprobs: 1, max_tokens: 0, temperature: 0 });
    const choice = res.choices[0]!;
    assert.equal(choice.text, prompt);
    assert.equal(choice.finish_reason, "length");
    assert.equal(res.usage.completion_tokens, 0);
    const lp = choice.logprobs!;
    assert.equal(lp.tokens.length, model.tokenize(prompt, false).length, "one entry per prompt token (the BOS is not shown)");
    assert.equal(lp.tokens.join(""), prompt);
    // After the BOS the model added, even the first token has a logprob.
    assertLegacyLogprobs(lp, prompt, { nullFirst: false, top: 1, offset: 0 });

    // The same numbers the model gives when it generates those tokens.
    const prefix = model.detokenize(model.tokenize(prompt, false).slice(0, -1));
    const next = await ok({ model: "stories", prompt: prefix, max_tokens: 1, temperature: 0, logprobs: 3, logit_bias: {} });
    const generated = next.choices[0]!.logprobs!;
    const top = generated.top_logprobs[0]!;
    const expected = top[lp.tokens.at(-1)!];
    assert.ok(expected !== undefined, `the prompt's last token is among the top 3 after its prefix: ${JSON.stringify(top)}`);
    assert.ok(Math.abs(expected - lp.token_logprobs.at(-1)!) < 1e-3, `${expected} vs ${lp.token_logprobs.at(-1)}`);

    // Token prompts are taken as given, so their first token has nothing before it: null there, as
    // OpenAI does. With the BOS included they score the same tokens the same way.
    const ids = await ok({ model: "stories", prompt: withBos(prompt), echo: true, logprobs: 1, max_tokens: 0 });
    const idsLp = ids.choices[0]!.logprobs!;
    assertLegacyLogprobs(idsLp, ids.choices[0]!.text, { nullFirst: true, top: 1, offset: 0 });
    assert.equal(idsLp.tokens[0], "", "the BOS adds no text");
    // After a BOS the detokenizer keeps SentencePiece's word-start space.
    assert.equal(ids.choices[0]!.text, ` ${prompt}`);
    assert.equal(idsLp.tokens.length, lp.tokens.length + 1);
    idsLp.token_logprobs.slice(1).forEach((v, i) => assert.ok(Math.abs(v! - lp.token_logprobs[i]!) < 1e-4, `token ${i}: ${v} vs ${lp.token_logprobs[i]}`));
    const bare = await ok({ model: "stories", prompt: model.tokenize(prompt, false), echo: true, logprobs: 0, max_tokens: 0 });
    assertLegacyLogprobs(bare.choices[0]!.logprobs!, bare.choices[0]!.text, { nullFirst: true, top: 0, offset: 0 });
  });

  it("echoes the prompt before generated text, with logprobs and text offsets over both", async () => {
    const res = await ok({ model: "stories", prompt: PROMPT, echo: true, logprobs: 2, max_tokens: 6, temperature: 0 });
    const choice = res.choices[0]!;
    assert.ok(choice.text.startsWith(PROMPT) && choice.text.length > PROMPT.length);
    assert.equal(choice.logprobs!.tokens.length, model.tokenize(PROMPT, false).length + res.usage.completion_tokens);
    assertLegacyLogprobs(choice.logprobs!, choice.text, { nullFirst: false, top: 2, offset: 0 });
    // Without echo, offsets still count from the start of the prompt, as OpenAI's do.
    const plain = await ok({ model: "stories", prompt: PROMPT, logprobs: 0, max_tokens: 6, temperature: 0 });
    assert.equal(plain.choices[0]!.text, choice.text.slice(PROMPT.length));
    assertLegacyLogprobs(plain.choices[0]!.logprobs!, plain.choices[0]!.text, { nullFirst: false, top: 0, offset: PROMPT.length });
    // Greedy: every chosen token is the most likely one.
    for (const [i, top] of choice.logprobs!.top_logprobs.slice(-6).entries()) {
      const best = Object.entries(top!).sort((a, b) => b[1] - a[1])[0]!;
      assert.equal(best[0], choice.logprobs!.tokens.at(-6 + i));
    }
  });

  it("stops at a stop sequence, repeats with a seed, and honours logit_bias", async () => {
    const base = { model: "stories", prompt: PROMPT, max_tokens: 30, temperature: 0 };
    const full = (await ok(base)).choices[0]!.text;
    const words = full.trim().split(/\s+/);
    const stop = ` ${words[2]}`;
    const stopped = await ok({ ...base, stop: [stop, "zzzz"] });
    assert.equal(stopped.choices[0]!.text, full.slice(0, full.indexOf(stop)));
    assert.equal(stopped.choices[0]!.finish_reason, "stop");

    const seeded = { model: "stories", prompt: PROMPT, max_tokens: 30, temperature: 1, seed: 42 };
    const a = await ok(seeded);
    const b = await ok(seeded);
    assert.equal(a.choices[0]!.text, b.choices[0]!.text);
    const others = await Promise.all([43, 44, 45].map((seed) => ok({ ...seeded, seed })));
    assert.ok(others.some((o) => o.choices[0]!.text !== a.choices[0]!.text), "other seeds sample other text");

    const first = (await ok({ ...base, max_tokens: 1, logprobs: 0 })).choices[0]!.logprobs!.tokens[0]!;
    const promptIds = model.tokenize(PROMPT, false);
    const ids = model.tokenize(PROMPT + first, false);
    assert.deepEqual(ids.slice(0, promptIds.length), promptIds);
    assert.equal(ids.length, promptIds.length + 1, `'${first}' is one token after the prompt`);
    const banned = await ok({ ...base, max_tokens: 1, logprobs: 0, logit_bias: { [String(ids.at(-1))]: -100 } });
    assert.notEqual(banned.choices[0]!.logprobs!.tokens[0], first);
    const forced = model.tokenize("dragon", false)[0] as Token;
    const pushed = await ok({ ...base, max_tokens: 3, logprobs: 0, logit_bias: { [String(forced)]: 100 } });
    const tokens = pushed.choices[0]!.logprobs!.tokens;
    assert.deepEqual(tokens, [tokens[0], tokens[0], tokens[0]], "the forced token every time");
    assert.deepEqual(model.tokenize(tokens[0]!.trim(), false), [forced]);
  });

  it("honours top_p, the penalties and user", async () => {
    const base = { model: "stories", prompt: PROMPT, max_tokens: 60, temperature: 0 };
    const plain = (await ok(base)).choices[0]!.text;
    const words = (t: string): string[] => t.toLowerCase().match(/[a-z]+/g) ?? [];
    const repeats = (t: string): number => words(t).length - new Set(words(t)).size;
    const frequency = (await ok({ ...base, frequency_penalty: 2 })).choices[0]!.text;
    const presence = (await ok({ ...base, presence_penalty: 2 })).choices[0]!.text;
    assert.notEqual(frequency, plain);
    assert.notEqual(presence, plain);
    assert.ok(repeats(frequency) < repeats(plain), `frequency_penalty repeats less: ${repeats(frequency)} vs ${repeats(plain)}`);
    const negative = (await ok({ ...base, frequency_penalty: -2 })).choices[0]!.text;
    assert.ok(repeats(negative) > repeats(plain), `a negative penalty repeats more: ${repeats(negative)} vs ${repeats(plain)}`);
    // top_p near 0 keeps only the most likely token: greedy whatever the temperature.
    const narrow = await ok({ ...base, temperature: 2, top_p: 0.0001, seed: 3 });
    assert.equal(narrow.choices[0]!.text, plain);
    await ok({ ...base, max_tokens: 1, user: "user-1234" });
  });

  it("returns the n best of best_of by mean token logprob", async () => {
    const body = { model: "stories", prompt: [PROMPT, "The little dog"], max_tokens: 12, temperature: 1.2, seed: 7 };
    // The same seeds make the same candidates: best_of 4 with n 4 shows all of them.
    const all = await ok({ ...body, n: 4, logprobs: 0 });
    const mean = (c: Choice): number => c.logprobs!.token_logprobs.reduce((s: number, l) => s + l!, 0) / c.logprobs!.tokens.length;
    const best = await ok({ ...body, n: 2, best_of: 4 });
    assert.equal(best.choices.length, 4);
    for (let p = 0; p < 2; p++) {
      const ranked = all.choices.slice(p * 4, p * 4 + 4).sort((x, y) => mean(y) - mean(x));
      assert.deepEqual(best.choices.slice(p * 2, p * 2 + 2).map((c) => c.text), ranked.slice(0, 2).map((c) => c.text), `prompt ${p}`);
    }
    best.choices.forEach((c, i) => {
      assert.equal(c.index, i);
      assert.equal(c.logprobs, null, "logprobs only when asked");
    });
    assert.equal(best.usage.completion_tokens, all.usage.completion_tokens, "every candidate is counted");
  });

  it("streams text_completion chunks with [DONE], the echoed prompt first, and the usage chunk", async () => {
    const body = { model: "stories", prompt: [PROMPT, "The little dog"], n: 2, max_tokens: 12, temperature: 0.8, seed: 5, echo: true, logprobs: 1 };
    const whole = await ok(body);
    const res = await raw(server, "/v1/completions", { body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }) });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const frames = sseData(res.text);
    assert.equal(frames.at(-1), "[DONE]");
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f) as Completion & { usage: unknown; obfuscation?: string });
    const texts = new Map<number, string>();
    const logprobs = new Map<number, string[]>();
    const finish = new Map<number, string>();
    for (const [i, chunk] of chunks.entries()) {
      assertCompletionSchema(chunk);
      assert.equal(chunk.object, "text_completion");
      assert.equal(chunk.id, chunks[0]!.id);
      if (i === chunks.length - 1) {
        assert.deepEqual(chunk.choices, []);
        assert.deepEqual(chunk.usage, whole.usage);
        continue;
      }
      assert.equal(chunk.usage, null);
      assert.equal(typeof chunk.obfuscation, "string");
      const c = chunk.choices[0]!;
      texts.set(c.index, (texts.get(c.index) ?? "") + c.text);
      logprobs.set(c.index, [...(logprobs.get(c.index) ?? []), ...(c.logprobs?.tokens ?? [])]);
      if (c.finish_reason !== null) finish.set(c.index, c.finish_reason);
    }
    assert.equal(texts.size, 4);
    for (const c of whole.choices) {
      assert.equal(texts.get(c.index), c.text, `choice ${c.index} streams the same text`);
      assert.ok(texts.get(c.index)!.startsWith(c.index < 2 ? PROMPT : "The little dog"));
      assert.deepEqual(logprobs.get(c.index), c.logprobs!.tokens);
      assert.equal(finish.get(c.index), c.finish_reason);
    }

    // The official SDK reads the same stream.
    const stream = await client.completions.create({ model: "stories", prompt: PROMPT, max_tokens: 12, temperature: 0.8, seed: 5, echo: true, logprobs: 1, stream: true, stream_options: { include_usage: true, include_obfuscation: false } });
    let text = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      assert.equal((chunk as { obfuscation?: string }).obfuscation, undefined);
      text += chunk.choices[0]?.text ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, whole.choices[0]!.text);
    assert.equal(usage!.prompt_tokens, withBos(PROMPT).length);
  });

  it("fills in the middle with the model's FIM tokens, and refuses suffix on a model without them", async () => {
    const prefix = "Once upon a time there was a";
    const suffix = " They played all day.";
    const res = await ok({ model: "stories-fim", prompt: prefix, suffix, max_tokens: 8, temperature: 0 });
    assert.equal(res.usage.prompt_tokens, 1 + 1 + model.tokenize(prefix, false).length + 1 + model.tokenize(suffix, false).length + 1, "[BOS] PRE prefix SUF suffix MID");
    assert.equal(res.usage.completion_tokens, 8);
    // The FIM layout differs from the plain prompt, so the model sees a different context.
    const plain = await ok({ model: "stories-fim", prompt: prefix, max_tokens: 8, temperature: 0 });
    assert.equal(plain.usage.prompt_tokens, withBos(prefix).length);
    const fimIds = await ok({ model: "stories-fim", prompt: [STORIES_FIM_TOKENS.prefix], suffix, max_tokens: 2, temperature: 0 });
    assert.equal(fimIds.usage.prompt_tokens, 1 + 1 + 1 + model.tokenize(suffix, false).length + 1, "token prompts are not given a BOS");
    const refused = await complete({ model: "stories", prompt: prefix, suffix });
    assert.equal(refused.status, 400);
    assertSchema("ErrorResponse", refused.body);
    assert.equal(refused.body.error!.param, "suffix");
    assert.match(refused.body.error!.message, /fill-in-the-middle/);
    // An empty suffix is no suffix.
    await ok({ model: "stories", prompt: prefix, suffix: "", max_tokens: 2 });
  });

  it("answers every bad request with a 400 naming its param", async () => {
    const base = { model: "stories", prompt: PROMPT, max_tokens: 2 };
    const cases: [Record<string, unknown> | string, string | null][] = [
      ["[1, 2]", null],
      [{ prompt: PROMPT }, "model"],
      [{ model: "stories" }, "prompt"],
      [{ ...base, model: 7 }, "model"],
      [{ ...base, prompt: 42 }, "prompt"],
      [{ ...base, prompt: [] }, "prompt"],
      [{ ...base, prompt: [[]] }, "prompt"],
      [{ ...base, prompt: ["a", 1] }, "prompt"],
      [{ ...base, prompt: [1, 2.5] }, "prompt"],
      [{ ...base, prompt: [1, -2] }, "prompt"],
      [{ ...base, prompt: [[1], "a"] }, "prompt"],
      [{ ...base, prompt: [1, 512] }, "prompt"],
      [{ ...base, prompt: [[1], [1, 9999]] }, "prompt[1]"],
      [{ ...base, best_of: 1, n: 2 }, "best_of"],
      [{ ...base, best_of: 21 }, "best_of"],
      [{ ...base, best_of: 3, n: 1, stream: true }, "best_of"],
      [{ ...base, n: 0 }, "n"],
      [{ ...base, n: 129 }, "n"],
      [{ ...base, logprobs: 6 }, "logprobs"],
      [{ ...base, logprobs: true }, "logprobs"],
      [{ ...base, max_tokens: -1 }, "max_tokens"],
      [{ ...base, max_tokens: 1.5 }, "max_tokens"],
      [{ ...base, max_tokens: 5000 }, "max_tokens"],
      [{ ...base, prompt: "Once upon a time there was a dog. ".repeat(300) }, "prompt"],
      [{ ...base, temperature: 3 }, "temperature"],
      [{ ...base, top_p: 1.5 }, "top_p"],
      [{ ...base, presence_penalty: 3 }, "presence_penalty"],
      [{ ...base, frequency_penalty: -2.5 }, "frequency_penalty"],
      [{ ...base, stop: ["a", "b", "c", "d", "e"] }, "stop"],
      [{ ...base, stop: "" }, "stop"],
      [{ ...base, stop: [1] }, "stop[0]"],
      [{ ...base, seed: "x" }, "seed"],
      [{ ...base, seed: 1.5 }, "seed"],
      [{ ...base, user: 5 }, "user"],
      [{ ...base, echo: "yes" }, "echo"],
      [{ ...base, suffix: 5 }, "suffix"],
      [{ ...base, echo: true, suffix: "x" }, "suffix"],
      [{ ...base, logit_bias: { x: 1 } }, "logit_bias.x"],
      [{ ...base, logit_bias: { "5": 101 } }, "logit_bias.5"],
      [{ ...base, logit_bias: { "9999": 1 } }, "logit_bias.9999"],
      [{ ...base, logit_bias: [] }, "logit_bias"],
      [{ ...base, stream_options: { include_usage: true } }, "stream_options"],
      [{ ...base, stream: true, stream_options: { other: true } }, "stream_options.other"],
      [{ ...base, stream: "yes" }, "stream"],
      [{ ...base, messages: [] }, "messages"],
    ];
    for (const [body, param] of cases) {
      const res = await complete(body);
      assert.equal(res.status, 400, `${JSON.stringify(body).slice(0, 120)} → ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      assertSchema("ErrorResponse", res.body);
      assert.equal(res.body.error!.param, param, `${JSON.stringify(body).slice(0, 120)}: ${res.body.error!.message}`);
    }
    const unknown = await complete({ ...base, model: "no-such-model" });
    assert.equal(unknown.status, 404);
    // The server is unharmed.
    await ok(base);
  });

  it("meters completions at the model's prices", async () => {
    const res = await ok({ model: "stories", prompt: PROMPT, max_tokens: 7, temperature: 0 });
    await server.meter.flush();
    const [row] = await server.storage.db.all("SELECT * FROM usage_records WHERE endpoint = '/v1/completions' ORDER BY created_at DESC, rowid DESC LIMIT 1", []);
    assert.equal(Number(row!.input_tokens), res.usage.prompt_tokens);
    assert.equal(Number(row!.output_tokens), res.usage.completion_tokens);
    const cost = (res.usage.prompt_tokens * PRICING.input + res.usage.completion_tokens * PRICING.output) / 1e6;
    assert.ok(Math.abs(Number(row!.cost_usd) - cost) < 1e-12, `${row!.cost_usd} vs ${cost}`);
  });

  it("runs a batch of /v1/completions lines on a local model", async () => {
    const lines = [
      { custom_id: "a", method: "POST", url: "/v1/completions", body: { model: "stories", prompt: PROMPT, max_tokens: 5, temperature: 0 } },
      { custom_id: "b", method: "POST", url: "/v1/completions", body: { model: "stories", prompt: [PROMPT, "The little dog"], echo: true, logprobs: 1, max_tokens: 0 } },
    ];
    const file = await client.files.create({ file: await toFile(Buffer.from(lines.map((l) => JSON.stringify(l)).join("\n")), "in.jsonl"), purpose: "batch" });
    const created = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/completions", completion_window: "24h" });
    let batch = created;
    for (let i = 0; i < 600 && !["completed", "failed"].includes(batch.status); i++) {
      await new Promise((r) => setTimeout(r, 100));
      batch = await client.batches.retrieve(created.id);
    }
    assert.equal(batch.status, "completed", JSON.stringify(batch));
    assert.deepEqual(batch.request_counts, { total: 2, completed: 2, failed: 0 });
    const output = (await (await client.files.content(batch.output_file_id!)).text()).trim().split("\n").map((l) => JSON.parse(l) as { custom_id: string; response: { status_code: number; body: Completion } });
    const byId = new Map(output.map((o) => [o.custom_id, o.response]));
    const direct = await ok(lines[0]!.body);
    assertSchema("CreateCompletionResponse", byId.get("a")!.body);
    assert.equal(byId.get("a")!.body.choices[0]!.text, direct.choices[0]!.text);
    const echoed = byId.get("b")!.body;
    assert.deepEqual(echoed.choices.map((c) => c.text), [PROMPT, "The little dog"]);
    assert.equal(echoed.choices[1]!.logprobs!.tokens.join(""), "The little dog");
    // Lines are validated as the endpoint validates them when the batch is created.
    const bad = await client.files.create({ file: await toFile(Buffer.from(JSON.stringify({ custom_id: "c", method: "POST", url: "/v1/completions", body: { model: "stories", prompt: PROMPT, logprobs: 9 } })), "bad.jsonl"), purpose: "batch" });
    let failed = await client.batches.create({ input_file_id: bad.id, endpoint: "/v1/completions", completion_window: "24h" });
    for (let i = 0; i < 100 && failed.status === "validating"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      failed = await client.batches.retrieve(failed.id);
    }
    assert.equal(failed.status, "failed");
    assert.deepEqual(failed.errors!.data!.map((e) => e.param), ["body.logprobs"]);
  });

  it("still relays /v1/completions to an upstream that has it, stream and all", async () => {
    const answer = { id: "cmpl-up", object: "text_completion", created: 1, model: "gpt-3.5-turbo-instruct", choices: [{ text: " from upstream", index: 0, logprobs: null, finish_reason: "stop" }], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } };
    upstream.script(() => ({ kind: "json", status: 200, body: answer }));
    const res = await client.completions.create({ model: "cloud", prompt: "Say", max_tokens: 3, suffix: "anything goes upstream" });
    assert.deepEqual(res, answer);
    const seen = upstream.seen.at(-1)!;
    assert.equal(seen.url, "/v1/completions");
    assert.equal(seen.body.suffix, "anything goes upstream");
    upstream.script(() => ({ kind: "sse", frames: [JSON.stringify({ ...answer, usage: null }), JSON.stringify({ ...answer, choices: [], usage: answer.usage }), "[DONE]"] }));
    const streamed = await raw(server, "/v1/completions", { body: JSON.stringify({ model: "cloud", prompt: "Say", stream: true }) });
    assert.equal(streamed.status, 200);
    assert.deepEqual(sseData(streamed.text).at(-1), "[DONE]");
  });
});

describe("/v1/completions admission", () => {
  const ADMIN = "sk-admin-completions-0123456789";
  let limited: TestServer;
  before(async () => {
    limited = await startTestServer({ env: { MODELPORT_ADMIN_KEY: ADMIN }, models: [{ id: "stories", path: STORIES, aliases: [] }] });
  });
  after(async () => {
    await limited.close();
  });

  it("needs a key and applies the project's rate limits", async () => {
    const headers = { authorization: `Bearer ${ADMIN}` };
    const project = (await raw(limited, "/v1/organization/projects", { body: JSON.stringify({ name: "rl" }), headers })).body as { id: string };
    const set = await raw(limited, `/v1/organization/projects/${project.id}/rate_limits/rl-stories`, { body: JSON.stringify({ max_requests_per_1_minute: 2 }), headers });
    assert.equal(set.status, 200, set.text);
    const key = ((await raw(limited, `/v1/organization/projects/${project.id}/api_keys`, { body: JSON.stringify({ name: "k" }), headers })).body as { value: string }).value;
    const ask = () => raw(limited, "/v1/completions", { body: JSON.stringify({ model: "stories", prompt: PROMPT, max_tokens: 2 }), headers: { authorization: `Bearer ${key}` } });
    const [a, b, c] = [await ask(), await ask(), await ask()];
    assert.deepEqual([a.status, b.status, c.status], [200, 200, 429]);
    assert.equal(a.headers.get("x-ratelimit-limit-requests"), "2");
    assertSchema("ErrorResponse", c.body);
    assert.equal((c.body as { error: { code: string } }).error.code, "rate_limit_exceeded");
    const anonymous = await raw(limited, "/v1/completions", { body: JSON.stringify({ model: "stories", prompt: PROMPT }) });
    assert.equal(anonymous.status, 401);
  });
});
