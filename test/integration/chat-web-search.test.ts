import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { startFakeUpstream, type FakeUpstream } from "../helpers/fake-upstream.ts";
import { searxngConfig, serveLoopback, type Loopback } from "../helpers/loopback.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { raw, startTestServer, type TestServer } from "../helpers/server.ts";

// `web_search_options` in Chat Completions on the real server: a fake SearXNG engine and a fake web
// of HTML pages on loopback, and a scripted chat-only upstream model that answers citing [n].

const ADMIN = "sk-admin-chat-web-0123456789abcdef";
type Citation = { type: string; url_citation: { url: string; title: string; start_index: number; end_index: number } };
type SeenMessage = { role: string; content: string };

let web: Loopback;
let searx: Loopback;
const searxQueries: string[] = [];
let upstream: FakeUpstream;
let server: TestServer;

/** The engine's results: two public pages. */
function results(): { url: string; title: string; content: string }[] {
  return [
    { url: `${web.url}/paris`, title: "Paris - facts", content: "Snippet about Paris." },
    { url: `${web.url}/seine`, title: "Seine - river", content: "Snippet about the Seine." },
  ];
}

/** The messages the upstream model was last sent. */
function lastMessages(): SeenMessage[] {
  return (upstream.seen.at(-1)!.body as { messages: SeenMessage[] }).messages;
}

const client = (s: TestServer): OpenAI => new OpenAI({ baseURL: s.baseURL, apiKey: s.apiKey, maxRetries: 0 });

before(async () => {
  web = await serveLoopback((req, res) => {
    if (req.url === "/paris") return void res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end("<html><head><title>Paris | Facts</title></head><body><p>Paris is the capital of France.</p></body></html>");
    if (req.url === "/seine") return void res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end("<html><head><title>The Seine</title></head><body><p>The Seine flows through Paris.</p></body></html>");
    res.writeHead(404).end();
  });
  searx = await serveLoopback((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const q = url.searchParams.get("q") ?? "";
    searxQueries.push(q);
    // A query asking for it finds the engine broken.
    if (q.includes("BROKEN")) return void res.writeHead(500).end("down");
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ query: q, results: results() }));
  });
  upstream = await startFakeUpstream();
  const webSearch = searxngConfig(searx.url, [`127.0.0.1:${searx.port}`, `127.0.0.1:${web.port}`]);
  const upstreams = {
    deployments: [{ id: "scripted", provider: "openai-compatible" as const, baseUrl: upstream.url, model: "gpt-4o-mini", timeoutMs: 10_000, endpoints: [] }],
    models: [{ name: "scripted", deployments: ["scripted"] }],
  };
  server = await startTestServer({ upstreams, webSearch, env: { MODELPORT_ADMIN_KEY: ADMIN } });
});
after(async () => {
  await server?.close();
  await upstream?.close();
  for (const s of [web, searx]) if (s !== undefined) await new Promise<void>((r) => s.server.close(() => r()));
});

describe("web_search_options in Chat Completions", () => {
  it("searches for the latest user message, gives the evidence in a system message, and cites [n] with url_citation annotations", async () => {
    upstream.script(() => ({ kind: "stream", text: "Paris [1] is on the Seine [2]. Not [9]." }));
    const completion = await client(server).chat.completions.create({
      model: "scripted",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hello" },
        { role: "assistant", content: "Hi." },
        { role: "user", content: "What is the capital of France?" },
      ],
      web_search_options: { search_context_size: "low", user_location: { type: "approximate", approximate: { country: "FR", city: "Paris", timezone: "Europe/Paris" } } },
    });
    assertSchema("CreateChatCompletionResponse", completion);
    assert.equal(searxQueries.at(-1), "What is the capital of France?");
    // The evidence sits after the system message, before the conversation, numbered with the pages' text.
    const messages = lastMessages();
    assert.deepEqual(messages.map((m) => m.role), ["system", "system", "user", "assistant", "user"]);
    assert.equal(messages[0]!.content, "Be brief.");
    const evidence = messages[1]!.content;
    assert.match(evidence, /\[1\] Paris \| Facts \(http:\/\/127\.0\.0\.1:\d+\/paris\)/);
    assert.match(evidence, /Paris is the capital of France\./);
    assert.match(evidence, /\[2\] The Seine/);
    assert.match(evidence, /cite/i);
    assert.match(evidence, /Paris, FR/);
    const message = completion.choices[0]!.message;
    assert.equal(message.content, "Paris [1] is on the Seine [2]. Not [9].");
    const annotations = message.annotations as unknown as Citation[];
    assert.equal(annotations.length, 2, "[9] names no source");
    assert.deepEqual(annotations.map((a) => [a.type, a.url_citation.url, a.url_citation.title]), [
      ["url_citation", `${web.url}/paris`, "Paris | Facts"],
      ["url_citation", `${web.url}/seine`, "The Seine"],
    ]);
    assert.equal(message.content!.slice(annotations[0]!.url_citation.start_index, annotations[0]!.url_citation.end_index), "[1]");
    assert.equal(message.content!.slice(annotations[1]!.url_citation.start_index, annotations[1]!.url_citation.end_index), "[2]");
  });

  it("streams the annotations in a delta of their own just before the finish, every chunk valid against the spec", async () => {
    upstream.script(() => ({ kind: "stream", text: "It is Paris [1]." }));
    const stream = await client(server).chat.completions.create({ model: "scripted", messages: [{ role: "user", content: "Capital of France?" }], web_search_options: {}, stream: true, stream_options: { include_usage: true }, store: true });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    for (const chunk of chunks) assertSchema("CreateChatCompletionStreamResponse", chunk);
    assert.equal(searxQueries.at(-1), "Capital of France?");
    assert.equal(lastMessages()[0]!.role, "system");
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    assert.equal(text, "It is Paris [1].");
    const at = chunks.findIndex((c) => (c.choices[0]?.delta as { annotations?: unknown } | undefined)?.annotations !== undefined);
    assert.ok(at > 0, "a chunk carries the annotations");
    const annotations = (chunks[at]!.choices[0]!.delta as { annotations: Citation[] }).annotations;
    assert.equal(annotations.length, 1);
    assert.equal(annotations[0]!.url_citation.url, `${web.url}/paris`);
    assert.equal(text.slice(annotations[0]!.url_citation.start_index, annotations[0]!.url_citation.end_index), "[1]");
    // Every content delta comes before it; the finish follows it.
    assert.ok(chunks.slice(at + 1).every((c) => (c.choices[0]?.delta.content ?? "") === ""));
    assert.equal(chunks[at + 1]?.choices[0]?.finish_reason, "stop");
    // Stored as streamed, annotations included.
    const stored = await client(server).chat.completions.retrieve(chunks[0]!.id);
    assert.deepEqual(stored.choices[0]!.message.annotations, annotations);
  });

  it("tells the model when the search fails, and still answers 200 without annotations", async () => {
    upstream.script(() => ({ kind: "stream", text: "I could not search [1]." }));
    const completion = await client(server).chat.completions.create({ model: "scripted", messages: [{ role: "user", content: "BROKEN search please" }], web_search_options: { search_context_size: "high" } });
    assertSchema("CreateChatCompletionResponse", completion);
    const evidence = lastMessages()[0]!;
    assert.equal(evidence.role, "system");
    assert.match(evidence.content, /failed/);
    assert.deepEqual(completion.choices[0]!.message.annotations, []);
  });

  it("meters each search as one priced call", async () => {
    await server.meter.flush();
    const costs = await raw(server, `/v1/organization/costs?start_time=${Math.floor(Date.now() / 1000) - 3600}&group_by[]=line_item`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const lines = (costs.body as { data: { results: { line_item: string; amount: { value: number } }[] }[] }).data.flatMap((b) => b.results);
    const spent = lines.filter((l) => l.line_item === "web-search, input and output").reduce((n, l) => n + l.amount.value, 0);
    assert.ok(searxQueries.length >= 3);
    assert.ok(Math.abs(spent - 0.01 * searxQueries.length) < 1e-9, `${spent} USD for ${searxQueries.length} searches`);
  });

  it("refuses bad options with a 400 naming them", async () => {
    const rejects = async (options: unknown, param: string): Promise<void> => {
      await assert.rejects(
        client(server).chat.completions.create({ model: "scripted", messages: [{ role: "user", content: "hi" }], web_search_options: options as OpenAI.ChatCompletionCreateParams.WebSearchOptions }),
        (e: InstanceType<typeof OpenAI.APIError>) => e.status === 400 && (e.error as { param?: string }).param === param,
      );
    };
    await rejects({ search_context_size: "huge" }, "web_search_options.search_context_size");
    await rejects({ max_results: 3 }, "web_search_options.max_results");
    await rejects({ user_location: { type: "approximate" } }, "web_search_options.user_location.approximate");
    await rejects({ user_location: { type: "approximate", approximate: { country: "France" } } }, "web_search_options.user_location.approximate.country");
    await rejects({ user_location: { type: "approximate", approximate: { street: "x" } } }, "web_search_options.user_location.approximate.street");
  });

  it("refuses web_search_options where no engine is configured, naming it", async () => {
    const bare = await startTestServer({});
    try {
      await assert.rejects(
        client(bare).chat.completions.create({ model: "stories", messages: [{ role: "user", content: "hi" }], web_search_options: {} }),
        (e: InstanceType<typeof OpenAI.APIError>) => e.status === 400 && (e.error as { param?: string }).param === "web_search_options" && /web_search_options/.test(e.message),
      );
    } finally {
      await bare.close();
    }
  });
});
