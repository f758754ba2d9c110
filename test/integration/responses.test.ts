import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { createProjectKeys } from "../helpers/admin.ts";
import { backends } from "../helpers/databases.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { raw, sseData, STORIES, startTestServer, type TestServer } from "../helpers/server.ts";

const ADMIN = "sk-admin-responses-0123456789";
const list = await backends();
after(async () => {
  for (const b of list) await b.cleanup();
});

const projectKey = async (server: TestServer, name: string): Promise<string> => (await createProjectKeys(server, ADMIN, [name]))[0] as string;

const STORY = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.";

for (const backend of list) {
  describe(`Responses API on ${backend.name}`, () => {
    let server: TestServer;
    let client: OpenAI;
    let other: OpenAI;
    const start = () => startTestServer({ env: { ...backend.env(), MODELPORT_ADMIN_KEY: ADMIN }, models: [{ id: "stories", path: STORIES, aliases: [] }] });

    before(async () => {
      server = await start();
      client = new OpenAI({ baseURL: server.baseURL, apiKey: await projectKey(server, "A"), maxRetries: 0 });
      other = new OpenAI({ baseURL: server.baseURL, apiKey: await projectKey(server, "B"), maxRetries: 0 });
    });
    after(async () => {
      await server.close();
    });

    let first: OpenAI.Responses.Response;

    it("creates a response (stored by default) that validates against the Response schema", async () => {
      first = await client.responses.create({ model: "stories", input: STORY, instructions: "Tell a story.", max_output_tokens: 20, temperature: 0, metadata: { run: "1" } });
      assertSchema("Response", first);
      assert.equal(first.status, "incomplete", "20 tokens of a story end by length");
      assert.deepEqual(first.incomplete_details, { reason: "max_output_tokens" });
      assert.equal(first.output[0]!.type, "message");
      assert.ok(first.output_text.length > 0);
      assert.equal(first.usage!.output_tokens, 20);
      assert.ok(first.usage!.input_tokens > 20);
      assert.equal(first.instructions, "Tell a story.");
      assert.deepEqual(first.metadata, { run: "1" });
      const again = await client.responses.retrieve(first.id);
      assertSchema("Response", again);
      assert.deepEqual(again, first);
    });

    it("streams semantic events in order with sequence numbers, through the SDK's stream helper", async () => {
      const stream = client.responses.stream({ model: "stories", input: STORY, max_output_tokens: 16, temperature: 0 });
      const types: string[] = [];
      let last = -1;
      let deltas = "";
      for await (const event of stream) {
        assertSchema("ResponseStreamEvent", event);
        assert.equal(event.sequence_number, last + 1);
        last = event.sequence_number;
        types.push(event.type);
        if (event.type === "response.output_text.delta") deltas += event.delta;
      }
      const final = await stream.finalResponse();
      assert.equal(final.output_text, deltas);
      assert.deepEqual(types.slice(0, 4), ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]);
      assert.deepEqual(types.slice(-4), ["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.incomplete"]);
      const frames = await raw(server, "/v1/responses", { body: JSON.stringify({ model: "stories", input: "Hi", max_output_tokens: 16, stream: true }), headers: { authorization: `Bearer ${client.apiKey}` } });
      assert.match(frames.text, /^event: response\.created\ndata: /);
      for (const data of sseData(frames.text)) assertSchema("ResponseStreamEvent", JSON.parse(data));
    });

    it("continues with previous_response_id: history rebuilt from storage, its KV state reused, instructions not inherited", async () => {
      const base = await client.responses.create({ model: "stories", input: `${STORY} Lily had a red ball.`, max_output_tokens: 24, temperature: 0 });
      const second = await client.responses.create({ model: "stories", previous_response_id: base.id, input: "And then", max_output_tokens: 16, temperature: 0 });
      assertSchema("Response", second);
      assert.equal(second.previous_response_id, base.id);
      const prior = base.usage!.input_tokens + base.usage!.output_tokens;
      assert.ok(second.usage!.input_tokens > prior, `the prompt holds the first turn and its answer: ${second.usage!.input_tokens} vs ${prior}`);
      assert.ok(second.usage!.input_tokens_details.cached_tokens >= base.usage!.input_tokens, `cached ${second.usage!.input_tokens_details.cached_tokens} of ${second.usage!.input_tokens} (first turn ${prior})`);
      const withInstructions = await client.responses.create({ model: "stories", previous_response_id: first.id, input: "And then", max_output_tokens: 16 });
      assert.equal(withInstructions.instructions, null, "instructions are not inherited");
      const items = await client.responses.inputItems.list(second.id);
      assertSchema("ResponseItemList", (await raw(server, `/v1/responses/${second.id}/input_items`, { method: "GET", headers: { authorization: `Bearer ${client.apiKey}` } })).body);
      assert.equal(items.data.length, 1);
      assert.equal(items.data[0]!.type, "message");
      const counted = await client.responses.inputTokens.count({ model: "stories", previous_response_id: base.id, input: "And then" });
      assertSchema("TokenCountsResource", counted);
      assert.ok(Math.abs(counted.input_tokens - second.usage!.input_tokens) <= 2, `${counted.input_tokens} vs ${second.usage!.input_tokens}`);
    });

    it("runs turns in a conversation: its items are the context, and each turn's input and output are appended", async () => {
      const conversation = await client.conversations.create({ items: [{ type: "message", role: "user", content: STORY }], metadata: { topic: "lily" } });
      const one = await client.responses.create({ model: "stories", conversation: conversation.id, input: "What next?", max_output_tokens: 16, temperature: 0 });
      assertSchema("Response", one);
      assert.deepEqual(one.conversation, { id: conversation.id });
      const two = await client.responses.create({ model: "stories", conversation: conversation.id, input: [{ type: "message", role: "user", content: "And then?" }], max_output_tokens: 16, temperature: 0 });
      assert.ok(two.usage!.input_tokens > one.usage!.input_tokens + one.usage!.output_tokens - 4, "the second turn sees the first");
      const items = [];
      for await (const item of client.conversations.items.list(conversation.id, { order: "asc" })) items.push(item);
      assert.deepEqual(
        items.map((i) => [i.type, "role" in i ? i.role : ""]),
        [["message", "user"], ["message", "user"], ["message", "assistant"], ["message", "user"], ["message", "assistant"]],
      );
      assert.equal(new Set(items.map((i) => i.id)).size, 5);
      await assert.rejects(other.responses.create({ model: "stories", conversation: conversation.id, input: "x" }), (e: unknown) => e instanceof OpenAI.NotFoundError);
    });

    it("runs the function-tool loop: function_call, then function_call_output with previous_response_id", async () => {
      const tools: OpenAI.Responses.Tool[] = [{ type: "function", name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string", enum: ["Paris", "Rome"] } }, required: ["city"], additionalProperties: false }, strict: true }];
      const call = await client.responses.create({ model: "stories", input: "What is the weather in Paris?", tools, tool_choice: "required", max_output_tokens: 60 });
      assertSchema("Response", call);
      const fc = call.output.find((o) => o.type === "function_call");
      assert.ok(fc && fc.type === "function_call", JSON.stringify(call.output));
      assert.equal(fc.name, "get_weather");
      assert.ok(["Paris", "Rome"].includes(String((JSON.parse(fc.arguments) as { city: string }).city)));
      const answer = await client.responses.create({ model: "stories", previous_response_id: call.id, input: [{ type: "function_call_output", call_id: fc.call_id, output: "sunny" }], tools, max_output_tokens: 16 });
      assertSchema("Response", answer);
      assert.ok(["completed", "incomplete"].includes(String(answer.status)));
      const orphan = await raw(server, "/v1/responses", { body: JSON.stringify({ model: "stories", input: [{ type: "function_call_output", call_id: "call_nope", output: "x" }] }), headers: { authorization: `Bearer ${client.apiKey}` } });
      assert.equal(orphan.status, 400);
    });

    it("answers in a json_schema format under a grammar", async () => {
      const res = await client.responses.create({
        model: "stories",
        input: "A person",
        text: { format: { type: "json_schema", name: "person", strict: true, schema: { type: "object", properties: { age: { type: "integer" }, ok: { type: "boolean" } }, required: ["age", "ok"], additionalProperties: false } } },
        max_output_tokens: 40,
      });
      const value = JSON.parse(res.output_text) as { age: number; ok: boolean };
      assert.ok(Number.isInteger(value.age) && typeof value.ok === "boolean");
    });

    it("runs background responses: queued, polled to completion, and cancelled", async () => {
      const queued = await client.responses.create({ model: "stories", input: STORY, background: true, max_output_tokens: 24 });
      assertSchema("Response", queued);
      assert.ok(["queued", "in_progress"].includes(String(queued.status)));
      let polled = queued;
      for (let i = 0; i < 200 && (polled.status === "queued" || polled.status === "in_progress"); i++) {
        await new Promise((r) => setTimeout(r, 50));
        polled = await client.responses.retrieve(queued.id);
      }
      assert.equal(polled.status, "incomplete");
      assert.equal(polled.usage!.output_tokens, 24);
      assert.ok(polled.output_text.length > 0);

      const long = await client.responses.create({ model: "stories", input: STORY, background: true, max_output_tokens: 1500 });
      const cancelled = await client.responses.cancel(long.id);
      assert.equal(cancelled.status, "cancelled");
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await client.responses.retrieve(long.id)).status, "cancelled", "the job did not overwrite the cancel");
      const done = await raw(server, `/v1/responses/${first.id}/cancel`, { method: "POST", headers: { authorization: `Bearer ${client.apiKey}` } });
      assert.equal(done.status, 400, "only background responses can be cancelled");
    });

    it("keeps responses to their project: another project's key gets 404 for every operation", async () => {
      await assert.rejects(other.responses.retrieve(first.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
      await assert.rejects(other.responses.inputItems.list(first.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
      await assert.rejects(other.responses.delete(first.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
      await assert.rejects(other.responses.create({ model: "stories", previous_response_id: first.id, input: "x" }), (e: unknown) => e instanceof OpenAI.BadRequestError);
    });

    it("survives a restart: stored responses and chains are rebuilt from the database; delete removes them", async () => {
      await server.close();
      server = await start();
      client = new OpenAI({ baseURL: server.baseURL, apiKey: client.apiKey, maxRetries: 0 });
      const kept = await client.responses.retrieve(first.id);
      assert.deepEqual(kept, first);
      const next = await client.responses.create({ model: "stories", previous_response_id: first.id, input: "Later", max_output_tokens: 16 });
      assert.ok(next.usage!.input_tokens > first.usage!.input_tokens);
      await client.responses.delete(next.id);
      await assert.rejects(client.responses.retrieve(next.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
    });

    it("rejects bad requests with 400s naming the parameter, and unknown models with 404", async () => {
      const cases: [unknown, string][] = [
        [{ model: "stories", input: 5 }, "input"],
        [{ model: "stories", input: "x", tools: [{ type: "web_search" }] }, "tools[0].type"],
        [{ model: "stories", input: "x", temperature: 3 }, "temperature"],
        [{ model: "stories", input: "x", bogus: 1 }, "bogus"],
        [{ model: "stories", input: "x", previous_response_id: "resp_missing" }, "previous_response_id"],
      ];
      for (const [body, param] of cases) {
        const res = await raw(server, "/v1/responses", { body: JSON.stringify(body), headers: { authorization: `Bearer ${client.apiKey}` } });
        assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.text}`);
        assertSchema("ErrorResponse", res.body);
        assert.equal((res.body as { error: { param: string } }).error.param, param);
      }
      const unknown = await raw(server, "/v1/responses", { body: JSON.stringify({ model: "nope", input: "x" }), headers: { authorization: `Bearer ${client.apiKey}` } });
      assert.equal(unknown.status, 404);
    });
  });
}
