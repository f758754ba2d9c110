import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import OpenAI, { toFile } from "openai";
import { UploadStore } from "../../src/storage/upload-store.ts";
import { LocalBlobStore } from "../../src/storage/local-blob-store.ts";
import { backends } from "../helpers/databases.ts";
import { multipartBody, type FormPart } from "../helpers/multipart.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { createProjectKeys } from "../helpers/admin.ts";
import { raw, startTestServer, type TestServer } from "../helpers/server.ts";

const ADMIN = "sk-admin-uploads-0123456789";
const LIMIT = 1_000_000;
const list = await backends();
after(async () => {
  for (const b of list) await b.cleanup();
});

type UploadObject = { id: string; object: string; bytes: number; created_at: number; expires_at: number; filename: string; purpose: string; status: string; file: Record<string, unknown> | null };

function assertError(res: { status: number; body: unknown; text: string }, status: number, param: string | null, code?: string | null): void {
  assert.equal(res.status, status, res.text);
  assertSchema("ErrorResponse", res.body);
  const error = (res.body as { error: { param: string | null; code: string | null; type: string; message: string } }).error;
  assert.equal(error.type, "invalid_request_error");
  assert.equal(error.param, param, res.text);
  if (code !== undefined) assert.equal(error.code, code, res.text);
}

for (const backend of list) {
  describe(`uploads on ${backend.name}`, () => {
    const dataDir = backend.env().MODELPORT_DATA_DIR ?? join(mkdtempSync(join(tmpdir(), "modelport-uploads-")), "data");
    const uploadsDir = join(dataDir, "uploads");
    let server: TestServer;
    let a: OpenAI;
    let keyA = "";
    let keyB = "";
    const as = (key: string, path: string, init: { method?: string; body?: string | Uint8Array; headers?: Record<string, string> } = {}) =>
      raw(server, path, { ...init, headers: { authorization: `Bearer ${key}`, ...init.headers } });
    const post = (key: string, path: string, body: unknown) => as(key, path, { method: "POST", body: JSON.stringify(body) });
    const postPart = (key: string, uploadId: string, parts: readonly FormPart[]) => {
      const { body, contentType } = multipartBody(parts);
      return as(key, `/v1/uploads/${uploadId}/parts`, { method: "POST", body, headers: { "content-type": contentType } });
    };
    const newUpload = async (bytes: number, extra: Record<string, unknown> = {}): Promise<UploadObject> => {
      const res = await post(keyA, "/v1/uploads", { filename: "data.jsonl", purpose: "batch", bytes, mime_type: "text/jsonl", ...extra });
      assert.equal(res.status, 200, res.text);
      assertSchema("Upload", res.body);
      return res.body as UploadObject;
    };

    before(async () => {
      server = await startTestServer({ env: { ...backend.env(), MODELPORT_DATA_DIR: dataDir, MODELPORT_ADMIN_KEY: ADMIN, MODELPORT_FILE_MAX_BYTES: String(LIMIT) } });
      [keyA, keyB] = (await createProjectKeys(server, ADMIN, ["Uploads A", "Uploads B"])) as [string, string];
      a = new OpenAI({ baseURL: server.baseURL, apiKey: keyA, maxRetries: 0 });
    });
    after(async () => {
      await server.close();
    });

    it("creates an upload, takes three parts, and completes them in the order given into a file", async () => {
      const chunks = [Buffer.from('{"custom_id":"a"}\n'), Buffer.from('{"custom_id":"bb"}\n'), Buffer.from('{"custom_id":"ccc"}\n')];
      const total = chunks.reduce((n, c) => n + c.length, 0);
      const upload = await a.uploads.create({ filename: "train.jsonl", purpose: "batch", bytes: total, mime_type: "text/jsonl" });
      assertSchema("Upload", upload);
      assert.match(upload.id, /^upload_[A-Za-z0-9]{24}$/);
      assert.equal(upload.object, "upload");
      assert.equal(upload.status, "pending");
      assert.equal(upload.bytes, total);
      assert.equal(upload.filename, "train.jsonl");
      assert.equal(upload.purpose, "batch");
      assert.equal(upload.expires_at, upload.created_at + 3600);
      assert.equal(upload.file, null);

      const parts: { id: string }[] = [];
      for (const chunk of chunks) {
        const part = await a.uploads.parts.create(upload.id, { data: await toFile(chunk, "part") });
        assertSchema("UploadPart", part);
        assert.match(part.id, /^part_[A-Za-z0-9]{24}$/);
        assert.equal(part.object, "upload.part");
        assert.equal(part.upload_id, upload.id);
        assert.ok(Math.abs(part.created_at - Date.now() / 1000) < 60);
        parts.push(part);
      }
      assert.equal(readdirSync(join(uploadsDir, upload.id)).length, 3);

      // The order is the one given at completion, not the order the parts came in.
      const order = [1, 0, 2];
      const expected = Buffer.concat(order.map((i) => chunks[i] as Buffer));
      const md5 = createHash("md5").update(expected).digest("hex");
      const done = await a.uploads.complete(upload.id, { part_ids: order.map((i) => (parts[i] as { id: string }).id), md5 });
      assertSchema("Upload", done);
      assert.equal(done.status, "completed");
      assert.equal(done.id, upload.id);
      const file = done.file as OpenAI.FileObject;
      assertSchema("OpenAIFile", file);
      assert.match(file.id, /^file-/);
      assert.equal(file.bytes, total);
      assert.equal(file.filename, "train.jsonl");
      assert.equal(file.purpose, "batch");
      assert.equal(file.expires_at, file.created_at + 2_592_000);

      assert.deepEqual(Buffer.from(await (await a.files.content(file.id)).arrayBuffer()), expected);
      assert.deepEqual(await a.files.retrieve(file.id), file);
      // The parts are gone once assembled.
      assert.ok(!existsSync(join(uploadsDir, upload.id)));

      // A completed upload takes nothing more.
      assertError(await postPart(keyA, upload.id, [{ name: "data", filename: "p", data: Buffer.from("x") }]), 400, "upload_id", "upload_not_pending");
      assertError(await post(keyA, `/v1/uploads/${upload.id}/complete`, { part_ids: [] }), 400, "upload_id", "upload_not_pending");
      assertError(await post(keyA, `/v1/uploads/${upload.id}/cancel`, {}), 400, "upload_id", "upload_not_pending");
    });

    it("rejects completion when the parts do not add up to the declared bytes, and lets it be fixed", async () => {
      const upload = await newUpload(10);
      const p1 = (await postPart(keyA, upload.id, [{ name: "data", filename: "p", data: Buffer.from("12345") }])).body as { id: string };
      assertError(await post(keyA, `/v1/uploads/${upload.id}/complete`, { part_ids: [p1.id] }), 400, "part_ids", "upload_bytes_mismatch");
      await assert.rejects(a.uploads.complete(upload.id, { part_ids: [p1.id] }), (e: unknown) => e instanceof OpenAI.BadRequestError);
      const p2 = (await postPart(keyA, upload.id, [{ name: "data", filename: "p", data: Buffer.from("67890") }])).body as { id: string };
      assertError(await post(keyA, `/v1/uploads/${upload.id}/complete`, { part_ids: [p1.id, p2.id, p1.id] }), 400, "part_ids[2]", "invalid_value");
      assertError(await post(keyA, `/v1/uploads/${upload.id}/complete`, { part_ids: [p1.id, "part_unknown"] }), 400, "part_ids[1]", "invalid_value");
      assertError(await post(keyA, `/v1/uploads/${upload.id}/complete`, { part_ids: [p1.id, p2.id], md5: "0".repeat(32) }), 400, "md5", "checksum_mismatch");
      assertError(await post(keyA, `/v1/uploads/${upload.id}/complete`, { part_ids: [p1.id, p2.id], md5: "nope" }), 400, "md5", "invalid_value");
      assertError(await post(keyA, `/v1/uploads/${upload.id}/complete`, {}), 400, "part_ids", "missing_required_parameter");
      assertError(await post(keyA, `/v1/uploads/${upload.id}/complete`, { part_ids: [1] }), 400, "part_ids[0]", "invalid_type");
      assertError(await post(keyA, `/v1/uploads/${upload.id}/complete`, { part_ids: [], extra: 1 }), 400, "extra", "unknown_parameter");
      const done = await a.uploads.complete(upload.id, { part_ids: [p1.id, p2.id] });
      assert.equal(done.status, "completed");
      assert.equal(await (await a.files.content((done.file as { id: string }).id)).text(), "1234567890");
    });

    it("takes parts in parallel, and completes an upload once when asked twice at once", async () => {
      const chunks = Array.from({ length: 6 }, (_, i) => Buffer.alloc(1000 + i, 65 + i));
      const upload = await newUpload(chunks.reduce((n, c) => n + c.length, 0));
      const parts = await Promise.all(chunks.map(async (chunk) => a.uploads.parts.create(upload.id, { data: await toFile(chunk, "p") })));
      const body = { part_ids: parts.map((p) => p.id) };
      const results = await Promise.all([post(keyA, `/v1/uploads/${upload.id}/complete`, body), post(keyA, `/v1/uploads/${upload.id}/complete`, body)]);
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 400], results.map((r) => r.text).join("\n"));
      const done = results.find((r) => r.status === 200)?.body as UploadObject;
      assertSchema("Upload", done);
      assertError(results.find((r) => r.status === 400) as { status: number; body: unknown; text: string }, 400, "upload_id", "upload_not_pending");
      const content = Buffer.from(await (await a.files.content(String(done.file?.id))).arrayBuffer());
      assert.ok(content.equals(Buffer.concat(chunks)));
      const batchFiles = (await as(keyA, "/v1/files?purpose=batch")).body as { data: { filename: string; bytes: number }[] };
      assert.equal(batchFiles.data.filter((f) => f.bytes === content.length).length, 1);
    });

    it("cancels an upload: status cancelled, parts removed, and no parts or completion after", async () => {
      const upload = await newUpload(4);
      const part = (await postPart(keyA, upload.id, [{ name: "data", filename: "p", data: Buffer.from("abcd") }])).body as { id: string };
      const cancelled = await a.uploads.cancel(upload.id);
      assertSchema("Upload", cancelled);
      assert.equal(cancelled.status, "cancelled");
      assert.equal(cancelled.id, upload.id);
      assert.ok(!existsSync(join(uploadsDir, upload.id)));
      await assert.rejects(a.uploads.parts.create(upload.id, { data: await toFile(Buffer.from("abcd"), "p") }), (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === "upload_id");
      assertError(await postPart(keyA, upload.id, [{ name: "data", filename: "p", data: Buffer.from("abcd") }]), 400, "upload_id", "upload_not_pending");
      assertError(await post(keyA, `/v1/uploads/${upload.id}/complete`, { part_ids: [part.id] }), 400, "upload_id", "upload_not_pending");
      assertError(await post(keyA, `/v1/uploads/${upload.id}/cancel`, {}), 400, "upload_id", "upload_not_pending");
    });

    it("expires an upload after its hour: parts refused, status expired, parts removed by the sweep", async () => {
      const upload = await newUpload(4);
      await postPart(keyA, upload.id, [{ name: "data", filename: "p", data: Buffer.from("ab") }]);
      assert.equal(readdirSync(join(uploadsDir, upload.id)).length, 1);
      await server.storage.db.run("UPDATE uploads SET expires_at = ? WHERE id = ?", [Math.floor(Date.now() / 1000) - 1, upload.id]);
      const refused = await postPart(keyA, upload.id, [{ name: "data", filename: "p", data: Buffer.from("cd") }]);
      assertError(refused, 400, "upload_id", "upload_not_pending");
      assert.match((refused.body as { error: { message: string } }).error.message, /expired/);
      const cancel = await post(keyA, `/v1/uploads/${upload.id}/cancel`, {});
      assertError(cancel, 400, "upload_id", "upload_not_pending");
      // The hourly sweep marks it expired and removes its parts' bytes.
      const [row] = await server.storage.db.all("SELECT expires_at FROM uploads WHERE id = ?", [upload.id]);
      const store = new UploadStore(server.storage.db, new LocalBlobStore(dataDir));
      assert.ok((await store.sweep(Number(row?.expires_at))) >= 1);
      assert.ok(!existsSync(join(uploadsDir, upload.id)));
      const [after] = await server.storage.db.all("SELECT status FROM uploads WHERE id = ?", [upload.id]);
      assert.equal(after?.status, "expired");
    });

    it("gives the file the upload's expires_after", async () => {
      const upload = await newUpload(3, { purpose: "user_data", expires_after: { anchor: "created_at", seconds: 7200 } });
      const part = (await postPart(keyA, upload.id, [{ name: "data", filename: "p", data: Buffer.from("xyz") }])).body as { id: string };
      const done = await a.uploads.complete(upload.id, { part_ids: [part.id] });
      const file = done.file as OpenAI.FileObject;
      assert.equal(file.purpose, "user_data");
      assert.equal(file.expires_at, file.created_at + 7200);
      const plain = await newUpload(1, { purpose: "assistants" });
      const p = (await postPart(keyA, plain.id, [{ name: "data", filename: "p", data: Buffer.from("z") }])).body as { id: string };
      const plainDone = await a.uploads.complete(plain.id, { part_ids: [p.id] });
      assertSchema("OpenAIFile", plainDone.file);
      assert.equal((plainDone.file as OpenAI.FileObject).expires_at, undefined);
    });

    it("hides an upload from every other project: 404 for parts, completion and cancel", async () => {
      const upload = await newUpload(2);
      const part = (await postPart(keyA, upload.id, [{ name: "data", filename: "p", data: Buffer.from("hi") }])).body as { id: string };
      assertError(await postPart(keyB, upload.id, [{ name: "data", filename: "p", data: Buffer.from("hi") }]), 404, "upload_id", "upload_not_found");
      assertError(await post(keyB, `/v1/uploads/${upload.id}/complete`, { part_ids: [part.id] }), 404, "upload_id", "upload_not_found");
      assertError(await post(keyB, `/v1/uploads/${upload.id}/cancel`, {}), 404, "upload_id", "upload_not_found");
      assertError(await post(keyA, "/v1/uploads/upload_nope/cancel", {}), 404, "upload_id", "upload_not_found");
      const done = await a.uploads.complete(upload.id, { part_ids: [part.id] });
      assert.equal(done.status, "completed");
      assertError(await as(keyB, `/v1/files/${(done.file as { id: string }).id}`), 404, "file_id", "file_not_found");
    });

    it("validates uploads and parts, naming the parameter", async () => {
      const ok = { filename: "d.jsonl", purpose: "batch", bytes: 10, mime_type: "text/jsonl" };
      assertError(await post(keyA, "/v1/uploads", { ...ok, purpose: "fine-tuning" }), 400, "purpose", "invalid_value");
      assertError(await post(keyA, "/v1/uploads", { ...ok, bytes: LIMIT + 1 }), 400, "bytes", "integer_above_max_value");
      assertError(await post(keyA, "/v1/uploads", { ...ok, bytes: -1 }), 400, "bytes", "integer_below_min_value");
      assertError(await post(keyA, "/v1/uploads", { ...ok, bytes: "10" }), 400, "bytes", "invalid_type");
      assertError(await post(keyA, "/v1/uploads", { ...ok, mime_type: undefined }), 400, "mime_type", "missing_required_parameter");
      assertError(await post(keyA, "/v1/uploads", { ...ok, filename: undefined }), 400, "filename", "missing_required_parameter");
      assertError(await post(keyA, "/v1/uploads", { ...ok, expires_after: { anchor: "created_at", seconds: 10 } }), 400, "expires_after.seconds", "integer_below_min_value");
      assertError(await post(keyA, "/v1/uploads", { ...ok, expires_after: { anchor: "now", seconds: 3600 } }), 400, "expires_after.anchor", "invalid_value");
      assertError(await post(keyA, "/v1/uploads", { ...ok, expires_after: { seconds: 3600 } }), 400, "expires_after.anchor", "missing_required_parameter");
      assertError(await post(keyA, "/v1/uploads", { ...ok, colour: "blue" }), 400, "colour", "unknown_parameter");

      const upload = await newUpload(10);
      assertError(await postPart(keyA, upload.id, []), 400, "data", "missing_required_parameter");
      assertError(await postPart(keyA, upload.id, [{ name: "file", filename: "p", data: Buffer.from("x") }]), 400, "file", "unknown_parameter");
      assertError(await as(keyA, `/v1/uploads/${upload.id}/parts`, { method: "POST", body: JSON.stringify({ data: "x" }) }), 400, "data", "invalid_content_type");
      // A part larger than the whole upload can never fit it: 413, and nothing kept.
      assertError(await postPart(keyA, upload.id, [{ name: "data", filename: "p", data: Buffer.alloc(11) }]), 413, "data", "file_too_large");
      assert.deepEqual(existsSync(join(uploadsDir, upload.id)) ? readdirSync(join(uploadsDir, upload.id)) : [], []);
    });
  });
}
