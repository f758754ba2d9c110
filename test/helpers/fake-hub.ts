import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { join } from "node:path";
import { MODELS_DIR } from "./server.ts";

/** A real HTTP server on 127.0.0.1 shaped like the Hugging Face Hub's `resolve` endpoint. */
export interface FakeHub {
  url: string;
  requests: { path: string; headers: IncomingHttpHeaders }[];
  /** Stall the response after this many body bytes (connection left open), for the next `times` responses. */
  cut(bytes: number, times: number): void;
  /** Advertise a wrong sha256 in `x-linked-etag`. */
  lie(on: boolean): void;
  close(): Promise<void>;
}

/** Serves `../shared/models/*` at `/test/models/resolve/main/<file>`, with Range, ETag and the Hub's digest headers. */
export async function startFakeHub(): Promise<FakeHub> {
  const requests: FakeHub["requests"] = [];
  let cutBytes = 0;
  let cutTimes = 0;
  let lying = false;
  const server: Server = createServer((req, res) => {
    requests.push({ path: req.url ?? "", headers: req.headers });
    const match = /^\/test\/models\/resolve\/main\/([\w.-]+\.gguf)$/.exec(req.url ?? "");
    let data: Buffer;
    try {
      if (!match) throw new Error("no such file");
      data = readFileSync(join(MODELS_DIR, match[1]!));
    } catch {
      res.writeHead(404, { "content-type": "text/plain" }).end("Entry not found");
      return;
    }
    const sha = lying ? "0".repeat(64) : createHash("sha256").update(data).digest("hex");
    const etag = `"${sha}"`;
    const headers: Record<string, string | number> = { etag, "x-linked-etag": etag, "x-linked-size": data.length, "accept-ranges": "bytes" };
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const ifRange = req.headers["if-range"];
    if (range && (ifRange === undefined || ifRange === etag)) {
      start = Number(range[1]);
      if (start >= data.length) {
        res.writeHead(416, { "content-range": `bytes */${data.length}` }).end();
        return;
      }
      res.writeHead(206, { ...headers, "content-length": data.length - start, "content-range": `bytes ${start}-${data.length - 1}/${data.length}` });
    } else {
      res.writeHead(200, { ...headers, "content-length": data.length });
    }
    const body = data.subarray(start);
    if (cutTimes > 0 && cutBytes < body.length) {
      cutTimes--;
      // Send part of the body and then nothing: the client must notice the stall and resume.
      res.write(body.subarray(0, cutBytes));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    cut(bytes, times) {
      cutBytes = bytes;
      cutTimes = times;
    },
    lie(on) {
      lying = on;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
