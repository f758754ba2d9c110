import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { startFakeUpstream, type FakeUpstream } from "../helpers/fake-upstream.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";

const KEY = "sk-shutdown-test-key-0123";

// A rolling restart: on close (SIGTERM) `/ready` fails first while requests are still taken, then
// in-flight streams get `shutdownTimeoutMs` to finish, and one cut short ends with an error event.
describe("graceful shutdown", () => {
  let upstream: FakeUpstream;
  let server: TestServer;
  before(async () => {
    upstream = await startFakeUpstream();
    upstream.script(() => ({ kind: "stream", text: "word ".repeat(60), delayMs: 100 }));
    server = await startTestServer({
      env: { MODELPORT_API_KEYS: KEY },
      shutdownDelayMs: 600,
      shutdownTimeoutMs: 400,
      upstreams: {
        deployments: [{ id: "slow", provider: "openai-compatible", baseUrl: upstream.url, model: "m", timeoutMs: 30_000 }],
        models: [{ name: "slow", deployments: ["slow"], maxRetries: 0 }],
      },
    });
  });
  after(async () => {
    await upstream?.close();
  });

  it("fails readiness first, still serves during the delay, and ends a stream cut short with an error event", async () => {
    const client = new OpenAI({ baseURL: server.baseURL, apiKey: KEY, maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: "slow", messages: [{ role: "user", content: "talk" }], stream: true });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    assert.equal((await fetch(`${server.url}/ready`)).status, 200);
    const closing = server.close();
    await new Promise((r) => setTimeout(r, 150));
    // Not ready any more, but still taking requests until the delay is over.
    assert.equal((await fetch(`${server.url}/ready`)).status, 503);
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
    let received = 0;
    const error = await (async () => {
      try {
        for (let r = await it.next(); !r.done; r = await it.next()) received++;
        return undefined;
      } catch (e) {
        return e;
      }
    })();
    await closing;
    assert.ok(received > 0, "the stream went on during the delay and the drain");
    assert.ok(error instanceof OpenAI.APIError, `the SDK raised the server's error event (${String(error)})`);
    assert.match((error as InstanceType<typeof OpenAI.APIError>).message, /shutting down/);
  });
});
