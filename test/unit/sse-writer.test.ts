import assert from "node:assert/strict";
import { createServer } from "node:http";
import { describe, it } from "node:test";
import { SseWriter } from "../../src/http/sse-writer.ts";

describe("SseWriter", () => {
  it("writes the first frame at once, coalesces a burst into one write, and keeps order", async () => {
    const writes: string[] = [];
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      const original = res.write.bind(res);
      res.write = ((chunk: string) => {
        writes.push(chunk);
        return original(chunk);
      }) as typeof res.write;
      const writer = new SseWriter(res, 50);
      void (async () => {
        writer.write("data: 1\n\n");
        for (let i = 2; i <= 5; i++) writer.write(`data: ${i}\n\n`);
        await new Promise((r) => setTimeout(r, 120));
        writer.write("data: 6\n\n");
        await writer.end();
      })();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    const body = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    server.close();
    assert.equal(body, [1, 2, 3, 4, 5, 6].map((i) => `data: ${i}\n\n`).join(""));
    assert.deepEqual(writes, ["data: 1\n\n", "data: 2\n\ndata: 3\n\ndata: 4\n\ndata: 5\n\n", "data: 6\n\n"]);
  });
});
