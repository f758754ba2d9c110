import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import OpenAI, { toFile } from "openai";
import { backends } from "../helpers/databases.ts";
import { multipartBody, multipartFrame, type FormPart } from "../helpers/multipart.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { createProjectKeys } from "../helpers/admin.ts";
import { raw, startTestServer, waitFor, type TestServer } from "../helpers/server.ts";

const ADMIN = "sk-admin-files-0123456789";
const DAY30 = 2_592_000;
const list = await backends();
after(async () => {
  for (const b of list) await b.cleanup();
});

type FileObject = { id: string; object: string; bytes: number; created_at: number; expires_at?: number; filename: string; purpose: string; status: string };
type FileList = { object: string; data: FileObject[]; first_id: string | null; last_id: string | null; has_more: boolean };

/** A list page: an empty one answers null ids, as OpenAI does; the rest must match the schema. */
function assertFileList(body: unknown): FileList {
  const b = body as FileList;
  if (b.data.length === 0) {
    assert.equal(b.first_id, null);
    assert.equal(b.last_id, null);
    assertSchema("ListFilesResponse", { ...b, first_id: "", last_id: "" });
  } else {
    assertSchema("ListFilesResponse", body);
    assert.equal(b.first_id, b.data[0]?.id);
    assert.equal(b.last_id, b.data.at(-1)?.id);
  }
  return b;
}

/** Asserts an OpenAI error envelope with this status, param and (when given) code. */
function assertError(res: { status: number; body: unknown; text: string }, status: number, param: string | null, code?: string | null): void {
  assert.equal(res.status, status, res.text);
  assertSchema("ErrorResponse", res.body);
  const error = (res.body as { error: { param: string | null; code: string | null; type: string; message: string } }).error;
  assert.equal(error.type, "invalid_request_error");
  assert.equal(error.param, param, res.text);
  if (code !== undefined) assert.equal(error.code, code, res.text);
  assert.ok(error.message.length > 10);
}

const JSONL = Buffer.from(['{"custom_id":"r1","method":"POST","url":"/v1/chat/completions","body":{"model":"stories","messages":[{"role":"user","content":"hi"}]}}', '{"custom_id":"r2"}', ""].join("\n"));

for (const backend of list) {
  describe(`files on ${backend.name}`, () => {
    const dataDir = backend.env().MODELPORT_DATA_DIR ?? join(mkdtempSync(join(tmpdir(), "modelport-files-")), "data");
    const start = () => startTestServer({ env: { ...backend.env(), MODELPORT_DATA_DIR: dataDir, MODELPORT_ADMIN_KEY: ADMIN } });
    const filesDir = join(dataDir, "files");
    let server: TestServer;
    let a: OpenAI;
    let b: OpenAI;
    let keyA = "";
    let keyB = "";
    const as = (key: string, path: string, init: { method?: string; body?: string | Uint8Array; headers?: Record<string, string> } = {}) =>
      raw(server, path, { ...init, headers: { authorization: `Bearer ${key}`, ...init.headers } });
    const postForm = (key: string, parts: readonly FormPart[], path = "/v1/files") => {
      const { body, contentType } = multipartBody(parts);
      return as(key, path, { method: "POST", body, headers: { "content-type": contentType } });
    };

    before(async () => {
      server = await start();
      [keyA, keyB] = (await createProjectKeys(server, ADMIN, ["Files A", "Files B"])) as [string, string];
      a = new OpenAI({ baseURL: server.baseURL, apiKey: keyA, maxRetries: 0 });
      b = new OpenAI({ baseURL: server.baseURL, apiKey: keyB, maxRetries: 0 });
    });
    after(async () => {
      await server.close();
    });

    let batchFile = "";

    it("uploads a batch file with the SDK, retrieves it, and returns its bytes", async () => {
      const created = await a.files.create({ file: await toFile(JSONL, "requests.jsonl"), purpose: "batch" });
      assertSchema("OpenAIFile", created);
      assert.match(created.id, /^file-[A-Za-z0-9]{24}$/);
      assert.equal(created.object, "file");
      assert.equal(created.bytes, JSONL.length);
      assert.equal(created.filename, "requests.jsonl");
      assert.equal(created.purpose, "batch");
      assert.equal(created.status, "processed");
      assert.ok(Math.abs(created.created_at - Date.now() / 1000) < 60);
      // Batch input expires after 30 days unless told otherwise, as OpenAI's does.
      assert.equal(created.expires_at, created.created_at + DAY30);
      batchFile = created.id;

      const got = await as(keyA, `/v1/files/${created.id}`);
      assert.equal(got.status, 200);
      assertSchema("OpenAIFile", got.body);
      assert.deepEqual(got.body, created);
      assert.deepEqual(await a.files.retrieve(created.id), created);

      const content = await a.files.content(created.id);
      assert.equal(content.status, 200);
      assert.equal(content.headers.get("content-type"), "application/octet-stream");
      assert.equal(content.headers.get("content-length"), String(JSONL.length));
      assert.deepEqual(Buffer.from(await content.arrayBuffer()), JSONL);
      // The bytes live on disk under the data directory.
      assert.ok(existsSync(join(filesDir, created.id)));
    });

    it("takes the purpose before or after the file, keeps UTF-8 names, and honours expires_after", async () => {
      const bytes = Buffer.from("pixels");
      const first = await postForm(keyA, [
        { name: "purpose", value: "user_data" },
        { name: "expires_after[anchor]", value: "created_at" },
        { name: "expires_after[seconds]", value: "3600" },
        { name: "file", filename: "données.txt", data: bytes, type: "text/plain" },
      ]);
      assert.equal(first.status, 200, first.text);
      assertSchema("OpenAIFile", first.body);
      const f1 = first.body as FileObject;
      assert.equal(f1.filename, "données.txt");
      assert.equal(f1.purpose, "user_data");
      assert.equal(f1.expires_at, f1.created_at + 3600);

      const last = await postForm(keyA, [
        { name: "file", filename: "notes.md", data: bytes },
        { name: "purpose", value: "assistants" },
      ]);
      assert.equal(last.status, 200, last.text);
      assertSchema("OpenAIFile", last.body);
      const f2 = last.body as FileObject;
      assert.equal(f2.purpose, "assistants");
      assert.equal(f2.bytes, bytes.length);
      // No expiry for a file that is not batch input and names none.
      assert.equal(f2.expires_at, undefined);

      const sdk = await a.files.create({ file: await toFile(bytes, "画像 \"1\".png"), purpose: "vision", expires_after: { anchor: "created_at", seconds: DAY30 } });
      assertSchema("OpenAIFile", sdk);
      assert.equal(sdk.filename, '画像 "1".png');
      const download = await a.files.content(sdk.id);
      assert.equal(download.headers.get("content-disposition"), `attachment; filename*=UTF-8''${encodeURIComponent('画像 "1".png')}`);
      assert.equal(sdk.expires_at, sdk.created_at + DAY30);

      // `evals` is accepted on upload (OpenAIFile's purpose enum does not list it yet).
      const evals = await a.files.create({ file: await toFile(Buffer.from("{}\n"), "e.jsonl"), purpose: "evals" });
      assert.equal(evals.purpose, "evals");
      assertSchema("OpenAIFile", { ...evals, purpose: "user_data" });

      // A batch file's default expiry gives way to an explicit one.
      const shortBatch = await a.files.create({ file: await toFile(JSONL, "b.jsonl"), purpose: "batch", expires_after: { anchor: "created_at", seconds: 7200 } });
      assert.equal(shortBatch.expires_at, shortBatch.created_at + 7200);
      for (const id of [f1.id, f2.id, sdk.id, evals.id, shortBatch.id]) await a.files.delete(id);
    });

    it("lists the project's files by purpose, newest first by default, paged with after and limit", async () => {
      const made: string[] = [];
      for (let i = 0; i < 5; i++) made.push((await a.files.create({ file: await toFile(Buffer.from(`line ${i}\n`), `f${i}.txt`), purpose: "fine-tune" })).id);

      const all = assertFileList((await as(keyA, "/v1/files?purpose=fine-tune")).body);
      assert.equal(all.object, "list");
      assert.deepEqual(all.data.map((f) => f.id), [...made].reverse());
      assert.equal(all.has_more, false);
      for (const f of all.data) assertSchema("OpenAIFile", f);

      const asc = assertFileList((await as(keyA, "/v1/files?purpose=fine-tune&order=asc&limit=2")).body);
      assert.deepEqual(asc.data.map((f) => f.id), made.slice(0, 2));
      assert.equal(asc.has_more, true);
      const next = assertFileList((await as(keyA, `/v1/files?purpose=fine-tune&order=asc&limit=2&after=${asc.last_id}`)).body);
      assert.deepEqual(next.data.map((f) => f.id), made.slice(2, 4));
      const rest = assertFileList((await as(keyA, `/v1/files?purpose=fine-tune&order=asc&limit=2&after=${next.last_id}`)).body);
      assert.deepEqual(rest.data.map((f) => f.id), made.slice(4));
      assert.equal(rest.has_more, false);

      const desc = assertFileList((await as(keyA, `/v1/files?purpose=fine-tune&limit=2&after=${made[3]}`)).body);
      assert.deepEqual(desc.data.map((f) => f.id), [made[2], made[1]]);

      // The SDK pages through them all.
      const seen: string[] = [];
      for await (const f of a.files.list({ purpose: "fine-tune", order: "asc", limit: 2 })) seen.push(f.id);
      assert.deepEqual(seen, made);

      // Every purpose together, the batch file included; none of another purpose in the filtered list.
      const everything = assertFileList((await as(keyA, "/v1/files")).body);
      assert.ok(everything.data.some((f) => f.id === batchFile));
      assert.ok(all.data.every((f) => f.purpose === "fine-tune"));
      assertFileList((await as(keyA, "/v1/files?purpose=vision")).body);
      assert.deepEqual(assertFileList((await as(keyA, "/v1/files?after=file-unknown")).body).data, []);

      assertError(await as(keyA, "/v1/files?limit=0"), 400, "limit", "integer_below_min_value");
      assertError(await as(keyA, "/v1/files?limit=10001"), 400, "limit", "integer_above_max_value");
      assertError(await as(keyA, "/v1/files?order=sideways"), 400, "order", "invalid_value");
      for (const id of made) await a.files.delete(id);
    });

    it("deletes a file: its metadata and bytes go, and it is 404 afterwards", async () => {
      const f = await a.files.create({ file: await toFile(Buffer.from("bye"), "bye.txt"), purpose: "user_data" });
      const deleted = await as(keyA, `/v1/files/${f.id}`, { method: "DELETE" });
      assert.equal(deleted.status, 200);
      assertSchema("DeleteFileResponse", deleted.body);
      assert.deepEqual(deleted.body, { id: f.id, object: "file", deleted: true });
      assert.ok(!existsSync(join(filesDir, f.id)));
      assertError(await as(keyA, `/v1/files/${f.id}`), 404, "file_id", "file_not_found");
      assertError(await as(keyA, `/v1/files/${f.id}/content`), 404, "file_id", "file_not_found");
      assertError(await as(keyA, `/v1/files/${f.id}`, { method: "DELETE" }), 404, "file_id", "file_not_found");
      await assert.rejects(a.files.retrieve(f.id), (e: unknown) => e instanceof OpenAI.NotFoundError);
    });

    it("answers 400 naming the parameter for bad forms, and keeps none of their bytes", async () => {
      const before = readdirSync(filesDir).sort();
      const file: FormPart = { name: "file", filename: "x.jsonl", data: JSONL };
      assertError(await postForm(keyA, [{ name: "purpose", value: "fine-tuning" }, file]), 400, "purpose", "invalid_value");
      assertError(await postForm(keyA, [file, { name: "purpose", value: "fine-tuning" }]), 400, "purpose", "invalid_value");
      assertError(await postForm(keyA, [file, { name: "purpose", value: "batch_output" }]), 400, "purpose", "invalid_value");
      assertError(await postForm(keyA, [file]), 400, "purpose", "missing_required_parameter");
      assertError(await postForm(keyA, [{ name: "purpose", value: "batch" }]), 400, "file", "missing_required_parameter");
      assertError(await postForm(keyA, [{ name: "purpose", value: "batch" }, { name: "file", value: "not a file" }]), 400, "file", "invalid_type");
      assertError(await postForm(keyA, [{ name: "purpose", value: "batch" }, file, file]), 400, "file", "invalid_value");
      assertError(await postForm(keyA, [{ name: "purpose", value: "batch" }, { name: "colour", value: "blue" }, file]), 400, "colour", "unknown_parameter");
      assertError(await postForm(keyA, [{ name: "purpose", value: "batch" }, file, { name: "expires_after[seconds]", value: "60" }, { name: "expires_after[anchor]", value: "created_at" }]), 400, "expires_after.seconds", "integer_below_min_value");
      assertError(await postForm(keyA, [{ name: "purpose", value: "batch" }, { name: "expires_after[seconds]", value: "2592001" }, { name: "expires_after[anchor]", value: "created_at" }, file]), 400, "expires_after.seconds", "integer_above_max_value");
      assertError(await postForm(keyA, [{ name: "purpose", value: "batch" }, { name: "expires_after[seconds]", value: "soon" }, { name: "expires_after[anchor]", value: "created_at" }, file]), 400, "expires_after.seconds", "invalid_type");
      assertError(await postForm(keyA, [{ name: "purpose", value: "batch" }, { name: "expires_after[anchor]", value: "last_used_at" }, { name: "expires_after[seconds]", value: "3600" }, file]), 400, "expires_after.anchor", "invalid_value");
      assertError(await postForm(keyA, [{ name: "purpose", value: "batch" }, file, { name: "expires_after[anchor]", value: "created_at" }]), 400, "expires_after.seconds", "missing_required_parameter");
      // Not multipart at all.
      assertError(await as(keyA, "/v1/files", { method: "POST", body: JSON.stringify({ purpose: "batch", file: "x" }) }), 400, "file", "invalid_content_type");
      assertError(await as(keyA, "/v1/files", { method: "POST", body: "purpose=batch", headers: { "content-type": "application/x-www-form-urlencoded" } }), 400, "file", "invalid_content_type");
      assertError(await as(keyA, "/v1/files", { method: "POST", body: "x", headers: { "content-type": "multipart/form-data" } }), 400, "file", "invalid_content_type");
      // A form cut short.
      const { body, contentType } = multipartBody([{ name: "purpose", value: "batch" }, file]);
      assertError(await as(keyA, "/v1/files", { method: "POST", body: body.subarray(0, body.length - 20), headers: { "content-type": contentType } }), 400, null, "invalid_multipart");
      // The SDK sees the same.
      await assert.rejects(a.files.create({ file: await toFile(JSONL, "x.jsonl"), purpose: "nonsense" as "batch" }), (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === "purpose");

      assert.deepEqual(readdirSync(filesDir).sort(), before);
      // The connection stays usable after each of these.
      assert.equal((await as(keyA, `/v1/files/${batchFile}`)).status, 200);
    });

    it("hides a file from every other project: 404 to retrieve, download or delete, absent from its list", async () => {
      const own = await b.files.create({ file: await toFile(Buffer.from("b's"), "b.txt"), purpose: "user_data" });
      assertError(await as(keyB, `/v1/files/${batchFile}`), 404, "file_id", "file_not_found");
      assertError(await as(keyB, `/v1/files/${batchFile}/content`), 404, "file_id", "file_not_found");
      assertError(await as(keyB, `/v1/files/${batchFile}`, { method: "DELETE" }), 404, "file_id", "file_not_found");
      await assert.rejects(b.files.content(batchFile), (e: unknown) => e instanceof OpenAI.NotFoundError);
      const listed = assertFileList((await as(keyB, "/v1/files")).body);
      assert.deepEqual(listed.data.map((f) => f.id), [own.id]);
      // Paging after another project's id gives nothing.
      assert.deepEqual(assertFileList((await as(keyB, `/v1/files?after=${batchFile}`)).body).data, []);
      assert.ok(!assertFileList((await as(keyA, "/v1/files")).body).data.some((f) => f.id === own.id));
      assertError(await as(keyA, `/v1/files/${own.id}`), 404, "file_id", "file_not_found");
      // Still there for its owner.
      assert.equal((await a.files.retrieve(batchFile)).id, batchFile);
      await b.files.delete(own.id);
    });

    it("expires files: expires_at is created_at + seconds, and once past it the file is gone", async () => {
      const f = await a.files.create({ file: await toFile(Buffer.from("short-lived"), "s.txt"), purpose: "user_data", expires_after: { anchor: "created_at", seconds: 3600 } });
      assert.equal(f.expires_at, f.created_at + 3600);
      assert.equal(await server.files.sweep(f.created_at + 3599), 0);
      assert.equal((await a.files.retrieve(f.id)).id, f.id);
      assert.ok((await server.files.sweep(f.created_at + 3600)) >= 1);
      assertError(await as(keyA, `/v1/files/${f.id}`), 404, "file_id", "file_not_found");
      assertError(await as(keyA, `/v1/files/${f.id}/content`), 404, "file_id", "file_not_found");
      assert.ok(!assertFileList((await as(keyA, "/v1/files")).body).data.some((x) => x.id === f.id));
      assert.ok(!existsSync(join(filesDir, f.id)));
      // The 30-day batch file is still there.
      assert.equal((await a.files.retrieve(batchFile)).id, batchFile);
    });

    it("keeps files across a restart", async () => {
      await server.close();
      server = await start();
      a = new OpenAI({ baseURL: server.baseURL, apiKey: keyA, maxRetries: 0 });
      const got = await a.files.retrieve(batchFile);
      assertSchema("OpenAIFile", got);
      assert.equal(got.bytes, JSONL.length);
      assert.deepEqual(Buffer.from(await (await a.files.content(batchFile)).arrayBuffer()), JSONL);
      assert.ok(assertFileList((await as(keyA, "/v1/files?purpose=batch")).body).data.some((f) => f.id === batchFile));
    });
  });
}

describe("large and over-limit files", () => {
  const KEY = "sk-test-files-large-0123456789";
  const LIMIT = 65_536;
  let big: TestServer;
  let small: TestServer;
  let smallFiles = "";
  const bigData = join(mkdtempSync(join(tmpdir(), "modelport-files-big-")), "data");
  before(async () => {
    big = await startTestServer({ env: { MODELPORT_API_KEYS: KEY, MODELPORT_DATA_DIR: bigData } });
    const dir = join(mkdtempSync(join(tmpdir(), "modelport-files-small-")), "data");
    smallFiles = join(dir, "files");
    small = await startTestServer({ env: { MODELPORT_API_KEYS: KEY, MODELPORT_DATA_DIR: dir, MODELPORT_FILE_MAX_BYTES: String(LIMIT) } });
  });
  after(async () => {
    await big.close();
    await small.close();
  });

  it("removes the partial bytes of an upload whose client goes away", async () => {
    const dir = join(bigData, "files");
    // The directory appears with the first file's bytes; absent, it holds none.
    const names = (): string => (existsSync(dir) ? readdirSync(dir).sort().join() : "");
    const before = names();
    const { head, contentType } = multipartFrame({ purpose: "batch" }, { name: "file", filename: "gone.bin" });
    await new Promise<void>((resolve) => {
      const req = request(`${big.url}/v1/files`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": contentType, "content-length": 8 * 1024 * 1024 } });
      req.on("error", () => resolve());
      req.write(head);
      req.write(Buffer.alloc(1024 * 1024, 7), () => setTimeout(() => req.destroy(), 100));
    });
    await waitFor(() => names() === before);
    assert.equal((await raw(big, "/health")).status, 200);
  });

  it("a 20 MB file through the SDK comes back byte for byte", async () => {
    const data = Buffer.alloc(20 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i, i);
    const client = big.client.withOptions({ apiKey: KEY });
    const f = await client.files.create({ file: await toFile(data, "twenty.bin"), purpose: "user_data" });
    assert.equal(f.bytes, data.length);
    const back = Buffer.from(await (await client.files.content(f.id)).arrayBuffer());
    assert.ok(back.equals(data));
    await client.files.delete(f.id);
  });

  it("answers 413 over MODELPORT_FILE_MAX_BYTES and removes the partial bytes", async () => {
    const client = small.client.withOptions({ apiKey: KEY });
    const atLimit = await client.files.create({ file: await toFile(Buffer.alloc(LIMIT, 1), "ok.bin"), purpose: "user_data" });
    assert.equal(atLimit.bytes, LIMIT);

    await assert.rejects(client.files.create({ file: await toFile(Buffer.alloc(LIMIT + 1, 1), "over.bin"), purpose: "user_data" }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.APIError);
      assert.equal(e.status, 413);
      assert.equal(e.code, "file_too_large");
      assert.equal(e.param, "file");
      return true;
    });
    // Well past the limit, purpose last: answered once the body is read.
    const { body, contentType } = multipartBody([{ name: "file", filename: "big.bin", data: Buffer.alloc(400_000, 2) }, { name: "purpose", value: "batch" }]);
    const res = await raw(small, "/v1/files", { method: "POST", body, headers: { authorization: `Bearer ${KEY}`, "content-type": contentType } });
    assertError(res, 413, "file", "file_too_large");
    // A declared length far beyond the limit is refused before the body is read.
    const huge = await new Promise<{ status: number; body: unknown; text: string }>((resolve, reject) => {
      const { head, contentType: type } = multipartFrame({ purpose: "batch" }, { name: "file", filename: "huge.bin" });
      const req = request(`${small.url}/v1/files`, { method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": type, "content-length": 50 * 1024 * 1024 } }, (r) => {
        let text = "";
        r.setEncoding("utf8");
        r.on("data", (d: string) => (text += d));
        r.on("end", () => resolve({ status: r.statusCode ?? 0, body: JSON.parse(text) as unknown, text }));
      });
      req.on("error", reject);
      req.write(head);
    });
    assertError(huge, 413, "file", "file_too_large");

    assert.deepEqual(readdirSync(smallFiles), [atLimit.id]);
    const listed = (await raw(small, "/v1/files", { headers: { authorization: `Bearer ${KEY}` } })).body as FileList;
    assert.deepEqual(listed.data.map((f) => f.id), [atLimit.id]);
  });
});
