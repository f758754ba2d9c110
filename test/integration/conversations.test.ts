import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { backends } from "../helpers/databases.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { createProjectKeys } from "../helpers/admin.ts";
import { raw, startTestServer, type TestServer } from "../helpers/server.ts";

const ADMIN = "sk-admin-conversations-0123456789";
const list = await backends();
after(async () => {
  for (const b of list) await b.cleanup();
});

type Json = Record<string, unknown>;
type ItemList = { object: string; data: Json[]; first_id: string | null; last_id: string | null; has_more: boolean };

/** A page that is empty answers null ids, as OpenAI does; the rest of it must match the schema. */
function assertItemList(body: unknown): ItemList {
  const b = body as ItemList;
  if (b.data.length === 0) {
    assert.equal(b.first_id, null);
    assert.equal(b.last_id, null);
    assertSchema("ConversationItemList", { ...b, first_id: "", last_id: "" });
  } else {
    assertSchema("ConversationItemList", body);
  }
  return b;
}

const INITIAL = [
  { type: "message", role: "developer", content: "Be brief." },
  { role: "user", content: "What is the weather in Paris?" },
  { type: "message", role: "assistant", content: [{ type: "output_text", text: "Let me check.", annotations: [] }] },
  { type: "function_call", call_id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' },
  { type: "function_call_output", call_id: "call_1", output: "Sunny, 21C" },
];

for (const backend of list) {
  describe(`conversations on ${backend.name}`, () => {
    let server: TestServer;
    let a: OpenAI;
    let keyA = "";
    let keyB = "";
    const start = () => startTestServer({ env: { ...backend.env(), MODELPORT_ADMIN_KEY: ADMIN } });
    const as = (key: string, path: string, init: { method?: string; body?: unknown } = {}) =>
      raw(server, path, {
        ...(init.method ? { method: init.method } : {}),
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        headers: { authorization: `Bearer ${key}` },
      });

    before(async () => {
      server = await start();
      [keyA, keyB] = (await createProjectKeys(server, ADMIN, ["Conversations A", "Conversations B"])) as [string, string];
      a = new OpenAI({ baseURL: server.baseURL, apiKey: keyA, maxRetries: 0 });
    });
    after(async () => {
      await server.close();
    });

    let conv = "";
    /** Item ids in conversation order. */
    const order: string[] = [];

    it("creates a conversation with items and metadata, and retrieves it", async () => {
      const created = await as(keyA, "/v1/conversations", { body: { items: INITIAL, metadata: { topic: "weather" } } });
      assert.equal(created.status, 200, created.text);
      assertSchema("ConversationResource", created.body);
      const c = created.body as { id: string; object: string; created_at: number; metadata: Json };
      assert.match(c.id, /^conv_[A-Za-z0-9]{48}$/);
      assert.equal(c.object, "conversation");
      assert.ok(Math.abs(c.created_at - Date.now() / 1000) < 60);
      assert.deepEqual(c.metadata, { topic: "weather" });
      conv = c.id;

      const got = await a.conversations.retrieve(conv);
      assertSchema("ConversationResource", got);
      assert.deepEqual(got, c);
      const empty = await a.conversations.create();
      assertSchema("ConversationResource", empty);
      assert.deepEqual(empty.metadata, {});
      assert.deepEqual(assertItemList((await as(keyA, `/v1/conversations/${empty.id}/items`)).body), { object: "list", data: [], first_id: null, last_id: null, has_more: false });
    });

    it("lists the items in their stored wire form, newest first by default", async () => {
      const res = await as(keyA, `/v1/conversations/${conv}/items`);
      assert.equal(res.status, 200, res.text);
      const page = assertItemList(res.body);
      const asc = [...page.data].reverse();
      order.push(...asc.map((i) => i.id as string));
      assert.equal(page.has_more, false);
      assert.equal(page.first_id, order.at(-1));
      assert.equal(page.last_id, order[0]);
      assert.match(order[0]!, /^msg_/);
      assert.match(order[3]!, /^fc_/);
      assert.match(order[4]!, /^fco_/);
      assert.equal(new Set(order).size, 5);
      assert.deepEqual(asc, [
        { type: "message", id: order[0], status: "completed", role: "developer", content: [{ type: "input_text", text: "Be brief." }] },
        { type: "message", id: order[1], status: "completed", role: "user", content: [{ type: "input_text", text: "What is the weather in Paris?" }] },
        { type: "message", id: order[2], status: "completed", role: "assistant", content: [{ type: "output_text", text: "Let me check.", annotations: [], logprobs: [] }] },
        { type: "function_call", id: order[3], call_id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}', status: "completed" },
        { type: "function_call_output", id: order[4], call_id: "call_1", output: "Sunny, 21C", status: "completed" },
      ]);
    });

    it("adds up to 20 items at a time, returning them as a list", async () => {
      const added = await a.conversations.items.create(conv, {
        items: [
          { type: "message", role: "user", content: [{ type: "input_text", text: "And in Rome?" }] },
          { type: "message", role: "assistant", content: "Also sunny.", status: "incomplete" } as OpenAI.Responses.ResponseInputItem,
        ],
      });
      assertSchema("ConversationItemList", added);
      assert.equal(added.data.length, 2);
      assert.equal(added.has_more, false);
      const [u, m] = added.data as unknown as Json[];
      assert.deepEqual(u, { type: "message", id: u!.id, status: "completed", role: "user", content: [{ type: "input_text", text: "And in Rome?" }] });
      assert.deepEqual(m, { type: "message", id: m!.id, status: "incomplete", role: "assistant", content: [{ type: "output_text", text: "Also sunny.", annotations: [], logprobs: [] }] });
      assert.equal(added.first_id, u!.id);
      assert.equal(added.last_id, m!.id);
      order.push(u!.id as string, m!.id as string);

      const twenty = Array.from({ length: 20 }, (_, i) => ({ role: "user", content: `Message ${i}` }));
      const many = await as(keyA, `/v1/conversations/${conv}/items`, { body: { items: twenty } });
      assert.equal(many.status, 200, many.text);
      order.push(...assertItemList(many.body).data.map((i) => i.id as string));
      assert.equal(order.length, 27);
      const all = assertItemList((await as(keyA, `/v1/conversations/${conv}/items?order=asc&limit=100`)).body);
      assert.deepEqual(all.data.map((i) => i.id), order);
    });

    it("pages through items in both orders, and the SDK pages by itself", async () => {
      const p1 = assertItemList((await as(keyA, `/v1/conversations/${conv}/items?order=asc&limit=10`)).body);
      assert.deepEqual([p1.data.map((i) => i.id), p1.first_id, p1.last_id, p1.has_more], [order.slice(0, 10), order[0], order[9], true]);
      const p2 = assertItemList((await as(keyA, `/v1/conversations/${conv}/items?order=asc&limit=10&after=${p1.last_id}`)).body);
      assert.deepEqual([p2.data.map((i) => i.id), p2.has_more], [order.slice(10, 20), true]);
      const p3 = assertItemList((await as(keyA, `/v1/conversations/${conv}/items?order=asc&limit=10&after=${p2.last_id}`)).body);
      assert.deepEqual([p3.data.map((i) => i.id), p3.has_more], [order.slice(20), false]);

      const newest = [...order].reverse();
      const d1 = assertItemList((await as(keyA, `/v1/conversations/${conv}/items?limit=5`)).body);
      assert.deepEqual([d1.data.map((i) => i.id), d1.has_more], [newest.slice(0, 5), true]);
      const d2 = assertItemList((await as(keyA, `/v1/conversations/${conv}/items?order=desc&limit=5&after=${d1.last_id}`)).body);
      assert.deepEqual(d2.data.map((i) => i.id), newest.slice(5, 10));
      const defaults = assertItemList((await as(keyA, `/v1/conversations/${conv}/items`)).body);
      assert.deepEqual([defaults.data.length, defaults.has_more], [20, true], "20 items by default");

      const sdk: string[] = [];
      for await (const item of a.conversations.items.list(conv, { order: "asc", limit: 4 })) sdk.push(item.id!);
      assert.deepEqual(sdk, order);

      const included = await as(keyA, `/v1/conversations/${conv}/items?include[]=message.output_text.logprobs&include=reasoning.encrypted_content&limit=1`);
      assert.equal(included.status, 200, included.text);
      assertItemList(included.body);
      for (const [query, param] of [["limit=0", "limit"], ["limit=101", "limit"], ["order=up", "order"], ["include=everything", "include"]] as const) {
        const res = await as(keyA, `/v1/conversations/${conv}/items?${query}`);
        assert.equal(res.status, 400, res.text);
        assertSchema("ErrorResponse", res.body);
        assert.equal((res.body as { error: { param: string } }).error.param, param);
      }
    });

    it("gets and deletes single items; deleting one returns the conversation", async () => {
      const item = await a.conversations.items.retrieve(order[3]!, { conversation_id: conv });
      assertSchema("ConversationItem", item);
      assert.deepEqual(item, { type: "function_call", id: order[3], call_id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}', status: "completed" });
      for (const id of [order[0]!, order[4]!]) {
        const got = await as(keyA, `/v1/conversations/${conv}/items/${id}`);
        assert.equal(got.status, 200, got.text);
        assertSchema("ConversationItem", got.body);
      }

      const afterDelete = await a.conversations.items.delete(order[1]!, { conversation_id: conv });
      assertSchema("ConversationResource", afterDelete);
      assert.deepEqual(afterDelete, await a.conversations.retrieve(conv));
      const gone = await as(keyA, `/v1/conversations/${conv}/items/${order[1]}`);
      assert.equal(gone.status, 404);
      assertSchema("ErrorResponse", gone.body);
      assert.deepEqual(gone.body, { error: { message: `Item with id '${order[1]}' not found.`, type: "invalid_request_error", param: "item_id", code: "item_not_found" } });
      assert.equal((await as(keyA, `/v1/conversations/${conv}/items/${order[1]}`, { method: "DELETE" })).status, 404);
      order.splice(1, 1);
      const all = assertItemList((await as(keyA, `/v1/conversations/${conv}/items?order=asc&limit=100`)).body);
      assert.deepEqual(all.data.map((i) => i.id), order);
      // Paging after a deleted item's id gives nothing rather than guessing a position.
      assert.deepEqual(assertItemList((await as(keyA, `/v1/conversations/${conv}/items?after=${order[0]}x`)).body).data, []);
    });

    it("updates metadata, replacing it, and validates the body naming the param", async () => {
      const updated = await a.conversations.update(conv, { metadata: { topic: "travel", city: "Rome" } });
      assertSchema("ConversationResource", updated);
      assert.deepEqual(updated.metadata, { topic: "travel", city: "Rome" });
      assert.deepEqual((await a.conversations.retrieve(conv)).metadata, { topic: "travel", city: "Rome" });
      for (const [body, param] of [
        [{}, "metadata"],
        [{ metadata: { a: 1 } }, "metadata.a"],
        [{ metadata: {}, items: [] }, "items"],
        [[], "body"],
      ] as const) {
        const res = await as(keyA, `/v1/conversations/${conv}`, { method: "POST", body });
        assert.equal(res.status, 400, res.text);
        assertSchema("ErrorResponse", res.body);
        assert.equal((res.body as { error: { param: string } }).error.param, param);
      }
    });

    it("rejects bad items with 400s naming items[i]…", async () => {
      const cases: [unknown, string][] = [
        [{ items: [{ type: "message", role: "user", content: 5 }] }, "items[0].content"],
        [{ items: [{ role: "wizard", content: "hi" }] }, "items[0].role"],
        [{ items: [{ role: "user", content: "ok" }, { type: "function_call", name: "f", arguments: "{}" }] }, "items[1].call_id"],
        [{ items: [{ role: "user", content: [{ type: "input_text" }] }] }, "items[0].content[0].text"],
        [{ items: [{ role: "user", content: [{ type: "output_text", text: "x" }] }] }, "items[0].content[0].type"],
        [{ items: [{ type: "reasoning", summary: [] }] }, "items[0].type"],
        [{ items: [{ type: "telepathy" }] }, "items[0].type"],
        [{ items: [{ type: "item_reference", id: "msg_1" }] }, "items[0].type"],
        [{ items: [{ role: "user", content: "hi", colour: "red" }] }, "items[0].colour"],
        [{ items: Array.from({ length: 21 }, () => ({ role: "user", content: "x" })) }, "items"],
        [{ items: "hello" }, "items"],
        [{ items: [], topic: "x" }, "topic"],
        [{ metadata: { k: "v".repeat(600) } }, "metadata.k"],
      ];
      for (const [body, param] of cases) {
        for (const path of ["/v1/conversations", `/v1/conversations/${conv}/items`]) {
          const b = body as { metadata?: unknown; items?: unknown };
          // The items endpoint takes `items` only.
          if (path !== "/v1/conversations" && b.metadata !== undefined) continue;
          const res = await as(keyA, path, { body });
          assert.equal(res.status, 400, `${path} ${JSON.stringify(body).slice(0, 80)}: ${res.text}`);
          assertSchema("ErrorResponse", res.body);
          assert.equal((res.body as { error: { param: string } }).error.param, param, res.text);
        }
      }
      const missing = await as(keyA, `/v1/conversations/${conv}/items`, { body: {} });
      assert.equal(missing.status, 400);
      assert.deepEqual((missing.body as { error: { param: string; code: string } }).error.param, "items");
      await assert.rejects(a.conversations.create({ items: [{ role: "user", content: 5 } as unknown as OpenAI.Responses.ResponseInputItem] }), (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === "items[0].content");
      // Nothing half-added.
      assert.deepEqual(assertItemList((await as(keyA, `/v1/conversations/${conv}/items?order=asc&limit=100`)).body).data.map((i) => i.id), order);
    });

    it("keeps each project's conversations to itself: another project's key gets 404s", async () => {
      const notFound = { error: { message: `Conversation with id '${conv}' not found.`, type: "invalid_request_error", param: "conversation_id", code: "conversation_not_found" } };
      const requests: [string, string, unknown][] = [
        ["GET", `/v1/conversations/${conv}`, undefined],
        ["POST", `/v1/conversations/${conv}`, { metadata: { x: "y" } }],
        ["DELETE", `/v1/conversations/${conv}`, undefined],
        ["GET", `/v1/conversations/${conv}/items`, undefined],
        ["POST", `/v1/conversations/${conv}/items`, { items: [{ role: "user", content: "intruder" }] }],
        ["GET", `/v1/conversations/${conv}/items/${order[0]}`, undefined],
        ["DELETE", `/v1/conversations/${conv}/items/${order[0]}`, undefined],
      ];
      for (const [method, path, body] of requests) {
        const res = await as(keyB, path, { method, ...(body !== undefined ? { body } : {}) });
        assert.equal(res.status, 404, `${method} ${path}: ${res.text}`);
        assertSchema("ErrorResponse", res.body);
        assert.deepEqual(res.body, notFound);
      }
      // Project B's own conversation cannot reach A's items by id either.
      const own = (await as(keyB, "/v1/conversations", { body: {} })).body as { id: string };
      assert.equal((await as(keyB, `/v1/conversations/${own.id}/items/${order[0]}`)).status, 404);
      assert.equal((await as(keyB, `/v1/conversations/${own.id}/items/${order[0]}`, { method: "DELETE" })).status, 404);
      // Untouched for A.
      assert.deepEqual((await a.conversations.retrieve(conv)).metadata, { topic: "travel", city: "Rome" });
      assert.deepEqual(assertItemList((await as(keyA, `/v1/conversations/${conv}/items?order=asc&limit=100`)).body).data.map((i) => i.id), order);
    });

    it("survives a restart", async () => {
      const items = (await as(keyA, `/v1/conversations/${conv}/items?limit=100`)).body;
      const conversation = (await as(keyA, `/v1/conversations/${conv}`)).body;
      await server.close();
      server = await start();
      a = new OpenAI({ baseURL: server.baseURL, apiKey: keyA, maxRetries: 0 });
      assert.deepEqual((await as(keyA, `/v1/conversations/${conv}`)).body, conversation);
      assert.deepEqual((await as(keyA, `/v1/conversations/${conv}/items?limit=100`)).body, items);
    });

    it("deletes a conversation", async () => {
      const deleted = await a.conversations.delete(conv);
      assertSchema("DeletedConversationResource", deleted);
      assert.deepEqual(deleted, { id: conv, object: "conversation.deleted", deleted: true });
      for (const [method, path] of [
        ["GET", `/v1/conversations/${conv}`],
        ["DELETE", `/v1/conversations/${conv}`],
        ["GET", `/v1/conversations/${conv}/items`],
        ["GET", `/v1/conversations/${conv}/items/${order[0]}`],
      ] as const) {
        const res = await as(keyA, path, { method });
        assert.equal(res.status, 404, `${method} ${path}`);
        assertSchema("ErrorResponse", res.body);
      }
      await assert.rejects(a.conversations.retrieve(conv), (e: unknown) => e instanceof OpenAI.NotFoundError);
    });
  });
}
