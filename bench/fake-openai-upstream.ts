/**
 * A minimal, fast OpenAI-compatible upstream for bench/gateway: `POST …/chat/completions` answers
 * `stream: true` with a short SSE answer (role, two content chunks or `--chunks N`, finish, usage, [DONE]) and
 * anything else with a chat.completion JSON, both precomputed. Keep-alive; no body parsing beyond
 * looking for `"stream":true`. Run it in its own process, so its CPU is not counted in the gateway's:
 *
 *   node bench/fake-openai-upstream.ts [--port 0] [--host 127.0.0.1] [--chunks 2]
 *
 * Prints `{"listening":"http://127.0.0.1:PORT/v1"}` on stdout once it accepts connections.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";

const MODEL = "fake-upstream-model";

/** The content pieces of an answer of `chunks` chunks: "Hello", " there!", then " more2", " more3", … */
export function contentPieces(chunks: number): string[] {
  return Array.from({ length: chunks }, (_, i) => (i === 0 ? "Hello" : i === 1 ? " there!" : ` more${i}`));
}

function usage(chunks: number): Record<string, unknown> {
  return { prompt_tokens: 9, completion_tokens: chunks, total_tokens: 9 + chunks, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } };
}

function sseChunk(delta: Record<string, unknown> | undefined, finish: string | null, usage?: unknown): string {
  const choices = delta === undefined ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finish }];
  return `data: ${JSON.stringify({ id: "chatcmpl-fake", object: "chat.completion.chunk", created: 1, model: MODEL, system_fingerprint: null, choices, ...(usage ? { usage } : {}) })}\n\n`;
}

/**
 * The two precomputed answers with `chunks` content chunks (one per completion token): the SSE
 * answer (role, content chunks, finish, usage, [DONE]) as one buffer, and the chat.completion JSON.
 */
export function answers(chunks: number): { stream: Buffer; json: Buffer } {
  const pieces = contentPieces(chunks);
  const stream = Buffer.from(
    [sseChunk({ role: "assistant", content: "" }, null), ...pieces.map((c) => sseChunk({ content: c }, null)), sseChunk({}, "stop"), sseChunk(undefined, null, usage(chunks)), "data: [DONE]\n\n"].join(""),
  );
  const json = Buffer.from(
    JSON.stringify({
      id: "chatcmpl-fake",
      object: "chat.completion",
      created: 1,
      model: MODEL,
      system_fingerprint: null,
      choices: [{ index: 0, message: { role: "assistant", content: pieces.join(""), refusal: null }, logprobs: null, finish_reason: "stop" }],
      usage: usage(chunks),
    }),
  );
  return { stream, json };
}

const NOT_FOUND = Buffer.from(JSON.stringify({ error: { message: "not found", type: "invalid_request_error", code: "unknown_url" } }));

/** `"stream":true` (with or without a space) anywhere in the body marks a streaming request. */
const STREAM_TRUE = /"stream"\s*:\s*true/;

/** The request handler answering with {@link answers} of `chunks` content chunks. */
export function handler(chunks: number): (req: IncomingMessage, res: ServerResponse) => void {
  const { stream, json } = answers(chunks);
  const streamHeaders = { "content-type": "text/event-stream", "cache-control": "no-cache", "content-length": String(stream.length) };
  const jsonHeaders = { "content-type": "application/json", "content-length": String(json.length) };
  return (req, res) => handle(req, res, stream, streamHeaders, json, jsonHeaders);
}

function handle(req: IncomingMessage, res: ServerResponse, stream: Buffer, streamHeaders: Record<string, string>, json: Buffer, jsonHeaders: Record<string, string>): void {
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
    if (STREAM_TRUE.test(body)) res.writeHead(200, streamHeaders).end(stream);
    else res.writeHead(200, jsonHeaders).end(json);
  });
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { port: { type: "string", default: "0" }, host: { type: "string", default: "127.0.0.1" }, chunks: { type: "string", default: "2" } } });
  const server = createServer({ keepAliveTimeout: 60_000 }, handler(Number(values.chunks)));
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
