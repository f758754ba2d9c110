/**
 * A minimal, fast OpenAI-compatible upstream for bench/gateway: `POST …/chat/completions` answers
 * `stream: true` with a short SSE answer (role, two content chunks, finish, usage, [DONE]) and
 * anything else with a chat.completion JSON, both precomputed. Keep-alive; no body parsing beyond
 * looking for `"stream":true`. Run it in its own process, so its CPU is not counted in the gateway's:
 *
 *   node bench/fake-openai-upstream.ts [--port 0] [--host 127.0.0.1]
 *
 * Prints `{"listening":"http://127.0.0.1:PORT/v1"}` on stdout once it accepts connections.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";

const MODEL = "fake-upstream-model";
const CONTENT = ["Hello", " there!"];
const USAGE = { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } };

function sseChunk(delta: Record<string, unknown> | undefined, finish: string | null, usage?: unknown): string {
  const choices = delta === undefined ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finish }];
  return `data: ${JSON.stringify({ id: "chatcmpl-fake", object: "chat.completion.chunk", created: 1, model: MODEL, system_fingerprint: null, choices, ...(usage ? { usage } : {}) })}\n\n`;
}

/** The SSE answer, as one buffer. */
export const STREAM_BODY = Buffer.from(
  [
    sseChunk({ role: "assistant", content: "" }, null),
    ...CONTENT.map((c) => sseChunk({ content: c }, null)),
    sseChunk({}, "stop"),
    sseChunk(undefined, null, USAGE),
    "data: [DONE]\n\n",
  ].join(""),
);

/** The non-streamed answer, as one buffer. */
export const JSON_BODY = Buffer.from(
  JSON.stringify({
    id: "chatcmpl-fake",
    object: "chat.completion",
    created: 1,
    model: MODEL,
    system_fingerprint: null,
    choices: [{ index: 0, message: { role: "assistant", content: CONTENT.join(""), refusal: null }, logprobs: null, finish_reason: "stop" }],
    usage: USAGE,
  }),
);

const STREAM_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache", "content-length": String(STREAM_BODY.length) };
const JSON_HEADERS = { "content-type": "application/json", "content-length": String(JSON_BODY.length) };
const NOT_FOUND = Buffer.from(JSON.stringify({ error: { message: "not found", type: "invalid_request_error", code: "unknown_url" } }));

/** `"stream":true` (with or without a space) anywhere in the body marks a streaming request. */
const STREAM_TRUE = /"stream"\s*:\s*true/;

function handle(req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
    req.resume();
    res.writeHead(404, { "content-type": "application/json", "content-length": String(NOT_FOUND.length) }).end(NOT_FOUND);
    return;
  }
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (d: string) => {
    if (body.length < 65_536) body += d;
  });
  req.on("end", () => {
    if (STREAM_TRUE.test(body)) res.writeHead(200, STREAM_HEADERS).end(STREAM_BODY);
    else res.writeHead(200, JSON_HEADERS).end(JSON_BODY);
  });
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { port: { type: "string", default: "0" }, host: { type: "string", default: "127.0.0.1" } } });
  const server = createServer({ keepAliveTimeout: 60_000 }, handle);
  server.listen(Number(values.port), values.host, () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`${JSON.stringify({ listening: `http://${values.host}:${port}/v1` })}\n`);
  });
  const stop = (): void => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
