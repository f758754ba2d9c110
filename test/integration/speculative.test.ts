import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ConfigError } from "../../src/config/load.ts";
import { raw, startTestServer, STORIES, TINY_RANDOM, type TestServer } from "../helpers/server.ts";

// One server, the same GGUF three times: decoded without drafts (deterministic sampling, which
// speculative decoding implies), with prompt lookup, and with a draft model
// (the only model with the same vocabulary is the target itself, which drafts exactly what greedy
// decoding gives and so exercises both acceptance and, when sampling, refutation).
let server: TestServer;
before(async () => {
  server = await startTestServer({
    models: [
      { id: "plain", path: STORIES, aliases: [], deterministicSampling: true },
      { id: "lookup", path: STORIES, aliases: [], promptLookup: true },
      { id: "draft", path: STORIES, aliases: [], draftModel: STORIES, speculativeTokens: 4 },
    ],
  });
});
after(() => server.close());

const STORY = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";
const SCHEMA = {
  type: "object",
  properties: { name: { type: "string", maxLength: 12 }, age: { type: "integer", minimum: 0, maximum: 99 } },
  required: ["name", "age"],
  additionalProperties: false,
} as const;
const WEATHER = { type: "function" as const, function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } };

type Body = Record<string, unknown>;

/** Twenty seeded requests: plain text greedy and sampled, penalties, stops, n, JSON schema, tools, logprobs, raw completions. */
function requests(): { path: string; body: Body }[] {
  const chat = (extra: Body): { path: string; body: Body } => ({ path: "/v1/chat/completions", body: { messages: [{ role: "user", content: STORY }], max_tokens: 60, ...extra } });
  const completion = (extra: Body): { path: string; body: Body } => ({ path: "/v1/completions", body: { prompt: `${STORY} ${STORY}`, max_tokens: 60, ...extra } });
  return [
    chat({ seed: 1 }),
    chat({ seed: 2, temperature: 0 }),
    chat({ seed: 3, temperature: 1.3 }),
    chat({ seed: 4, top_p: 0.5 }),
    chat({ seed: 5, presence_penalty: 1.5, frequency_penalty: 0.5 }),
    chat({ seed: 6, stop: ["park"] }),
    chat({ seed: 7, n: 3 }),
    chat({ seed: 8, logprobs: true, top_logprobs: 3 }),
    chat({ seed: 9, temperature: 0, logprobs: true }),
    chat({ seed: 10, response_format: { type: "json_schema", json_schema: { name: "person", schema: SCHEMA, strict: true } } }),
    chat({ seed: 11, response_format: { type: "json_object" } }),
    chat({ seed: 12, tools: [WEATHER] }),
    chat({ seed: 13, tools: [WEATHER], tool_choice: "required" }),
    chat({ seed: 14, logit_bias: { "300": 5, "301": -100 } }),
    completion({ seed: 15 }),
    completion({ seed: 16, temperature: 0 }),
    completion({ seed: 17, logprobs: 2, echo: true }),
    completion({ seed: 18, n: 2, best_of: 2 }),
    completion({ seed: 19, stop: ["."] }),
    completion({ seed: 20, temperature: 0.5, max_tokens: 120 }),
  ];
}

/** The parts of an answer that must not change: everything but ids, timestamps, model names and usage details of caching. */
function essence(body: unknown): unknown {
  const { choices, usage } = body as { choices: unknown[]; usage: { prompt_tokens: number; completion_tokens: number } };
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value === null || typeof value !== "object") return value;
    // Tool call ids are random per call.
    return Object.fromEntries(Object.entries(value).filter(([k]) => k !== "id").map(([k, v]) => [k, strip(v)]));
  };
  return { choices: strip(choices), prompt: usage.prompt_tokens, completion: usage.completion_tokens };
}

async function ask(path: string, model: string, body: Body): Promise<unknown> {
  const res = await raw(server, path, { body: JSON.stringify({ ...body, model }) });
  assert.equal(res.status, 200, res.text);
  return res.body;
}

async function speculation(model: string): Promise<{ drafted: number; accepted: number }> {
  const health = (await raw(server, "/health")).body as { models: Record<string, { speculative_drafted?: number; speculative_accepted?: number }> };
  const stats = health.models[model];
  return { drafted: stats?.speculative_drafted ?? 0, accepted: stats?.speculative_accepted ?? 0 };
}

describe("speculative decoding", () => {
  it("gives byte-identical outputs to plain decoding for 20 seeded requests, with drafts both accepted and refuted", async () => {
    for (const [i, { path, body }] of requests().entries()) {
      const plain = essence(await ask(path, "plain", body));
      assert.deepEqual(essence(await ask(path, "lookup", body)), plain, `request ${i + 1} with prompt lookup`);
      assert.deepEqual(essence(await ask(path, "draft", body)), plain, `request ${i + 1} with a draft model`);
    }
    const lookup = await speculation("lookup");
    const draft = await speculation("draft");
    assert.ok(lookup.accepted > 0 && lookup.accepted < lookup.drafted, `prompt lookup drafted ${lookup.drafted}, accepted ${lookup.accepted}`);
    assert.ok(draft.accepted > 0 && draft.accepted < draft.drafted, `the draft model drafted ${draft.drafted}, accepted ${draft.accepted}`);
    assert.equal((await speculation("plain")).drafted, 0);
  });

  it("streams the same text as it answers whole", async () => {
    const body = { messages: [{ role: "user", content: STORY }], max_tokens: 80, seed: 42 };
    const whole = (await ask("/v1/chat/completions", "lookup", body)) as { choices: { message: { content: string } }[] };
    const stream = await server.client.chat.completions.create({ ...body, model: "lookup", messages: [{ role: "user", content: STORY }], stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    assert.equal(text, whole.choices[0]?.message.content);
  });

  it("answers a seeded request the same alone and among concurrent requests that share the engine's batches", async () => {
    const body = { messages: [{ role: "user", content: STORY }], max_tokens: 80, seed: 7 };
    const alone = essence(await ask("/v1/chat/completions", "plain", body));
    const others = [1, 2, 3].map((seed) => ask("/v1/chat/completions", "plain", { ...body, seed }));
    const together = essence(await ask("/v1/chat/completions", "plain", body));
    await Promise.all(others);
    assert.deepEqual(together, alone);
  });

  it("refuses to start with a draft model whose vocabulary differs, naming the model", async () => {
    await assert.rejects(
      startTestServer({ models: [{ id: "mismatched", path: STORIES, aliases: [], draftModel: TINY_RANDOM }] }),
      (error: unknown) => error instanceof ConfigError && /Model 'mismatched'.*same vocabulary/.test(error.message),
    );
  });
});
