import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import OpenAI, { toFile } from "openai";
import { createProjectKeys } from "../helpers/admin.ts";
import { backends } from "../helpers/databases.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { raw, startTestServer, waitFor, type TestServer } from "../helpers/server.ts";

const ADMIN = "sk-admin-vector-stores-0123456789";
const list = await backends();
after(async () => {
  for (const b of list) await b.cleanup();
});

const DOCS: Record<string, string> = {
  "volcanoes.txt": "Volcanoes form where magma rises through the crust. Basalt lava flows from shield volcanoes such as Mauna Loa in Hawaii, while explosive eruptions throw ash and pumice high into the sky.",
  "sourdough.md": "# Sourdough bread\n\nFeed the starter with flour and water the night before. Mix the dough, let it rest, fold it every half hour, then bake the loaf in a hot Dutch oven until the crust is dark.",
  "garden.html": "<html><head><style>p{color:red}</style><script>var tomato = 1;</script></head><body><h1>Tomato garden</h1><p>Plant tomatoes in full sun, water the roots deeply &amp; stake the vines so the fruit stays off the soil.</p></body></html>",
  "expenses.csv": 'item,amount,notes\nhotel,120,"two nights, breakfast included"\ntrain ticket,45,return journey\n',
  "team.json": JSON.stringify({ team: "platform", members: [{ name: "Ada", role: "database administrator" }, { name: "Linus", role: "kernel engineer" }] }),
};

type Json = Record<string, unknown>;

/** An OpenAI list page: empty ones answer null ids, as OpenAI's lists do; the rest match the schema. */
function assertList(schema: string, body: unknown): { data: Json[]; has_more: boolean } {
  const b = body as { data: Json[]; first_id: string | null; last_id: string | null; has_more: boolean };
  assertSchema(schema, b.data.length === 0 ? { ...b, first_id: "", last_id: "" } : b);
  return b;
}

function assertError(res: { status: number; body: unknown; text: string }, status: number, param: string | null, code?: string): void {
  assert.equal(res.status, status, res.text);
  assertSchema("ErrorResponse", res.body);
  const error = (res.body as { error: { param: string | null; code: string | null } }).error;
  assert.equal(error.param, param, res.text);
  if (code !== undefined) assert.equal(error.code, code, res.text);
}

for (const backend of list) {
  describe(`vector stores on ${backend.name}`, () => {
    const dataDir = backend.env().MODELPORT_DATA_DIR ?? join(mkdtempSync(join(tmpdir(), "modelport-vs-")), "data");
    const start = () => startTestServer({ env: { ...backend.env(), MODELPORT_DATA_DIR: dataDir, MODELPORT_ADMIN_KEY: ADMIN } });
    let server: TestServer;
    let a: OpenAI;
    let b: OpenAI;
    let keyA = "";
    let keyB = "";
    const fileIds = new Map<string, string>();
    let storeId = "";
    const as = (key: string, path: string, body?: unknown, method?: string) =>
      raw(server, path, { ...(method ? { method } : {}), ...(body !== undefined ? { body: JSON.stringify(body) } : {}), headers: { authorization: `Bearer ${key}` } });

    /** Waits until no file of the store is in progress. */
    const indexed = (id: string, client = a) =>
      waitFor(async () => (await client.vectorStores.retrieve(id)).file_counts.in_progress === 0, 60_000);

    before(async () => {
      server = await start();
      [keyA, keyB] = (await createProjectKeys(server, ADMIN, ["VS A", "VS B"])) as [string, string];
      a = new OpenAI({ baseURL: server.baseURL, apiKey: keyA, maxRetries: 0 });
      b = new OpenAI({ baseURL: server.baseURL, apiKey: keyB, maxRetries: 0 });
      for (const [name, text] of Object.entries(DOCS)) {
        const file = await a.files.create({ file: await toFile(Buffer.from(text), name), purpose: "assistants" });
        fileIds.set(name, file.id);
      }
    });
    after(async () => {
      await server.close();
    });

    it("creates a store from files and indexes each format (SDK, schema-checked)", async () => {
      const created = await a.vectorStores.create({ name: "Handbook", file_ids: [...fileIds.values()], metadata: { team: "docs" }, expires_after: { anchor: "last_active_at", days: 7 } });
      assertSchema("VectorStoreObject", created);
      storeId = created.id;
      assert.match(created.id, /^vs_/);
      assert.equal(created.name, "Handbook");
      assert.equal(created.file_counts.total, 5);
      assert.deepEqual(created.metadata, { team: "docs" });
      assert.deepEqual(created.expires_after, { anchor: "last_active_at", days: 7 });
      assert.equal(created.expires_at, (created.last_active_at as number) + 7 * 86_400);
      await indexed(storeId);
      const store = await a.vectorStores.retrieve(storeId);
      assertSchema("VectorStoreObject", store);
      assert.equal(store.status, "completed");
      assert.deepEqual(store.file_counts, { in_progress: 0, completed: 5, failed: 0, cancelled: 0, total: 5 });
      assert.ok(store.usage_bytes > 0);

      const files = await as(keyA, `/v1/vector_stores/${storeId}/files?limit=100`);
      const page = assertList("ListVectorStoreFilesResponse", files.body);
      assert.equal(page.data.length, 5);
      for (const f of page.data) {
        assertSchema("VectorStoreFileObject", f);
        assert.equal(f.status, "completed", JSON.stringify(f));
        assert.deepEqual(f.chunking_strategy, { type: "static", static: { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 } });
      }
    });

    it("returns each file's extracted text as content", async () => {
      const html = await as(keyA, `/v1/vector_stores/${storeId}/files/${fileIds.get("garden.html")}/content`);
      assert.equal(html.status, 200, html.text);
      assertSchema("VectorStoreFileContentResponse", html.body);
      const text = ((html.body as { data: { text: string }[] }).data[0] as { text: string }).text;
      assert.match(text, /Tomato garden/);
      assert.match(text, /water the roots deeply & stake/);
      assert.doesNotMatch(text, /color:red|var tomato/);
      const csv = await as(keyA, `/v1/vector_stores/${storeId}/files/${fileIds.get("expenses.csv")}/content`);
      assert.match(JSON.stringify(csv.body), /two nights, breakfast included/);
      const json = await as(keyA, `/v1/vector_stores/${storeId}/files/${fileIds.get("team.json")}/content`);
      assert.match(JSON.stringify(json.body), /database administrator/);
    });

    it("searches with hybrid ranking: the matching file first, scores between 0 and 1, best first", async () => {
      const res = await as(keyA, `/v1/vector_stores/${storeId}/search`, { query: "how do I bake sourdough bread with a starter?" });
      assert.equal(res.status, 200, res.text);
      assertSchema("VectorStoreSearchResultsPage", res.body);
      const page = res.body as { search_query: string[]; data: { file_id: string; filename: string; score: number; content: { text: string }[] }[] };
      assert.deepEqual(page.search_query, ["how do I bake sourdough bread with a starter?"]);
      assert.equal(page.data[0]?.file_id, fileIds.get("sourdough.md"));
      assert.equal(page.data[0]?.filename, "sourdough.md");
      assert.match(page.data[0]?.content[0]?.text ?? "", /starter/);
      for (const [i, hit] of page.data.entries()) {
        assert.ok(hit.score >= 0 && hit.score <= 1);
        if (i > 0) assert.ok(hit.score <= (page.data[i - 1] as { score: number }).score);
      }
      // Through the SDK, as an array of queries, limited.
      const sdk = await a.vectorStores.search(storeId, { query: ["volcano eruptions", "lava"], max_num_results: 2 });
      const hits = [];
      for await (const hit of sdk) hits.push(hit);
      assert.equal(hits.length, 2);
      assert.equal(hits[0]?.file_id, fileIds.get("volcanoes.txt"));
    });

    it("rewrites queries, applies the score threshold and attribute filters", async () => {
      const rewritten = await as(keyA, `/v1/vector_stores/${storeId}/search`, { query: "What should I know about planting tomatoes?", rewrite_query: true });
      const page = rewritten.body as { search_query: string[]; data: { file_id: string }[] };
      assert.notEqual(page.search_query[0], "What should I know about planting tomatoes?");
      assert.match(page.search_query[0] ?? "", /tomatoes/);
      assert.equal(page.data[0]?.file_id, fileIds.get("garden.html"));

      const strict = await as(keyA, `/v1/vector_stores/${storeId}/search`, { query: "tomatoes", ranking_options: { score_threshold: 0.99 } });
      for (const hit of (strict.body as { data: { score: number }[] }).data) assert.ok(hit.score >= 0.99);

      // Attributes: tag two files, then filter.
      const tagged = await a.vectorStores.files.update(fileIds.get("volcanoes.txt") as string, { vector_store_id: storeId, attributes: { topic: "science", year: 2024, public: true } });
      assertSchema("VectorStoreFileObject", tagged);
      assert.deepEqual(tagged.attributes, { topic: "science", year: 2024, public: true });
      await a.vectorStores.files.update(fileIds.get("sourdough.md") as string, { vector_store_id: storeId, attributes: { topic: "food", year: 2021, public: false } });
      const search = async (filters: unknown) => {
        const res = await as(keyA, `/v1/vector_stores/${storeId}/search`, { query: "crust", filters, max_num_results: 50 });
        assert.equal(res.status, 200, res.text);
        return new Set((res.body as { data: { file_id: string }[] }).data.map((d) => d.file_id));
      };
      assert.deepEqual(await search({ type: "eq", key: "topic", value: "food" }), new Set([fileIds.get("sourdough.md")]));
      assert.deepEqual(await search({ type: "gte", key: "year", value: 2022 }), new Set([fileIds.get("volcanoes.txt")]));
      assert.deepEqual(await search({ type: "in", key: "topic", value: ["food", "science"] }), new Set([fileIds.get("sourdough.md"), fileIds.get("volcanoes.txt")]));
      assert.deepEqual(
        await search({ type: "or", filters: [{ type: "eq", key: "public", value: true }, { type: "and", filters: [{ type: "eq", key: "topic", value: "food" }, { type: "lt", key: "year", value: 2022 }] }] }),
        new Set([fileIds.get("sourdough.md"), fileIds.get("volcanoes.txt")]),
      );
      assert.deepEqual(await search({ type: "eq", key: "topic", value: "sports" }), new Set());
    });

    it("attaches files one by one with a static chunking strategy, and in batches", async () => {
      const long = Array.from({ length: 120 }, (_, i) => `Paragraph ${i} describes lighthouse keeper number ${i} on the northern coast.`).join("\n");
      const file = await a.files.create({ file: await toFile(Buffer.from(long), "lighthouses.txt"), purpose: "assistants" });
      const attached = await a.vectorStores.files.createAndPoll(storeId, { file_id: file.id, chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 200, chunk_overlap_tokens: 50 } }, attributes: { topic: "coast" } }, { pollIntervalMs: 50 });
      assertSchema("VectorStoreFileObject", attached);
      assert.equal(attached.status, "completed");
      assert.deepEqual(attached.chunking_strategy, { type: "static", static: { max_chunk_size_tokens: 200, chunk_overlap_tokens: 50 } });
      const res = await as(keyA, `/v1/vector_stores/${storeId}/search`, { query: "lighthouse keeper number 97", max_num_results: 3 });
      const top = (res.body as { data: { file_id: string; content: { text: string }[] }[] }).data[0];
      assert.equal(top?.file_id, file.id);
      assert.match(top?.content[0]?.text ?? "", /keeper number 97 /);

      const batchFiles = [];
      for (let i = 0; i < 3; i++) batchFiles.push((await a.files.create({ file: await toFile(Buffer.from(`Batch note ${i}: the quarterly report mentions kiwi number ${i}.`), `note-${i}.txt`), purpose: "assistants" })).id);
      const batch = await a.vectorStores.fileBatches.createAndPoll(storeId, { file_ids: batchFiles, attributes: { topic: "notes" } }, { pollIntervalMs: 50 });
      assertSchema("VectorStoreFileBatchObject", batch);
      assert.equal(batch.status, "completed");
      assert.deepEqual(batch.file_counts, { in_progress: 0, completed: 3, failed: 0, cancelled: 0, total: 3 });
      const listed = await as(keyA, `/v1/vector_stores/${storeId}/file_batches/${batch.id}/files?filter=completed`);
      const page = assertList("ListVectorStoreFilesResponse", listed.body);
      assert.deepEqual(new Set(page.data.map((f) => f.id)), new Set(batchFiles));
      for (const f of page.data) assert.deepEqual(f.attributes, { topic: "notes" });
      // `files` gives each file its own settings.
      const own = await as(keyA, `/v1/vector_stores/${storeId}/file_batches`, { files: [{ file_id: batchFiles[0], attributes: { topic: "first" } }] });
      assert.equal(own.status, 200, own.text);
      await indexed(storeId);
      assert.deepEqual((await a.vectorStores.files.retrieve(batchFiles[0] as string, { vector_store_id: storeId })).attributes, { topic: "first" });
    });

    it("cancels a batch's files that are not indexed yet", async () => {
      const ids = [];
      for (let i = 0; i < 12; i++) {
        const text = Array.from({ length: 200 }, (_, j) => `Ledger ${i} line ${j}: accounts receivable and payable.`).join("\n");
        ids.push((await a.files.create({ file: await toFile(Buffer.from(text), `ledger-${i}.txt`), purpose: "assistants" })).id);
      }
      const store = await a.vectorStores.create({ name: "Cancel me" });
      const batch = await a.vectorStores.fileBatches.create(store.id, { file_ids: ids });
      const cancelled = await a.vectorStores.fileBatches.cancel(batch.id, { vector_store_id: store.id });
      assertSchema("VectorStoreFileBatchObject", cancelled);
      assert.equal(cancelled.status, "cancelled");
      assert.ok(cancelled.file_counts.cancelled >= 1, JSON.stringify(cancelled.file_counts));
      assert.equal(cancelled.file_counts.in_progress, 0);
      await indexed(store.id);
      const final = await a.vectorStores.fileBatches.retrieve(batch.id, { vector_store_id: store.id });
      assert.equal(final.file_counts.cancelled + final.file_counts.completed, 12);
      assert.equal(final.file_counts.cancelled, cancelled.file_counts.cancelled);
    });

    it("marks files it cannot read as failed, with the reason", async () => {
      const binary = await a.files.create({ file: await toFile(Buffer.from([0, 1, 2, 3, 255, 0, 7]), "blob.bin"), purpose: "assistants" });
      const broken = await a.files.create({ file: await toFile(Buffer.from([0x66, 0x6f, 0xff, 0xfe, 0x6f]), "broken.txt"), purpose: "assistants" });
      const store = await a.vectorStores.create({ name: "Failures", file_ids: [binary.id, broken.id] });
      await indexed(store.id);
      const bin = await a.vectorStores.files.retrieve(binary.id, { vector_store_id: store.id });
      assertSchema("VectorStoreFileObject", bin);
      assert.equal(bin.status, "failed");
      assert.equal(bin.last_error?.code, "unsupported_file");
      const bad = await a.vectorStores.files.retrieve(broken.id, { vector_store_id: store.id });
      assert.equal(bad.last_error?.code, "invalid_file");
      const counts = (await a.vectorStores.retrieve(store.id)).file_counts;
      assert.deepEqual(counts, { in_progress: 0, completed: 0, failed: 2, cancelled: 0, total: 2 });
    });

    it("lists and pages stores, updates and deletes them", async () => {
      const extra = [];
      for (let i = 0; i < 3; i++) extra.push((await a.vectorStores.create({ name: `Page ${i}` })).id);
      const first = await as(keyA, "/v1/vector_stores?limit=2");
      const page1 = assertList("ListVectorStoresResponse", first.body);
      assert.deepEqual(page1.data.map((s) => s.id), [extra[2], extra[1]]);
      assert.equal(page1.has_more, true);
      const next = assertList("ListVectorStoresResponse", (await as(keyA, `/v1/vector_stores?limit=2&after=${extra[1]}`)).body);
      assert.equal(next.data[0]?.id, extra[0]);
      const back = assertList("ListVectorStoresResponse", (await as(keyA, `/v1/vector_stores?limit=1&before=${extra[0]}`)).body);
      assert.deepEqual(back.data.map((s) => s.id), [extra[1]]);
      const asc = assertList("ListVectorStoresResponse", (await as(keyA, "/v1/vector_stores?order=asc&limit=1")).body);
      assert.equal(asc.data[0]?.id, storeId);

      const updated = await a.vectorStores.update(extra[0] as string, { name: "Renamed", metadata: { k: "v" }, expires_after: { anchor: "last_active_at", days: 30 } });
      assertSchema("VectorStoreObject", updated);
      assert.equal(updated.name, "Renamed");
      assert.deepEqual(updated.metadata, { k: "v" });
      assert.equal(updated.expires_after?.days, 30);
      const cleared = await as(keyA, `/v1/vector_stores/${extra[0]}`, { expires_after: null });
      assert.equal((cleared.body as Json).expires_at, null);

      const deleted = await a.vectorStores.delete(extra[0] as string);
      assertSchema("DeleteVectorStoreResponse", deleted);
      assert.deepEqual(deleted, { id: extra[0], object: "vector_store.deleted", deleted: true });
      assertError(await as(keyA, `/v1/vector_stores/${extra[0]}`), 404, "vector_store_id", "vector_store_not_found");
    });

    it("removes a file from search when it is detached", async () => {
      const fileId = fileIds.get("expenses.csv") as string;
      const before = await as(keyA, `/v1/vector_stores/${storeId}/search`, { query: "hotel breakfast train ticket" });
      assert.equal((before.body as { data: { file_id: string }[] }).data[0]?.file_id, fileId);
      const deleted = await a.vectorStores.files.delete(fileId, { vector_store_id: storeId });
      assertSchema("DeleteVectorStoreFileResponse", deleted);
      assert.deepEqual(deleted, { id: fileId, object: "vector_store.file.deleted", deleted: true });
      const after = await as(keyA, `/v1/vector_stores/${storeId}/search`, { query: "hotel breakfast train ticket", max_num_results: 50 });
      assert.ok(!(after.body as { data: { file_id: string }[] }).data.some((d) => d.file_id === fileId));
      assertError(await as(keyA, `/v1/vector_stores/${storeId}/files/${fileId}`), 404, "file_id");
    });

    it("keeps every store invisible to another project's keys", async () => {
      assertError(await as(keyB, `/v1/vector_stores/${storeId}`), 404, "vector_store_id", "vector_store_not_found");
      assertError(await as(keyB, `/v1/vector_stores/${storeId}/search`, { query: "bread" }), 404, "vector_store_id");
      assertError(await as(keyB, `/v1/vector_stores/${storeId}/files`), 404, "vector_store_id");
      assertError(await as(keyB, `/v1/vector_stores/${storeId}`, undefined, "DELETE"), 404, "vector_store_id");
      assertError(await as(keyB, `/v1/vector_stores/${storeId}/files`, { file_id: fileIds.get("volcanoes.txt") }), 404, "vector_store_id");
      const mine = await b.vectorStores.create({ name: "B's" });
      // B cannot attach A's files to its own store either.
      assertError(await as(keyB, `/v1/vector_stores/${mine.id}/files`, { file_id: fileIds.get("volcanoes.txt") }), 404, "file_id", "file_not_found");
      const listed = assertList("ListVectorStoresResponse", (await as(keyB, "/v1/vector_stores")).body);
      assert.deepEqual(listed.data.map((s) => s.id), [mine.id]);
      assert.equal((await a.vectorStores.retrieve(storeId)).id, storeId);
    });

    it("answers bad requests with 400s naming the param", async () => {
      const post = (path: string, body: unknown) => as(keyA, path, body);
      assertError(await post("/v1/vector_stores", { name: 5 }), 400, "name", "invalid_type");
      assertError(await post("/v1/vector_stores", { nmae: "x" }), 400, "nmae", "unknown_parameter");
      assertError(await post("/v1/vector_stores", { file_ids: ["file-nope"] }), 404, "file_ids[0]", "file_not_found");
      assertError(await post("/v1/vector_stores", { expires_after: { anchor: "last_active_at", days: 0 } }), 400, "expires_after.days");
      assertError(await post("/v1/vector_stores", { expires_after: { anchor: "created_at", days: 3 } }), 400, "expires_after.anchor");
      assertError(await post("/v1/vector_stores", { chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 200, chunk_overlap_tokens: 150 } } }), 400, "chunking_strategy.static.chunk_overlap_tokens");
      assertError(await post("/v1/vector_stores", { chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 50, chunk_overlap_tokens: 0 } } }), 400, "chunking_strategy.static.max_chunk_size_tokens");
      assertError(await post("/v1/vector_stores", { chunking_strategy: { type: "semantic" } }), 400, "chunking_strategy.type");
      assertError(await post(`/v1/vector_stores/${storeId}/files`, {}), 400, "file_id", "missing_required_parameter");
      assertError(await post(`/v1/vector_stores/${storeId}/files`, { file_id: fileIds.get("volcanoes.txt"), attributes: { k: { nested: 1 } } }), 400, "attributes.k");
      assertError(await post(`/v1/vector_stores/${storeId}/file_batches`, {}), 400, "file_ids", "missing_required_parameter");
      assertError(await post(`/v1/vector_stores/${storeId}/file_batches`, { file_ids: [] }), 400, "file_ids", "empty_array");
      assertError(await post(`/v1/vector_stores/${storeId}/file_batches`, { file_ids: ["a"], files: [{ file_id: "a" }] }), 400, "files");
      const search = (body: unknown) => post(`/v1/vector_stores/${storeId}/search`, body);
      assertError(await search({}), 400, "query", "missing_required_parameter");
      assertError(await search({ query: "" }), 400, "query", "empty_string");
      assertError(await search({ query: 7 }), 400, "query", "invalid_type");
      assertError(await search({ query: "x", max_num_results: 51 }), 400, "max_num_results", "integer_above_max_value");
      assertError(await search({ query: "x", ranking_options: { score_threshold: 1.5 } }), 400, "ranking_options.score_threshold");
      assertError(await search({ query: "x", ranking_options: { ranker: "best" } }), 400, "ranking_options.ranker");
      assertError(await search({ query: "x", filters: { type: "like", key: "a", value: "b" } }), 400, "filters.type");
      assertError(await search({ query: "x", filters: { type: "in", key: "a", value: "b" } }), 400, "filters.value");
      assertError(await search({ query: "x", filters: { type: "and", filters: [{ type: "eq", key: "a" }] } }), 400, "filters.filters[0].value", "missing_required_parameter");
      assertError(await search({ query: "x", rewrite_query: "yes" }), 400, "rewrite_query", "invalid_type");
      assertError(await as(keyA, `/v1/vector_stores/${storeId}/files?filter=done`), 400, "filter");
      assertError(await as(keyA, "/v1/vector_stores?limit=0"), 400, "limit");
      assertError(await as(keyA, `/v1/vector_stores/${storeId}/file_batches/vsfb_nope`), 404, "batch_id");
    });

    it("rebuilds its search index from the database after a restart", async () => {
      const query = { query: "magma basalt lava", max_num_results: 5 };
      const before = (await as(keyA, `/v1/vector_stores/${storeId}/search`, query)).body as { data: unknown[] };
      await server.close();
      server = await start();
      a = new OpenAI({ baseURL: server.baseURL, apiKey: keyA, maxRetries: 0 });
      const after = (await as(keyA, `/v1/vector_stores/${storeId}/search`, query)).body as { data: unknown[] };
      assert.deepEqual(after, before);
      assert.equal((await a.vectorStores.retrieve(storeId)).file_counts.completed >= 5, true);
    });
  });
}
