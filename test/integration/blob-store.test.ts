import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { BlobNotFoundError, LEFTOVER_AGE_MS, readBlob, type BlobStore } from "../../src/storage/blob-store.ts";
import { copyBlobs } from "../../src/storage/copy-blobs.ts";
import { LocalBlobStore } from "../../src/storage/local-blob-store.ts";
import { PostgresBlobStore } from "../../src/storage/postgres-blob-store.ts";
import { openStorage } from "../../src/storage/open.ts";
import type { Storage } from "../../src/storage/storage.ts";
import { runCli } from "../helpers/cli.ts";
import { freshPostgres } from "../helpers/databases.ts";
import { startS3Server, type TestS3 } from "../helpers/s3-server.ts";

const MiB = 1024 * 1024;

/** `size` deterministic bytes in pieces of `piece` bytes (odd sizes, so chunk and part edges fall mid-piece). */
async function* pattern(size: number, piece = 70_001): AsyncGenerator<Uint8Array> {
  // Byte i is (i * 31) mod 256, which repeats every 256 bytes: each piece is a copy out of one cycle.
  const cycle = Buffer.alloc(piece + 256);
  for (let i = 0; i < cycle.length; i++) cycle[i] = (i * 31) & 0xff;
  for (let sent = 0; sent < size; sent += piece) {
    const start = sent % 256;
    yield Buffer.from(cycle.subarray(start, start + Math.min(piece, size - sent)));
  }
}

async function sha256(source: AsyncIterable<Uint8Array>): Promise<{ hash: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const piece of source) {
    hash.update(piece);
    bytes += piece.length;
  }
  return { hash: hash.digest("hex"), bytes };
}

async function keys(store: BlobStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const b of store.list(prefix)) out.push(b.key);
  return out.sort();
}

const dataDir = mkdtempSync(join(tmpdir(), "modelport-blobs-"));
let pg: { url: string; drop(): Promise<void> };
let storage: Storage;
let s3: TestS3;

before(async () => {
  pg = await freshPostgres();
  storage = await openStorage({ databaseUrl: pg.url, dataDir });
  s3 = await startS3Server();
});
after(async () => {
  await storage?.close();
  await pg?.drop();
  await s3?.close();
});

const backends: { name: string; open(): BlobStore; makeLeftover(store: BlobStore): Promise<void> }[] = [
  {
    name: "local",
    open: () => new LocalBlobStore(join(dataDir, "local")),
    makeLeftover: async () => {
      // What a process killed mid-write leaves: a partial file, untouched for over an hour.
      const dir = join(dataDir, "local", "crash");
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "file-x.abc123.part"), "half");
      const old = new Date(Date.now() - 2 * LEFTOVER_AGE_MS);
      utimesSync(join(dir, "file-x.abc123.part"), old, old);
    },
  },
  {
    name: "s3",
    open: () => s3.store("suite/"),
    // s3rver has no ListMultipartUploads: the sweep must say 0, not fail.
    makeLeftover: async () => undefined,
  },
  {
    name: "postgres",
    open: () => new PostgresBlobStore(storage.db),
    makeLeftover: async () => {
      const old = Date.now() - 2 * LEFTOVER_AGE_MS;
      await storage.db.run("INSERT INTO blob_objects (id, blob_key, bytes, complete, created_at, touched_at) VALUES ('dead', 'crash/file-x', 1, 0, ?, ?)", [old, old]);
      await storage.db.run("INSERT INTO blob_chunks (object_id, seq, data) VALUES ('dead', 0, ?)", [Buffer.from("h")]);
    },
  },
];

for (const backend of backends) {
  describe(`blob store: ${backend.name}`, () => {
    let store: BlobStore;
    before(() => {
      store = backend.open();
    });
    after(async () => {
      await store.close();
    });

    it("puts, gets, stats, lists and deletes", async () => {
      assert.equal(store.backend, backend.name);
      assert.deepEqual(await store.put("files/a", Readable.from([Buffer.from("hello "), Buffer.from("world")])), { bytes: 11 });
      assert.deepEqual(await store.put("files/b", (async function* () {})()), { bytes: 0 });
      assert.deepEqual(await store.put("uploads/u1/p1", Readable.from([Buffer.from("part")])), { bytes: 4 });
      assert.equal((await readBlob(store, "files/a")).toString(), "hello world");
      assert.equal((await readBlob(store, "files/b")).length, 0);
      const st = await store.stat("files/a");
      assert.equal(st?.bytes, 11);
      assert.ok(Math.abs((st?.modifiedAt ?? 0) - Date.now()) < 60_000, `modifiedAt ${st?.modifiedAt}`);
      assert.deepEqual(await keys(store, "files/"), ["files/a", "files/b"]);
      assert.deepEqual(await keys(store, "uploads/u1/"), ["uploads/u1/p1"]);
      // A replaced object reads as the new one.
      await store.put("files/a", Readable.from([Buffer.from("again")]));
      assert.equal((await readBlob(store, "files/a")).toString(), "again");
      await store.delete("files/a");
      await store.delete("files/a");
      assert.equal(await store.stat("files/a"), undefined);
      await store.deletePrefix("uploads/u1/");
      assert.deepEqual(await keys(store, "uploads/"), []);
      assert.deepEqual(await keys(store, "files/"), ["files/b"]);
      await store.delete("files/b");
    });

    it("says a missing object is missing: BlobNotFoundError, no stat", async () => {
      await assert.rejects(store.get("files/nope"), (e: unknown) => e instanceof BlobNotFoundError && e.key === "files/nope");
      assert.equal(await store.stat("files/nope"), undefined);
      assert.deepEqual(await keys(store, "nope/"), []);
    });

    it("keeps prefixes apart: `up/` is not `upx/`, and keys that look like wildcards are literal", async () => {
      await store.put("up/x_1", Readable.from([Buffer.from("1")]));
      await store.put("upx/y", Readable.from([Buffer.from("2")]));
      await store.put("up/xa1", Readable.from([Buffer.from("3")]));
      assert.deepEqual(await keys(store, "up/"), ["up/x_1", "up/xa1"]);
      assert.deepEqual(await keys(store, "up/x_"), ["up/x_1"]);
      await store.deletePrefix("up/");
      assert.deepEqual(await keys(store, "upx/"), ["upx/y"]);
      await store.delete("upx/y");
    });

    it("stores a multi-MiB object in chunks and streams it back byte for byte", async () => {
      const size = 12 * MiB + 12_345;
      const expected = await sha256(pattern(size));
      assert.deepEqual(await store.put("files/big", pattern(size)), { bytes: size });
      assert.equal((await store.stat("files/big"))?.bytes, size);
      const back = await sha256(await store.get("files/big"));
      assert.deepEqual(back, expected);
      if (backend.name === "postgres") {
        const [row] = await storage.db.all("SELECT count(*) AS n FROM blob_chunks c JOIN blob_objects o ON o.id = c.object_id WHERE o.blob_key = 'files/big'");
        assert.equal(Number(row?.n), 13);
      }
      await store.delete("files/big");
      if (backend.name === "postgres") assert.equal(Number((await storage.db.all("SELECT count(*) AS n FROM blob_chunks"))[0]?.n), 0);
    });

    it("stores nothing from a put over its limit or whose source fails", async () => {
      const tooLarge = new Error("too large");
      await assert.rejects(store.put("files/over", pattern(6 * MiB), { maxBytes: 5 * MiB + 1, tooLarge: () => tooLarge }), (e) => e === tooLarge);
      assert.equal(await store.stat("files/over"), undefined);
      const broken = new Error("client went away");
      const failing = async function* (): AsyncGenerator<Uint8Array> {
        yield* pattern(6 * MiB);
        throw broken;
      };
      await assert.rejects(store.put("files/broken", failing()), (e) => e === broken);
      assert.equal(await store.stat("files/broken"), undefined);
      assert.deepEqual(await keys(store, "files/"), []);
    });

    it("fails a put whose stream errs before the put reads it, with that error and no uncaught one", async () => {
      // A client gone while the put still awaits its directory, row or connection.
      const source = new PassThrough();
      const put = store.put("files/early", source);
      source.destroy(new Error("gone early"));
      await assert.rejects(put, /gone early|premature close/i);
      assert.equal(await store.stat("files/early"), undefined);
    });

    it("refuses keys that could leave their place", async () => {
      for (const key of ["../x", "files/../x", "/abs", "files/.hidden", "files/x.part", "a//b", ""]) {
        await assert.rejects(store.put(key, Readable.from([Buffer.from("x")])), /Bad blob key/, key);
      }
    });

    it("sweeps what a crashed put left, and only that", async () => {
      await store.put("crash/kept", Readable.from([Buffer.from("kept")]));
      await backend.makeLeftover(store);
      const swept = await store.sweepIncomplete("crash/", LEFTOVER_AGE_MS);
      assert.equal(swept, backend.name === "s3" ? 0 : 1);
      assert.deepEqual(await keys(store, "crash/"), ["crash/kept"]);
      if (backend.name === "postgres") assert.deepEqual(await storage.db.all("SELECT id FROM blob_objects WHERE id = 'dead'"), []);
      await store.delete("crash/kept");
    });
  });
}

describe("copying blobs between backends", () => {
  it("copies files and upload parts local → s3 (modelport blobs copy) → postgres, skipping what is there", async () => {
    const root = mkdtempSync(join(tmpdir(), "modelport-copy-"));
    const local = new LocalBlobStore(root);
    await local.put("files/file-1", pattern(3 * MiB + 5));
    await local.put("uploads/upload_1/part_1", Readable.from([Buffer.from("part")]));
    // Not the server's: left where it is.
    await local.put("other/x", Readable.from([Buffer.from("x")]));
    const env = { ...s3.env("copied/"), MODELPORT_DATA_DIR: root, MODELPORT_LOG_LEVEL: "silent" };
    // runCli spawns, so s3rver keeps answering from this process.
    const [first, usage] = await Promise.all([runCli(["blobs", "copy", "--from", "local", "--to", "s3"], env), runCli(["blobs", "copy", "--from", "local", "--to", "ftp"], env)]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /copied 2 objects \(3145737 bytes\) from local to s3; 0 already there/);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--to must be one of local, s3, postgres, got 'ftp'/);
    assert.match((await runCli(["blobs", "copy", "--from", "local", "--to", "s3"], env)).stdout, /copied 0 objects .*; 2 already there/);
    const bucket = s3.store("copied/");
    const db = new PostgresBlobStore(storage.db);
    const result = await copyBlobs(bucket, db);
    assert.deepEqual(result, { copied: 2, skipped: 0, bytes: 3 * MiB + 9 });
    assert.deepEqual(await sha256(await db.get("files/file-1")), await sha256(pattern(3 * MiB + 5)));
    assert.equal((await readBlob(db, "uploads/upload_1/part_1")).toString(), "part");
    assert.equal(await db.stat("other/x"), undefined);
    await bucket.close();
  });
});
