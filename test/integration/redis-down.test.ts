import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestServer, type TestServer } from "../helpers/server.ts";

const KEY = "sk-redis-down-test-key";

// With Redis configured but unreachable, rate limits fall back to each process's own counters:
// requests are answered (and still limited), never failed for want of Redis.
describe("Redis unreachable", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { MODELPORT_API_KEYS: KEY, MODELPORT_REDIS_URL: "redis://127.0.0.1:1" } });
  });
  after(async () => {
    await server?.close();
  });

  it("answers model requests with local limits instead of failing them", async () => {
    for (let i = 0; i < 3; i++) {
      const res = await server.client.chat.completions.create({ model: "stories", messages: [{ role: "user", content: "Once" }], max_tokens: 3 }).withResponse().catch((e: unknown) => e);
      assert.ok(!(res instanceof Error), `request ${i} failed: ${String(res)}`);
      const { response } = res as { response: Response };
      assert.equal(response.status, 200);
      assert.ok(response.headers.get("x-ratelimit-remaining-requests") !== null, "limits still apply, per process");
    }
  });
});
