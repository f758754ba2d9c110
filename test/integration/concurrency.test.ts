import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { assertSchema } from "../helpers/openapi.ts";
import { raw, startTestServer, waitFor, type TestServer } from "../helpers/server.ts";

let server: TestServer;
before(async () => {
  server = await startTestServer({ env: { MODELPORT_QUEUE_SIZE: "4" } });
});
after(async () => {
  await server.close();
});

interface ModelStats {
  sequences: number;
  busy: number;
  queued: number;
}

async function stats(): Promise<ModelStats> {
  const res = await raw(server, "/health");
  return (res.body as { models: Record<string, ModelStats> }).models.stories!;
}

const LONG = { model: "stories", messages: [{ role: "user" as const, content: "Once upon a time" }], max_tokens: 1500, seed: 1 };

describe("sequences, queueing and aborts", () => {
  it("frees the sequence at once when a client aborts mid-stream", async () => {
    const controller = new AbortController();
    const stream = await server.client.chat.completions.create({ ...LONG, stream: true }, { signal: controller.signal });
    let chunks = 0;
    try {
      for await (const _ of stream) {
        chunks++;
        if (chunks === 5) {
          assert.equal((await stats()).busy, 1, "one sequence is generating");
          controller.abort();
        }
      }
    } catch (error) {
      assert.equal((error as Error).name, "APIUserAbortError");
    }
    assert.ok(chunks < 50, "the stream ended soon after the abort");
    await waitFor(async () => (await stats()).busy === 0, 2000);
    assert.deepEqual(await stats(), { ...(await stats()), busy: 0, queued: 0 });
  });

  it("frees every sequence after aborting four streams and a queued request", async () => {
    const controllers = Array.from({ length: 5 }, () => new AbortController());
    const streams = controllers.map((c) => server.client.chat.completions.create({ ...LONG, stream: true }, { signal: c.signal }));
    // Four hold a sequence; the fifth waits in the queue (its headers only come with its first token).
    await waitFor(async () => {
      const s = await stats();
      return s.busy === 4 && s.queued === 1;
    }, 5000);
    for (const c of controllers) c.abort();
    await Promise.allSettled(streams);
    await waitFor(async () => {
      const s = await stats();
      return s.busy === 0 && s.queued === 0;
    }, 3000);
    const res = await server.client.chat.completions.create({ ...LONG, max_tokens: 5 });
    assertSchema("CreateChatCompletionResponse", res);
  });

  it("completes 8 concurrent streams on 4 sequences, each intact", async () => {
    const run = async (seed: number) => {
      const stream = await server.client.chat.completions.create({ ...LONG, max_tokens: 60, seed, stream: true, stream_options: { include_usage: true } });
      let text = "";
      let usage;
      let finish;
      for await (const chunk of stream) {
        assertSchema("CreateChatCompletionStreamResponse", chunk);
        text += chunk.choices[0]?.delta.content ?? "";
        finish = chunk.choices[0]?.finish_reason ?? finish;
        usage = chunk.usage ?? usage;
      }
      return { text, usage, finish };
    };
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => run(100 + i)));
    for (const r of results) {
      assert.ok(r.usage && r.usage.completion_tokens > 0);
      assert.ok(r.finish === "stop" || r.finish === "length");
    }
    // The same seeds alone give the same texts: batching with other streams changes nothing.
    const alone = await run(103);
    assert.equal(alone.text, results[3]!.text);
    assert.equal((await stats()).busy, 0);
  });

  it("answers 503 with Retry-After once the sequences and the queue are full", async () => {
    const controllers = Array.from({ length: 8 }, () => new AbortController());
    const holders = controllers.map((c) =>
      fetch(`${server.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ ...LONG, stream: true }), signal: c.signal }).catch(() => undefined),
    );
    await waitFor(async () => {
      const s = await stats();
      return s.busy === 4 && s.queued === 4;
    }, 5000);
    const res = await raw(server, "/v1/chat/completions", { body: JSON.stringify({ ...LONG, max_tokens: 5 }) });
    assert.equal(res.status, 503);
    assertSchema("ErrorResponse", res.body);
    assert.equal(res.headers.get("retry-after"), "1");
    assert.equal((res.body as { error: { type: string } }).error.type, "server_error");
    for (const c of controllers) c.abort();
    await Promise.allSettled(holders);
    await waitFor(async () => (await stats()).busy === 0 && (await stats()).queued === 0, 3000);
  });

  it("aborts a non-streaming generation when its client goes away", async () => {
    const controller = new AbortController();
    const pending = server.client.chat.completions.create({ ...LONG }, { signal: controller.signal });
    await waitFor(async () => (await stats()).busy === 1, 2000);
    controller.abort();
    await assert.rejects(pending);
    await waitFor(async () => (await stats()).busy === 0, 2000);
  });
});
