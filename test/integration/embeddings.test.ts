import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getLlama, LlamaCompletion, LlamaLogLevel, type Llama, type LlamaModel } from "node-llama-cpp";
import OpenAI, { toFile } from "openai";
import { ApiError } from "../../src/core/errors.ts";
import { startFakeUpstream, type FakeUpstream } from "../helpers/fake-upstream.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { raw, STORIES, startTestServer, type TestServer } from "../helpers/server.ts";

/** stories260K's embedding size. */
const N_EMBD = 64;
const PRICING = { input: 1, cachedInput: 0.5, output: 2 };
/** What LocalModel.load overrides for a GGUF without a pooling type: llama.cpp's mean pooling. */
const MEAN_POOLING = { llama: { pooling_type: 1 } } as NonNullable<Parameters<Llama["loadModel"]>[0]["metadataOverrides"]>;

type EmbeddingBody = { object: string; data: { object: string; index: number; embedding: number[] | string }[]; model: string; usage: { prompt_tokens: number; total_tokens: number } };
type ErrorBody = { error: { message: string; type: string; param: string | null; code: string | null } };

const norm = (v: ArrayLike<number>): number => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));
const unit = (v: ArrayLike<number>): number[] => {
  const n = norm(v);
  return Array.from(v, (x) => Math.fround(x / n));
};
const cosine = (a: readonly number[], b: readonly number[]): number => a.reduce((s, x, i) => s + x * (b[i] as number), 0) / (norm(a) * norm(b));
const decode = (b64: string): number[] => {
  const bytes = Buffer.from(b64, "base64");
  return Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
};

let server: TestServer;
let fake: FakeUpstream;
let llama: Llama;
let plain: LlamaModel;

async function embed(body: Record<string, unknown>): Promise<{ status: number; body: EmbeddingBody }> {
  const res = await raw(server, "/v1/embeddings", { body: JSON.stringify(body) });
  if (res.status === 200) {
    const b = res.body as EmbeddingBody;
    // The spec types `embedding` as numbers; base64 answers are checked with their vectors decoded.
    assertSchema("CreateEmbeddingResponse", { ...b, data: b.data.map((d) => ({ ...d, embedding: typeof d.embedding === "string" ? decode(d.embedding) : d.embedding })) });
  }
  return { status: res.status, body: res.body as EmbeddingBody };
}

async function vectors(input: unknown, extra: Record<string, unknown> = {}): Promise<number[][]> {
  const res = await embed({ model: "stories", input, encoding_format: "float", ...extra });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data.map((d) => d.embedding as number[]);
}

async function rejects(body: unknown, status: number, param: string | null, code?: string): Promise<void> {
  const res = await raw(server, "/v1/embeddings", { body: typeof body === "string" ? body : JSON.stringify(body) });
  assert.equal(res.status, status, res.text);
  assertSchema("ErrorResponse", res.body);
  const { error } = res.body as ErrorBody;
  assert.equal(error.param, param, res.text);
  if (code !== undefined) assert.equal(error.code, code, res.text);
}

before(async () => {
  fake = await startFakeUpstream();
  server = await startTestServer({
    models: [{ id: "stories", path: STORIES, aliases: ["text-embedding-3-small"], pricing: PRICING }],
    upstreams: {
      deployments: [{ id: "up", provider: "openai-compatible", baseUrl: fake.url, model: "text-embedding-3-large", weight: 1, timeoutMs: 2000 }],
      models: [{ name: "cloud-embed", aliases: [], deployments: ["up"], fallbacks: [], contextFallbacks: [], maxRetries: 0, deadlineMs: 5000, breakerThreshold: 100, breakerCooldownMs: 0 }],
    },
  });
  // llama.cpp's log level is process-wide: keep the server's (errors only).
  llama = await getLlama({ build: "never", gpu: false, logLevel: LlamaLogLevel.error });
  plain = await llama.loadModel({ modelPath: STORIES, defaultContextFlashAttention: false });
});
after(async () => {
  await server.close();
  await fake.close();
  await plain.dispose();
  await llama.dispose();
});

describe("Embeddings on a local model", () => {
  it("mean pooling (the GGUF declares none) leaves chat output unchanged for a seed, and is what the server computes", async () => {
    const pooled = await llama.loadModel({ modelPath: STORIES, defaultContextFlashAttention: false, metadataOverrides: MEAN_POOLING });
    try {
      const generate = async (model: LlamaModel): Promise<string[]> => {
        const context = await model.createContext({ contextSize: 512, threads: 1, flashAttention: false });
        try {
          const out: string[] = [];
          for (const seed of [1, 2, 3]) {
            const sequence = context.getSequence();
            out.push(await new LlamaCompletion({ contextSequence: sequence }).generateCompletion("Once upon a time", { maxTokens: 120, temperature: 0.8, seed }));
            sequence.dispose();
          }
          return out;
        } finally {
          await context.dispose();
        }
      };
      const [without, withOverride] = [await generate(plain), await generate(pooled)];
      assert.ok(without.every((t) => t.length > 40));
      assert.deepEqual(withOverride, without, "the pooling override must not change generation");

      const text = "The little dog ran to the park.";
      const vectorOf = async (model: LlamaModel): Promise<number[]> => {
        const context = await model.createEmbeddingContext({ contextSize: 512, batchSize: 512, threads: 1 });
        try {
          return unit((await context.getEmbeddingFor(text)).vector);
        } finally {
          await context.dispose();
        }
      };
      const [served] = await vectors(text);
      const mean = await vectorOf(pooled);
      const last = await vectorOf(plain);
      assert.ok(served!.every((x, i) => Math.abs(x - (mean[i] as number)) < 1e-5), "the server mean-pools");
      assert.ok(cosine(served!, last) < 0.99, "and does not return the last token's state");
    } finally {
      await pooled.dispose();
    }
  });

  it("answers the SDK (base64 by default) and raw float requests with the same unit vectors", async () => {
    const sdk = await server.client.embeddings.create({ model: "stories", input: ["Once upon a time", "The cat sat on the mat."] });
    assert.equal(sdk.object, "list");
    assert.equal(sdk.model, "stories");
    const floats = await vectors(["Once upon a time", "The cat sat on the mat."]);
    assert.deepEqual(sdk.data.map((d) => d.embedding), floats);
    const b64 = await embed({ model: "stories", input: ["Once upon a time", "The cat sat on the mat."], encoding_format: "base64" });
    assert.equal(b64.status, 200);
    assert.deepEqual(b64.body.data.map((d) => decode(d.embedding as string)), floats);
    assert.deepEqual(b64.body.usage, sdk.usage);
    for (const v of floats) {
      assert.equal(v.length, N_EMBD);
      assert.ok(Math.abs(norm(v) - 1) < 1e-5);
    }
    const explicit = await server.client.embeddings.create({ model: "text-embedding-3-small", input: "Once upon a time", encoding_format: "float" });
    assert.deepEqual(explicit.data[0]!.embedding, floats[0]);
    assert.equal(explicit.model, "stories", "an alias answers with the model's id");
  });

  it("takes all four input forms; token ids embed as their text does; identical texts give identical vectors", async () => {
    const text = "Lily went to the park.";
    const ids = plain.tokenize(text);
    const [fromString] = await vectors(text);
    const [fromTokens] = await vectors(ids);
    const [fromTokenArrays, second] = await vectors([ids, ids.slice(0, 3)]);
    const [a, b, c] = await vectors([text, text, "Something else entirely."]);
    assert.deepEqual(fromTokens, fromString);
    assert.deepEqual(fromTokenArrays, fromString);
    assert.deepEqual(a, fromString);
    assert.deepEqual(b, a);
    assert.notDeepEqual(c, a);
    assert.notDeepEqual(second, a);
    const [withBos] = await vectors([1, ...ids]);
    assert.deepEqual(withBos, fromString, "a leading BOS is not added twice");
  });

  it("counts usage as the tokens evaluated, BOS included: a request's is the sum of its inputs'", async () => {
    const texts = ["One", "Two little birds.", "A much longer sentence about a girl named Lily and her dog."];
    const single = await Promise.all(texts.map((t) => embed({ model: "stories", input: t })));
    const each = single.map((r) => r.body.usage.prompt_tokens);
    assert.deepEqual(each.map((n, i) => n - plain.tokenize(texts[i] as string).length), [1, 1, 1], "tokens plus BOS");
    const all = await embed({ model: "stories", input: texts });
    assert.deepEqual(all.body.usage, { prompt_tokens: each.reduce((s, n) => s + n, 0), total_tokens: each.reduce((s, n) => s + n, 0) });
    const ids = await embed({ model: "stories", input: [[5, 6, 7], [1, 8]] });
    assert.equal(ids.body.usage.prompt_tokens, 4 + 2);
  });

  it("truncates to dimensions and renormalises; more dimensions than the model has is a 400", async () => {
    const [full] = await vectors("Once upon a time");
    const [short] = await vectors("Once upon a time", { dimensions: 16 });
    assert.equal(short!.length, 16);
    assert.ok(Math.abs(norm(short!) - 1) < 1e-5);
    assert.ok(short!.every((x, i) => Math.abs(x - (unit(full!.slice(0, 16))[i] as number)) < 1e-6));
    assert.equal((await vectors("x", { dimensions: N_EMBD }))[0]!.length, N_EMBD);
    await rejects({ model: "stories", input: "x", dimensions: N_EMBD + 1 }, 400, "dimensions", "invalid_value");
    await rejects({ model: "stories", input: "x", dimensions: 0 }, 400, "dimensions", "integer_below_min_value");
    await rejects({ model: "stories", input: "x", dimensions: 1.5 }, 400, "dimensions", "invalid_type");
  });

  it("embeds 2,048 inputs in one request, in order", async () => {
    const inputs = Array.from({ length: 2048 }, (_, i) => `n${i % 7}`);
    const started = performance.now();
    const res = await embed({ model: "stories", input: inputs, encoding_format: "base64" });
    const seconds = (performance.now() - started) / 1000;
    assert.equal(res.status, 200);
    assert.equal(res.body.data.length, 2048);
    assert.deepEqual(res.body.data.map((d) => d.index), inputs.map((_, i) => i));
    assert.equal(res.body.data[7]!.embedding, res.body.data[0]!.embedding);
    assert.notEqual(res.body.data[1]!.embedding, res.body.data[0]!.embedding);
    console.log(`# 2,048 short inputs in ${seconds.toFixed(2)} s: ${Math.round(2048 / seconds)} inputs/s`);
  });

  it("answers bad requests with OpenAI's status and param", async () => {
    await rejects({ input: "x" }, 400, "model", "missing_required_parameter");
    await rejects({ model: "nope", input: "x" }, 404, "model", "model_not_found");
    await rejects({ model: "stories" }, 400, "input", "missing_required_parameter");
    await rejects({ model: "stories", input: "" }, 400, "input", "empty_string");
    await rejects({ model: "stories", input: ["a", ""] }, 400, "input", "empty_string");
    await rejects({ model: "stories", input: [] }, 400, "input", "empty_array");
    await rejects({ model: "stories", input: [[1], []] }, 400, "input", "empty_array");
    await rejects({ model: "stories", input: Array.from({ length: 2049 }, () => "a") }, 400, "input", "array_above_max_length");
    await rejects({ model: "stories", input: 42 }, 400, "input", "invalid_type");
    await rejects({ model: "stories", input: { text: "a" } }, 400, "input", "invalid_type");
    await rejects({ model: "stories", input: ["a", 1] }, 400, "input", "invalid_type");
    await rejects({ model: "stories", input: [1, 2.5] }, 400, "input", "invalid_type");
    await rejects({ model: "stories", input: [[1, "2"]] }, 400, "input", "invalid_type");
    await rejects({ model: "stories", input: [null] }, 400, "input", "invalid_type");
    await rejects({ model: 7, input: "x" }, 400, "model", "invalid_type");
    await rejects({ model: "stories", input: "x", encoding_format: "int8" }, 400, "encoding_format", "invalid_value");
    await rejects({ model: "stories", input: "x", user: 5 }, 400, "user", "invalid_type");
    await rejects({ model: "stories", input: "x", temperature: 1 }, 400, "temperature", "unknown_parameter");
    await rejects("[1]", 400, null);
    await rejects({ model: "stories", input: "Once upon a time there was a dog. ".repeat(300) }, 400, "input", "context_length_exceeded");
    await rejects({ model: "stories", input: [5, 6, 512] }, 400, "input", "invalid_value");
    await rejects({ model: "stories", input: [[5], [-1]] }, 400, "input", "invalid_value");
    await rejects({ model: "stories", input: Array.from({ length: 2048 }, () => Array.from({ length: 147 }, () => 5)) }, 400, "input", "max_tokens_per_request");
    // The longest input that fits: 2,047 tokens with BOS in a 2,048-token context.
    const fits = await embed({ model: "stories", input: [Array.from({ length: 2046 }, () => 5)] });
    assert.equal(fits.status, 200);
    assert.equal(fits.body.usage.prompt_tokens, 2047);
    await rejects({ model: "stories", input: [Array.from({ length: 2047 }, () => 5)] }, 400, "input", "context_length_exceeded");
    await assert.rejects(server.client.embeddings.create({ model: "stories", input: "" }), (e: unknown) => e instanceof OpenAI.BadRequestError);
  });

  it("meters embeddings requests by their prompt tokens", async () => {
    await server.meter.flush();
    const res = await embed({ model: "stories", input: ["metered one", "metered two"] });
    await server.meter.flush();
    const [row] = await server.storage.db.all("SELECT * FROM usage_records WHERE endpoint = '/v1/embeddings' ORDER BY created_at DESC, rowid DESC LIMIT 1", []);
    assert.equal(Number(row!.input_tokens), res.body.usage.prompt_tokens);
    assert.equal(Number(row!.output_tokens), 0);
    assert.ok(Math.abs(Number(row!.cost_usd) - (res.body.usage.prompt_tokens * PRICING.input) / 1e6) < 1e-12);
  });

  it("serves interactive calls before background ones, and stops an aborted call between inputs", async () => {
    const model = server.registry.resolve("stories");
    const order: string[] = [];
    const background = model.embed!(Array.from({ length: 400 }, (_, i) => `background ${i}`), { priority: "background" }, new AbortController().signal).then(() => order.push("background"));
    await new Promise((r) => setTimeout(r, 20));
    const interactive = model.embed!(["interactive"], { priority: "interactive" }, new AbortController().signal).then(() => order.push("interactive"));
    await Promise.all([background, interactive]);
    assert.deepEqual(order, ["interactive", "background"]);

    const abort = new AbortController();
    const started = performance.now();
    const aborted = model.embed!(Array.from({ length: 2000 }, (_, i) => `aborted ${i}`), { priority: "interactive" }, abort.signal);
    setTimeout(() => abort.abort(), 30);
    await assert.rejects(aborted);
    assert.ok(performance.now() - started < 1000, "the call stopped soon after its abort");
    const after = await model.embed!(["still works"], { priority: "interactive" }, new AbortController().signal);
    assert.equal(after.vectors[0]!.length, N_EMBD);
  });

  it("runs /v1/embeddings batch lines on the local model at half price", async () => {
    const lines = [
      { custom_id: "a", method: "POST", url: "/v1/embeddings", body: { model: "stories", input: ["Once upon a time", "The end"] } },
      { custom_id: "b", method: "POST", url: "/v1/embeddings", body: { model: "stories", input: "Lily", dimensions: 8, encoding_format: "base64" } },
      { custom_id: "c", method: "POST", url: "/v1/embeddings", body: { model: "stories", input: [7, 100000] } },
    ];
    const file = await server.client.files.create({ file: await toFile(Buffer.from(lines.map((l) => JSON.stringify(l)).join("\n")), "embed.jsonl"), purpose: "batch" });
    const created = await server.client.batches.create({ input_file_id: file.id, endpoint: "/v1/embeddings", completion_window: "24h" });
    let done = created;
    for (const started = Date.now(); !["completed", "failed"].includes(done.status); await new Promise((r) => setTimeout(r, 50))) {
      if (Date.now() - started > 20_000) throw new Error(`batch stuck in ${done.status}`);
      done = await server.client.batches.retrieve(created.id);
    }
    assert.equal(done.status, "completed", JSON.stringify(done.errors));
    assert.deepEqual(done.request_counts, { total: 3, completed: 2, failed: 1 });
    type Line = { custom_id: string; response: { status_code: number; body: EmbeddingBody & ErrorBody } };
    const read = async (id: string): Promise<Line[]> => (await (await server.client.files.content(id)).text()).trim().split("\n").map((l) => JSON.parse(l) as Line);
    const output = await read(done.output_file_id!);
    const byId = new Map(output.map((l) => [l.custom_id, l.response.body]));
    assertSchema("CreateEmbeddingResponse", byId.get("a"));
    assert.deepEqual(byId.get("a")!.data.map((d) => d.embedding), await vectors(["Once upon a time", "The end"]));
    assert.equal(decode(byId.get("b")!.data[0]!.embedding as string).length, 8);
    const [failed] = await read(done.error_file_id!);
    assert.equal(failed!.custom_id, "c");
    assert.equal(failed!.response.status_code, 400);
    assert.equal(failed!.response.body.error.param, "input");
    await server.meter.flush();
    const rows = await server.storage.db.all("SELECT input_tokens, cost_usd FROM usage_records WHERE batch = 1 AND endpoint = '/v1/embeddings'", []);
    const tokens = output.reduce((s, l) => s + l.response.body.usage.prompt_tokens, 0);
    assert.equal(rows.reduce((s, r) => s + Number(r.input_tokens), 0), tokens);
    const cost = rows.reduce((s, r) => s + Number(r.cost_usd), 0);
    assert.ok(Math.abs(cost - (tokens * PRICING.input) / 1e6 / 2) < 1e-12, `batch cost ${cost} is half of full price`);
  });
});

describe("Embeddings through an upstream model", () => {
  it("relays /v1/embeddings as is, and embeds for internal callers with unit vectors in input order", async () => {
    const answer = { object: "list", data: [{ object: "embedding", index: 1, embedding: [0, 3, 4] }, { object: "embedding", index: 0, embedding: [1, 0, 0] }], model: "text-embedding-3-large", usage: { prompt_tokens: 5, total_tokens: 5 } };
    fake.script(() => ({ kind: "json", status: 200, body: answer }));
    const relayed = await raw(server, "/v1/embeddings", { body: JSON.stringify({ model: "cloud-embed", input: ["a", "b"] }) });
    assert.deepEqual(relayed.body, answer, "the relay passes the upstream's bytes through");
    const model = server.registry.resolve("cloud-embed");
    const result = await model.embed!(["a", "b"], { priority: "background", dimensions: 2 }, new AbortController().signal);
    const sent = fake.seen.at(-1)!.body;
    assert.deepEqual(sent, { model: "text-embedding-3-large", input: ["a", "b"], encoding_format: "float", dimensions: 2 });
    assert.deepEqual(result.vectors.map((v) => Array.from(v)), [[1, 0], [0, 1]]);
    assert.equal(result.promptTokens, 5);

    fake.script(() => ({ kind: "json", status: 200, body: { data: [{ index: 0, embedding: "nope" }] } }));
    await assert.rejects(model.embed!(["a"], { priority: "background" }, new AbortController().signal), (e: unknown) => e instanceof ApiError && e.status === 502);
    fake.script(() => ({ kind: "json", status: 400, body: { error: { message: "too long", type: "invalid_request_error", param: "input", code: null } } }));
    await assert.rejects(model.embed!(["a"], { priority: "background" }, new AbortController().signal), (e: unknown) => e instanceof ApiError && e.status === 400 && e.param === "input");
  });
});
