import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI, { toFile } from "openai";
import { createProjectKeys } from "../helpers/admin.ts";
import { backends } from "../helpers/databases.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { raw, sseData, startTestServer, waitFor, type TestServer } from "../helpers/server.ts";

const ADMIN = "sk-admin-file-search-0123456789";
const list = await backends();
after(async () => {
  for (const b of list) await b.cleanup();
});

const STORY =
  "Once upon a time, there was a little girl named Lily. She had a red ball that she loved very much. " +
  "Every day Lily took her red ball to the park and played with her friend Tom by the big tree.";
const FILENAME = "lily.txt";

type FileSearchCall = OpenAI.Responses.ResponseFileSearchToolCall;
type OutputMessage = OpenAI.Responses.ResponseOutputMessage;

function parts(response: OpenAI.Responses.Response): { call: FileSearchCall; message: OutputMessage } {
  assert.deepEqual(response.output.map((o) => o.type), ["file_search_call", "message"], JSON.stringify(response.output));
  const [call, message] = response.output;
  assert.ok(call?.type === "file_search_call" && message?.type === "message");
  return { call, message };
}

for (const backend of list) {
  describe(`Responses file_search on ${backend.name}`, () => {
    let server: TestServer;
    let client: OpenAI;
    let other: OpenAI;
    let fileId = "";
    let storeId = "";
    let tools: OpenAI.Responses.Tool[] = [];

    before(async () => {
      server = await startTestServer({ env: { ...backend.env(), MODELPORT_ADMIN_KEY: ADMIN } });
      const [keyA, keyB] = (await createProjectKeys(server, ADMIN, ["FS A", "FS B"])) as [string, string];
      client = new OpenAI({ baseURL: server.baseURL, apiKey: keyA, maxRetries: 0 });
      other = new OpenAI({ baseURL: server.baseURL, apiKey: keyB, maxRetries: 0 });
      const file = await client.files.create({ file: await toFile(Buffer.from(STORY), FILENAME), purpose: "assistants" });
      fileId = file.id;
      const store = await client.vectorStores.create({ name: "Stories", file_ids: [fileId] });
      storeId = store.id;
      await waitFor(async () => (await client.vectorStores.retrieve(storeId)).file_counts.completed === 1, 60_000);
      tools = [{ type: "file_search", vector_store_ids: [storeId] }];
    });
    after(async () => {
      await server.close();
    });

    let stored: OpenAI.Responses.Response;

    it("searches the store, answers with a file_search_call item and a file_citation (SDK, schema-checked)", async () => {
      stored = await client.responses.create({
        model: "stories",
        input: "What did Lily take to the park?",
        tools,
        include: ["file_search_call.results"],
        max_output_tokens: 24,
        temperature: 0,
      });
      assertSchema("Response", stored);
      const { call, message } = parts(stored);
      assert.match(call.id, /^fs_/);
      assert.equal(call.status, "completed");
      assert.ok(call.queries.length > 0 && call.queries.every((q) => q.length > 0), JSON.stringify(call.queries));
      assert.ok(call.results && call.results.length > 0, "the story is found");
      assert.equal(call.results[0]?.file_id, fileId);
      assert.equal(call.results[0]?.filename, FILENAME);
      assert.ok(STORY.includes((call.results[0]?.text ?? "").slice(0, 40)), "the result's text is from the file");
      const score = call.results[0]?.score ?? -1;
      assert.ok(score > 0 && score <= 1, `score ${score}`);
      const text = message.content[0];
      assert.ok(text?.type === "output_text");
      assert.deepEqual(text.annotations, [{ type: "file_citation", file_id: fileId, filename: FILENAME, index: text.text.length }]);
      assert.deepEqual(stored.tools, [{ type: "file_search", vector_store_ids: [storeId], max_num_results: 10, filters: null, ranking_options: { ranker: "auto", score_threshold: 0 } }]);
      assert.ok(stored.usage!.input_tokens > 60, `the story is in the prompt: ${stored.usage!.input_tokens} input tokens`);

      const plain = await client.responses.create({ model: "stories", input: "What did Lily take to the park?", tools, max_output_tokens: 16, store: false });
      assertSchema("Response", plain);
      assert.equal(parts(plain).call.results, null, "results only with include");
    });

    it("streams the search and the cited answer, every event valid against the spec", async () => {
      const stream = client.responses.stream({ model: "stories", input: "Who is Lily?", tools, include: ["file_search_call.results"], max_output_tokens: 16, temperature: 0 });
      const types: string[] = [];
      let last = -1;
      let deltas = "";
      for await (const event of stream) {
        assertSchema("ResponseStreamEvent", event);
        assert.equal(event.sequence_number, last + 1);
        last = event.sequence_number;
        types.push(event.type);
        if (event.type === "response.output_text.delta") deltas += event.delta;
        if (event.type === "response.output_text.annotation.added") {
          assert.deepEqual(event.annotation, { type: "file_citation", file_id: fileId, filename: FILENAME, index: deltas.length });
        }
      }
      assert.deepEqual(types.slice(0, 9), [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.file_search_call.in_progress",
        "response.file_search_call.searching",
        "response.file_search_call.completed",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
      ]);
      assert.deepEqual(types.slice(-5), ["response.output_text.annotation.added", "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.incomplete"]);
      const final = await stream.finalResponse();
      const { call, message } = parts(final);
      assert.equal(call.results?.[0]?.file_id, fileId);
      assert.equal(final.output_text, deltas);
      const text = message.content[0];
      assert.ok(text?.type === "output_text");
      assert.equal(text.annotations.length, 1);

      const frames = await raw(server, "/v1/responses", { body: JSON.stringify({ model: "stories", input: "Lily", tools, max_output_tokens: 16, stream: true }), headers: { authorization: `Bearer ${client.apiKey}` } });
      assert.equal(frames.status, 200, frames.text);
      const events = sseData(frames.text).map((d) => JSON.parse(d) as { type: string });
      for (const event of events) assertSchema("ResponseStreamEvent", event);
      assert.ok(events.some((e) => e.type === "response.file_search_call.completed"));
    });

    it("stores the items: retrieve, input_items, a previous_response_id follow-up, and items sent back as input", async () => {
      const again = await client.responses.retrieve(stored.id);
      assertSchema("Response", again);
      assert.deepEqual(again, stored);
      const unstored = await client.responses.create({ model: "stories", input: "Lily", tools, max_output_tokens: 16, store: false });
      parts(unstored);
      await assert.rejects(client.responses.retrieve(unstored.id), (e: unknown) => e instanceof OpenAI.NotFoundError);

      const next = await client.responses.create({ model: "stories", previous_response_id: stored.id, input: "And then?", max_output_tokens: 16 });
      assertSchema("Response", next);
      assert.deepEqual(next.output.map((o) => o.type), ["message"], "no tool on this turn: no search");
      assert.ok(next.usage!.input_tokens > stored.usage!.output_tokens, "the chain is the history");

      // A client keeping its own history sends the output back, the search call included.
      const history: OpenAI.Responses.ResponseInputItem[] = [{ role: "user", content: "What did Lily take to the park?" }, ...(stored.output as OpenAI.Responses.ResponseInputItem[]), { role: "user", content: "Where is the tree?" }];
      const manual = await client.responses.create({ model: "stories", input: history, tools, max_output_tokens: 16 });
      assertSchema("Response", manual);
      parts(manual);
      const items = await raw(server, `/v1/responses/${manual.id}/input_items?order=asc`, { method: "GET", headers: { authorization: `Bearer ${client.apiKey}` } });
      assertSchema("ResponseItemList", items.body);
      assert.deepEqual((items.body as { data: { type: string }[] }).data.map((i) => i.type), ["message", "file_search_call", "message", "message"]);
    });

    it("runs in the background: the stored response has the search call and the citation", async () => {
      const queued = await client.responses.create({ model: "stories", input: "Lily", tools, background: true, max_output_tokens: 16 });
      let polled = queued;
      for (let i = 0; i < 200 && (polled.status === "queued" || polled.status === "in_progress"); i++) {
        await new Promise((r) => setTimeout(r, 50));
        polled = await client.responses.retrieve(queued.id);
      }
      assertSchema("Response", polled);
      const { message } = parts(polled);
      const text = message.content[0];
      assert.ok(text?.type === "output_text");
      assert.deepEqual(text.annotations, [{ type: "file_citation", file_id: fileId, filename: FILENAME, index: text.text.length }]);
    });

    it("runs in a conversation: the search call is kept among its items", async () => {
      const conversation = await client.conversations.create({});
      const turn = await client.responses.create({ model: "stories", conversation: conversation.id, input: "Tell me about Lily.", tools, max_output_tokens: 16 });
      parts(turn);
      const items = [];
      for await (const item of client.conversations.items.list(conversation.id, { order: "asc" })) {
        assertSchema("ConversationItem", item);
        items.push(item.type);
      }
      assert.deepEqual(items, ["message", "file_search_call", "message"]);
      const follow = await client.responses.create({ model: "stories", conversation: conversation.id, input: "More?", max_output_tokens: 16 });
      assertSchema("Response", follow);
    });

    it("tool_choice none skips the search; filters and ranking options apply", async () => {
      const none = await client.responses.create({ model: "stories", input: "Lily", tools, tool_choice: "none", max_output_tokens: 16, store: false });
      assert.deepEqual(none.output.map((o) => o.type), ["message"]);
      const filtered = await client.responses.create({
        model: "stories",
        input: "Lily",
        tools: [{ type: "file_search", vector_store_ids: [storeId], filters: { type: "eq", key: "topic", value: "volcanoes" }, ranking_options: { score_threshold: 0.1 } }],
        tool_choice: { type: "file_search" },
        include: ["file_search_call.results"],
        max_output_tokens: 16,
        store: false,
      });
      assertSchema("Response", filtered);
      const { call, message } = parts(filtered);
      assert.deepEqual(call.results, [], "no file has the attribute");
      const text = message.content[0];
      assert.ok(text?.type === "output_text");
      assert.deepEqual(text.annotations, []);
    });

    it("cuts the results to the model's context: a long file still leaves room for the answer", async () => {
      const long = Array.from({ length: 50 }, (_, i) => `Day ${i + 1}: Lily took her red ball to the park, and Tom came to play by the big tree.`).join(" ");
      const file = await client.files.create({ file: await toFile(Buffer.from(long), "diary.txt"), purpose: "assistants" });
      const store = await client.vectorStores.create({ name: "Diary", file_ids: [file.id] });
      await waitFor(async () => (await client.vectorStores.retrieve(store.id)).file_counts.completed === 1, 60_000);
      const wide: OpenAI.Responses.Tool[] = [{ type: "file_search", vector_store_ids: [store.id], max_num_results: 50 }];
      const res = await client.responses.create({ model: "stories", input: "Where did Lily play?", tools: wide, include: ["file_search_call.results"], max_output_tokens: 1000, store: false });
      assertSchema("Response", res);
      const { call, message } = parts(res);
      assert.ok((call.results?.length ?? 0) > 1, `several chunks found: ${call.results?.length}`);
      const prompt = res.usage!.input_tokens;
      assert.ok(prompt + 1000 <= 2048, `the prompt (${prompt}) leaves room for max_output_tokens`);
      assert.ok(prompt > 900, `the context is filled: ${prompt}`);
      const text = message.content[0];
      assert.ok(text?.type === "output_text");
      assert.deepEqual(text.annotations, [{ type: "file_citation", file_id: file.id, filename: "diary.txt", index: text.text.length }]);

      const open = await client.responses.create({ model: "stories", input: "Where did Lily play?", tools: wide, max_output_tokens: null, store: false });
      assert.ok(open.usage!.input_tokens <= 2048 - 512 && open.usage!.input_tokens > prompt, `without max_output_tokens 512 tokens stay free: ${open.usage!.input_tokens}`);
    });

    it("keeps stores to their project: another project's key gets a 404 naming the tool's param", async () => {
      await assert.rejects(other.responses.create({ model: "stories", input: "Lily", tools, max_output_tokens: 16 }), (e: unknown) => e instanceof OpenAI.NotFoundError);
      for (const stream of [false, true]) {
        const res = await raw(server, "/v1/responses", { body: JSON.stringify({ model: "stories", input: "Lily", tools, stream }), headers: { authorization: `Bearer ${other.apiKey}` } });
        assert.equal(res.status, 404, res.text);
        assertSchema("ErrorResponse", res.body);
        assert.equal((res.body as { error: { param: string } }).error.param, "tools[0].vector_store_ids");
      }
    });

    it("rejects bad file_search tools with 400s naming the parameter", async () => {
      const cases: [unknown, string][] = [
        [{ type: "file_search" }, "tools[0].vector_store_ids"],
        [{ type: "file_search", vector_store_ids: [] }, "tools[0].vector_store_ids"],
        [{ type: "file_search", vector_store_ids: ["vs_x"], max_num_results: 51 }, "tools[0].max_num_results"],
        [{ type: "file_search", vector_store_ids: ["vs_x"], filters: { type: "eq", key: "a" } }, "tools[0].filters.value"],
        [{ type: "file_search", vector_store_ids: ["vs_x"], ranking_options: { score_threshold: 2 } }, "tools[0].ranking_options.score_threshold"],
        [{ type: "web_search" }, "tools[0].type"],
      ];
      for (const [tool, param] of cases) {
        const res = await raw(server, "/v1/responses", { body: JSON.stringify({ model: "stories", input: "x", tools: [tool] }), headers: { authorization: `Bearer ${client.apiKey}` } });
        assert.equal(res.status, 400, `${JSON.stringify(tool)} → ${res.text}`);
        assertSchema("ErrorResponse", res.body);
        assert.equal((res.body as { error: { param: string } }).error.param, param);
      }
    });
  });
}
