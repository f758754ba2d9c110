import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import OpenAI, { toFile } from "openai";
import { ContainerService } from "../../src/services/container-service.ts";
import { ContainerStore, containerDirectory } from "../../src/storage/container-store.ts";
import { FileStore } from "../../src/storage/file-store.ts";
import { LocalBlobStore } from "../../src/storage/local-blob-store.ts";
import { createProjectKeys } from "../helpers/admin.ts";
import { backends } from "../helpers/databases.ts";
import { multipartBody } from "../helpers/multipart.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { raw, startTestServer, type TestServer } from "../helpers/server.ts";

const ADMIN = "sk-admin-containers-0123456789";
const list = await backends();
after(async () => {
  for (const b of list) await b.cleanup();
});

type Container = { id: string; object: string; name: string; status: string; created_at: number; last_active_at: number; expires_after: { anchor: string; minutes: number }; memory_limit: string };
type ContainerFile = { id: string; object: string; container_id: string; path: string; bytes: number; source: string; created_at: number };
type ListOf<T> = { object: string; data: T[]; first_id: string | null; last_id: string | null; has_more: boolean };

/** A list page against its schema: an empty one answers null ids, as other lists here do. */
function assertList<T extends { id: string }>(schema: string, body: unknown): ListOf<T> {
  const b = body as ListOf<T>;
  if (b.data.length === 0) {
    assert.equal(b.first_id, null);
    assert.equal(b.last_id, null);
    assertSchema(schema, { ...b, first_id: "", last_id: "" });
  } else {
    assertSchema(schema, body);
    assert.equal(b.first_id, b.data[0]?.id);
    assert.equal(b.last_id, b.data.at(-1)?.id);
  }
  return b;
}

/** Asserts an OpenAI error envelope with this status and param. */
function assertError(res: { status: number; body: unknown; text: string }, status: number, param: string | null): void {
  assert.equal(res.status, status, res.text);
  assertSchema("ErrorResponse", res.body);
  const error = (res.body as { error: { param: string | null; type: string; message: string } }).error;
  assert.equal(error.type, "invalid_request_error");
  assert.equal(error.param, param, res.text);
}

for (const backend of list) {
  describe(`containers on ${backend.name}`, () => {
    const dataDir = backend.env().MODELPORT_DATA_DIR ?? join(mkdtempSync(join(tmpdir(), "modelport-containers-")), "data");
    let server: TestServer;
    let a: OpenAI;
    let keyA = "";
    let keyB = "";
    /** A second view of the server's containers, as the code interpreter has one. */
    let service: ContainerService;
    const as = (key: string, path: string, init: { method?: string; body?: string | Uint8Array; headers?: Record<string, string> } = {}) =>
      raw(server, path, { ...init, headers: { authorization: `Bearer ${key}`, ...init.headers } });
    const post = (path: string, body: unknown, key = keyA) => as(key, path, { method: "POST", body: JSON.stringify(body) });

    before(async () => {
      server = await startTestServer({ env: { ...backend.env(), MODELPORT_DATA_DIR: dataDir, MODELPORT_ADMIN_KEY: ADMIN } });
      [keyA, keyB] = (await createProjectKeys(server, ADMIN, ["Containers A", "Containers B"])) as [string, string];
      a = new OpenAI({ baseURL: server.baseURL, apiKey: keyA, maxRetries: 0 });
      service = new ContainerService({ store: new ContainerStore(server.storage.db, dataDir), files: new FileStore(server.storage.db, new LocalBlobStore(dataDir)), dataDir, maxBytes: 1024 * 1024 });
    });
    after(async () => {
      await server.close();
    });

    it("creates a container with Files API files copied in as source user", async () => {
      const bytes = Buffer.from("a,b\n1,2\n");
      const file = await a.files.create({ file: await toFile(bytes, "report.csv"), purpose: "user_data" });
      const container = await a.containers.create({ name: "With files", file_ids: [file.id] });
      assertSchema("ContainerResource", container);
      assert.match(container.id, /^cntr_[0-9a-f]{48}$/);
      assert.equal(container.object, "container");
      assert.equal(container.status, "running");
      assert.deepEqual(container.expires_after, { anchor: "last_active_at", minutes: 20 });
      assert.equal(container.memory_limit, "1g");
      assert.equal(container.name, "With files");

      const files = assertList<ContainerFile>("ContainerFileListResource", (await as(keyA, `/v1/containers/${container.id}/files`)).body);
      assert.equal(files.data.length, 1);
      const [copied] = files.data as [ContainerFile];
      assert.equal(copied.source, "user");
      assert.equal(copied.path, "/mnt/data/report.csv");
      assert.equal(copied.bytes, bytes.length);
      assert.equal(copied.container_id, container.id);
      assert.match(copied.id, /^cfile_/);
      const content = await a.containers.files.content.retrieve(copied.id, { container_id: container.id });
      assert.deepEqual(Buffer.from(await content.arrayBuffer()), bytes);
      assert.match(content.headers.get("content-type") ?? "", /^text\/csv/);

      const retrieved = await a.containers.retrieve(container.id);
      assertSchema("ContainerResource", retrieved);
      assert.equal(retrieved.id, container.id);
    });

    it("takes uploads (multipart) and Files API ids, serves content byte-exact, and deletes files", async () => {
      const container = await a.containers.create({ name: "Uploads", expires_after: { anchor: "last_active_at", minutes: 5 }, memory_limit: "4g" });
      assert.deepEqual(container.expires_after, { anchor: "last_active_at", minutes: 5 });
      assert.equal(container.memory_limit, "4g");
      const bytes = randomBytes(70_000);
      const uploaded = await a.containers.files.create(container.id, { file: await toFile(bytes, "blob.bin") });
      assertSchema("ContainerFileResource", uploaded);
      assert.equal(uploaded.object, "container.file");
      assert.equal(uploaded.path, "/mnt/data/blob.bin");
      assert.equal(uploaded.bytes, bytes.length);
      assert.equal(uploaded.source, "user");
      assert.deepEqual(Buffer.from(await (await a.containers.files.content.retrieve(uploaded.id, { container_id: container.id })).arrayBuffer()), bytes);
      const raw = await fetch(`${server.baseURL}/containers/${container.id}/files/${uploaded.id}/content`, { headers: { authorization: `Bearer ${keyA}` } });
      assert.equal(raw.headers.get("content-type"), "application/octet-stream");
      assert.equal(raw.headers.get("content-length"), String(bytes.length));
      await raw.arrayBuffer();
      assert.deepEqual(service.directory(container.id), containerDirectory(dataDir, container.id));
      assert.ok(existsSync(join(containerDirectory(dataDir, container.id), "blob.bin")));

      const source = await a.files.create({ file: await toFile(Buffer.from("{}"), "data.json"), purpose: "user_data" });
      const byId = await a.containers.files.create(container.id, { file_id: source.id });
      assertSchema("ContainerFileResource", byId);
      assert.equal(byId.path, "/mnt/data/data.json");
      const got = await a.containers.files.retrieve(byId.id, { container_id: container.id });
      assertSchema("ContainerFileResource", got);
      assert.deepEqual(got, byId);

      const deleted = await as(keyA, `/v1/containers/${container.id}/files/${uploaded.id}`, { method: "DELETE" });
      assert.equal(deleted.status, 200);
      assert.deepEqual(deleted.body, { id: uploaded.id, object: "container.file.deleted", deleted: true });
      assert.ok(!existsSync(join(containerDirectory(dataDir, container.id), "blob.bin")));
      assertError(await as(keyA, `/v1/containers/${container.id}/files/${uploaded.id}`), 404, "file_id");
      await a.containers.files.delete(byId.id, { container_id: container.id });
      assert.equal((await a.containers.files.list(container.id)).data.length, 0);
    });

    it("lists containers and their files in pages", async () => {
      const ids: string[] = [];
      for (const name of ["page-1", "page-2", "page-3"]) ids.push((await a.containers.create({ name })).id);
      const first = assertList<Container>("ContainerListResource", (await as(keyA, "/v1/containers?limit=2&order=asc&name=page-1")).body);
      assert.deepEqual(first.data.map((c) => c.id), [ids[0]]);
      const desc = assertList<Container>("ContainerListResource", (await as(keyA, "/v1/containers?limit=2")).body);
      assert.deepEqual(desc.data.map((c) => c.id), [ids[2], ids[1]]);
      assert.equal(desc.has_more, true);
      const next = assertList<Container>("ContainerListResource", (await as(keyA, `/v1/containers?limit=2&after=${ids[1]}`)).body);
      assert.equal(next.data[0]?.id, ids[0]);
      const all: string[] = [];
      for await (const c of a.containers.list({ limit: 2 })) all.push(c.id);
      assert.ok(ids.every((id) => all.includes(id)));

      const id = ids[0] as string;
      const fileIds: string[] = [];
      for (const n of [1, 2, 3]) fileIds.push((await a.containers.files.create(id, { file: await toFile(Buffer.from(`f${n}`), `f${n}.txt`) })).id);
      const page = assertList<ContainerFile>("ContainerFileListResource", (await as(keyA, `/v1/containers/${id}/files?limit=2&order=asc`)).body);
      assert.deepEqual(page.data.map((f) => f.id), fileIds.slice(0, 2));
      assert.equal(page.has_more, true);
      const rest = assertList<ContainerFile>("ContainerFileListResource", (await as(keyA, `/v1/containers/${id}/files?limit=2&order=asc&after=${fileIds[1]}`)).body);
      assert.deepEqual(rest.data.map((f) => f.id), fileIds.slice(2));
      assert.equal(rest.has_more, false);
    });

    it("records what code writes into the directory (syncFiles)", async () => {
      const container = await a.containers.create({ name: "Sync" });
      const [row] = await server.storage.db.all("SELECT project_id FROM containers WHERE id = ?", [container.id]);
      const projectId = String(row?.project_id);
      const dir = containerDirectory(dataDir, container.id);
      mkdirSync(join(dir, "out"), { recursive: true });
      writeFileSync(join(dir, "out", "result.csv"), "x\n1\n");
      symlinkSync("/etc/hostname", join(dir, "link"));
      const found = await service.syncFiles(projectId, container.id);
      assert.equal(found.length, 1);
      const made = found[0];
      assert.ok(made !== undefined);
      assert.equal(made.path, "/mnt/data/out/result.csv");
      assert.equal(made.source, "assistant");
      assert.equal(made.bytes, 4);
      assert.deepEqual(await service.syncFiles(projectId, container.id), []);

      const listed = await a.containers.files.retrieve(made.id, { container_id: container.id });
      assertSchema("ContainerFileResource", listed);
      assert.equal(listed.source, "assistant");
      assert.equal(Buffer.from(await (await a.containers.files.content.retrieve(made.id, { container_id: container.id })).arrayBuffer()).toString(), "x\n1\n");

      writeFileSync(join(dir, "out", "result.csv"), "x\n1\n2\n");
      const changed = await service.syncFiles(projectId, container.id);
      assert.deepEqual(changed.map((f) => [f.id, f.bytes]), [[made.id, 6]]);

      rmSync(join(dir, "out", "result.csv"));
      assert.deepEqual(await service.syncFiles(projectId, container.id), []);
      assert.equal((await a.containers.files.list(container.id)).data.length, 0);

      // Code may swap a recorded file, or its directory, for a link out of the container: its bytes
      // are then neither served nor deleted.
      mkdirSync(join(dir, "sub"));
      writeFileSync(join(dir, "sub", "a.txt"), "mine");
      writeFileSync(join(dir, "b.txt"), "mine");
      const [subFile, bFile] = (await service.syncFiles(projectId, container.id)).sort((x, y) => y.path.localeCompare(x.path));
      assert.equal(subFile?.path, "/mnt/data/sub/a.txt");
      assert.equal(bFile?.path, "/mnt/data/b.txt");
      const outside = mkdtempSync(join(tmpdir(), "modelport-outside-"));
      writeFileSync(join(outside, "a.txt"), "host secret");
      writeFileSync(join(outside, "b.txt"), "host secret");
      rmSync(join(dir, "sub"), { recursive: true });
      symlinkSync(outside, join(dir, "sub"));
      rmSync(join(dir, "b.txt"));
      symlinkSync(join(outside, "b.txt"), join(dir, "b.txt"));
      for (const f of [subFile, bFile]) {
        assertError(await as(keyA, `/v1/containers/${container.id}/files/${f?.id}/content`), 404, "file_id");
        assert.equal((await as(keyA, `/v1/containers/${container.id}/files/${f?.id}`, { method: "DELETE" })).status, 200);
      }
      assert.ok(existsSync(join(outside, "a.txt")));
      assert.ok(existsSync(join(outside, "b.txt")));
      rmSync(outside, { recursive: true });

      const added = await service.addFile(projectId, container.id, "../evil/n.txt", Buffer.from("hi"));
      assert.deepEqual([added.path, added.bytes, added.source], ["/mnt/data/n.txt", 2, "user"]);
      assert.deepEqual(await service.syncFiles(projectId, container.id), []);

      await service.touch(container.id);
      assert.equal((await service.get(projectId, container.id)).id, container.id);
    });

    it("expires containers past their time and removes their files", async () => {
      const container = await a.containers.create({ name: "Short", expires_after: { anchor: "last_active_at", minutes: 1 } });
      await a.containers.files.create(container.id, { file: await toFile(Buffer.from("x"), "x.txt") });
      const dir = containerDirectory(dataDir, container.id);
      assert.ok(existsSync(dir));
      const lastActive = container.last_active_at ?? container.created_at;
      assert.equal(await service.sweepExpired(lastActive + 30), 0);
      assert.ok((await service.sweepExpired(lastActive + 120)) >= 1);
      assert.ok(!existsSync(dir));
      const retrieved = await as(keyA, `/v1/containers/${container.id}`);
      assert.equal(retrieved.status, 200);
      assertSchema("ContainerResource", retrieved.body);
      assert.equal((retrieved.body as Container).status, "expired");
      assertError(await as(keyA, `/v1/containers/${container.id}/files`), 404, "container_id");
    });

    it("deletes a container and its directory", async () => {
      const container = await a.containers.create({ name: "Doomed" });
      await a.containers.files.create(container.id, { file: await toFile(Buffer.from("x"), "x.txt") });
      const deleted = await as(keyA, `/v1/containers/${container.id}`, { method: "DELETE" });
      assert.equal(deleted.status, 200);
      assert.deepEqual(deleted.body, { id: container.id, object: "container.deleted", deleted: true });
      assert.ok(!existsSync(containerDirectory(dataDir, container.id)));
      assertError(await as(keyA, `/v1/containers/${container.id}`), 404, "container_id");
      assertError(await as(keyA, `/v1/containers/${container.id}`, { method: "DELETE" }), 404, "container_id");
      await a.containers.delete((await a.containers.create({ name: "SDK delete" })).id);
    });

    it("hides a project's containers from other projects", async () => {
      const container = await a.containers.create({ name: "Private" });
      const file = await a.containers.files.create(container.id, { file: await toFile(Buffer.from("secret"), "s.txt") });
      const base = `/v1/containers/${container.id}`;
      assertError(await as(keyB, base), 404, "container_id");
      assertError(await as(keyB, `${base}/files`), 404, "container_id");
      assertError(await as(keyB, `${base}/files/${file.id}`), 404, "container_id");
      assertError(await as(keyB, `${base}/files/${file.id}/content`), 404, "container_id");
      assertError(await post(`${base}/files`, { file_id: "file-x" }, keyB), 404, "container_id");
      assertError(await as(keyB, `${base}/files/${file.id}`, { method: "DELETE" }), 404, "container_id");
      assertError(await as(keyB, base, { method: "DELETE" }), 404, "container_id");
      const listed = assertList<Container>("ContainerListResource", (await as(keyB, "/v1/containers")).body);
      assert.ok(!listed.data.some((c) => c.id === container.id));
      // Another project's Files API file cannot be copied in either.
      const theirs = await new OpenAI({ baseURL: server.baseURL, apiKey: keyB, maxRetries: 0 }).files.create({ file: await toFile(Buffer.from("b"), "b.txt"), purpose: "user_data" });
      assertError(await post("/v1/containers", { name: "x", file_ids: [theirs.id] }), 404, "file_ids");
      assertError(await post(`${base}/files`, { file_id: theirs.id }), 404, "file_id");
      assert.equal((await a.containers.retrieve(container.id)).id, container.id);
    });

    it("answers bad requests with a 400 naming the param", async () => {
      const cases: [unknown, string][] = [
        [{}, "name"],
        [{ name: 1 }, "name"],
        [{ name: "x", colour: "red" }, "colour"],
        [{ name: "x", memory_limit: "2g" }, "memory_limit"],
        [{ name: "x", file_ids: "file-1" }, "file_ids"],
        [{ name: "x", file_ids: [1] }, "file_ids[0]"],
        [{ name: "x", expires_after: { anchor: "created_at", minutes: 5 } }, "expires_after.anchor"],
        [{ name: "x", expires_after: { anchor: "last_active_at" } }, "expires_after.minutes"],
        [{ name: "x", expires_after: { anchor: "last_active_at", minutes: 0 } }, "expires_after.minutes"],
        [{ name: "x", expires_after: { anchor: "last_active_at", minutes: 1.5 } }, "expires_after.minutes"],
        [{ name: "x", skills: [{ type: "skill_reference", skill_id: "s" }] }, "skills"],
        [{ name: "x", network_policy: { type: "allowlist", allowed_domains: ["example.com"] } }, "network_policy"],
        [{ name: "x", network_policy: { type: "open" } }, "network_policy.type"],
      ];
      for (const [body, param] of cases) assertError(await post("/v1/containers", body), 400, param);
      assertError(await post("/v1/containers", { name: "x", file_ids: ["file-missing"] }), 404, "file_ids");
      const ok = await post("/v1/containers", { name: "x", network_policy: { type: "disabled" }, skills: [] });
      assert.equal(ok.status, 200, ok.text);
      assertSchema("ContainerResource", ok.body);
      const id = (ok.body as Container).id;

      assertError(await as(keyA, "/v1/containers?limit=0"), 400, "limit");
      assertError(await as(keyA, "/v1/containers?order=up"), 400, "order");
      assertError(await as(keyA, `/v1/containers/${id}/files?limit=101`), 400, "limit");
      assertError(await as(keyA, "/v1/containers/cntr_missing"), 404, "container_id");
      assertError(await as(keyA, `/v1/containers/${id}/files/cfile_missing/content`), 404, "file_id");
      assertError(await post(`/v1/containers/${id}/files`, {}), 400, "file_id");
      assertError(await post(`/v1/containers/${id}/files`, { file_id: "file-x", path: "/tmp" }), 400, "path");
      assertError(await post(`/v1/containers/${id}/files`, { file_id: "file-missing" }), 404, "file_id");
      const noFile = multipartBody([{ name: "note", value: "hi" }]);
      assertError(await as(keyA, `/v1/containers/${id}/files`, { method: "POST", body: noFile.body, headers: { "content-type": noFile.contentType } }), 400, "note");
      const empty = multipartBody([]);
      assertError(await as(keyA, `/v1/containers/${id}/files`, { method: "POST", body: empty.body, headers: { "content-type": empty.contentType } }), 400, "file");
      assertError(await as(keyA, `/v1/containers/${id}/files`, { method: "POST", body: "x", headers: { "content-type": "text/plain" } }), 400, "file");
    });
  });
}
