import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MIGRATIONS } from "../../src/storage/migrations.ts";
import type { Storage } from "../../src/storage/storage.ts";
import { backends } from "../helpers/databases.ts";

const list = await backends();
after(async () => {
  for (const b of list) await b.cleanup();
});

for (const backend of list) {
  describe(`storage on ${backend.name}`, () => {
    let storage: Storage;
    before(async () => {
      storage = await backend.open();
    });
    after(async () => {
      await storage.close();
    });

    it("migrates idempotently (on PostgreSQL also from two processes' worth of openers at once)", async () => {
      // SQLite serves one process; PostgreSQL may be shared, so its migrations take an advisory lock.
      const openers = backend.name === "postgres" ? await Promise.all([backend.open(), backend.open()]) : [await backend.open()];
      for (const s of openers) await s.close();
      const rows = await storage.db.all("SELECT version FROM schema_migrations ORDER BY version");
      assert.deepEqual(rows.map((r) => Number(r.version)), MIGRATIONS.map((m) => m.version));
    });

    it("stores projects and pages through them", async () => {
      for (let i = 0; i < 5; i++) {
        await storage.createProject({ id: `proj_${i}`, name: `P${i}`, createdAt: 1000 + i, archivedAt: null, tier: null, monthlyBudgetUsd: null, softBudgetUsd: null });
      }
      const first = await storage.listProjects({ limit: 2, includeArchived: false });
      assert.deepEqual(first.map((p) => p.id), ["proj_0", "proj_1"]);
      const next = await storage.listProjects({ after: "proj_1", limit: 10, includeArchived: false });
      assert.deepEqual(next.map((p) => p.id), ["proj_2", "proj_3", "proj_4"]);
      await storage.updateProject("proj_4", { archivedAt: 2000, monthlyBudgetUsd: 12.5, tier: "tier-1" });
      assert.equal((await storage.listProjects({ limit: 10, includeArchived: false })).length, 4);
      const p4 = await storage.getProject("proj_4");
      assert.equal(p4?.monthlyBudgetUsd, 12.5);
      assert.equal(p4?.tier, "tier-1");
    });

    it("keeps key hashes, finds keys by hash and revokes them", async () => {
      await storage.insertApiKey({ id: "key_a", projectId: "proj_0", name: "a", hash: "h".repeat(64), redacted: "sk-...aaaa", models: ["m1"], admin: false, createdAt: 1, lastUsedAt: null, revokedAt: null });
      const found = await storage.findApiKeyByHash("h".repeat(64));
      assert.deepEqual(found?.models, ["m1"]);
      assert.equal((await storage.listApiKeys("proj_0", { limit: 10 })).length, 1);
      assert.equal(await storage.revokeApiKey("proj_1", "key_a", 5), false, "another project cannot revoke it");
      assert.equal(await storage.revokeApiKey("proj_0", "key_a", 5), true);
      assert.equal((await storage.findApiKeyByHash("h".repeat(64)))?.revokedAt, 5);
      assert.equal((await storage.listApiKeys("proj_0", { limit: 10 })).length, 0);
    });

    it("upserts rate limits", async () => {
      await storage.upsertRateLimit({ projectId: "proj_0", model: "m1", rpm: 10, tpm: 1000, rpd: null, maxConcurrent: 2 });
      await storage.upsertRateLimit({ projectId: "proj_0", model: "m1", rpm: 20, tpm: 1000, rpd: null, maxConcurrent: 2 });
      assert.deepEqual(await storage.listRateLimits("proj_0"), [{ projectId: "proj_0", model: "m1", rpm: 20, tpm: 1000, rpd: null, maxConcurrent: 2 }]);
    });

    it("aggregates usage by day, model and project", async () => {
      const day = 86_400;
      const base = 20_000 * day;
      const records = [0, 1, 2, 3].map((i) => ({
        id: `u${i}`, createdAt: base + (i < 3 ? 100 : day + 5), projectId: i === 2 ? "proj_1" : "proj_0", keyId: "key_a", model: i === 1 ? "m2" : "m1",
        endpoint: i === 3 ? "/v1/audio/speech" : "/v1/chat/completions", inputTokens: 10 * (i + 1), cachedTokens: i, outputTokens: 5, reasoningTokens: 0,
        inputAudioTokens: i, outputAudioTokens: 2 * i, audioSeconds: i * 0.5, characters: i === 3 ? 40 : 0, latencyMs: 3, status: 200, costUsd: 0.001 * (i + 1), batch: false,
      }));
      await storage.insertUsage(records);
      const byDay = await storage.usageBuckets({ start: base, end: base + 2 * day, bucketSeconds: day, groupBy: [] });
      assert.deepEqual(byDay.map((r) => [r.bucketStart, r.requests, r.inputTokens]), [[base, 3, 60], [base + day, 1, 40]]);
      const byModel = await storage.usageBuckets({ start: base, end: base + day, bucketSeconds: day, groupBy: ["model", "project_id"], projectIds: ["proj_0"] });
      assert.deepEqual(byModel.map((r) => [r.model, r.projectId, r.requests]).sort(), [["m1", "proj_0", 1], ["m2", "proj_0", 1]]);
      const chat = await storage.usageBuckets({ start: base, end: base + 2 * day, bucketSeconds: 2 * day, groupBy: [], excludeEndpoints: ["/v1/audio/speech"] });
      assert.deepEqual(chat.map((r) => [r.requests, r.inputAudioTokens, r.outputAudioTokens, r.audioSeconds]), [[3, 3, 6, 1.5]]);
      const speech = await storage.usageBuckets({ start: base, end: base + 2 * day, bucketSeconds: 2 * day, groupBy: [], endpoints: ["/v1/audio/speech"] });
      assert.deepEqual(speech.map((r) => [r.requests, r.characters]), [[1, 40]]);
      assert.ok(Math.abs((await storage.projectSpend("proj_0", base)) - (0.001 + 0.002 + 0.004)) < 1e-12);
    });
  });
}
