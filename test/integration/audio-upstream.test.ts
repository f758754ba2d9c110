import assert from "node:assert/strict";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import busboy from "busboy";
import OpenAI, { toFile } from "openai";
import { MODELS_DIR, raw, sseData, startTestServer, type TestServer } from "../helpers/server.ts";
import { lastUsageRecord } from "../helpers/usage-records.ts";

// Audio endpoints relayed to an OpenAI-compatible upstream and to Azure: a real HTTP server on
// 127.0.0.1 that reads what it is sent (JSON, or multipart with busboy) and answers like OpenAI.

interface Seen {
  url: string;
  headers: IncomingMessage["headers"];
  json?: Record<string, unknown>;
  fields?: [string, string][];
  file?: { name: string; filename: string; mimeType: string; bytes: Buffer };
}

const SECRET = "sk-upstream-audio";
const AUDIO = Buffer.from("ID3-pretend-mp3-bytes-".repeat(100));
let upstream: Server;
let upstreamUrl = "";
const seen: Seen[] = [];
let failNext = 0;

async function read(req: IncomingMessage): Promise<Seen> {
  const entry: Seen = { url: req.url ?? "", headers: req.headers };
  if ((req.headers["content-type"] ?? "").startsWith("multipart/form-data")) {
    entry.fields = [];
    const form = busboy({ headers: req.headers });
    form.on("field", (name, value) => entry.fields!.push([name, value]));
    form.on("file", (name, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => (entry.file = { name, filename: info.filename ?? "", mimeType: info.mimeType, bytes: Buffer.concat(chunks) }));
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

let server: TestServer;
let client: OpenAI;
before(async () => {
  upstream = createServer((req, res) => {
    void read(req).then((entry) => {
      seen.push(entry);
      if (failNext > 0) {
        failNext--;
        res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "busy", type: "server_error", code: null, param: null } }));
        return;
      }
      if (entry.url.includes("/audio/speech")) {
        if (entry.json?.stream_format === "sse") {
          res.writeHead(200, { "content-type": "text/event-stream" });
          res.write(`data: ${JSON.stringify({ type: "speech.audio.delta", audio: AUDIO.toString("base64") })}\n\n`);
          res.end(`data: ${JSON.stringify({ type: "speech.audio.done", usage: { input_tokens: 5, output_tokens: 40, total_tokens: 45 } })}\n\n`);
          return;
        }
        res.writeHead(200, { "content-type": "audio/mpeg" });
        res.write(AUDIO.subarray(0, 1000));
        setTimeout(() => res.end(AUDIO.subarray(1000)), 20);
        return;
      }
      const fields = new Map(entry.fields);
      if (fields.get("stream") === "true") {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(`data: ${JSON.stringify({ type: "transcript.text.delta", delta: "Ask not" })}\n\n`);
        res.end(`data: ${JSON.stringify({ type: "transcript.text.done", text: "Ask not", usage: { type: "tokens", input_tokens: 70, input_token_details: { audio_tokens: 70 }, output_tokens: 3, total_tokens: 73 } })}\n\n`);
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ text: "Ask not what your country can do for you.", usage: { type: "duration", seconds: 11 } }));
    });
  });
  upstream.listen(0, "127.0.0.1");
  await once(upstream, "listening");
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  process.env.TEST_AUDIO_UPSTREAM_KEY = SECRET;
  server = await startTestServer({
    upstreams: {
      deployments: [
        { id: "openai-tts", baseUrl: `${upstreamUrl}/v1`, apiKeyEnv: "TEST_AUDIO_UPSTREAM_KEY", model: "gpt-4o-mini-tts" },
        { id: "openai-stt", baseUrl: `${upstreamUrl}/v1`, apiKeyEnv: "TEST_AUDIO_UPSTREAM_KEY", model: "gpt-4o-transcribe" },
        { id: "azure-whisper", provider: "azure-openai", apiVersion: "2025-03-01-preview", baseUrl: upstreamUrl, apiKeyEnv: "TEST_AUDIO_UPSTREAM_KEY", model: "my-whisper" },
      ],
      models: [
        { name: "cloud-tts", deployments: ["openai-tts"], maxRetries: 2 },
        { name: "cloud-stt", deployments: ["openai-stt"], maxRetries: 2 },
        { name: "azure-whisper", deployments: ["azure-whisper"] },
      ],
    },
  });
  client = new OpenAI({ baseURL: server.baseURL, apiKey: "unused", maxRetries: 0 });
});
after(async () => {
  await server.close();
  upstream.close();
});
beforeEach(() => {
  seen.length = 0;
  failNext = 0;
});

const JFK = readFileSync(join(MODELS_DIR, "jfk.wav"));

const lastUsage = lastUsageRecord(() => server);

describe("audio endpoints relayed to upstreams", () => {
  it("relays speech with the upstream's model name and key, retrying a 503, streaming the bytes back, metering characters", async () => {
    failNext = 1;
    const res = await client.audio.speech.create({ model: "cloud-tts", voice: "coral", input: "Hello there.", response_format: "mp3", instructions: "Cheerful." });
    assert.equal(res.headers.get("content-type"), "audio/mpeg");
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), AUDIO);
    assert.equal(seen.length, 2, "the 503 was retried");
    assert.equal(seen[1]!.url, "/v1/audio/speech");
    assert.equal(seen[1]!.headers.authorization, `Bearer ${SECRET}`);
    assert.deepEqual(seen[1]!.json, { model: "gpt-4o-mini-tts", voice: "coral", input: "Hello there.", response_format: "mp3", instructions: "Cheerful." });
    const usage = await lastUsage();
    assert.deepEqual([usage.model, usage.endpoint, Number(usage.characters)], ["cloud-tts", "/v1/audio/speech", 12]);
  });

  it("passes speech SSE events through", async () => {
    const res = await raw(server, "/v1/audio/speech", { body: JSON.stringify({ model: "cloud-tts", voice: "alloy", input: "Hi", stream_format: "sse" }) });
    assert.equal(res.status, 200);
    const events = sseData(res.text).map((d) => JSON.parse(d) as { type: string; audio?: string });
    assert.deepEqual(events.map((e) => e.type), ["speech.audio.delta", "speech.audio.done"]);
    assert.equal(Buffer.from(events[0]!.audio!, "base64").length, AUDIO.length);
    assert.equal(Number((await lastUsage()).characters), 2);
  });

  it("relays a transcription upload as multipart (fields, arrays and the file intact), metering the seconds the upstream reports", async () => {
    const result = await client.audio.transcriptions.create({
      model: "cloud-stt",
      file: await toFile(JFK, "jfk.wav", { type: "audio/wav" }),
      language: "en",
      response_format: "json",
      include: ["logprobs"],
    });
    assert.equal(result.text, "Ask not what your country can do for you.");
    const sent = seen[0]!;
    assert.equal(sent.url, "/v1/audio/transcriptions");
    assert.equal(sent.headers.authorization, `Bearer ${SECRET}`);
    assert.deepEqual(sent.file?.bytes, JFK);
    assert.equal(sent.file?.filename, "jfk.wav");
    assert.equal(sent.file?.mimeType, "audio/wav");
    const fields = sent.fields!;
    assert.deepEqual(fields.filter(([n]) => n === "model"), [["model", "gpt-4o-transcribe"]]);
    assert.deepEqual(fields.filter(([n]) => n === "include[]"), [["include[]", "logprobs"]]);
    assert.deepEqual(fields.filter(([n]) => n === "language"), [["language", "en"]]);
    const usage = await lastUsage();
    assert.deepEqual([usage.model, usage.endpoint, Number(usage.audio_seconds)], ["cloud-stt", "/v1/audio/transcriptions", 11]);
  });

  it("passes a streamed transcription through and meters the tokens of its done event", async () => {
    const stream = await client.audio.transcriptions.create({ model: "cloud-stt", file: await toFile(JFK, "jfk.wav"), stream: true });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    assert.deepEqual(types, ["transcript.text.delta", "transcript.text.done"]);
    const usage = await lastUsage();
    assert.deepEqual([Number(usage.input_tokens), Number(usage.output_tokens), Number(usage.input_audio_tokens)], [70, 3, 70]);
  });

  it("relays translations to Azure's deployment URL with its api-key header", async () => {
    const result = await client.audio.translations.create({ model: "azure-whisper", file: await toFile(JFK, "jfk.wav") });
    assert.equal(result.text, "Ask not what your country can do for you.");
    assert.equal(seen[0]!.url, "/openai/deployments/my-whisper/audio/translations?api-version=2025-03-01-preview");
    assert.equal(seen[0]!.headers["api-key"], SECRET);
    assert.equal((await lastUsage()).endpoint, "/v1/audio/translations");
  });

  it("keeps serving the local audio models beside the relayed ones", async () => {
    const local = await client.audio.transcriptions.create({ model: "whisper-1", file: await toFile(JFK, "jfk.wav") });
    assert.match(local.text, /country/);
    assert.equal(seen.length, 0, "nothing went upstream");
  });
});
