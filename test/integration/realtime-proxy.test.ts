import assert from "node:assert/strict";
import { once } from "node:events";
import type { IncomingHttpHeaders } from "node:http";
import { after, before, describe, it } from "node:test";
import { WebSocket, WebSocketServer } from "ws";
import { startTestServer, waitFor, type TestServer } from "../helpers/server.ts";

// Realtime sessions of a model routed upstream are relayed to the deployment's realtime socket: a
// real `ws` server on loopback, scripted here, stands in for OpenAI.

const SECRET = "sk-upstream-realtime";
let upstream: WebSocketServer;
const seen: { url: string; headers: IncomingHttpHeaders; messages: string[]; closed?: number }[] = [];
let server: TestServer;

before(async () => {
  upstream = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await once(upstream, "listening");
  upstream.on("connection", (ws, req) => {
    const entry: (typeof seen)[number] = { url: req.url ?? "", headers: req.headers, messages: [] };
    seen.push(entry);
    ws.send(JSON.stringify({ type: "session.created", event_id: "event_up_1", session: { type: "realtime", object: "realtime.session", id: "sess_up" } }));
    ws.on("message", (data) => {
      const text = data.toString();
      entry.messages.push(text);
      const event = JSON.parse(text) as { type: string };
      if (event.type === "response.create") {
        ws.send(JSON.stringify({ type: "response.created", event_id: "event_up_2", response: { id: "resp_up", object: "realtime.response", status: "in_progress", output: [] } }));
        ws.send(JSON.stringify({ type: "response.done", event_id: "event_up_3", response: { id: "resp_up", object: "realtime.response", status: "completed", output: [], usage: { total_tokens: 30, input_tokens: 20, output_tokens: 10, input_token_details: { cached_tokens: 5, audio_tokens: 12 }, output_token_details: { audio_tokens: 8 } } } }));
      }
    });
    ws.on("close", (code) => (entry.closed = code));
  });
  const port = (upstream.address() as { port: number }).port;
  process.env.TEST_REALTIME_UPSTREAM_KEY = SECRET;
  server = await startTestServer({
    realtime: { maxSessionsPerProject: 2, maxSessionSeconds: 3600, maxBufferBytes: 15 * 1024 * 1024, idleTimeoutSeconds: 600 },
    upstreams: {
      deployments: [{ id: "openai-rt", baseUrl: `http://127.0.0.1:${port}/v1`, apiKeyEnv: "TEST_REALTIME_UPSTREAM_KEY", model: "gpt-realtime" }],
      models: [{ name: "cloud-realtime", deployments: ["openai-rt"] }],
    },
  });
});
after(async () => {
  await server.close();
  for (const c of upstream.clients) c.terminate();
  upstream.close();
});

function connect(model: string): { ws: WebSocket; events: Record<string, unknown>[] } {
  const ws = new WebSocket(`${server.url.replace("http", "ws")}/v1/realtime?model=${model}`);
  const events: Record<string, unknown>[] = [];
  ws.on("message", (d) => events.push(JSON.parse(d.toString()) as Record<string, unknown>));
  return { ws, events };
}

describe("realtime relayed to an upstream", () => {
  it("relays both ways with the deployment's model and key, meters response.done, and closes the upstream with the client", async () => {
    const { ws, events } = connect("cloud-realtime");
    await once(ws, "open");
    await waitFor(() => events.some((e) => e.type === "session.created"));
    ws.send(JSON.stringify({ type: "response.create", event_id: "evt_1" }));
    await waitFor(() => events.some((e) => e.type === "response.done"));
    const entry = seen.at(-1)!;
    assert.equal(entry.url, "/v1/realtime?model=gpt-realtime");
    assert.equal(entry.headers.authorization, `Bearer ${SECRET}`);
    assert.deepEqual(JSON.parse(entry.messages[0]!), { type: "response.create", event_id: "evt_1" });
    await server.meter.flush();
    const [row] = await server.storage.db.all("SELECT * FROM usage_records WHERE endpoint = '/v1/realtime' ORDER BY created_at DESC", []);
    assert.deepEqual(
      [row?.model, Number(row?.input_tokens), Number(row?.output_tokens), Number(row?.cached_tokens), Number(row?.input_audio_tokens), Number(row?.output_audio_tokens)],
      ["cloud-realtime", 20, 10, 5, 12, 8],
    );
    ws.close(1000);
    await waitFor(() => entry.closed !== undefined);
    assert.equal(entry.closed, 1000);
  });

  it("limits open sessions per project with an error event and close code 1008", async () => {
    const a = connect("stories");
    const b = connect("stories");
    await Promise.all([once(a.ws, "open"), once(b.ws, "open")]);
    const c = connect("stories");
    const [code] = (await once(c.ws, "close")) as [number];
    assert.equal(code, 1008);
    assert.equal((c.events[0]?.error as { code: string }).code, "session_limit_reached");
    a.ws.close();
    b.ws.close();
  });
});
