import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, copyFileSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { runCli, spawnServe } from "../helpers/cli.ts";
import { STORIES, TINY_RANDOM } from "../helpers/server.ts";

const tmp = () => mkdtempSync(join(tmpdir(), "modelport-cli-"));

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe("modelport CLI", () => {
  it("prints help for every command", async () => {
    // Each run is its own process (most of its time is loading modules): all at once.
    const [main, serve, pull, models, bad] = await Promise.all([["--help"], ["serve", "--help"], ["pull", "--help"], ["models", "--help"], ["frobnicate"]].map((args) => runCli(args)));
    assert.equal(main?.code, 0);
    for (const cmd of ["serve", "pull", "models"]) assert.match(main?.stdout ?? "", new RegExp(`\\b${cmd}\\b`));
    for (const [cmd, res] of [["serve", serve], ["pull", pull], ["models", models]] as const) {
      assert.equal(res?.code, 0, res?.stderr);
      assert.match(res?.stdout ?? "", new RegExp(`^Usage: modelport ${cmd}`));
    }
    assert.match(pull?.stdout ?? "", /qwen2\.5-0\.5b-instruct/);
    assert.ok(bad !== undefined);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown command 'frobnicate'/);
  });

  it("manages projects and keys from the command line; a key works at once and stops at once", async () => {
    const dir = tmp();
    const env = { MODELPORT_DATA_DIR: join(dir, "data") };
    const project = await runCli(["projects", "create", "--name", "CLI team", "--tier", "tier-1", "--json"], env);
    assert.equal(project.code, 0, project.stderr);
    const projectId = (JSON.parse(project.stdout) as { id: string }).id;
    const created = await runCli(["keys", "create", "--project", projectId, "--name", "ci", "--models", "stories260K", "--json"], env);
    assert.equal(created.code, 0, created.stderr);
    const key = JSON.parse(created.stdout) as { id: string; value: string; models: string[] };
    assert.match(key.value, /^sk-proj-/);
    assert.deepEqual(key.models, ["stories260K"]);
    const listed = await runCli(["keys", "list", "--project", projectId], env);
    assert.match(listed.stdout, new RegExp(key.id));
    assert.ok(!listed.stdout.includes(key.value), "lists never show secrets");
    const serve = await spawnServe(["-m", STORIES, "--data-dir", join(dir, "data")], {});
    try {
      const call = () => fetch(`${serve.url}/v1/models`, { headers: { authorization: `Bearer ${key.value}` } });
      assert.equal((await call()).status, 200);
      const revoked = await runCli(["keys", "revoke", key.id, "--project", projectId], env);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.equal((await call()).status, 401, "revoked in another process, refused at once");
    } finally {
      serve.child.kill("SIGTERM");
      await serve.exited;
    }
    const [projects, help] = await Promise.all([runCli(["projects", "list"], env), runCli(["keys", "--help"])]);
    assert.match(projects.stdout, /CLI team	active	tier=tier-1/);
    assert.match(help.stdout, /^Usage: modelport keys/);
  });

  it("lists the models of a directory and of a config file", async () => {
    const dir = tmp();
    copyFileSync(STORIES, join(dir, "stories260K.gguf"));
    const config = join(dir, "modelport.yaml");
    writeFileSync(config, `models:\n  - id: tiny\n    path: ${TINY_RANDOM}\n    aliases: [gpt-5.4-mini]\n`);
    const res = await runCli(["models", "--json", "--models-dir", dir, "--config", config]);
    assert.equal(res.code, 0, res.stderr);
    const list = JSON.parse(res.stdout) as { id: string; aliases: string[] }[];
    assert.deepEqual(list.map((m) => m.id), ["tiny", "stories260K"]);
    assert.deepEqual(list[0]!.aliases, ["gpt-5.4-mini"]);
  });

  it("rejects an invalid config file with the key that is wrong", async () => {
    const dir = tmp();
    const config = join(dir, "bad.yaml");
    writeFileSync(config, "port: eighty\nunknownKey: 1\n");
    const res = await runCli(["models"], { MODELPORT_CONFIG: config });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /port/);
    assert.match(res.stderr, /unknownKey/);
  });

  it("refuses to listen beyond loopback without API keys", async () => {
    const res = await runCli(["serve", "--host", "0.0.0.0", "--port", "0", "-m", STORIES, "--data-dir", join(tmp(), "data")], { MODELPORT_API_KEYS: "", MODELPORT_GPU: "cpu" });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /Refusing to listen on 0\.0\.0\.0 without API keys/);
  });

  it("exits with a clear message when it has no model and cannot download the default one", async () => {
    const dir = tmp();
    const port = await closedPort();
    const res = await runCli(["serve", "--port", "0", "--models-dir", join(dir, "models"), "--data-dir", join(dir, "data")], {
      MODELPORT_HF_ENDPOINT: `http://127.0.0.1:${port}`,
      MODELPORT_AUTO_PULL: "true",
      MODELPORT_GPU: "cpu",
    });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /could not be downloaded/);
    assert.match(res.stderr, /modelport serve --model \/path\/to\/model\.gguf/);
  });

  it("logs each request's cost, billing cached prompt tokens at the cached-input price", async () => {
    const dir = tmp();
    const config = join(dir, "modelport.yaml");
    writeFileSync(config, `models:\n  - id: priced\n    path: ${STORIES}\n    pricing: { input: 2, cachedInput: 0.5, output: 8 }\n`);
    const serve = await spawnServe(["--config", config, "--models-dir", join(dir, "none"), "--data-dir", join(dir, "data")], { MODELPORT_API_KEYS: "" });
    try {
      const system = "You tell stories about a cat and a dog who play in the park. ".repeat(10);
      for (const question of ["Who is the cat?", "Who is the dog?"]) {
        const res = await fetch(`${serve.url}/v1/chat/completions`, {
          method: "POST",
          body: JSON.stringify({ model: "priced", messages: [{ role: "system", content: system }, { role: "user", content: question }], max_tokens: 5 }),
        });
        assert.equal(res.status, 200);
      }
    } finally {
      serve.child.kill("SIGTERM");
      await serve.exited;
    }
    const lines = serve.logs.filter((l) => l.msg === "request" && l.path === "/v1/chat/completions");
    assert.equal(lines.length, 2);
    const second = lines[1]!;
    const [prompt, cached, completion] = [second.prompt_tokens, second.cached_tokens, second.completion_tokens].map(Number) as [number, number, number];
    assert.ok(cached > 100, "the second request reused the system prompt");
    const expected = ((prompt - cached) * 2 + cached * 0.5 + completion * 8) / 1e6;
    assert.ok(Math.abs(Number(second.cost_usd) - expected) < 1e-8, `cost ${second.cost_usd} = ${expected}`);
  });

  it("warns loudly when open, logs JSON without keys or prompt text, and shuts down gracefully on SIGTERM", async () => {
    const dir = tmp();
    mkdirSync(join(dir, "models"));
    const open = await spawnServe(["-m", STORIES, "--models-dir", join(dir, "models"), "--data-dir", join(dir, "data")], { MODELPORT_API_KEYS: "" });
    assert.ok(open.logs.some((l) => l.level === "warn" && /NO API KEYS/.test(String(l.msg))));
    open.child.kill("SIGTERM");
    assert.equal(await open.exited, 0);

    const key = "sk-cli-secret-key-987654321";
    const serve = await spawnServe(["-m", STORIES, "--models-dir", join(dir, "models"), "--data-dir", join(dir, "data")], {
      MODELPORT_API_KEYS: key,
      MODELPORT_SHUTDOWN_TIMEOUT_MS: "20000",
    });
    assert.ok(!serve.logs.some((l) => /NO API KEYS/.test(String(l.msg))));
    const marker = "ZebraMarkerPromptText";
    // A long streamed generation is in flight when SIGTERM arrives; it must still run to its end.
    const res = await fetch(`${serve.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "stories260K", messages: [{ role: "user", content: marker }], max_tokens: 1500, seed: 1, stream: true }),
    });
    assert.equal(res.status, 200);
    const wrongKey = await fetch(`${serve.url}/v1/models`, { headers: { authorization: "Bearer sk-nope" } });
    assert.equal(wrongKey.status, 401);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let streamed = decoder.decode((await reader.read()).value);
    serve.child.kill("SIGTERM");
    for (let r = await reader.read(); !r.done; r = await reader.read()) streamed += decoder.decode(r.value, { stream: true });
    assert.ok(streamed.endsWith("data: [DONE]\n\n"), "the in-flight stream finished");
    assert.ok(streamed.split("\n\n").length > 100, "and it was long enough to be cut by a hard stop");
    assert.equal(await serve.exited, 0);
    await assert.rejects(fetch(`${serve.url}/health`), "no longer accepting connections");
    const text = serve.stdout();
    assert.ok(!text.includes(key), "the API key is never logged");
    assert.ok(!text.includes("sk-nope"), "a presented key is never logged");
    assert.ok(!text.includes(marker), "prompt text is not logged");
    const requestLog = serve.logs.find((l) => l.msg === "request" && l.path === "/v1/chat/completions");
    assert.ok(requestLog);
    assert.equal(requestLog.status, 200);
    assert.match(String(requestLog.request_id), /^req_/);
    assert.ok(serve.logs.some((l) => l.msg === "stopped"));
  });
});
