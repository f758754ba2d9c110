import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import type { ChatCompletion, ChatCompletionChunk } from "openai/resources/chat/completions";
import { backends } from "../helpers/databases.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { createProjectKeys } from "../helpers/admin.ts";
import { raw, sseData, startTestServer, type TestServer } from "../helpers/server.ts";

const ADMIN = "sk-admin-stored-chat-0123456789";
const list = await backends();
after(async () => {
  for (const b of list) await b.cleanup();
});

type Json = Record<string, unknown>;

/**
 * The spec's ChatCompletionMessageList items reuse ChatCompletionResponseMessage, whose `role` is
 * the constant 'assistant', while its own example (and OpenAI) list the request's user and system
 * messages with their roles. Everything else is checked as the schema says.
 */
function assertMessageList(body: unknown): void {
  const b = body as { data: Json[] };
  assertSchema("ChatCompletionMessageList", { ...b, data: b.data.map((m) => ({ ...m, role: "assistant" })) });
}

/** A page that is empty answers null ids, as OpenAI does; the rest of it must match the schema. */
function assertList(name: string, body: unknown): void {
  const b = body as { data: unknown[]; first_id: string | null; last_id: string | null };
  if (b.data.length === 0) {
    assert.equal(b.first_id, null);
    assert.equal(b.last_id, null);
    assertSchema(name, { ...b, first_id: "", last_id: "" });
  } else {
    assertSchema(name, body);
  }
}

const WEATHER = {
  type: "function" as const,
  function: {
    name: "get_weather",
    parameters: { type: "object", properties: { city: { type: "string", maxLength: 20 } }, required: ["city"], additionalProperties: false },
  },
};

for (const backend of list) {
  describe(`stored chat completions on ${backend.name}`, () => {
    let server: TestServer;
    let a: OpenAI;
    let b: OpenAI;
    let keyA = "";
    let keyB = "";
    const start = () => startTestServer({ env: { ...backend.env(), MODELPORT_ADMIN_KEY: ADMIN } });
    const clients = () => {
      a = new OpenAI({ baseURL: server.baseURL, apiKey: keyA, maxRetries: 0 });
      b = new OpenAI({ baseURL: server.baseURL, apiKey: keyB, maxRetries: 0 });
    };
    const as = (key: string, path: string, init: { method?: string; body?: unknown } = {}) =>
      raw(server, path, {
        ...(init.method ? { method: init.method } : {}),
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        headers: { authorization: `Bearer ${key}` },
      });

    before(async () => {
      server = await start();
      [keyA, keyB] = (await createProjectKeys(server, ADMIN, ["Stored A", "Stored B"])) as [string, string];
      clients();
    });
    after(async () => {
      await server.close();
    });

    const ids: string[] = [];
    let plain: ChatCompletion;
    let streamedId = "";

    it("stores a non-streamed completion made with store: true, as it was answered plus its metadata", async () => {
      const messages = [
        { role: "system" as const, content: "You tell short stories." },
        { role: "user" as const, content: [{ type: "text" as const, text: "Once upon " }, { type: "text" as const, text: "a time" }] },
      ];
      plain = await a.chat.completions.create({ model: "stories", messages, max_tokens: 8, seed: 1, store: true, metadata: { topic: "cats", run: "1" } });
      assertSchema("CreateChatCompletionResponse", plain);
      ids.push(plain.id);

      const got = await as(keyA, `/v1/chat/completions/${plain.id}`);
      assert.equal(got.status, 200, got.text);
      assertSchema("CreateChatCompletionResponse", got.body);
      assert.deepEqual(got.body, { ...plain, metadata: { topic: "cats", run: "1" } });
      const viaSdk = await a.chat.completions.retrieve(plain.id);
      assert.equal(viaSdk.choices[0]?.message.content, plain.choices[0]?.message.content);

      const msgs = await as(keyA, `/v1/chat/completions/${plain.id}/messages`);
      assert.equal(msgs.status, 200, msgs.text);
      assertMessageList(msgs.body);
      assert.deepEqual(msgs.body, {
        object: "list",
        data: [
          { id: `${plain.id}-0`, role: "system", content: "You tell short stories.", refusal: null, name: null, content_parts: null },
          {
            id: `${plain.id}-1`,
            role: "user",
            content: "Once upon a time",
            refusal: null,
            name: null,
            content_parts: [{ type: "text", text: "Once upon " }, { type: "text", text: "a time" }],
          },
        ],
        first_id: `${plain.id}-0`,
        last_id: `${plain.id}-1`,
        has_more: false,
      });
    });

    it("stores a streamed completion once it has finished, assembled from what was streamed", async () => {
      const stream = await a.chat.completions.create({
        model: "stories",
        messages: [{ role: "user", content: "Tell me about a dog" }],
        max_tokens: 8,
        seed: 2,
        stream: true,
        stream_options: { include_usage: true },
        store: true,
        metadata: { topic: "dogs" },
      });
      let text = "";
      let finish: string | null = null;
      let usage: ChatCompletionChunk["usage"] = null;
      let first: ChatCompletionChunk | undefined;
      for await (const chunk of stream) {
        first ??= chunk;
        text += chunk.choices[0]?.delta.content ?? "";
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (chunk.usage) usage = chunk.usage;
      }
      assert.ok(first !== undefined && usage !== null && usage !== undefined);
      streamedId = first.id;
      ids.push(streamedId);
      // Stored before the stream's end reached the client: listable at once.
      const stored = await a.chat.completions.retrieve(streamedId);
      const got = await as(keyA, `/v1/chat/completions/${streamedId}`);
      assertSchema("CreateChatCompletionResponse", got.body);
      assert.equal(stored.object, "chat.completion");
      assert.equal(stored.created, first.created);
      assert.equal(stored.model, "stories");
      assert.equal(stored.system_fingerprint, first.system_fingerprint);
      assert.equal(stored.choices.length, 1);
      assert.equal(stored.choices[0]?.message.content, text);
      assert.equal(stored.choices[0]?.finish_reason, finish);
      assert.deepEqual(stored.usage, usage);
      assert.deepEqual(stored.metadata, { topic: "dogs" });
      const msgs = await a.chat.completions.messages.list(streamedId);
      assert.deepEqual(msgs.data.map((m) => [m.id, m.role, m.content]), [[`${streamedId}-0`, "user", "Tell me about a dog"]]);
    });

    it("assembles streamed tool calls into the stored completion", async () => {
      const res = await as(keyA, "/v1/chat/completions", {
        body: {
          model: "stories",
          messages: [{ role: "user", content: "What is the weather in Paris?" }],
          tools: [WEATHER],
          tool_choice: { type: "function", function: { name: "get_weather" } },
          max_tokens: 60,
          seed: 3,
          stream: true,
          store: true,
        },
      });
      assert.equal(res.status, 200, res.text);
      const chunks = sseData(res.text).filter((d) => d !== "[DONE]").map((d) => JSON.parse(d) as ChatCompletionChunk);
      const id = chunks[0]!.id;
      ids.push(id);
      const calls: { id: string; name: string; arguments: string }[] = [];
      let finish: string | null = null;
      for (const chunk of chunks) {
        for (const call of chunk.choices[0]?.delta.tool_calls ?? []) {
          if (call.id !== undefined) calls[call.index] = { id: call.id, name: call.function?.name ?? "", arguments: "" };
          calls[call.index]!.arguments += call.function?.arguments ?? "";
        }
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
      assert.equal(calls.length, 1);
      const stored = (await as(keyA, `/v1/chat/completions/${id}`)).body as ChatCompletion;
      assertSchema("CreateChatCompletionResponse", stored);
      assert.equal(finish, "tool_calls");
      assert.equal(stored.choices[0]?.finish_reason, "tool_calls");
      assert.equal(stored.choices[0]?.message.content, null);
      assert.deepEqual(stored.choices[0]?.message.tool_calls, calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })));
      assert.deepEqual(stored.metadata, {});
    });

    it("keeps nothing without store: true", async () => {
      const unstored = await a.chat.completions.create({ model: "stories", messages: [{ role: "user", content: "Hi" }], max_tokens: 4 });
      const streamed = await as(keyA, "/v1/chat/completions", { body: { model: "stories", messages: [{ role: "user", content: "Hi" }], max_tokens: 4, stream: true, store: false } });
      const unstoredStreamId = (JSON.parse(sseData(streamed.text)[0]!) as { id: string }).id;
      for (const id of [unstored.id, unstoredStreamId]) {
        const got = await as(keyA, `/v1/chat/completions/${id}`);
        assert.equal(got.status, 404);
        assertSchema("ErrorResponse", got.body);
      }
      const listed = await as(keyA, "/v1/chat/completions?limit=100");
      assertList("ChatCompletionList", listed.body);
      assert.deepEqual((listed.body as { data: { id: string }[] }).data.map((c) => c.id), ids);
    });

    it("lists in creation order, pages with after/limit/order, and filters by model and metadata", async () => {
      for (const [i, model] of ["stories", "tiny-random", "stories"].entries()) {
        const c = await a.chat.completions.create({ model, messages: [{ role: "user", content: `Story ${i}` }], max_tokens: 4, store: true, metadata: { topic: i === 2 ? "cats" : "birds", index: String(i) } });
        ids.push(c.id);
      }
      assert.equal(ids.length, 6);

      const all = await as(keyA, "/v1/chat/completions");
      assertList("ChatCompletionList", all.body);
      assert.deepEqual((all.body as { data: { id: string }[] }).data.map((c) => c.id), ids, "default order is asc, oldest first");

      const page1 = await as(keyA, "/v1/chat/completions?limit=4");
      assertList("ChatCompletionList", page1.body);
      const p1 = page1.body as { data: { id: string }[]; first_id: string; last_id: string; has_more: boolean };
      assert.deepEqual([p1.data.map((c) => c.id), p1.first_id, p1.last_id, p1.has_more], [ids.slice(0, 4), ids[0], ids[3], true]);
      const page2 = await as(keyA, `/v1/chat/completions?limit=4&after=${p1.last_id}`);
      assertList("ChatCompletionList", page2.body);
      const p2 = page2.body as { data: { id: string }[]; has_more: boolean };
      assert.deepEqual([p2.data.map((c) => c.id), p2.has_more], [ids.slice(4), false]);

      const desc = await as(keyA, "/v1/chat/completions?order=desc&limit=2");
      assertList("ChatCompletionList", desc.body);
      const d1 = desc.body as { data: { id: string }[]; last_id: string; has_more: boolean };
      assert.deepEqual([d1.data.map((c) => c.id), d1.has_more], [[ids[5], ids[4]], true]);
      const d2 = (await as(keyA, `/v1/chat/completions?order=desc&limit=2&after=${d1.last_id}`)).body as { data: { id: string }[] };
      assert.deepEqual(d2.data.map((c) => c.id), [ids[3], ids[2]]);

      // The SDK pages through everything by itself.
      const seen: string[] = [];
      for await (const c of a.chat.completions.list({ limit: 2 })) seen.push(c.id);
      assert.deepEqual(seen, ids);

      const tiny = await a.chat.completions.list({ model: "tiny-random" });
      assert.deepEqual(tiny.data.map((c) => c.id), [ids[4]]);
      const cats = await as(keyA, "/v1/chat/completions?metadata[topic]=cats");
      assertList("ChatCompletionList", cats.body);
      assert.deepEqual((cats.body as { data: { id: string }[] }).data.map((c) => c.id), [ids[0], ids[5]]);
      const catsSdk = await a.chat.completions.list({ metadata: { topic: "cats", index: "2" } });
      assert.deepEqual(catsSdk.data.map((c) => c.id), [ids[5]]);
      const both = await a.chat.completions.list({ model: "stories", metadata: { topic: "birds" } });
      assert.deepEqual(both.data.map((c) => c.id), [ids[3]]);
      const catsPaged = (await as(keyA, `/v1/chat/completions?metadata[topic]=cats&limit=1`)).body as { data: { id: string }[]; has_more: boolean };
      assert.deepEqual([catsPaged.data.map((c) => c.id), catsPaged.has_more], [[ids[0]], true]);
      const none = await as(keyA, "/v1/chat/completions?model=no-such-model");
      assertList("ChatCompletionList", none.body);
      assert.deepEqual(none.body, { object: "list", data: [], first_id: null, last_id: null, has_more: false });
    });

    it("pages through a completion's messages", async () => {
      const messages = [
        { role: "system" as const, content: "S" },
        { role: "user" as const, content: "U1" },
        { role: "assistant" as const, content: "A1" },
        { role: "user" as const, content: "U2", name: "bob" },
      ];
      const c = await a.chat.completions.create({ model: "stories", messages, max_tokens: 4, store: true });
      ids.push(c.id);
      const first = await as(keyA, `/v1/chat/completions/${c.id}/messages?limit=3`);
      assertMessageList(first.body);
      const f = first.body as { data: Json[]; last_id: string; has_more: boolean };
      assert.deepEqual(f.data.map((m) => [m.id, m.role, m.content]), [[`${c.id}-0`, "system", "S"], [`${c.id}-1`, "user", "U1"], [`${c.id}-2`, "assistant", "A1"]]);
      assert.equal(f.has_more, true);
      const rest = (await as(keyA, `/v1/chat/completions/${c.id}/messages?limit=3&after=${f.last_id}`)).body as { data: Json[]; has_more: boolean };
      assert.deepEqual(rest.data.map((m) => [m.id, m.name]), [[`${c.id}-3`, "bob"]]);
      assert.equal(rest.has_more, false);
      const desc = await as(keyA, `/v1/chat/completions/${c.id}/messages?order=desc&limit=2`);
      assertMessageList(desc.body);
      assert.deepEqual((desc.body as { data: Json[] }).data.map((m) => m.id), [`${c.id}-3`, `${c.id}-2`]);
      const sdk: string[] = [];
      for await (const m of a.chat.completions.messages.list(c.id, { limit: 1 })) sdk.push(m.id);
      assert.deepEqual(sdk, [0, 1, 2, 3].map((i) => `${c.id}-${i}`));
    });

    it("updates metadata only, replacing it, and validates the body naming the param", async () => {
      const updated = await a.chat.completions.update(plain.id, { metadata: { topic: "lions" } });
      assertSchema("CreateChatCompletionResponse", updated);
      assert.deepEqual(updated.metadata, { topic: "lions" });
      assert.equal(updated.choices[0]?.message.content, plain.choices[0]?.message.content);
      assert.deepEqual((await a.chat.completions.retrieve(plain.id)).metadata, { topic: "lions" });
      assert.deepEqual((await a.chat.completions.list({ metadata: { topic: "lions" } })).data.map((c) => c.id), [plain.id]);
      assert.deepEqual((await a.chat.completions.list({ metadata: { topic: "cats" } })).data.map((c) => c.id), [ids[5]]);

      const bad: [unknown, string][] = [
        [{}, "metadata"],
        [{ metadata: { topic: 1 } }, "metadata.topic"],
        [{ metadata: { topic: "x".repeat(513) } }, "metadata.topic"],
        [{ metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])) }, "metadata"],
        [{ metadata: {}, model: "stories" }, "model"],
        [{ metadata: "x" }, "metadata"],
      ];
      for (const [body, param] of bad) {
        const res = await as(keyA, `/v1/chat/completions/${plain.id}`, { method: "POST", body });
        assert.equal(res.status, 400, res.text);
        assertSchema("ErrorResponse", res.body);
        assert.equal((res.body as { error: { param: string; type: string } }).error.param, param);
        assert.equal((res.body as { error: { type: string } }).error.type, "invalid_request_error");
      }
      const cleared = await as(keyA, `/v1/chat/completions/${ids[1]}`, { method: "POST", body: { metadata: null } });
      assert.equal(cleared.status, 200, cleared.text);
      assert.deepEqual((cleared.body as ChatCompletion).metadata, {});
    });

    it("rejects bad list parameters naming them", async () => {
      const cases: [string, string][] = [
        ["limit=0", "limit"],
        ["limit=101", "limit"],
        ["limit=ten", "limit"],
        ["order=sideways", "order"],
      ];
      for (const [query, param] of cases) {
        for (const path of ["/v1/chat/completions", `/v1/chat/completions/${plain.id}/messages`]) {
          const res = await as(keyA, `${path}?${query}`);
          assert.equal(res.status, 400, res.text);
          assertSchema("ErrorResponse", res.body);
          assert.equal((res.body as { error: { param: string } }).error.param, param);
        }
      }
      assert.equal((await as(keyA, "/v1/chat/completions?limit=100")).status, 200);
    });

    it("keeps each project's completions to itself: another project's key gets 404s and an empty list", async () => {
      for (const [method, suffix, body] of [["GET", "", undefined], ["POST", "", { metadata: { x: "y" } }], ["DELETE", "", undefined], ["GET", "/messages", undefined]] as const) {
        const res = await as(keyB, `/v1/chat/completions/${plain.id}${suffix}`, { method, ...(body ? { body } : {}) });
        assert.equal(res.status, 404, `${method} ${suffix}: ${res.text}`);
        assertSchema("ErrorResponse", res.body);
        assert.deepEqual(res.body, {
          error: { message: `Chat completion with id '${plain.id}' not found.`, type: "invalid_request_error", param: "completion_id", code: "chat_completion_not_found" },
        });
      }
      await assert.rejects(b.chat.completions.retrieve(plain.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
      const listed = await as(keyB, "/v1/chat/completions");
      assertList("ChatCompletionList", listed.body);
      assert.deepEqual((listed.body as { data: unknown[] }).data, []);
      assert.deepEqual((await as(keyB, `/v1/chat/completions?after=${plain.id}`)).body, { object: "list", data: [], first_id: null, last_id: null, has_more: false });
      // Project A's completion is untouched.
      assert.deepEqual((await a.chat.completions.retrieve(plain.id)).metadata, { topic: "lions" });
    });

    it("survives a restart", async () => {
      const listedBefore = (await as(keyA, "/v1/chat/completions?limit=100")).body;
      const messages = (await as(keyA, `/v1/chat/completions/${streamedId}/messages`)).body;
      await server.close();
      server = await start();
      clients();
      const afterRestart = await as(keyA, "/v1/chat/completions?limit=100");
      assertList("ChatCompletionList", afterRestart.body);
      assert.deepEqual(afterRestart.body, listedBefore);
      assert.deepEqual((afterRestart.body as { data: { id: string }[] }).data.map((c) => c.id), ids);
      assert.deepEqual((await as(keyA, `/v1/chat/completions/${streamedId}/messages`)).body, messages);
      // New completions still list after the old ones.
      const later = await a.chat.completions.create({ model: "stories", messages: [{ role: "user", content: "Later" }], max_tokens: 4, store: true });
      ids.push(later.id);
      assert.deepEqual((await a.chat.completions.list({ order: "desc", limit: 1 })).data.map((c) => c.id), [later.id]);
    });

    it("deletes", async () => {
      const deleted = await a.chat.completions.delete(plain.id);
      assertSchema("ChatCompletionDeleted", deleted);
      assert.deepEqual(deleted, { object: "chat.completion.deleted", id: plain.id, deleted: true });
      for (const [method, suffix] of [["GET", ""], ["DELETE", ""], ["GET", "/messages"]] as const) {
        const res = await as(keyA, `/v1/chat/completions/${plain.id}${suffix}`, { method });
        assert.equal(res.status, 404, res.text);
        assertSchema("ErrorResponse", res.body);
      }
      const listed = (await as(keyA, "/v1/chat/completions?limit=100")).body as { data: { id: string }[] };
      assert.deepEqual(listed.data.map((c) => c.id), ids.slice(1));
    });
  });
}
