import { createServer, type IncomingHttpHeaders, type Server } from "node:http";

/** What the fake Anthropic server does with one request. */
export type AnthropicBehavior =
  | { kind: "text"; text: string; stopReason?: string; usage?: Partial<AnthropicUsage> }
  | { kind: "tool"; name: string; input: string; id?: string; usage?: Partial<AnthropicUsage> }
  | { kind: "error"; status: number; type: string; message: string; headers?: Record<string, string> }
  | { kind: "stream-error"; afterText: string; type: string };

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export interface SeenAnthropicRequest {
  url: string;
  body: Record<string, unknown>;
  headers: IncomingHttpHeaders;
}

/** A real HTTP server on 127.0.0.1 speaking Anthropic's Messages wire format, scripted per request. */
export interface FakeAnthropic {
  /** Base URL as a deployment names it (ends in /v1). */
  url: string;
  seen: SeenAnthropicRequest[];
  script(fn: (n: number, req: SeenAnthropicRequest) => AnthropicBehavior): void;
  close(): Promise<void>;
}

type Block = { type: string; [key: string]: unknown };
type Message = { role: string; content: string | Block[] };

/**
 * The checks Anthropic's API makes that a translation could break: required fields, roles that
 * alternate and start with the user, no system role in messages, tool results answering tool uses
 * of the turn before, non-empty text blocks, object tool inputs. Returns the problem, if any.
 */
function validate(body: Record<string, unknown>): string | undefined {
  if (typeof body.model !== "string") return "model: Field required";
  if (typeof body.max_tokens !== "number") return "max_tokens: Field required";
  if (!Array.isArray(body.messages) || body.messages.length === 0) return "messages: at least one message is required";
  if (body.system !== undefined && typeof body.system !== "string" && !Array.isArray(body.system)) return "system: Input should be a valid string";
  if (typeof body.temperature === "number" && (body.temperature < 0 || body.temperature > 1)) return "temperature: range: 0..1";
  const messages = body.messages as Message[];
  let pendingToolUses = new Set<string>();
  for (const [i, m] of messages.entries()) {
    if (m.role !== "user" && m.role !== "assistant") return `messages.${i}.role: Input should be 'user' or 'assistant'`;
    if (i === 0 && m.role !== "user") return "messages: first message must use the \"user\" role";
    if (i > 0 && messages[i - 1]!.role === m.role) return `messages.${i}: roles must alternate between "user" and "assistant"`;
    const blocks: Block[] = typeof m.content === "string" ? [{ type: "text", text: m.content }] : m.content;
    if (blocks.length === 0) return `messages.${i}: all messages must have non-empty content`;
    const uses = new Set<string>();
    for (const b of blocks) {
      if (b.type === "text" && (typeof b.text !== "string" || b.text === "")) return `messages.${i}: text content blocks must be non-empty`;
      if (b.type === "tool_use") {
        if (m.role !== "assistant") return `messages.${i}: tool_use only in assistant turns`;
        if (typeof b.input !== "object" || b.input === null || Array.isArray(b.input)) return `messages.${i}: tool_use.input: Input should be a valid dictionary`;
        uses.add(String(b.id));
      }
      if (b.type === "tool_result" && !pendingToolUses.has(String(b.tool_use_id))) return `messages.${i}: unexpected tool_use_id found in tool_result blocks: ${String(b.tool_use_id)}`;
      if (b.type === "image") {
        const source = b.source as { type?: string; media_type?: string; data?: string; url?: string } | undefined;
        if (source?.type === "base64" ? !source.media_type || !source.data : source?.type !== "url" || !source.url) return `messages.${i}: image.source is invalid`;
      }
    }
    pendingToolUses = uses;
  }
  return undefined;
}

function event(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

export async function startFakeAnthropic(apiKey: string): Promise<FakeAnthropic> {
  const seen: SeenAnthropicRequest[] = [];
  let behave: (n: number, req: SeenAnthropicRequest) => AnthropicBehavior = () => ({ kind: "text", text: "Hello from Claude" });
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", () => {
      const error = (status: number, type: string, message: string, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify({ type: "error", error: { type, message } }));
      };
      if (req.method !== "POST" || req.url !== "/v1/messages") return error(404, "not_found_error", "Not found");
      if (req.headers["x-api-key"] !== apiKey) return error(401, "authentication_error", "invalid x-api-key");
      if (req.headers["anthropic-version"] !== "2023-06-01") return error(400, "invalid_request_error", "anthropic-version: header is required");
      const request: SeenAnthropicRequest = { url: req.url, body: JSON.parse(raw) as Record<string, unknown>, headers: req.headers };
      seen.push(request);
      const problem = validate(request.body);
      if (problem !== undefined) return error(400, "invalid_request_error", problem);
      const b = behave(seen.length, request);
      if (b.kind === "error") return error(b.status, b.type, b.message, b.headers);
      const usage: AnthropicUsage = { input_tokens: 25, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, ...(b.kind === "stream-error" ? {} : b.usage) };
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(event("message_start", { message: { id: "msg_fake", type: "message", role: "assistant", content: [], model: request.body.model, stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } }));
      res.write(event("ping", {}));
      if (b.kind === "stream-error") {
        res.write(event("content_block_start", { index: 0, content_block: { type: "text", text: "" } }));
        res.write(event("content_block_delta", { index: 0, delta: { type: "text_delta", text: b.afterText } }));
        res.end(event("error", { error: { type: b.type, message: "Overloaded" } }));
        return;
      }
      let stopReason: string;
      if (b.kind === "text") {
        res.write(event("content_block_start", { index: 0, content_block: { type: "text", text: "" } }));
        for (const piece of b.text.split(/(?<= )/)) res.write(event("content_block_delta", { index: 0, delta: { type: "text_delta", text: piece } }));
        res.write(event("content_block_stop", { index: 0 }));
        stopReason = b.stopReason ?? "end_turn";
      } else {
        res.write(event("content_block_start", { index: 0, content_block: { type: "text", text: "" } }));
        res.write(event("content_block_delta", { index: 0, delta: { type: "text_delta", text: "Let me check." } }));
        res.write(event("content_block_stop", { index: 0 }));
        res.write(event("content_block_start", { index: 1, content_block: { type: "tool_use", id: b.id ?? "toolu_01A", name: b.name, input: {} } }));
        for (const piece of b.input.match(/.{1,6}/gs) ?? []) res.write(event("content_block_delta", { index: 1, delta: { type: "input_json_delta", partial_json: piece } }));
        res.write(event("content_block_stop", { index: 1 }));
        stopReason = "tool_use";
      }
      res.write(event("message_delta", { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: usage.output_tokens } }));
      res.end(event("message_stop", {}));
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
