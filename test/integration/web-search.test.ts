import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import type { ResponseStreamEvent } from "../../src/protocol/openai/responses-stream.ts";
import { startFakeUpstream, type FakeUpstream } from "../helpers/fake-upstream.ts";
import { searxngConfig, serveLoopback, type Loopback } from "../helpers/loopback.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { checkEvents } from "../helpers/response-events.ts";
import { raw, startTestServer, type TestServer } from "../helpers/server.ts";

// The web_search tool on the real server against fake search engines (SearXNG's and Brave's
// documented JSON, real HTTP servers on loopback) and a fake web of HTML pages, one of them private.
// The model is a scripted chat-only upstream, and the local tiny model with the tool forced.

type Item = { type: string; [k: string]: unknown };
const ADMIN = "sk-admin-web-0123456789abcdef";

let web: Loopback;
let internal: Loopback;
let searx: Loopback;
let brave: Loopback;
const searxQueries: string[] = [];
const braveSeen: { q: string; token: string }[] = [];
let upstream: FakeUpstream;
let server: TestServer;
let braveServer: TestServer;

/** What the engines answer: the public page, a page that redirects to a private address, and a name resolving to loopback. */
function results(): { url: string; title: string; content: string }[] {
  return [
    { url: `${web.url}/paris`, title: "Paris - facts", content: "Snippet about Paris." },
    { url: `${web.url}/moved`, title: "Moved page", content: "Snippet of the moved page." },
    { url: `http://localhost:${internal.port}/secret`, title: "Intranet", content: "Snippet of the intranet." },
  ];
}

/** The upstream model searches for `query`, then answers `answer`. */
function script(query: string, answer: string): void {
  const start = upstream.seen.length;
  upstream.script((n, req) =>
    n === start + 1 && req.body.tool_choice !== "none" ? { kind: "stream", text: "", toolCall: { name: "web_search", arguments: JSON.stringify({ query }) } } : { kind: "stream", text: answer },
  );
}

const upstreams = () => ({
  deployments: [{ id: "scripted", provider: "openai-compatible" as const, baseUrl: upstream.url, model: "gpt-4o-mini", timeoutMs: 10_000, endpoints: [] }],
  models: [{ name: "scripted", deployments: ["scripted"] }],
});

before(async () => {
  internal = await serveLoopback((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<html><title>Secret</title><body>TOPSECRET intranet data</body></html>"));
  web = await serveLoopback((req, res) => {
    if (req.url === "/paris") return void res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end("<html><head><title>Paris | Facts</title></head><body><h1>Paris</h1><p>Paris is the capital of France, on the Seine.</p><script>var x = 1;</script></body></html>");
    if (req.url === "/moved") return void res.writeHead(302, { location: `${internal.url}/secret` }).end();
    res.writeHead(404).end();
  });
  searx = await serveLoopback((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    searxQueries.push(url.searchParams.get("q") ?? "");
    if (url.pathname !== "/search" || url.searchParams.get("format") !== "json") return void res.writeHead(400).end();
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ query: url.searchParams.get("q"), results: results() }));
  });
  brave = await serveLoopback((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    braveSeen.push({ q: url.searchParams.get("q") ?? "", token: String(req.headers["x-subscription-token"] ?? "") });
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ type: "search", web: { type: "search", results: results().map((r) => ({ url: r.url, title: r.title, description: r.content })) } }));
  });
  upstream = await startFakeUpstream();
  // The engines and the public test web are allow-listed by port; the intranet is not.
  const allowPrivate = [`127.0.0.1:${searx.port}`, `127.0.0.1:${web.port}`, `127.0.0.1:${brave.port}`];
  const webSearch = searxngConfig(searx.url, allowPrivate);
  server = await startTestServer({ upstreams: upstreams(), webSearch, env: { MODELPORT_ADMIN_KEY: ADMIN } });
  process.env.TEST_BRAVE_KEY = "brave-test-token";
  braveServer = await startTestServer({ upstreams: upstreams(), webSearch: { ...webSearch, backend: "brave", baseUrl: `${brave.url}/res/v1`, apiKeyEnv: "TEST_BRAVE_KEY" } });
});
after(async () => {
  await server?.close();
  await braveServer?.close();
  await upstream?.close();
  for (const s of [web, internal, searx, brave]) await new Promise<void>((r) => s.server.close(() => r()));
});

function client(s: TestServer): OpenAI {
  return new OpenAI({ baseURL: s.baseURL, apiKey: s.apiKey, maxRetries: 0 });
}

describe("the web_search tool", () => {
  it("searches (SearXNG), reads the public page, refuses a redirect to a private address and a name resolving to loopback, and cites [n] with valid indexes", async () => {
    script("capital of France", "The capital of France is Paris [1].");
    const response = await client(server).responses.create({ model: "scripted", input: "What is the capital of France?", tools: [{ type: "web_search" }], include: ["web_search_call.action.sources"] });
    assertSchema("Response", response);
    const [call, opened, message] = response.output as unknown as Item[];
    // The page read is an open_page action of its own; the refused ones were never opened.
    assert.deepEqual([opened?.type, opened?.status, opened?.action], ["web_search_call", "completed", { type: "open_page", url: `${web.url}/paris` }]);
    assert.equal(call?.type, "web_search_call");
    assert.equal(call?.status, "completed");
    const action = call?.action as { type: string; query: string; sources: { type: string; url: string }[] };
    assert.equal(action.query, "capital of France");
    assert.deepEqual(action.sources.map((s) => s.url), results().map((r) => r.url));
    assert.equal(searxQueries.at(-1), "capital of France");
    // What the model read: the page's text (not its script), the others by their snippets only.
    const evidence = (upstream.seen.at(-1)!.body as { messages: { role: string; content: string }[] }).messages.find((m) => m.role === "tool")!.content;
    assert.match(evidence, /\[1\] Paris \| Facts \(http:\/\/127\.0\.0\.1:\d+\/paris\)\n(Paris \| Facts\n)?Paris\nParis is the capital of France, on the Seine\./);
    assert.ok(!evidence.includes("var x"), "scripts are not text");
    assert.ok(!evidence.includes("TOPSECRET"), "neither the redirect to the intranet nor localhost was followed");
    assert.match(evidence, /Snippet of the moved page\./);
    assert.match(evidence, /Snippet of the intranet\./);
    const text = (message?.content as { text: string; annotations: { type: string; url: string; title: string; start_index: number; end_index: number }[] }[])[0]!;
    assert.equal(text.annotations.length, 1);
    const citation = text.annotations[0]!;
    assert.equal(citation.type, "url_citation");
    assert.equal(citation.url, `${web.url}/paris`);
    assert.equal(citation.title, "Paris | Facts");
    assert.equal(text.text.slice(citation.start_index, citation.end_index), "[1]");
  });

  it("keeps to filters.allowed_domains, and leaves sources out unless included", async () => {
    script("capital of France", "Paris [1].");
    const response = await client(server).responses.create({ model: "scripted", input: "Capital?", tools: [{ type: "web_search", filters: { allowed_domains: ["127.0.0.1"] } }] });
    const call = response.output[0] as unknown as Item;
    assert.equal((call.action as { sources?: unknown }).sources, undefined);
    // SearXNG was asked for the domain, and a result on another host was dropped anyway.
    assert.match(searxQueries.at(-1) ?? "", /site:127\.0\.0\.1/);
    const evidence = (upstream.seen.at(-1)!.body as { messages: { role: string; content: string }[] }).messages.find((m) => m.role === "tool")!.content;
    assert.ok(!evidence.includes("Intranet"), evidence);
  });

  it("streams web_search_call events in order, each valid against the spec", async () => {
    script("Seine", "On the Seine [1].");
    const stream = await client(server).responses.create({ model: "scripted", input: "River?", tools: [{ type: "web_search_preview", search_context_size: "low" }], stream: true });
    const events: ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event as unknown as ResponseStreamEvent);
    checkEvents(events);
    const types = events.map((e) => e.type);
    const at = (t: string): number => types.indexOf(t as (typeof types)[number]);
    assert.ok(at("response.web_search_call.in_progress") < at("response.web_search_call.searching"));
    assert.ok(at("response.web_search_call.searching") < at("response.web_search_call.completed"));
    assert.ok(at("response.web_search_call.completed") < at("response.output_text.delta"));
    assert.ok(types.includes("response.output_text.annotation.added"));
  });

  it("searches with Brave's API (its key sent as X-Subscription-Token)", async () => {
    script("capital of France", "Paris [1].");
    const response = await client(braveServer).responses.create({ model: "scripted", input: "Capital?", tools: [{ type: "web_search" } as never] });
    assert.deepEqual(braveSeen.at(-1), { q: "capital of France", token: "brave-test-token" });
    assert.equal((response.output[0] as unknown as Item).status, "completed");
    assert.equal(response.output_text, "Paris [1].");
  });

  it("forces a search on the local model with tool_choice web_search, and meters each search", async () => {
    const response = await client(server).responses.create({ model: "stories", input: "Once upon a time", tools: [{ type: "web_search" }], tool_choice: { type: "web_search_preview" }, max_output_tokens: 60, max_tool_calls: 1 });
    assertSchema("Response", response);
    const call = response.output[0] as unknown as Item;
    assert.equal(call.type, "web_search_call");
    assert.ok(["completed", "failed"].includes(String(call.status)));
    // Every search on this server so far is one priced record, under the line item web-search.
    await server.meter.flush();
    const costs = await raw(server, `/v1/organization/costs?start_time=${Math.floor(Date.now() / 1000) - 3600}&group_by[]=line_item`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const lines = (costs.body as { data: { results: { line_item: string; amount: { value: number } }[] }[] }).data.flatMap((b) => b.results);
    const spent = lines.filter((l) => l.line_item === "web-search, input and output").reduce((n, l) => n + l.amount.value, 0);
    assert.ok(Math.abs(spent - 0.01 * searxQueries.length) < 1e-9, `${spent} USD for ${searxQueries.length} searches`);
  });

  it("refuses the tool where no engine is configured, naming it", async () => {
    const bare = await startTestServer({});
    try {
      await assert.rejects(
        client(bare).responses.create({ model: "stories", input: "hi", tools: [{ type: "web_search" }] }),
        (e: InstanceType<typeof OpenAI.APIError>) => e.status === 400 && (e.error as { param?: string }).param === "tools[0].type",
      );
    } finally {
      await bare.close();
    }
  });
});
