import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import OpenAI, { toFile } from "openai";
import { openStorage } from "../../src/storage/open.ts";
import { createProjectKeys } from "../helpers/admin.ts";
import { spawnServe } from "../helpers/cli.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { raw, STORIES, startTestServer, type TestServer } from "../helpers/server.ts";

const ADMIN = "sk-admin-batches-0123456789";
const PRICING = { input: 2, cachedInput: 0.5, output: 8 };

const projectKey = async (server: { url: string }, name: string): Promise<string> => (await createProjectKeys(server, ADMIN, [name]))[0] as string;

const chatLine = (i: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ custom_id: `req-${i}`, method: "POST", url: "/v1/chat/completions", body: { model: "stories", messages: [{ role: "user", content: `Once upon a time ${i}` }], max_tokens: 4, ...extra } });

async function upload(client: OpenAI, lines: string[]): Promise<string> {
  const file = await client.files.create({ file: await toFile(Buffer.from(`${lines.join("\n")}\n`), "input.jsonl"), purpose: "batch" });
  return file.id;
}

async function waitFor(client: OpenAI, id: string, done: (b: OpenAI.Batch) => boolean, timeoutMs = 120_000): Promise<OpenAI.Batch> {
  const started = Date.now();
  for (;;) {
    const b = await client.batches.retrieve(id);
    if (done(b)) return b;
    if (Date.now() - started > timeoutMs) throw new Error(`batch ${id} stuck in ${b.status}: ${JSON.stringify(b.request_counts)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

type OutputLine = { id: string; custom_id: string; response: { status_code: number; request_id: string; body: Record<string, unknown> } | null; error: { code: string; message: string } | null };
const parseLines = (text: string): OutputLine[] => text.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as OutputLine);

describe("Batches", () => {
  let server: TestServer;
  let client: OpenAI;
  let other: OpenAI;
  before(async () => {
    server = await startTestServer({ env: { MODELPORT_ADMIN_KEY: ADMIN, MODELPORT_BATCH_CONCURRENCY: "4" }, models: [{ id: "stories", path: STORIES, aliases: [], pricing: PRICING }] });
    client = new OpenAI({ baseURL: server.baseURL, apiKey: await projectKey(server, "A"), maxRetries: 0 });
    other = new OpenAI({ baseURL: server.baseURL, apiKey: await projectKey(server, "B"), maxRetries: 0 });
  });
  after(async () => {
    await server.close();
  });

  it("runs a 1,000-line batch as OpenAI documents it: upload, create, poll, download; metered once each at half price", async () => {
    const inputFileId = await upload(client, Array.from({ length: 1000 }, (_, i) => chatLine(i)));
    const created = await client.batches.create({ input_file_id: inputFileId, endpoint: "/v1/chat/completions", completion_window: "24h", metadata: { run: "eval-1" } });
    assertSchema("Batch", created);
    assert.equal(created.status, "validating");
    const done = await waitFor(client, created.id, (b) => ["completed", "failed"].includes(b.status));
    assertSchema("Batch", done);
    assert.equal(done.status, "completed", JSON.stringify(done.errors));
    assert.deepEqual(done.request_counts, { total: 1000, completed: 1000, failed: 0 });
    assert.ok(done.in_progress_at! >= done.created_at && done.finalizing_at! >= done.in_progress_at! && done.completed_at! >= done.finalizing_at!);
    assert.equal(done.error_file_id, undefined);
    assert.deepEqual(done.metadata, { run: "eval-1" });
    const output = parseLines(await (await client.files.content(done.output_file_id!)).text());
    assert.equal(output.length, 1000);
    assert.deepEqual(new Set(output.map((l) => l.custom_id)), new Set(Array.from({ length: 1000 }, (_, i) => `req-${i}`)));
    for (const line of output.slice(0, 50)) {
      assert.equal(line.response!.status_code, 200);
      assert.match(line.response!.request_id, /^req_/);
      assertSchema("CreateChatCompletionResponse", line.response!.body);
    }
    const outputFile = await client.files.retrieve(done.output_file_id!);
    assert.equal(outputFile.purpose, "batch_output");
    await server.meter.flush();
    const [usage] = await server.storage.db.all("SELECT COUNT(*) AS n, SUM(input_tokens) AS input, SUM(output_tokens) AS output, SUM(cost_usd) AS cost FROM usage_records WHERE batch = 1 AND endpoint = '/v1/chat/completions'", []);
    assert.equal(Number(usage!.n), 1000, "one usage record per request");
    const sum = output.reduce((s, l) => ({ input: s.input + Number((l.response!.body.usage as { prompt_tokens: number }).prompt_tokens), output: s.output + Number((l.response!.body.usage as { completion_tokens: number }).completion_tokens) }), { input: 0, output: 0 });
    assert.deepEqual({ input: Number(usage!.input), output: Number(usage!.output) }, sum);
    const full = (sum.input * PRICING.input + sum.output * PRICING.output) / 1e6;
    assert.ok(Math.abs(Number(usage!.cost) - full / 2) < 1e-9, `batch cost ${usage!.cost} is half of ${full}`);
    assert.equal(done.usage?.input_tokens, sum.input);
  });

  it("fails an invalid input file with line-numbered errors", async () => {
    const inputFileId = await upload(client, [
      chatLine(1),
      "{not json",
      chatLine(1),
      JSON.stringify({ custom_id: "u", method: "POST", url: "/v1/embeddings", body: {} }),
      JSON.stringify({ custom_id: "t", method: "POST", url: "/v1/chat/completions", body: { model: "stories", messages: [], temperature: 9 } }),
      JSON.stringify({ custom_id: "m", method: "GET", url: "/v1/chat/completions", body: {} }),
      JSON.stringify({ custom_id: "x", method: "POST", url: "/v1/chat/completions", body: { model: "missing-model", messages: [{ role: "user", content: "hi" }] } }),
    ]);
    const created = await client.batches.create({ input_file_id: inputFileId, endpoint: "/v1/chat/completions", completion_window: "24h" });
    const failed = await waitFor(client, created.id, (b) => b.status !== "validating");
    assertSchema("Batch", failed);
    assert.equal(failed.status, "failed");
    assert.ok(failed.failed_at);
    const errors = failed.errors!.data!.map((e) => [e.line, e.code, e.param]);
    assert.deepEqual(errors, [
      [2, "invalid_json_line", null],
      [3, "duplicate_custom_id", "custom_id"],
      [4, "invalid_url", "url"],
      [5, "empty_array", "body.messages"],
      [6, "invalid_method", "method"],
      [7, "model_not_found", "body.model"],
    ]);
  });

  it("cancels a running batch: no new work starts, finished results are kept, the rest are reported", async () => {
    const inputFileId = await upload(client, Array.from({ length: 300 }, (_, i) => chatLine(i, { max_tokens: 48 })));
    const created = await client.batches.create({ input_file_id: inputFileId, endpoint: "/v1/chat/completions", completion_window: "24h" });
    await waitFor(client, created.id, (b) => (b.request_counts?.completed ?? 0) >= 5);
    const cancelling = await client.batches.cancel(created.id);
    assert.ok(["cancelling", "cancelled"].includes(cancelling.status));
    const cancelled = await waitFor(client, created.id, (b) => b.status === "cancelled");
    assertSchema("Batch", cancelled);
    const counts = cancelled.request_counts!;
    assert.ok(counts.completed >= 5 && counts.completed < 300, JSON.stringify(counts));
    const output = parseLines(await (await client.files.content(cancelled.output_file_id!)).text());
    assert.equal(output.length, counts.completed);
    const notRun = parseLines(await (await client.files.content(cancelled.error_file_id!)).text());
    assert.equal(output.length + notRun.length, 300);
    assert.ok(notRun.every((l) => l.error?.code === "batch_cancelled" && l.response === null));
    assert.equal(new Set([...output, ...notRun].map((l) => l.custom_id)).size, 300);
    const again = await raw(server, `/v1/batches/${created.id}/cancel`, { method: "POST", headers: { authorization: `Bearer ${client.apiKey}` } });
    assert.equal(again.status, 200, "cancelling a cancelled batch is a no-op");
  });

  it("runs /v1/responses batches, and puts request errors in the error file", async () => {
    const lines = [
      JSON.stringify({ custom_id: "a", method: "POST", url: "/v1/responses", body: { model: "stories", input: "Once upon a time", max_output_tokens: 16 } }),
      JSON.stringify({ custom_id: "b", method: "POST", url: "/v1/responses", body: { model: "stories", input: "Lily", max_output_tokens: 16, previous_response_id: "resp_missing" } }),
    ];
    const batch = await client.batches.create({ input_file_id: await upload(client, lines), endpoint: "/v1/responses", completion_window: "24h" });
    const done = await waitFor(client, batch.id, (b) => b.status === "completed");
    assert.deepEqual(done.request_counts, { total: 2, completed: 1, failed: 1 });
    const [ok] = parseLines(await (await client.files.content(done.output_file_id!)).text());
    assertSchema("Response", ok!.response!.body);
    const [bad] = parseLines(await (await client.files.content(done.error_file_id!)).text());
    assert.equal(bad!.custom_id, "b");
    assert.equal(bad!.response!.status_code, 400);
    assert.equal((bad!.response!.body as { error: { code: string } }).error.code, "previous_response_not_found");
  });

  it("keeps batches and their files to their project, and validates the create body", async () => {
    const inputFileId = await upload(client, [chatLine(1)]);
    const batch = await client.batches.create({ input_file_id: inputFileId, endpoint: "/v1/chat/completions", completion_window: "24h" });
    await assert.rejects(other.batches.retrieve(batch.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
    await assert.rejects(other.batches.cancel(batch.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
    await assert.rejects(other.batches.create({ input_file_id: inputFileId, endpoint: "/v1/chat/completions", completion_window: "24h" }), (e: unknown) => e instanceof OpenAI.NotFoundError);
    const page = await other.batches.list();
    assert.equal(page.data.length, 0);
    const mine = await raw(server, "/v1/batches?limit=2", { method: "GET", headers: { authorization: `Bearer ${client.apiKey}` } });
    assertSchema("ListBatchesResponse", mine.body);
    for (const [body, param] of [
      [{ endpoint: "/v1/chat/completions", completion_window: "24h" }, "input_file_id"],
      [{ input_file_id: inputFileId, endpoint: "/v1/nope", completion_window: "24h" }, "endpoint"],
      [{ input_file_id: inputFileId, endpoint: "/v1/chat/completions", completion_window: "1h" }, "completion_window"],
    ] as const) {
      const res = await raw(server, "/v1/batches", { body: JSON.stringify(body), headers: { authorization: `Bearer ${client.apiKey}` } });
      assert.equal(res.status, 400);
      assert.equal((res.body as { error: { param: string } }).error.param, param);
    }
    const notBatch = await client.files.create({ file: await toFile(Buffer.from("x"), "x.txt"), purpose: "user_data" });
    const wrongPurpose = await raw(server, "/v1/batches", { body: JSON.stringify({ input_file_id: notBatch.id, endpoint: "/v1/chat/completions", completion_window: "24h" }), headers: { authorization: `Bearer ${client.apiKey}` } });
    assert.equal(wrongPurpose.status, 400);
  });
});

describe("Batches survive a crash", () => {
  it("resumes after SIGKILL mid-batch: every custom_id exactly once, no request metered twice", async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), "modelport-batch-kill-")), "data");
    const env = { MODELPORT_API_KEYS: "sk-batch-kill-key", MODELPORT_DATA_DIR: dataDir, MODELPORT_BATCH_CONCURRENCY: "2", MODELPORT_LOG_LEVEL: "info" };
    const args = ["-m", STORIES];
    let serve = await spawnServe(args, env);
    const total = 160;
    let client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: "sk-batch-kill-key", maxRetries: 0 });
    const inputFileId = await upload(client, Array.from({ length: total }, (_, i) => chatLine(i, { model: "stories260K", max_tokens: 24 })));
    const batch = await client.batches.create({ input_file_id: inputFileId, endpoint: "/v1/chat/completions", completion_window: "24h" });
    const before = await waitFor(client, batch.id, (b) => (b.request_counts?.completed ?? 0) >= 40);
    assert.ok(before.request_counts!.completed < total, "killed mid-batch");
    serve.child.kill("SIGKILL");
    await serve.exited;
    serve = await spawnServe(args, env);
    try {
      client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: "sk-batch-kill-key", maxRetries: 0 });
      const done = await waitFor(client, batch.id, (b) => b.status === "completed");
      assert.deepEqual(done.request_counts, { total, completed: total, failed: 0 });
      const output = parseLines(await (await client.files.content(done.output_file_id!)).text());
      const ids = output.map((l) => l.custom_id);
      assert.equal(ids.length, total, "no line lost or duplicated");
      assert.equal(new Set(ids).size, total);
    } finally {
      serve.child.kill("SIGTERM");
      await serve.exited;
    }
    const storage = await openStorage({ databaseUrl: undefined, dataDir });
    try {
      const [row] = await storage.db.all("SELECT COUNT(*) AS n FROM usage_records WHERE batch = 1", []);
      assert.equal(Number(row!.n), total, "each request metered exactly once");
    } finally {
      await storage.close();
    }
  });
});
