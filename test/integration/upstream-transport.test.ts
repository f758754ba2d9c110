import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { ChatStreamPart } from "../../src/core/chat.ts";
import { ApiError } from "../../src/core/errors.ts";
import { parseChatCompletionRequest } from "../../src/protocol/openai/chat-completions-parse.ts";
import { openAiCompatibleAdapter } from "../../src/providers/openai-compatible/adapter.ts";
import type { Deployment } from "../../src/providers/upstream/deployment.ts";
import { RoutedChatModel } from "../../src/providers/upstream/routed-model.ts";
import { startFakeUpstream, type FakeUpstream } from "../helpers/fake-upstream.ts";

function deployment(id: string, baseUrl: string, timeoutMs = 2000): Deployment {
  return {
    id, baseUrl, apiKey: undefined, model: "m", apiVersion: undefined, defaultMaxTokens: 1024, adapter: openAiCompatibleAdapter,
    weight: 1, timeoutMs, unsupportedParams: new Set(), dropUnsupportedParams: false, rpm: undefined, tpm: undefined,
  };
}

function model(deployments: Deployment[], options: { maxRetries?: number; deadlineMs?: number } = {}): RoutedChatModel {
  return new RoutedChatModel({ id: "routed", aliases: [], created: 1, ownedBy: "upstream", pricing: undefined }, deployments, {
    maxRetries: options.maxRetries ?? 0, deadlineMs: options.deadlineMs ?? 10_000, breakerThreshold: 100, breakerCooldownMs: 1000, fallbacks: () => [], contextFallbacks: () => [],
  });
}

const request = parseChatCompletionRequest({ model: "routed", messages: [{ role: "user", content: "Hi" }] }).request;

async function collect(parts: AsyncIterable<ChatStreamPart>): Promise<ChatStreamPart[]> {
  const out: ChatStreamPart[] = [];
  for await (const part of parts) out.push(part);
  return out;
}

describe("upstream transport (undici pool)", () => {
  let fake: FakeUpstream;
  before(async () => {
    fake = await startFakeUpstream();
  });
  after(async () => {
    await fake.close();
  });

  it("reuses one keep-alive connection for sequential requests, reading each answer to its end", async () => {
    // A server of its own, to count connections.
    let connections = 0;
    const server: Server = createServer((req, res) => {
      req.resume().on("end", () => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.end(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: "hi" }, finish_reason: "stop" }] })}\n\ndata: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } })}\n\ndata: [DONE]\n\n`);
      });
    });
    server.on("connection", () => connections++);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    try {
      const routed = model([deployment("counted", `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`)]);
      for (let i = 0; i < 5; i++) {
        const parts = await collect(routed.streamChat(request, new AbortController().signal));
        assert.ok(parts.some((p) => p.type === "text-delta" && p.text === "hi"));
        assert.ok(parts.some((p) => p.type === "usage"));
        // The stream ends at [DONE]; the rest of the body (its end) is read just after.
        await new Promise((r) => setImmediate(r));
      }
      assert.equal(connections, 1);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it("aborts the upstream request when the client goes away mid-stream", async () => {
    let upstreamClosed: () => void = () => undefined;
    const closed = new Promise<void>((r) => (upstreamClosed = r));
    const server: Server = createServer((req, res) => {
      req.resume().on("end", () => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: "first" }, finish_reason: null }] })}\n\n`);
        // Then nothing more: only an abort from the gateway ends this.
        res.on("close", () => upstreamClosed());
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    try {
      const routed = model([deployment("slow", `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`)]);
      const client = new AbortController();
      const parts = routed.streamChat(request, client.signal)[Symbol.asyncIterator]();
      const first = await parts.next();
      assert.equal(first.done, false);
      client.abort();
      await assert.rejects(parts.next());
      await closed;
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it("aborts the upstream request when the consumer stops reading", async () => {
    let upstreamClosed: () => void = () => undefined;
    const closed = new Promise<void>((r) => (upstreamClosed = r));
    const server: Server = createServer((req, res) => {
      req.resume().on("end", () => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: "first" }, finish_reason: null }] })}\n\n`);
        res.on("close", () => upstreamClosed());
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    try {
      const routed = model([deployment("left", `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`)]);
      const parts = routed.streamChat(request, new AbortController().signal)[Symbol.asyncIterator]();
      await parts.next();
      await parts.return?.(undefined);
      await closed;
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it("maps a refused connection to a retryable 502 naming the cause, and retries elsewhere", async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", () => r()));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const alone = model([deployment("dead", `http://127.0.0.1:${port}/v1`)]);
    await assert.rejects(collect(alone.streamChat(request, new AbortController().signal)), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, 502);
      assert.equal(error.code, "upstream_unreachable");
      assert.match(error.message, /ECONNREFUSED/);
      return true;
    });
    fake.script(() => ({ kind: "stream", text: "from the live one" }));
    const both = model([deployment("dead", `http://127.0.0.1:${port}/v1`), deployment("live", fake.url)], { maxRetries: 2 });
    for (let i = 0; i < 3; i++) {
      const parts = await collect(both.streamChat(request, new AbortController().signal));
      assert.equal(parts.filter((p) => p.type === "text-delta").map((p) => (p as { text: string }).text).join(""), "from the live one");
    }
  });

  it("reads error bodies and Retry-After from the upstream's answer", async () => {
    fake.script(() => ({ kind: "json", status: 429, body: { error: { message: "slow down", code: "rate_limit_exceeded" } }, headers: { "retry-after-ms": "1500" } }));
    await assert.rejects(collect(model([deployment("limited", fake.url)]).streamChat(request, new AbortController().signal)), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, 429);
      assert.equal(error.message, "slow down");
      assert.equal(error.headers?.["retry-after-ms"], "1500");
      return true;
    });
  });

  it("times out an attempt that sends nothing, and forwards JSON bodies whole", async () => {
    fake.script(() => ({ kind: "hang" }));
    const started = performance.now();
    await assert.rejects(collect(model([deployment("hung", fake.url, 150)]).streamChat(request, new AbortController().signal)), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.code, "upstream_timeout");
      return true;
    });
    assert.ok(performance.now() - started < 2000);
    fake.script(() => ({ kind: "json", status: 200, body: { object: "list", data: [{ embedding: [1, 2] }] } }));
    const answer = await model([deployment("json", fake.url)]).forward("/embeddings", { model: "routed", input: "x" }, new AbortController().signal);
    assert.equal(answer.status, 200);
    assert.match(answer.contentType, /application\/json/);
    const chunks = answer.body as readonly Uint8Array[];
    assert.deepEqual(JSON.parse(Buffer.concat(chunks).toString("utf8")), { object: "list", data: [{ embedding: [1, 2] }] });
  });
});
