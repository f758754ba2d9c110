import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import busboy from "busboy";
import OpenAI, { toFile } from "openai";
import { ImageService } from "../../src/services/image-service.ts";
import type { RequestGate } from "../../src/services/request-gate.ts";
import { createProjectKeys } from "../helpers/admin.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { raw, startTestServer, type TestServer } from "../helpers/server.ts";
import { lastUsageRecord } from "../helpers/usage-records.ts";
import { checkEvents } from "../helpers/response-events.ts";
import type { ResponseStreamEvent } from "../../src/protocol/openai/responses-stream.ts";

// The Images API relayed to an OpenAI-compatible upstream and to Azure: a real HTTP server on
// 127.0.0.1 that reads what it is sent (JSON, or multipart with busboy) and answers ImagesResponse
// JSON, or SSE partial-image events when asked to stream.

interface Seen {
  url: string;
  headers: IncomingMessage["headers"];
  json?: Record<string, unknown>;
  fields?: [string, string][];
  files?: { name: string; filename: string; mimeType: string; bytes: Buffer }[];
}

const SECRET = "sk-upstream-images";
const ADMIN = "sk-admin-images-test-key";
// Not real PNGs: the bytes only have to arrive as they were sent.
const IMAGE_A = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(3000, 7), Buffer.from("\r\n--not-a-boundary\r\n")]);
const IMAGE_B = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 31) % 256));
const MASK = Buffer.from(Array.from({ length: 1200 }, (_, i) => 255 - (i % 256)));
const MADE = Buffer.from("pretend-png-output").toString("base64");
const GPT_USAGE = { input_tokens: 50, output_tokens: 4160, total_tokens: 4210, input_tokens_details: { text_tokens: 50, image_tokens: 0 } };

let upstream: Server;
let upstreamUrl = "";
const seen: Seen[] = [];

async function read(req: IncomingMessage): Promise<Seen> {
  const entry: Seen = { url: req.url ?? "", headers: req.headers };
  if ((req.headers["content-type"] ?? "").startsWith("multipart/form-data")) {
    const fields: [string, string][] = [];
    const files: NonNullable<Seen["files"]> = [];
    entry.fields = fields;
    entry.files = files;
    const form = busboy({ headers: req.headers });
    form.on("field", (name, value) => fields.push([name, value]));
    form.on("file", (name, stream, info) => {
      const file = { name, filename: info.filename ?? "", mimeType: info.mimeType, bytes: Buffer.alloc(0) };
      files.push(file);
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => (file.bytes = Buffer.concat(chunks)));
    });
    req.pipe(form);
    await once(form, "close");
  } else {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    entry.json = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
  }
  return entry;
}

/** What the fake upstream answers: GPT Image answers with its choices and tokens, DALL·E without. */
function answer(entry: Seen, res: import("node:http").ServerResponse): void {
  const params = entry.json ?? Object.fromEntries(entry.fields ?? []);
  if (params.prompt === "forbidden") {
    res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "Your request was rejected by the safety system.", type: "invalid_request_error", param: "prompt", code: "moderation_blocked" } }));
    return;
  }
  const model = String(params.model);
  const n = Number(params.n ?? 1);
  const edit = entry.url.includes("/images/edits");
  if (params.stream === true || params.stream === "true") {
    const prefix = edit ? "image_edit" : "image_generation";
    const common = { created_at: 1_700_000_000, size: "1024x1024", quality: "medium", background: "opaque", output_format: "png" };
    res.writeHead(200, { "content-type": "text/event-stream" });
    const partials = Number(params.partial_images ?? 0);
    for (let i = 0; i < partials; i++) {
      res.write(`event: ${prefix}.partial_image\ndata: ${JSON.stringify({ type: `${prefix}.partial_image`, b64_json: MADE, partial_image_index: i, ...common })}\n\n`);
    }
    setTimeout(() => res.end(`event: ${prefix}.completed\ndata: ${JSON.stringify({ type: `${prefix}.completed`, b64_json: MADE, ...common, usage: GPT_USAGE })}\n\n`), 20);
    return;
  }
  const gpt = model.startsWith("gpt-image");
  const data = Array.from({ length: n }, () => (gpt ? { b64_json: MADE } : { b64_json: MADE, revised_prompt: "A revised prompt." }));
  const body = gpt
    ? { created: 1_700_000_000, data, size: params.size === undefined || params.size === "auto" ? "1024x1024" : params.size, quality: params.quality === undefined || params.quality === "auto" ? "medium" : params.quality, background: "opaque", output_format: "png", usage: GPT_USAGE }
    : { created: 1_700_000_000, data };
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
}

let server: TestServer;
let client: OpenAI;
let projectKey = "";
before(async () => {
  upstream = createServer((req, res) => {
    void read(req).then((entry) => {
      seen.push(entry);
      answer(entry, res);
    });
  });
  upstream.listen(0, "127.0.0.1");
  await once(upstream, "listening");
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  process.env.TEST_IMAGES_UPSTREAM_KEY = SECRET;
  server = await startTestServer({
    env: { MODELPORT_ADMIN_KEY: ADMIN },
    upstreams: {
      deployments: [
        { id: "openai-gpt-image", baseUrl: `${upstreamUrl}/v1`, apiKeyEnv: "TEST_IMAGES_UPSTREAM_KEY", model: "gpt-image-1" },
        { id: "openai-dalle2", baseUrl: `${upstreamUrl}/v1`, apiKeyEnv: "TEST_IMAGES_UPSTREAM_KEY", model: "dall-e-2" },
        { id: "azure-dalle3", provider: "azure-openai", apiVersion: "2025-04-01-preview", baseUrl: upstreamUrl, apiKeyEnv: "TEST_IMAGES_UPSTREAM_KEY", model: "my-dalle3" },
        { id: "chat-only", baseUrl: `${upstreamUrl}/v1`, model: "gpt-4o-mini", endpoints: ["/responses"] },
      ],
      models: [
        // Token prices configured for a model do not change what its images cost.
        { name: "cloud-image", deployments: ["openai-gpt-image"], pricing: { input: 1000, output: 1000 } },
        { name: "cloud-dalle", deployments: ["openai-dalle2"] },
        { name: "dall-e-3", deployments: ["azure-dalle3"] },
        { name: "cloud-chat", deployments: ["chat-only"] },
      ],
    },
  });
  projectKey = (await createProjectKeys(server, ADMIN, ["images"]))[0] ?? "";
  client = new OpenAI({ baseURL: server.baseURL, apiKey: projectKey, maxRetries: 0 });
});
after(async () => {
  await server?.close();
  upstream?.close();
});
beforeEach(() => {
  seen.length = 0;
});

const lastUsage = lastUsageRecord(() => server, "/v1/images/%");

/** A multipart request to the server, as a client other than the SDK might send it. */
async function postForm(path: string, form: FormData): Promise<{ status: number; body: { error?: { param?: string | null; code?: string | null } } }> {
  const res = await fetch(`${server.baseURL}${path}`, { method: "POST", headers: { authorization: `Bearer ${projectKey}` }, body: form });
  return { status: res.status, body: (await res.json()) as { error?: { param?: string | null; code?: string | null } } };
}

const close = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9;

describe("the Images API relayed to upstreams", () => {
  it("relays a generation as JSON with the deployment's model name and key, and meters images, tokens and the per-image price", async () => {
    const result = await client.images.generate({ model: "cloud-image", prompt: "A lighthouse at dusk", n: 2, size: "1024x1536", quality: "high", output_format: "png", moderation: "low", background: "opaque" });
    assertSchema("ImagesResponse", result);
    assert.equal(result.data?.length, 2);
    assert.equal(result.data?.[0]?.b64_json, MADE);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.url, "/v1/images/generations");
    assert.equal(seen[0]!.headers.authorization, `Bearer ${SECRET}`);
    assert.deepEqual(seen[0]!.json, { model: "gpt-image-1", prompt: "A lighthouse at dusk", n: 2, size: "1024x1536", quality: "high", output_format: "png", moderation: "low", background: "opaque" });
    const usage = await lastUsage();
    assert.deepEqual([usage.model, usage.endpoint, Number(usage.images), usage.image_size], ["cloud-image", "/v1/images/generations", 2, "1024x1536"]);
    assert.deepEqual([Number(usage.input_tokens), Number(usage.output_tokens)], [50, 4160]);
    // gpt-image-1, high, 1024x1536: $0.25 an image; the configured token prices do not apply.
    assert.ok(close(Number(usage.cost_usd), 0.5), String(usage.cost_usd));
  });

  it("relays to Azure's deployment URL with its api-key header, pricing DALL·E 3 HD by size", async () => {
    const result = await client.images.generate({ model: "dall-e-3", prompt: "A fox", size: "1792x1024", quality: "hd", style: "natural", response_format: "b64_json" });
    assertSchema("ImagesResponse", result);
    assert.equal(result.data?.[0]?.revised_prompt, "A revised prompt.");
    assert.equal(seen[0]!.url, "/openai/deployments/my-dalle3/images/generations?api-version=2025-04-01-preview");
    assert.equal(seen[0]!.headers["api-key"], SECRET);
    assert.equal(seen[0]!.json?.model, "my-dalle3");
    const usage = await lastUsage();
    assert.deepEqual([Number(usage.images), usage.image_size], [1, "1792x1024"]);
    assert.ok(close(Number(usage.cost_usd), 0.12), String(usage.cost_usd));
  });

  it("relays an edit with several images and a mask as multipart, the files byte for byte and the model name replaced", async () => {
    const result = await client.images.edit({
      model: "cloud-image",
      image: [await toFile(IMAGE_A, "first.png", { type: "image/png" }), await toFile(IMAGE_B, "second.webp", { type: "image/webp" })],
      mask: await toFile(MASK, "mask.png", { type: "image/png" }),
      prompt: "Put them on a beach",
      size: "1024x1024",
      quality: "low",
      input_fidelity: "high",
    });
    assertSchema("ImagesResponse", result);
    const sent = seen[0]!;
    assert.equal(sent.url, "/v1/images/edits");
    assert.equal(sent.headers.authorization, `Bearer ${SECRET}`);
    const fields = sent.fields!;
    assert.deepEqual(fields.filter(([n]) => n === "model"), [["model", "gpt-image-1"]]);
    assert.deepEqual(fields.filter(([n]) => n === "prompt"), [["prompt", "Put them on a beach"]]);
    assert.deepEqual(fields.filter(([n]) => n === "input_fidelity"), [["input_fidelity", "high"]]);
    // The parts keep the order the client sent them in (the SDK puts the mask first).
    const images = sent.files!.filter((f) => f.name === "image[]");
    const masks = sent.files!.filter((f) => f.name === "mask");
    assert.deepEqual(images.map((f) => [f.filename, f.mimeType]), [["first.png", "image/png"], ["second.webp", "image/webp"]]);
    assert.deepEqual(masks.map((f) => [f.filename, f.mimeType]), [["mask.png", "image/png"]]);
    assert.equal(sent.files!.length, 3);
    assert.ok(images[0]!.bytes.equals(IMAGE_A));
    assert.ok(images[1]!.bytes.equals(IMAGE_B));
    assert.ok(masks[0]!.bytes.equals(MASK));
    const usage = await lastUsage();
    assert.deepEqual([usage.endpoint, Number(usage.images), usage.image_size], ["/v1/images/edits", 1, "1024x1024"]);
    assert.ok(close(Number(usage.cost_usd), 0.011), String(usage.cost_usd));
  });

  it("relays a variation (one image) and prices DALL·E 2 by size", async () => {
    const result = await client.images.createVariation({ model: "cloud-dalle", image: await toFile(IMAGE_B, "v.png", { type: "image/png" }), n: 3, size: "512x512", response_format: "b64_json" });
    assertSchema("ImagesResponse", result);
    assert.equal(result.data?.length, 3);
    const sent = seen[0]!;
    assert.equal(sent.url, "/v1/images/variations");
    assert.deepEqual(sent.fields!.filter(([n]) => n === "model"), [["model", "dall-e-2"]]);
    assert.equal(sent.files!.length, 1);
    assert.equal(sent.files![0]!.name, "image");
    assert.ok(sent.files![0]!.bytes.equals(IMAGE_B));
    const usage = await lastUsage();
    assert.deepEqual([usage.endpoint, Number(usage.images), usage.image_size], ["/v1/images/variations", 3, "512x512"]);
    assert.ok(close(Number(usage.cost_usd), 3 * 0.018), String(usage.cost_usd));
  });

  it("passes streamed partial images through as SSE, metering each completed image and its tokens", async () => {
    const stream = await client.images.generate({ model: "cloud-image", prompt: "A kite", stream: true, partial_images: 2 });
    const types: string[] = [];
    for await (const event of stream) {
      assertSchema("ImageGenStreamEvent", event);
      types.push(event.type);
    }
    assert.deepEqual(types, ["image_generation.partial_image", "image_generation.partial_image", "image_generation.completed"]);
    assert.equal(seen[0]!.json?.stream, true);
    const usage = await lastUsage();
    assert.deepEqual([Number(usage.images), Number(usage.output_tokens), usage.image_size], [1, 4160, "1024x1024"]);
    assert.ok(close(Number(usage.cost_usd), 0.042), String(usage.cost_usd));
  });

  it("passes a streamed edit's image_edit events through", async () => {
    const stream = await client.images.edit({ model: "cloud-image", image: await toFile(IMAGE_A, "a.png", { type: "image/png" }), prompt: "Warmer", stream: true, partial_images: 1 });
    const types: string[] = [];
    for await (const event of stream) {
      assertSchema("ImageEditStreamEvent", event);
      types.push(event.type);
    }
    assert.deepEqual(types, ["image_edit.partial_image", "image_edit.completed"]);
    assert.deepEqual(seen[0]!.fields!.filter(([n]) => n === "stream"), [["stream", "true"]]);
    assert.equal(Number((await lastUsage()).images), 1);
  });

  it("reports the images usage page grouped by model, source and size, and filtered by source", async () => {
    await server.meter.flush();
    const start = Math.floor(Date.now() / 1000) - 3600;
    const headers = { authorization: `Bearer ${ADMIN}` };
    const res = await raw(server, `/v1/organization/usage/images?start_time=${start}&group_by[]=model&group_by[]=source&group_by[]=size&group_by[]=project_id`, { headers });
    assert.equal(res.status, 200, res.text);
    assertSchema("UsageResponse", res.body);
    type Result = { object: string; images: number; num_model_requests: number; model: string; source: string; size: string; project_id: string };
    const results = (res.body as { data: { results: Result[] }[] }).data.flatMap((b) => b.results);
    assert.ok(results.every((r) => r.object === "organization.usage.images.result" && r.project_id.startsWith("proj_")));
    const find = (model: string, source: string, size: string) => results.filter((r) => r.model === model && r.source === source && r.size === size).reduce((n, r) => n + r.images, 0);
    assert.equal(find("cloud-image", "image.generation", "1024x1536"), 2);
    assert.equal(find("dall-e-3", "image.generation", "1792x1024"), 1);
    assert.equal(find("cloud-image", "image.edit", "1024x1024"), 2);
    assert.equal(find("cloud-dalle", "image.variation", "512x512"), 3);
    const edits = await raw(server, `/v1/organization/usage/images?start_time=${start}&sources[]=image.edit`, { headers });
    assertSchema("UsageResponse", edits.body);
    const editResults = (edits.body as { data: { results: Result[] }[] }).data.flatMap((b) => b.results);
    assert.deepEqual([editResults.reduce((n, r) => n + r.images, 0), editResults.reduce((n, r) => n + r.num_model_requests, 0)], [2, 2]);
    const bad = await raw(server, `/v1/organization/usage/images?start_time=${start}&group_by=batch`, { headers });
    assert.deepEqual([bad.status, (bad.body as { error: { param: string } }).error.param], [400, "group_by"]);
    // Images are not completions.
    const completions = await raw(server, `/v1/organization/usage/completions?start_time=${start}&group_by[]=model`, { headers });
    const models = (completions.body as { data: { results: { model: string }[] }[] }).data.flatMap((b) => b.results.map((r) => r.model));
    assert.ok(!models.includes("cloud-image"), models.join());
  });

  it("generates one base64 image for a tool through ImageService.generate, admitted and metered as its own record", async () => {
    const admitted: string[] = [];
    const finished: unknown[] = [];
    const gate: RequestGate = {
      admit: async (_principal, requested) => {
        admitted.push(requested);
        return { headers: {}, finish: async (usage) => void finished.push(usage) };
      },
    };
    const service = new ImageService({ registry: server.registry, gate, meter: server.meter });
    const principal = { projectId: "proj_tool", keyId: null, admin: false, models: null };
    const image = await service.generate(principal, "cloud-image", { prompt: "A tool's picture", size: "1536x1024", quality: "low", background: "transparent", outputFormat: "webp" }, AbortSignal.timeout(5000));
    assert.deepEqual([image.b64, image.size, image.quality, image.background, image.outputFormat], [MADE, "1536x1024", "low", "opaque", "png"]);
    assert.ok(close(image.usage.costUsd ?? -1, 0.016));
    // GPT Image takes no response_format: it always answers base64.
    assert.deepEqual(seen[0]!.json, { prompt: "A tool's picture", model: "gpt-image-1", n: 1, size: "1536x1024", quality: "low", background: "transparent", output_format: "webp" });
    assert.deepEqual(admitted, ["cloud-image"]);
    assert.equal(finished.length, 1);
    const usage = await lastUsage();
    assert.deepEqual([usage.project_id, usage.endpoint, Number(usage.images), usage.image_size], ["proj_tool", "/v1/images/generations", 1, "1536x1024"]);
    // A model named as DALL·E is asked for base64, and its revised prompt comes back.
    const dalle = await service.generate(principal, "dall-e-3", { prompt: "A fox" }, AbortSignal.timeout(5000));
    assert.equal(seen[1]!.json?.response_format, "b64_json");
    assert.deepEqual([dalle.b64, dalle.revisedPrompt, dalle.size], [MADE, "A revised prompt.", "auto"]);
    assert.ok(close(dalle.usage.costUsd ?? -1, 0.04));
    await lastUsage();
    await assert.rejects(service.generate(principal, "stories", { prompt: "x" }, AbortSignal.timeout(5000)), (e: { status?: number; param?: string }) => e.status === 400 && e.param === "model");
    await assert.rejects(service.generate(principal, "cloud-image", { prompt: "x", quality: "ultra" }, AbortSignal.timeout(5000)), (e: { status?: number; param?: string }) => e.status === 400 && e.param === "quality");
  });

  it("runs the image_generation tool in Responses for the local model (forced): partial renders streamed as they come, then the image_generation_call with the image; events valid", async () => {
    const stream = await client.responses.create({
      model: "stories",
      input: "Once upon a time",
      tools: [{ type: "image_generation", model: "cloud-image", size: "1024x1024", quality: "low", partial_images: 2 }],
      tool_choice: { type: "image_generation" },
      max_output_tokens: 60,
      max_tool_calls: 1,
      stream: true,
    });
    const events: ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event as unknown as ResponseStreamEvent);
    checkEvents(events);
    const types = events.map((e) => e.type as string);
    for (const t of ["response.image_generation_call.in_progress", "response.image_generation_call.generating", "response.image_generation_call.completed"]) assert.ok(types.includes(t), t);
    const partials = events.filter((e) => (e.type as string) === "response.image_generation_call.partial_image") as unknown as { partial_image_index: number; partial_image_b64: string }[];
    assert.deepEqual(partials.map((p) => [p.partial_image_index, p.partial_image_b64]), [[0, MADE], [1, MADE]]);
    assert.ok(types.indexOf("response.image_generation_call.generating") < types.indexOf("response.image_generation_call.partial_image" as never));
    // The upstream was asked to stream the partial renders.
    assert.deepEqual([seen.at(-1)?.json?.stream, seen.at(-1)?.json?.partial_images], [true, 2]);
    const done = events.at(-1) as unknown as { response: Record<string, unknown> & { output: { type: string; status: string; result: string | null }[] } };
    assertSchema("Response", done.response);
    const call = done.response.output[0]!;
    assert.deepEqual([call.type, call.status, call.result], ["image_generation_call", "completed", MADE]);
    // The image model is named by the tool: one that cannot make images is a 400 naming it.
    await assert.rejects(
      client.responses.create({ model: "stories", input: "x", tools: [{ type: "image_generation", model: "cloud-chat" }] }),
      (e: InstanceType<typeof OpenAI.APIError>) => e.status === 400 && (e.error as { param?: string }).param === "tools[0].model",
    );
  });

  it("refuses models that cannot make images with a 400 naming model, before anything goes upstream", async () => {
    for (const model of ["stories", "cloud-chat"]) {
      await assert.rejects(client.images.generate({ model, prompt: "A cat" }), (e: InstanceType<typeof OpenAI.APIError>) => {
        assert.equal(e.status, 400);
        assert.equal(e.param, "model");
        assert.equal(e.code, "unsupported_endpoint");
        return true;
      });
    }
    await assert.rejects(client.images.edit({ model: "tiny-random", image: await toFile(IMAGE_A, "a.png"), prompt: "x" }), (e: InstanceType<typeof OpenAI.APIError>) => e.status === 400 && e.param === "model");
    await assert.rejects(client.images.generate({ model: "no-such-model", prompt: "A cat" }), (e: InstanceType<typeof OpenAI.APIError>) => e.param === "model" && e.code === "model_not_found");
    assert.equal(seen.length, 0);
  });

  it("passes an upstream's refusal on as a 400 naming its param, never a 5xx", async () => {
    await assert.rejects(client.images.generate({ model: "cloud-image", prompt: "forbidden" }), (e: InstanceType<typeof OpenAI.APIError>) => {
      assert.deepEqual([e.status, e.param, e.code], [400, "prompt", "moderation_blocked"]);
      return true;
    });
    assert.equal(seen.length, 1, "a 400 is not retried");
  });

  it("answers bad input with a 400 naming the param", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ model: "cloud-image" }, "prompt"],
      [{ model: "cloud-image", prompt: "" }, "prompt"],
      [{ model: "cloud-image", prompt: "x", n: 11 }, "n"],
      [{ model: "cloud-image", prompt: "x", n: 1.5 }, "n"],
      [{ model: "cloud-image", prompt: "x", size: "huge" }, "size"],
      [{ model: "cloud-image", prompt: "x", quality: "ultra" }, "quality"],
      [{ model: "cloud-image", prompt: "x", response_format: "gif" }, "response_format"],
      [{ model: "cloud-image", prompt: "x", output_format: "gif" }, "output_format"],
      [{ model: "cloud-image", prompt: "x", background: "green" }, "background"],
      [{ model: "cloud-image", prompt: "x", moderation: "high" }, "moderation"],
      [{ model: "cloud-image", prompt: "x", output_compression: 101 }, "output_compression"],
      [{ model: "cloud-image", prompt: "x", partial_images: 4 }, "partial_images"],
      [{ model: "cloud-image", prompt: "x", stream: "yes" }, "stream"],
      [{ model: "cloud-image", prompt: "x", user: 5 }, "user"],
      [{ model: "cloud-image", prompt: "x", colour: "red" }, "colour"],
      [{ model: 7, prompt: "x" }, "model"],
    ];
    for (const [body, param] of cases) {
      const res = await raw(server, "/v1/images/generations", { body: JSON.stringify(body), headers: { authorization: `Bearer ${projectKey}` } });
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal((res.body as { error: { param: string } }).error.param, param, JSON.stringify(body));
    }
    const image = (): Blob => new Blob([IMAGE_A], { type: "image/png" });
    const form = (entries: [string, string | Blob][]): FormData => {
      const f = new FormData();
      for (const [name, value] of entries) {
        if (typeof value === "string") f.append(name, value);
        else f.append(name, value, `${name}.png`);
      }
      return f;
    };
    const formCases: [string, [string, string | Blob][], string][] = [
      ["/images/edits", [["model", "cloud-image"], ["prompt", "x"]], "image"],
      ["/images/edits", [["model", "cloud-image"], ["image", image()]], "prompt"],
      ["/images/edits", [["model", "cloud-image"], ["image", image()], ["prompt", "x"], ["n", "abc"]], "n"],
      ["/images/edits", [["model", "cloud-image"], ["image", image()], ["prompt", "x"], ["quality", "hd"]], "quality"],
      ["/images/edits", [["model", "cloud-image"], ["image", image()], ["prompt", "x"], ["stream", "maybe"]], "stream"],
      ["/images/edits", [["model", "cloud-image"], ["image", image()], ["prompt", "x"], ["style", "vivid"]], "style"],
      ["/images/edits", [["model", "cloud-image"], ["image", image()], ["prompt", "x"], ["mask", image()], ["mask", image()]], "mask"],
      ["/images/edits", [["model", "cloud-image"], ["image", "not a file"], ["prompt", "x"]], "image"],
      ["/images/variations", [["model", "cloud-dalle"], ["image", image()], ["mask", image()]], "mask"],
      ["/images/variations", [["model", "cloud-dalle"], ["image", image()], ["size", "1024x1536"]], "size"],
      ["/images/variations", [["model", "cloud-dalle"], ["image", image()], ["prompt", "x"]], "prompt"],
      ["/images/variations", [["model", "cloud-dalle"], ["image", image()], ["image", image()]], "image"],
    ];
    for (const [path, entries, param] of formCases) {
      const res = await postForm(path, form(entries));
      assert.equal(res.status, 400, `${path} ${param}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error?.param, param, `${path}: ${JSON.stringify(res.body)}`);
    }
    const json = await raw(server, "/v1/images/edits", { body: JSON.stringify({ model: "cloud-image", prompt: "x" }), headers: { authorization: `Bearer ${projectKey}` } });
    assert.deepEqual([json.status, (json.body as { error: { param: string } }).error.param], [400, "image"]);
    assert.equal(seen.length, 0, "nothing bad went upstream");
  });
});
