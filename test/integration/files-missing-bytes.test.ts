import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { raw, startTestServer, waitFor, type TestServer } from "../helpers/server.ts";

const KEY = "sk-missing-bytes-test-key";

// A server that shares another's database but not its data directory has file records without
// their bytes: that is said as such, not as a bad encoding or a crash.
describe("a file whose bytes are missing", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { MODELPORT_API_KEYS: KEY } });
  });
  after(async () => {
    await server?.close();
  });

  it("is reported as missing bytes by its content route and by a batch that reads it", async () => {
    const line = JSON.stringify({ custom_id: "a", method: "POST", url: "/v1/chat/completions", body: { model: "stories", messages: [{ role: "user", content: "Hi" }], max_tokens: 2 } });
    const file = await server.client.files.create({ file: new File([line], "in.jsonl"), purpose: "batch" });
    await server.files.discard(file.id);
    const content = await raw(server, `/v1/files/${file.id}/content`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(content.status, 500);
    const error = (content.body as { error: { code: string; message: string } }).error;
    assert.equal(error.code, "file_content_missing");
    assert.match(error.message, /share its data directory/);

    let batch = await server.client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    await waitFor(async () => {
      batch = await server.client.batches.retrieve(batch.id);
      return batch.status === "failed";
    }, 20_000);
    assert.equal(batch.errors?.data?.[0]?.code, "file_content_missing");
    assert.doesNotMatch(batch.errors?.data?.[0]?.message ?? "", /UTF-8/);
  });
});
