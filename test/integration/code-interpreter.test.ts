import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI, { toFile } from "openai";
import type { ResponseStreamEvent } from "../../src/protocol/openai/responses-stream.ts";
import { sandboxSupport } from "../../src/providers/sandbox/python-sandbox.ts";
import { createProjectKeys } from "../helpers/admin.ts";
import { startFakeUpstream, type FakeUpstream } from "../helpers/fake-upstream.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { checkEvents } from "../helpers/response-events.ts";
import { configSchema } from "../../src/config/schema.ts";
import { raw, startTestServer, type TestServer } from "../helpers/server.ts";

// The code_interpreter tool on the real server: code runs in the bubblewrap sandbox. The model side
// is a scripted OpenAI-compatible upstream (a real HTTP server on loopback answering with `python`
// tool calls, then text), and the local tiny model with the tool forced.

const ADMIN = "sk-admin-code-0123456789abcdef";
const support = sandboxSupport();
const skip = support.ok ? false : `no sandbox here: ${support.why}`;

let server: TestServer;
let upstream: FakeUpstream;
let client: OpenAI;
let other: OpenAI;

type Item = { type: string; [k: string]: unknown };

/** Scripts the upstream: the model runs each of `codes` in turn, then answers `answer`. */
function script(codes: readonly string[], answer: string): void {
  const start = upstream.seen.length;
  upstream.script((n, req) => {
    // As a real model: with tool_choice "none" it answers.
    const code = req.body.tool_choice === "none" ? undefined : codes[n - start - 1];
    return code !== undefined ? { kind: "stream", text: "", toolCall: { name: "python", arguments: JSON.stringify({ code }) } } : { kind: "stream", text: answer };
  });
}

before(async () => {
  if (skip) return;
  upstream = await startFakeUpstream();
  server = await startTestServer({
    env: { MODELPORT_ADMIN_KEY: ADMIN },
    // Short wall time per run, so the runaway-loop check is quick.
    codeInterpreter: { ...configSchema.shape.codeInterpreter.parse({}), callSeconds: 2 },
    upstreams: {
      // A chat-only upstream (as vLLM or Ollama): Responses and its built-in tools run here.
      deployments: [{ id: "scripted", provider: "openai-compatible", baseUrl: upstream.url, model: "gpt-4o-mini", timeoutMs: 10_000, endpoints: [] }],
      models: [{ name: "scripted", deployments: ["scripted"] }],
    },
  });
  const [a, b] = await createProjectKeys(server, ADMIN, ["code-a", "code-b"]);
  client = new OpenAI({ baseURL: server.baseURL, apiKey: a!, maxRetries: 0 });
  other = new OpenAI({ baseURL: server.baseURL, apiKey: b!, maxRetries: 0 });
});
after(async () => {
  await server?.close();
  await upstream?.close();
});

describe("the code_interpreter tool", { skip }, () => {
  it("runs the code the model writes, gives the model its output, and answers: outputs with include, usage summed over both model calls", async () => {
    script(["x = 6 * 7\nprint('answer', x)"], "The answer is 42.");
    const response = await client.responses.create({
      model: "scripted",
      input: "What is six times seven? Use Python.",
      tools: [{ type: "code_interpreter", container: { type: "auto" } }],
      include: ["code_interpreter_call.outputs"],
    });
    assertSchema("Response", response);
    const [call, message] = response.output as unknown as Item[];
    assert.equal(call?.type, "code_interpreter_call");
    assert.equal(call?.status, "completed");
    assert.equal(call?.code, "x = 6 * 7\nprint('answer', x)");
    assert.match(String(call?.container_id), /^cntr_/);
    assert.deepEqual(call?.outputs, [{ type: "logs", logs: "answer 42\n" }]);
    assert.equal(message?.type, "message");
    assert.equal(response.output_text, "The answer is 42.");
    // The model's second call saw the code's output as the tool's result.
    const second = upstream.seen.at(-1)!.body as { messages: { role: string; content: string }[]; tools: { function: { name: string } }[] };
    assert.equal(second.messages.at(-1)?.role, "tool");
    assert.match(second.messages.at(-1)!.content, /answer 42/);
    assert.ok(second.tools.some((t) => t.function.name === "python"));
    // Two model calls of the fake's 11 prompt tokens each.
    assert.equal(response.usage?.input_tokens, 22);
    // Without include, the outputs are null, as OpenAI's.
    script(["print(1)"], "Done.");
    const plain = await client.responses.create({ model: "scripted", input: "Run it.", tools: [{ type: "code_interpreter", container: { type: "auto" } }] });
    assert.equal((plain.output[0] as unknown as Item).outputs, null);
  });

  it("streams the call's events in order, each valid against the spec", async () => {
    script(["total = sum(range(10))\ntotal"], "It is 45.");
    const stream = await client.responses.create({ model: "scripted", input: "Sum 0..9", tools: [{ type: "code_interpreter", container: { type: "auto" } }], include: ["code_interpreter_call.outputs"], stream: true });
    const events: ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event as unknown as ResponseStreamEvent);
    checkEvents(events);
    const types = events.map((e) => e.type).filter((t) => t.includes("code_interpreter") || t === "response.output_item.done");
    assert.deepEqual(types.filter((t, i) => types.indexOf(t) === i), [
      "response.code_interpreter_call.in_progress",
      "response.code_interpreter_call_code.delta",
      "response.code_interpreter_call_code.done",
      "response.code_interpreter_call.interpreting",
      "response.code_interpreter_call.completed",
      "response.output_item.done",
    ]);
    const code = events.filter((e) => e.type === "response.code_interpreter_call_code.delta").map((e) => (e as { delta: string }).delta).join("");
    assert.equal(code, "total = sum(range(10))\ntotal");
    const done = events.at(-1) as unknown as { response: { output: Item[] } };
    assert.deepEqual(done.response.output[0]?.outputs, [{ type: "logs", logs: "45\n" }]);
  });

  it("keeps a session's variables between calls in one container, and files from the Files API are in /mnt/data", async () => {
    const file = await client.files.create({ file: await toFile(Buffer.from("city,temp\nParis,21\nOslo,9\n"), "weather.csv"), purpose: "user_data" });
    script(["import pandas as pd\ndf = pd.read_csv('/mnt/data/weather.csv')\nprint(df['temp'].max())"], "The warmest is 21.");
    const first = await client.responses.create({
      model: "scripted",
      input: "Warmest city?",
      tools: [{ type: "code_interpreter", container: { type: "auto", file_ids: [file.id] } }],
      include: ["code_interpreter_call.outputs"],
    });
    const call = first.output[0] as unknown as Item;
    assert.deepEqual(call.outputs, [{ type: "logs", logs: "21\n" }]);
    // A follow-up in the chain reuses the container, and its Python session.
    script(["print(len(df))"], "Two rows.");
    const second = await client.responses.create({
      model: "scripted",
      input: "How many rows?",
      previous_response_id: first.id,
      tools: [{ type: "code_interpreter", container: { type: "auto" } }],
      include: ["code_interpreter_call.outputs"],
    });
    const again = second.output[0] as unknown as Item;
    assert.equal(again.container_id, call.container_id);
    assert.deepEqual(again.outputs, [{ type: "logs", logs: "2\n" }]);
    // The earlier call and its output went back to the model as its own tool call.
    const messages = (upstream.seen.at(-2)!.body as { messages: { role: string; content: string }[] }).messages;
    assert.ok(messages.some((m) => m.role === "tool" && m.content.includes("21")));
  });

  it("keeps a call's outputs in storage when include left them out: a follow-up's model reads them, and retrieval shows them with include", async () => {
    script(["print('kept', 7 * 6)"], "Ran.");
    const first = await client.responses.create({ model: "scripted", input: "Run", tools: [{ type: "code_interpreter", container: { type: "auto" } }] });
    assert.equal((first.output[0] as unknown as Item).outputs, null);
    script([], "It printed kept 42.");
    await client.responses.create({ model: "scripted", input: "What did it print?", previous_response_id: first.id, tools: [{ type: "code_interpreter", container: { type: "auto" } }] });
    const messages = (upstream.seen.at(-1)!.body as { messages: { role: string; content: string }[] }).messages;
    assert.ok(messages.some((m) => m.role === "tool" && m.content === "kept 42\n"), JSON.stringify(messages));
    const plain = await client.responses.retrieve(first.id);
    assert.equal((plain.output[0] as unknown as Item).outputs, null);
    const withOutputs = await client.responses.retrieve(first.id, { include: ["code_interpreter_call.outputs"] });
    assert.deepEqual((withOutputs.output[0] as unknown as Item).outputs, [{ type: "logs", logs: "kept 42\n" }]);
  });

  it("takes its calls back as input from a client that keeps its own history (store: false)", async () => {
    script(["secret = 1234\nprint(secret)"], "It printed 1234.");
    const first = await client.responses.create({ model: "scripted", input: "Run it", store: false, tools: [{ type: "code_interpreter", container: { type: "auto" } }], include: ["code_interpreter_call.outputs"] });
    script([], "You ran code that printed 1234.");
    await client.responses.create({
      model: "scripted",
      store: false,
      input: [{ role: "user", content: "Run it" }, ...(first.output as never[]), { role: "user", content: "What did it print?" }],
      tools: [{ type: "code_interpreter", container: { type: "auto" } }],
    });
    const messages = (upstream.seen.at(-1)!.body as { messages: { role: string; content: string | null; tool_calls?: { function: { name: string; arguments: string } }[] }[] }).messages;
    const call = messages.find((m) => m.tool_calls?.some((t) => t.function.name === "python"));
    assert.match(call!.tool_calls![0]!.function.arguments, /secret = 1234/);
    assert.ok(messages.some((m) => m.role === "tool" && m.content === "1234\n"));
  });

  it("turns a matplotlib plot into a PNG container file, shown as an image and cited on the answer; an explicit container is used and touched", async () => {
    const container = await client.containers.create({ name: "plots" });
    script(["import matplotlib.pyplot as plt\nplt.plot([1, 4, 9])\nplt.title('squares')"], "Here is the plot.");
    const response = await client.responses.create({
      model: "scripted",
      input: "Plot squares",
      tools: [{ type: "code_interpreter", container: container.id }],
      include: ["code_interpreter_call.outputs"],
    });
    assertSchema("Response", response);
    const [call, message] = response.output as unknown as Item[];
    assert.equal(call?.container_id, container.id);
    const image = (call?.outputs as { type: string; url: string }[]).find((o) => o.type === "image");
    assert.match(image?.url ?? "", /^data:image\/png;base64,iVBOR/);
    const annotations = (message?.content as { annotations: { type: string; file_id: string; container_id: string; filename: string }[] }[])[0]!.annotations;
    assert.equal(annotations.length, 1);
    assert.equal(annotations[0]!.type, "container_file_citation");
    assert.equal(annotations[0]!.container_id, container.id);
    const files = await client.containers.files.list(container.id);
    const png = files.data.find((f) => f.id === annotations[0]!.file_id);
    assert.equal(png?.source, "assistant");
    assert.match(png?.path ?? "", /^\/mnt\/data\/figure-[0-9a-f]+\.png$/);
    const content = Buffer.from(await (await client.containers.files.content.retrieve(png!.id, { container_id: container.id })).arrayBuffer());
    assert.equal(content.subarray(1, 4).toString(), "PNG");
    assert.equal(annotations[0]!.filename, png!.path.split("/").pop());
  });

  it("refuses another project's container with 404 naming the tool's container, and a bad tool with 400 naming the field", async () => {
    const container = await client.containers.create({ name: "private" });
    script(["print(1)"], "ok");
    await assert.rejects(
      other.responses.create({ model: "scripted", input: "hi", tools: [{ type: "code_interpreter", container: container.id }] }),
      (e: InstanceType<typeof OpenAI.APIError>) => e.status === 404 && (e.error as { param?: string }).param === "tools[0].container",
    );
    const bad = await raw(server, "/v1/responses", { body: JSON.stringify({ model: "scripted", input: "hi", tools: [{ type: "code_interpreter", container: { type: "auto", memory_limit: "2g" } }] }), headers: { authorization: `Bearer ${client.apiKey}` } });
    assert.equal(bad.status, 400);
    assert.equal((bad.body as { error: { param: string } }).error.param, "tools[0].container.memory_limit");
  });

  it("keeps serving everyone else while code spins, then stops the code at its wall time and tells the model", async () => {
    script(["while True:\n    pass"], "It ran too long.");
    const spinning = client.responses.create({ model: "scripted", input: "spin", tools: [{ type: "code_interpreter", container: { type: "auto" } }], include: ["code_interpreter_call.outputs"] });
    await new Promise((r) => setTimeout(r, 300));
    const started = performance.now();
    const models = await raw(server, "/v1/models", { method: "GET", headers: { authorization: `Bearer ${client.apiKey}` } });
    assert.equal(models.status, 200);
    const answer = await other.chat.completions.create({ model: "stories", messages: [{ role: "user", content: "Once upon" }], max_tokens: 4 });
    assert.ok(answer.choices[0]);
    assert.ok(performance.now() - started < 1500, "others were answered while the code ran");
    const response = await spinning;
    const call = response.output[0] as unknown as Item;
    assert.match(JSON.stringify(call.outputs), /timed out after 2 s/);
    assert.equal(response.output_text, "It ran too long.");
  });

  it("stops at max_tool_calls: the model must then answer", async () => {
    script(["print('a')", "print('b')", "print('c')"], "Finished.");
    const before = upstream.seen.length;
    const response = await client.responses.create({ model: "scripted", input: "loop", tools: [{ type: "code_interpreter", container: { type: "auto" } }], max_tool_calls: 2 });
    assert.equal(response.output.filter((i) => i.type === "code_interpreter_call").length, 2);
    const last = upstream.seen.at(-1)!.body as { tool_choice?: unknown };
    assert.equal(upstream.seen.length - before, 3);
    assert.equal(last.tool_choice, "none");
  });

  it("forces a call on the local model with tool_choice code_interpreter (grammar), and the loop ends", async () => {
    const response = await client.responses.create({
      model: "stories",
      input: "Once upon a time",
      tools: [{ type: "code_interpreter", container: { type: "auto" } }],
      tool_choice: { type: "code_interpreter" } as never,
      max_output_tokens: 40,
      max_tool_calls: 1,
      include: ["code_interpreter_call.outputs"],
    });
    assertSchema("Response", response);
    const call = response.output[0] as unknown as Item;
    assert.equal(call.type, "code_interpreter_call");
    assert.equal(call.status, "completed");
    assert.equal(typeof call.code, "string");
    // Whatever the tiny model wrote ran, and what it printed (most likely an error) came back.
    assert.ok(Array.isArray(call.outputs));
  });

  it("meters each session (a container's Python process started) to its project, priced per session", async () => {
    const startTime = Math.floor(Date.now() / 1000) - 3600;
    await server.meter.flush();
    const res = await raw(server, `/v1/organization/usage/code_interpreter_sessions?start_time=${startTime}&group_by[]=project_id`, { headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(res.status, 200, res.text);
    assertSchema("UsageResponse", res.body);
    const results = (res.body as { data: { results: { object: string; num_sessions: number; project_id: string }[] }[] }).data.flatMap((b) => b.results);
    assert.ok(results.every((r) => r.object === "organization.usage.code_interpreter_sessions.result"));
    // Every test above started at least one session (a new container, or one restarted after a timeout).
    assert.ok(results.reduce((n, r) => n + r.num_sessions, 0) >= 6, JSON.stringify(results));
    const costs = await raw(server, `/v1/organization/costs?start_time=${startTime}&group_by[]=line_item`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const lines = (costs.body as { data: { results: { line_item: string; amount: { value: number } }[] }[] }).data.flatMap((b) => b.results);
    const sessions = lines.filter((l) => l.line_item === "code-interpreter, input and output").reduce((n, l) => n + l.amount.value, 0);
    assert.ok(Math.abs(sessions - 0.03 * results.reduce((n, r) => n + r.num_sessions, 0)) < 1e-6, `${sessions} USD`);
  });
});
