import assert from "node:assert/strict";

/** The built-in audio models and aliases every server lists beside its GGUF models. */
const AUDIO_MODELS = new Set(["tts-local", "tts-1", "tts-1-hd", "gpt-4o-mini-tts", "stt-local", "whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"]);
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { resolvePullTarget } from "../../src/models/catalogue.ts";
import { PullError, pullModel } from "../../src/models/pull.ts";
import { runCli, spawnServe } from "../helpers/cli.ts";
import { startFakeHub, type FakeHub } from "../helpers/fake-hub.ts";
import { STORIES, TINY_RANDOM } from "../helpers/server.ts";

const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const tmp = () => mkdtempSync(join(tmpdir(), "modelport-pull-"));
const target = (file: string) => resolvePullTarget(`test/models/${file}`)!;

let hub: FakeHub;
before(async () => {
  hub = await startFakeHub();
});
after(async () => {
  await hub.close();
});

describe("modelport pull", () => {
  it("resolves catalogue names and owner/repo/file references", () => {
    assert.deepEqual(resolvePullTarget("test/models/stories260K.gguf"), { repo: "test/models", file: "stories260K.gguf" });
    assert.equal(resolvePullTarget("qwen2.5-0.5b-instruct")?.repo, "Qwen/Qwen2.5-0.5B-Instruct-GGUF");
    assert.equal(resolvePullTarget("not-a-model"), undefined);
    assert.equal(resolvePullTarget("a/b/../../etc/passwd.gguf"), undefined);
  });

  it("downloads, verifies against the Hub's sha256 and renames into place", async () => {
    const dir = tmp();
    const seen: number[] = [];
    const result = await pullModel(target("stories260K.gguf"), { endpoint: hub.url, modelsDir: dir, onProgress: (p) => seen.push(p.received) });
    assert.equal(result.path, join(dir, "stories260K.gguf"));
    assert.equal(result.sha256, sha(STORIES));
    assert.equal(result.bytes, statSync(STORIES).size);
    assert.equal(seen.at(-1), statSync(STORIES).size);
    assert.deepEqual(readdirSync(dir), ["stories260K.gguf"], "no partial files are left behind");
  });

  it("resumes a stalled download with an HTTP Range request", async () => {
    const dir = tmp();
    hub.cut(300_000, 1);
    const before = hub.requests.length;
    const retries: string[] = [];
    const result = await pullModel(target("llama-2-tiny-random.gguf"), { endpoint: hub.url, modelsDir: dir, idleTimeoutMs: 300, onRetry: (_, r) => retries.push(r) });
    assert.equal(result.sha256, sha(TINY_RANDOM));
    assert.equal(retries.length, 1);
    assert.match(retries[0]!, /stalled/);
    const ranges = hub.requests.slice(before).map((r) => r.headers.range);
    assert.deepEqual(ranges, [undefined, "bytes=300000-"]);
  });

  it("resumes a partial file left by an earlier run, from the CLI", async () => {
    const dir = tmp();
    hub.cut(500_000, 1);
    await assert.rejects(pullModel(target("stories260K.gguf"), { endpoint: hub.url, modelsDir: dir, attempts: 1, idleTimeoutMs: 300 }), PullError);
    assert.equal(statSync(join(dir, "stories260K.gguf.part")).size, 500_000);
    assert.ok(!existsSync(join(dir, "stories260K.gguf")), "an incomplete file is never served");
    const before = hub.requests.length;
    const res = await runCli(["pull", "test/models/stories260K.gguf", "--models-dir", dir, "--endpoint", hub.url]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /Saved .*stories260K\.gguf/);
    assert.equal(hub.requests.slice(before)[0]?.headers.range, "bytes=500000-");
    assert.equal(sha(join(dir, "stories260K.gguf")), sha(STORIES));
    const again = await runCli(["pull", "test/models/stories260K.gguf", "--models-dir", dir, "--endpoint", hub.url]);
    assert.match(again.stdout, /Already present/);
  });

  it("rejects a file whose sha256 does not match, and removes it", async () => {
    const dir = tmp();
    hub.lie(true);
    try {
      await assert.rejects(pullModel(target("stories260K.gguf"), { endpoint: hub.url, modelsDir: dir }), /Checksum mismatch/);
    } finally {
      hub.lie(false);
    }
    assert.deepEqual(readdirSync(dir), []);
  });

  it("reports a missing file clearly and exits non-zero", async () => {
    const res = await runCli(["pull", "test/models/missing.gguf", "--models-dir", tmp(), "--endpoint", hub.url]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /Not found: .*missing\.gguf/);
  });

  it("pulls the default model when serve starts with an empty models directory", async () => {
    const dir = tmp();
    const serve = await spawnServe(["--models-dir", join(dir, "models"), "--data-dir", join(dir, "data")], {
      MODELPORT_AUTO_PULL: "true",
      MODELPORT_HF_ENDPOINT: hub.url,
      MODELPORT_DEFAULT_MODEL: "test/models/stories260K.gguf",
    });
    try {
      const res = await fetch(`${serve.url}/v1/models`);
      const body = (await res.json()) as { data: { id: string }[] };
      assert.deepEqual(body.data.map((m) => m.id).filter((id) => !AUDIO_MODELS.has(id)), ["stories260K"]);
      assert.equal(sha(join(dir, "models", "stories260K.gguf")), sha(STORIES));
    } finally {
      serve.child.kill("SIGTERM");
      await serve.exited;
    }
  });
});
