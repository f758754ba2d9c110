import assert from "node:assert/strict";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { Config } from "../../src/config/schema.ts";
import { raw, STORIES, startTestServer, type TestServer } from "../helpers/server.ts";

const SYSTEM = `You are a storyteller. ${"Every story has a cat, a dog and a little girl who like to play in the park with a red ball. ".repeat(20)}`;
const OTHER = (i: number) => `Prompt ${i}. ${"Tell tales of small animals and their friends in the deep green forest by the river. ".repeat(20)}`;

async function start(dataDir: string): Promise<TestServer> {
  const overrides: Partial<Config> = {
    dataDir,
    models: [{ id: "stories", path: STORIES, aliases: [] }],
    prefixCache: { enabled: true, minTokens: 256, block: 128, maxBytes: 64 * 1024 * 1024, minHits: 2 },
  };
  return startTestServer(overrides);
}

const ask = (server: TestServer, system: string, question: string, n = 1) =>
  server.client.chat.completions.create({
    model: "stories",
    messages: [{ role: "system", content: system }, { role: "user", content: question }],
    max_tokens: 20,
    seed: 9,
    n,
  });

describe("hot prefix persistence", () => {
  it("keeps a frequent long prefix when its sequences are reused, and across a restart", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "modelport-prefix-"));
    let server = await start(dataDir);
    let evicted;
    try {
      await ask(server, SYSTEM, "Who is the cat?");
      await ask(server, SYSTEM, "Who is the dog?");
      const health = (await raw(server, "/health")).body as { models: { stories: { stored_prefixes: number } } };
      assert.equal(health.models.stories.stored_prefixes, 1, "the second use of the prefix stored it");

      // Four unrelated prompts at once take every sequence, so no live sequence holds the prefix any more.
      await ask(server, OTHER(1), "Go.", 4);
      evicted = await ask(server, SYSTEM, "Who is the girl?");
      const cached = evicted.usage!.prompt_tokens_details!.cached_tokens!;
      assert.ok(cached >= 256 && cached % 128 === 0, `restored a block-aligned prefix from its state file (${cached} tokens)`);
    } finally {
      await server.close();
    }
    const dirs = readdirSync(join(dataDir, "prefix-cache"));
    assert.equal(dirs.length, 1);
    assert.equal(readdirSync(join(dataDir, "prefix-cache", dirs[0]!)).filter((f) => f.endsWith(".state")).length, 1);

    server = await start(dataDir);
    try {
      const afterRestart = await ask(server, SYSTEM, "Who is the girl?");
      assert.equal(afterRestart.usage!.prompt_tokens_details!.cached_tokens, evicted.usage!.prompt_tokens_details!.cached_tokens, "the state file survived the restart");
      assert.equal(afterRestart.choices[0]!.message.content, evicted.choices[0]!.message.content, "restored state gives the same output for the same seed");
      const cold = await ask(server, `Unrelated ${SYSTEM}`, "Who is the girl?");
      assert.equal(cold.usage!.prompt_tokens_details!.cached_tokens, 0);
    } finally {
      await server.close();
    }
  });
});
