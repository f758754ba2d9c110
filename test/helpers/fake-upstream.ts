import { createServer, type IncomingHttpHeaders, type Server } from "node:http";

/** What the fake upstream does with one request. */
export type Behavior =
  | { kind: "json"; status: number; body: unknown; headers?: Record<string, string> }
  | { kind: "stream"; text: string; usage?: { prompt_tokens: number; completion_tokens: number }; delayMs?: number; resetAfterChunks?: number; toolCall?: { name: string; arguments: string } }
  | { kind: "hang" }
  /** Raw SSE frames (each written as `data: <frame>\n\n`), optionally dropping the connection after them. */
  | { kind: "sse"; frames: string[]; reset?: boolean }
  /** Holds the request until `until` settles, then behaves as `then` (a test releases held work when it has looked). */
  | { kind: "held"; until: Promise<unknown>; then: Behavior };

export interface SeenRequest {
  url: string;
  body: Record<string, unknown>;
  headers: IncomingHttpHeaders;
}

/** A real OpenAI-compatible HTTP server on 127.0.0.1 whose answers a test scripts, request by request. */
export interface FakeUpstream {
  url: string;
  seen: SeenRequest[];
  script(fn: (n: number, req: SeenRequest) => Behavior): void;
  close(): Promise<void>;
}

function chunk(model: string, delta: Record<string, unknown>, finish: string | null, usage?: unknown): string {
  return `data: ${JSON.stringify({ id: "chatcmpl-fake", object: "chat.completion.chunk", created: 1, model, choices: usage ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...(usage ? { usage } : {}) })}\n\n`;
}

export async function startFakeUpstream(): Promise<FakeUpstream> {
  const seen: SeenRequest[] = [];
  let behave: (n: number, req: SeenRequest) => Behavior = () => ({ kind: "stream", text: "Hello from upstream" });
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", async () => {
      const request: SeenRequest = { url: req.url ?? "", body: raw ? (JSON.parse(raw) as Record<string, unknown>) : {}, headers: req.headers };
      seen.push(request);
      let b = behave(seen.length, request);
      while (b.kind === "held") {
        const { until, then } = b;
        await until.catch(() => undefined);
        b = then;
      }
      if (b.kind === "hang") return;
      if (b.kind === "sse") {
        res.writeHead(200, { "content-type": "text/event-stream" });
        for (const f of b.frames) res.write(`data: ${f}\n\n`);
        if (b.reset) {
          await new Promise((r) => setTimeout(r, 50));
          res.destroy();
        } else res.end();
        return;
      }
      if (b.kind === "json") {
        res.writeHead(b.status, { "content-type": "application/json", ...b.headers }).end(JSON.stringify(b.body));
        return;
      }
      const model = String(request.body.model);
      res.writeHead(200, { "content-type": "text/event-stream" });
      const frames = [chunk(model, { role: "assistant", content: "" }, null)];
      if (b.toolCall) {
        frames.push(chunk(model, { tool_calls: [{ index: 0, id: "call_up1", type: "function", function: { name: b.toolCall.name, arguments: "" } }] }, null));
        for (const piece of b.toolCall.arguments.match(/.{1,8}/g) ?? []) frames.push(chunk(model, { tool_calls: [{ index: 0, function: { arguments: piece } }] }, null));
        frames.push(chunk(model, {}, "tool_calls"));
      } else {
        for (const word of b.text.split(/(?<= )/)) frames.push(chunk(model, { content: word }, null));
        frames.push(chunk(model, {}, "stop"));
      }
      const usage = b.usage ?? { prompt_tokens: 11, completion_tokens: b.text.split(" ").length };
      frames.push(chunk(model, {}, null, { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens }));
      frames.push("data: [DONE]\n\n");
      for (const [i, frame] of frames.entries()) {
        if (b.resetAfterChunks !== undefined && i >= b.resetAfterChunks) {
          // Let the frames already written reach the client, then drop the connection.
          await new Promise((r) => setTimeout(r, 50));
          res.destroy();
          return;
        }
        res.write(frame);
        if (b.delayMs) await new Promise((r) => setTimeout(r, b.delayMs));
      }
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`,
    seen,
    script(fn) {
      behave = fn;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
