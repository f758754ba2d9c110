import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI, { toFile } from "openai";
import { assertSchema } from "../helpers/openapi.ts";
import { backends } from "../helpers/databases.ts";
import { MODELS_DIR, raw, STORIES, TINY_RANDOM, startTestServer, type TestServer } from "../helpers/server.ts";

const ADMIN = "sk-admin-test-0123456789abcdef";
const PRICING = { input: 2, cachedInput: 0.5, output: 8 };
const list = await backends();
after(async () => {
  for (const b of list) await b.cleanup();
});

const admin = (server: TestServer, path: string, init: { method?: string; body?: unknown; key?: string } = {}) =>
  raw(server, path, {
    ...(init.method ? { method: init.method } : {}),
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    headers: { authorization: `Bearer ${init.key ?? ADMIN}` },
  });

for (const backend of list) {
  describe(`platform on ${backend.name}`, () => {
    let server: TestServer;
    const start = () =>
      startTestServer({
        env: { ...backend.env(), MODELPORT_ADMIN_KEY: ADMIN },
        models: [
          { id: "stories", path: STORIES, aliases: [], pricing: PRICING },
          { id: "tiny-random", path: TINY_RANDOM, aliases: [] },
        ],
      });
    before(async () => {
      server = await start();
    });
    after(async () => {
      await server.close();
    });

    let projectA = "";
    let projectB = "";
    let keyA = "";
    let keyAId = "";
    let keyB = "";

    it("creates projects and keys through the admin API; secrets are shown once and stored as hashes", async () => {
      const a = await admin(server, "/v1/organization/projects", { method: "POST", body: { name: "Team A" } });
      assert.equal(a.status, 200, a.text);
      assertSchema("Project", a.body);
      projectA = (a.body as { id: string }).id;
      const b = await admin(server, "/v1/organization/projects", { method: "POST", body: { name: "Team B", monthly_budget_usd: 0.0001, soft_budget_usd: 0.00005 } });
      projectB = (b.body as { id: string }).id;

      const created = await admin(server, `/v1/organization/projects/${projectA}/api_keys`, { method: "POST", body: { name: "ci", models: ["stories"] } });
      assert.equal(created.status, 200, created.text);
      const body = created.body as { id: string; value: string; redacted_value: string };
      assertSchema("ProjectApiKey", body);
      assert.match(body.value, /^sk-proj-/);
      keyA = body.value;
      keyAId = body.id;
      keyB = ((await admin(server, `/v1/organization/projects/${projectB}/api_keys`, { method: "POST", body: { name: "b" } })).body as { value: string }).value;

      const listed = await admin(server, `/v1/organization/projects/${projectA}/api_keys`);
      assertSchema("ProjectApiKeyListResponse", listed.body);
      assert.ok(!listed.text.includes(keyA), "listing never shows the secret");
      const rows = await server.storage.db.all("SELECT * FROM api_keys");
      assert.ok(!JSON.stringify(rows).includes(keyA) && !JSON.stringify(rows).includes(ADMIN), "the database holds hashes only");
      const projects = await admin(server, "/v1/organization/projects");
      assertSchema("ProjectListResponse", projects.body);
    });

    it("separates admin and project keys, and enforces model restrictions", async () => {
      const client = new OpenAI({ baseURL: server.baseURL, apiKey: keyA, maxRetries: 0 });
      const ok = await client.chat.completions.create({ model: "stories", messages: [{ role: "user", content: "Hi" }], max_tokens: 3 });
      assertSchema("CreateChatCompletionResponse", ok);
      await assert.rejects(client.chat.completions.create({ model: "tiny-random", messages: [{ role: "user", content: "Hi" }], max_tokens: 3 }), (e: unknown) => e instanceof OpenAI.PermissionDeniedError && e.code === "model_not_allowed");
      assert.deepEqual((await client.models.list()).data.map((m) => m.id), ["stories"]);
      assert.equal((await raw(server, "/v1/models/tiny-random", { headers: { authorization: `Bearer ${keyA}` } })).status, 404);
      const adminOnChat = await raw(server, "/v1/chat/completions", { body: JSON.stringify({ model: "stories", messages: [{ role: "user", content: "x" }] }), headers: { authorization: `Bearer ${ADMIN}` } });
      assert.equal(adminOnChat.status, 403);
      const projectOnAdmin = await admin(server, "/v1/organization/projects", { key: keyA });
      assert.equal(projectOnAdmin.status, 403);
      assertSchema("ErrorResponse", projectOnAdmin.body);
      assert.equal((await raw(server, "/v1/models")).status, 401, "no key: the server is no longer open once project keys exist");
    });

    it("meters every request exactly as its response reported, streamed and aborted ones too, priced from the table", async () => {
      const client = new OpenAI({ baseURL: server.baseURL, apiKey: keyA, maxRetries: 0 });
      const system = "You tell stories about a cat and a dog who play in the park. ".repeat(8);
      const reported = { input: 0, cached: 0, output: 0, requests: 0 };
      for (let i = 0; i < 12; i++) {
        const messages = [{ role: "system" as const, content: system }, { role: "user" as const, content: `Question ${i}` }];
        if (i % 3 === 0) {
          const stream = await client.chat.completions.create({ model: "stories", messages, max_tokens: 15, stream: true, stream_options: { include_usage: true } });
          for await (const chunk of stream) {
            if (chunk.usage) {
              reported.input += chunk.usage.prompt_tokens;
              reported.cached += chunk.usage.prompt_tokens_details!.cached_tokens!;
              reported.output += chunk.usage.completion_tokens;
            }
          }
        } else {
          const res = await client.chat.completions.create({ model: "stories", messages, max_tokens: 15 });
          reported.input += res.usage!.prompt_tokens;
          reported.cached += res.usage!.prompt_tokens_details!.cached_tokens!;
          reported.output += res.usage!.completion_tokens;
        }
        reported.requests++;
      }
      // A client that goes away mid-stream is still metered for what was generated.
      const controller = new AbortController();
      const aborted = await client.chat.completions.create({ model: "stories", messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 1500, seed: 1, stream: true }, { signal: controller.signal });
      let chunks = 0;
      try {
        for await (const _ of aborted) if (++chunks === 20) controller.abort();
      } catch {
        // The SDK may end the iteration or throw on abort; both are fine here.
      }
      await new Promise((r) => setTimeout(r, 200));
      await server.meter.flush();
      const rows = await server.storage.db.all("SELECT * FROM usage_records WHERE project_id = ? ORDER BY created_at", [projectA]);
      const completed = rows.filter((r) => Number(r.output_tokens) <= 15 && r.model === "stories" && Number(r.input_tokens) > 100);
      assert.equal(completed.length, reported.requests);
      const sum = (key: string) => completed.reduce((s, r) => s + Number(r[key]), 0);
      assert.deepEqual({ input: sum("input_tokens"), cached: sum("cached_tokens"), output: sum("output_tokens") }, { input: reported.input, cached: reported.cached, output: reported.output });
      for (const r of completed) {
        const expected = ((Number(r.input_tokens) - Number(r.cached_tokens)) * 2 + Number(r.cached_tokens) * 0.5 + Number(r.output_tokens) * 8) / 1e6;
        assert.ok(Math.abs(Number(r.cost_usd) - expected) < 1e-8, "cost to the cent-thousandth and beyond");
        assert.equal(r.key_id, keyAId);
      }
      const abortedRow = rows.find((r) => Number(r.output_tokens) > 15);
      assert.ok(abortedRow, "the aborted stream has a usage record");
      assert.ok(Number(abortedRow.output_tokens) >= 19 && Number(abortedRow.output_tokens) < 1500);
    });

    it("has one usage record per request for 500 requests, matching each response's usage", async () => {
      const bulk = ((await admin(server, "/v1/organization/projects", { method: "POST", body: { name: "Bulk" } })).body as { id: string }).id;
      const key = ((await admin(server, `/v1/organization/projects/${bulk}/api_keys`, { method: "POST", body: { name: "bulk" } })).body as { id: string; value: string });
      const client = new OpenAI({ baseURL: server.baseURL, apiKey: key.value, maxRetries: 0 });
      const totals = { input: 0, output: 0, cached: 0 };
      const one = async (i: number) => {
        const body = { model: "stories" as const, messages: [{ role: "user" as const, content: `Tale ${i}` }], max_tokens: 2, seed: i };
        if (i % 4 === 0) {
          const stream = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
          for await (const chunk of stream) {
            if (chunk.usage) {
              totals.input += chunk.usage.prompt_tokens;
              totals.output += chunk.usage.completion_tokens;
              totals.cached += chunk.usage.prompt_tokens_details!.cached_tokens!;
            }
          }
        } else {
          const res = await client.chat.completions.create(body);
          totals.input += res.usage!.prompt_tokens;
          totals.output += res.usage!.completion_tokens;
          totals.cached += res.usage!.prompt_tokens_details!.cached_tokens!;
        }
      };
      for (let i = 0; i < 500; i += 5) await Promise.all(Array.from({ length: 5 }, (_, j) => one(i + j)));
      await server.meter.flush();
      const [row] = await server.storage.db.all(
        "SELECT COUNT(*) AS n, SUM(input_tokens) AS input, SUM(output_tokens) AS output, SUM(cached_tokens) AS cached, SUM(cost_usd) AS cost FROM usage_records WHERE key_id = ?",
        [key.id],
      );
      assert.equal(Number(row!.n), 500);
      assert.deepEqual({ input: Number(row!.input), output: Number(row!.output), cached: Number(row!.cached) }, totals);
      const expected = ((totals.input - totals.cached) * 2 + totals.cached * 0.5 + totals.output * 8) / 1e6;
      assert.ok(Math.abs(Number(row!.cost) - expected) < 1e-8, "summed costs match the price table");
    });

    it("answers usage and cost queries grouped by model and project, in OpenAI's shapes", async () => {
      const startTime = Math.floor(Date.now() / 1000) - 3600;
      const usage = await admin(server, `/v1/organization/usage/completions?start_time=${startTime}&group_by[]=model&group_by[]=project_id&project_ids[]=${projectA}`);
      assert.equal(usage.status, 200, usage.text);
      assertSchema("UsageResponse", usage.body);
      const results = (usage.body as { data: { results: { model: string; project_id: string; num_model_requests: number }[] }[] }).data.flatMap((b) => b.results);
      assert.ok(results.every((r) => r.project_id === projectA && r.model === "stories"));
      assert.ok(results.reduce((s, r) => s + r.num_model_requests, 0) >= 13);
      const costs = await admin(server, `/v1/organization/costs?start_time=${startTime}&group_by[]=project_id`);
      assert.equal(costs.status, 200, costs.text);
      assertSchema("UsageResponse", costs.body);
      const bad = await admin(server, "/v1/organization/usage/completions");
      assert.equal(bad.status, 400);
      assert.equal((bad.body as { error: { param: string } }).error.param, "start_time");
    });

    it("reports audio usage: characters spoken, seconds transcribed, chat audio tokens; the completions page leaves speech out", async () => {
      const created = await admin(server, `/v1/organization/projects/${projectA}/api_keys`, { method: "POST", body: { name: "audio" } });
      const client = new OpenAI({ baseURL: server.baseURL, apiKey: (created.body as { value: string }).value, maxRetries: 0 });
      const startTime = Math.floor(Date.now() / 1000) - 1;
      await (await client.audio.speech.create({ model: "tts-1", voice: "alloy", input: "Hello there, friend.", response_format: "wav" })).arrayBuffer();
      await client.audio.transcriptions.create({ model: "whisper-1", file: await toFile(readFileSync(join(MODELS_DIR, "jfk.wav")), "jfk.wav") });
      const spoken = await client.chat.completions.create({ model: "stories", messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 8, modalities: ["text", "audio"], audio: { voice: "alloy", format: "wav" } });
      await server.meter.flush();
      const query = `start_time=${startTime}&project_ids[]=${projectA}&group_by[]=model`;
      const results = async (page: string) => {
        const res = await admin(server, `/v1/organization/usage/${page}?${query}`);
        assert.equal(res.status, 200, res.text);
        assertSchema("UsageResponse", res.body);
        return (res.body as { data: { results: Record<string, unknown>[] }[] }).data.flatMap((b) => b.results);
      };
      const speeches = await results("audio_speeches");
      assert.deepEqual(speeches.map((r) => [r.object, r.model, r.characters, r.num_model_requests]), [["organization.usage.audio_speeches.result", "tts-local", 20, 1]]);
      const transcriptions = await results("audio_transcriptions");
      assert.deepEqual(transcriptions.map((r) => [r.model, r.seconds, r.num_model_requests]), [["stt-local", 11, 1]]);
      const completions = await results("completions");
      assert.ok(completions.every((r) => r.model === "stories"), "speech and transcription are not completions");
      assert.equal(completions.reduce((s, r) => s + (r.output_audio_tokens as number), 0), spoken.usage!.completion_tokens_details!.audio_tokens);
    });

    it("stops a project at its monthly budget with 429 insufficient_quota, and shows the soft threshold", async () => {
      const client = new OpenAI({ baseURL: server.baseURL, apiKey: keyB, maxRetries: 0 });
      await client.chat.completions.create({ model: "stories", messages: [{ role: "user", content: "Once upon a time there was" }], max_tokens: 20 });
      await server.meter.flush();
      await new Promise((r) => setTimeout(r, 1100));
      const over = await raw(server, "/v1/chat/completions", { body: JSON.stringify({ model: "stories", messages: [{ role: "user", content: "more" }], max_tokens: 5 }), headers: { authorization: `Bearer ${keyB}` } });
      assert.equal(over.status, 429);
      assertSchema("ErrorResponse", over.body);
      const error = (over.body as { error: { type: string; code: string; message: string } }).error;
      assert.equal(error.code, "insufficient_quota");
      assert.match(error.message, /You exceeded your current quota/);
      const project = (await admin(server, `/v1/organization/projects/${projectB}`)).body as { soft_budget_exceeded: boolean; budget_exceeded: boolean };
      assert.equal(project.soft_budget_exceeded, true);
      assert.equal(project.budget_exceeded, true);
    });

    it("revokes a key at once, and keeps keys and usage across a restart", async () => {
      const before = await server.storage.db.all("SELECT COUNT(*) AS n FROM usage_records");
      await server.close();
      server = await start();
      const after = await server.storage.db.all("SELECT COUNT(*) AS n FROM usage_records");
      assert.equal(Number(after[0]!.n), Number(before[0]!.n), "nothing metered was lost by a clean stop");
      const client = new OpenAI({ baseURL: server.baseURL, apiKey: keyA, maxRetries: 0 });
      await client.chat.completions.create({ model: "stories", messages: [{ role: "user", content: "Hi" }], max_tokens: 2 });
      const revoked = await admin(server, `/v1/organization/projects/${projectA}/api_keys/${keyAId}`, { method: "DELETE" });
      assert.equal(revoked.status, 200);
      assertSchema("ProjectApiKeyDeleteResponse", revoked.body);
      await assert.rejects(client.chat.completions.create({ model: "stories", messages: [{ role: "user", content: "Hi" }], max_tokens: 2 }), OpenAI.AuthenticationError);
      const otherProject = await admin(server, `/v1/organization/projects/${projectB}/api_keys/${keyAId}`);
      assert.equal(otherProject.status, 404, "a key is found only under its own project");
    });
  });
}
