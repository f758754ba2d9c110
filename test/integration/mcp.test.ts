import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import type { ResponseStreamEvent } from "../../src/protocol/openai/responses-stream.ts";
import { startFakeUpstream, type FakeUpstream } from "../helpers/fake-upstream.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { checkEvents } from "../helpers/response-events.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";

// The remote MCP tool against a real MCP server from the npm registry
// (@modelcontextprotocol/server-everything) over Streamable HTTP and the legacy SSE transport. The
// model is a scripted chat-only upstream calling the server's tools by their function names.

type Item = { type: string; [k: string]: unknown };
const EVERYTHING = createRequire(import.meta.url).resolve("@modelcontextprotocol/server-everything/dist/index.js");

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

/** Starts server-everything with `transport` on a free port, once it says it listens. */
async function everything(transport: "streamableHttp" | "sse"): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, [EVERYTHING, transport], { env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "pipe", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server-everything ${transport} did not start`)), 20_000);
    const seen = (d: Buffer): void => {
      if (/listening|running/i.test(d.toString())) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr?.on("data", seen);
    child.stdout?.on("data", seen);
    child.on("exit", (code) => reject(new Error(`server-everything exited with ${code}`)));
  });
  return { child, port };
}

let http: { child: ChildProcess; port: number };
let sse: { child: ChildProcess; port: number };
let downPort = 0;
let upstream: FakeUpstream;
let server: TestServer;
let client: OpenAI;

/** The upstream model calls `fn` with `args`, then answers `answer`. */
function script(fn: string, args: unknown, answer: string): void {
  const start = upstream.seen.length;
  upstream.script((n) => (n === start + 1 ? { kind: "stream", text: "", toolCall: { name: fn, arguments: JSON.stringify(args) } } : { kind: "stream", text: answer }));
}

before(async () => {
  [http, sse] = await Promise.all([everything("streamableHttp"), everything("sse")]);
  downPort = await freePort();
  upstream = await startFakeUpstream();
  server = await startTestServer({
    upstreams: {
      deployments: [{ id: "scripted", provider: "openai-compatible", baseUrl: upstream.url, model: "gpt-4o-mini", timeoutMs: 20_000, endpoints: [] }],
      models: [{ name: "scripted", deployments: ["scripted"] }],
    },
    // The MCP servers run on loopback: allow-listed by port (a server on another port is refused).
    mcp: { enabled: true, allowPrivate: [`127.0.0.1:${http.port}`, `127.0.0.1:${sse.port}`, `127.0.0.1:${downPort}`], timeoutMs: 3000 },
  });
  client = new OpenAI({ baseURL: server.baseURL, apiKey: server.apiKey, maxRetries: 0 });
});
after(async () => {
  await server?.close();
  await upstream?.close();
  http?.child.kill();
  sse?.child.kill();
});

const everythingTool = (port: number, extra: Record<string, unknown> = {}) => ({ type: "mcp" as const, server_label: "everything", server_url: `http://127.0.0.1:${port}/mcp`, require_approval: "never" as const, ...extra });

describe("the remote MCP tool", () => {
  it("lists the tools (Streamable HTTP), calls echo, and gives the model its output", async () => {
    script("mcp__everything__echo", { message: "hello" }, "The server said hello.");
    const response = await client.responses.create({ model: "scripted", input: "Echo hello", tools: [everythingTool(http.port, { headers: { "x-test": "1" } })] });
    assertSchema("Response", response);
    const [list, call, message] = response.output as unknown as Item[];
    assert.equal(list?.type, "mcp_list_tools");
    const names = (list?.tools as { name: string }[]).map((t) => t.name);
    assert.ok(names.includes("echo") && names.includes("get-sum"), names.join());
    assert.equal(call?.type, "mcp_call");
    assert.equal(call?.name, "echo");
    assert.equal(call?.output, "Echo: hello");
    assert.equal(call?.error, null);
    assert.equal(message?.type, "message");
    const tool = (upstream.seen.at(-1)!.body as { messages: { role: string; content: string }[] }).messages.find((m) => m.role === "tool");
    assert.equal(tool?.content, "Echo: hello");
    // Headers are secrets: the response repeats the tool without them.
    assert.equal((response.tools[0] as { headers: unknown }).headers, null);
  });

  it("speaks the legacy SSE transport too, and streams its events, each valid against the spec", async () => {
    script("mcp__everything__get-sum", { a: 2, b: 3 }, "It is 5.");
    const stream = await client.responses.create({ model: "scripted", input: "2+3?", tools: [{ ...everythingTool(sse.port), server_url: `http://127.0.0.1:${sse.port}/sse` }], stream: true });
    const events: ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event as unknown as ResponseStreamEvent);
    checkEvents(events);
    const types = events.map((e) => e.type as string);
    for (const t of ["response.mcp_list_tools.in_progress", "response.mcp_list_tools.completed", "response.mcp_call.in_progress", "response.mcp_call_arguments.delta", "response.mcp_call_arguments.done", "response.mcp_call.completed"]) assert.ok(types.includes(t), t);
    const done = events.at(-1) as unknown as { response: { output: Item[] } };
    assert.equal(done.response.output.find((i) => i.type === "mcp_call")?.output, "The sum of 2 and 3 is 5.");
  });

  it("asks for approval, then runs the approved call with previous_response_id, reusing the chain's tool list", async () => {
    script("mcp__everything__echo", { message: "approved?" }, "unused");
    const before = upstream.seen.length;
    const first = await client.responses.create({ model: "scripted", input: "Echo it", tools: [everythingTool(http.port, { require_approval: "always" })] });
    const request = first.output.find((i) => i.type === "mcp_approval_request") as unknown as Item;
    assert.equal(request.name, "echo");
    assert.equal(upstream.seen.length - before, 1, "the model is not asked again while the call waits");
    assert.ok(!first.output.some((i) => i.type === "mcp_call"));
    script("unused", {}, "Done: approved.");
    upstream.script(() => ({ kind: "stream", text: "Done: approved." }));
    const second = await client.responses.create({
      model: "scripted",
      previous_response_id: first.id,
      input: [{ type: "mcp_approval_response", approval_request_id: String(request.id), approve: true }],
      tools: [everythingTool(http.port, { require_approval: "always" })],
    });
    assertSchema("Response", second);
    const call = second.output.find((i) => i.type === "mcp_call") as unknown as Item;
    assert.equal(call.approval_request_id, request.id);
    assert.equal(call.output, "Echo: approved?");
    assert.ok(!second.output.some((i) => i.type === "mcp_list_tools"), "the list of the chain is reused");
    assert.equal(second.output_text, "Done: approved.");
    const seen = (upstream.seen.at(-1)!.body as { messages: { role: string; content: string }[] }).messages;
    assert.ok(seen.some((m) => m.role === "tool" && m.content === "Echo: approved?"));
  });

  it("reports a server that is down, a tool that errors, and a tool slower than the timeout, as items, not failures", async () => {
    script("unused", {}, "No server.");
    const down = await client.responses.create({ model: "scripted", input: "hi", tools: [{ ...everythingTool(downPort), server_label: "down" }] });
    const list = down.output[0] as unknown as Item;
    assert.equal(list.type, "mcp_list_tools");
    assert.match(String(list.error), /Could not list the tools of down/);
    assert.equal(down.status, "completed");

    script("mcp__everything__get-sum", { a: "x", b: 1 }, "It failed.");
    const bad = await client.responses.create({ model: "scripted", input: "sum", tools: [everythingTool(http.port)] });
    const failed = bad.output.find((i) => i.type === "mcp_call") as unknown as Item;
    assert.equal(failed.status, "failed");
    assert.notEqual(failed.error, null);

    script("mcp__everything__trigger-long-running-operation", { duration: 10, steps: 2 }, "Too slow.");
    const started = performance.now();
    const slow = await client.responses.create({ model: "scripted", input: "long", tools: [everythingTool(http.port)] });
    assert.ok(performance.now() - started < 9000, "the call stopped at its timeout");
    const timedOut = slow.output.find((i) => i.type === "mcp_call") as unknown as Item;
    assert.equal(timedOut.status, "failed");
    assert.match(JSON.stringify(timedOut.error), /timed out|timeout/i);
  });

  it("refuses a private server that is not allow-listed, and keeps to allowed_tools", async () => {
    script("unused", {}, "ok");
    const blocked = await client.responses.create({ model: "scripted", input: "hi", tools: [{ ...everythingTool(http.port), server_url: `http://localhost:${http.port}/mcp` }] });
    assert.match(String((blocked.output[0] as unknown as Item).error), /private address/);
    script("unused", {}, "ok");
    await client.responses.create({ model: "scripted", input: "hi", tools: [everythingTool(http.port, { allowed_tools: ["echo"] })] });
    const offered = (upstream.seen.at(-1)!.body as { tools: { function: { name: string } }[] }).tools.map((t) => t.function.name);
    assert.deepEqual(offered, ["mcp__everything__echo"]);
  });
});
