import type { ChatMessage, ChatRequest, ContentPart } from "../../core/chat.ts";

/** A JSON object for an upstream request body. */
export type WireBody = Record<string, unknown>;

const NONE: ReadonlySet<string> = new Set();

function content(parts: readonly ContentPart[], text: string, images: boolean): unknown {
  if (!images || !parts.some((p) => p.type === "image")) return text;
  return parts.map((p) => (p.type === "text" ? { type: "text", text: p.text } : { type: "image_url", image_url: { url: p.url, detail: p.detail } }));
}

function message(m: ChatMessage, images: boolean): WireBody {
  switch (m.role) {
    case "system":
      return { role: "system", content: m.content };
    case "user":
      return { role: "user", content: content(m.parts, m.content, images) };
    case "assistant":
      return m.toolCalls.length === 0
        ? { role: "assistant", content: m.content }
        : {
            role: "assistant",
            content: m.content === "" ? null : m.content,
            tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })),
          };
    case "tool":
      return { role: "tool", tool_call_id: m.toolCallId, content: m.content };
  }
}

/**
 * Converts a canonical chat request to an OpenAI-compatible `/chat/completions` body for the
 * upstream model name. Streaming requests always ask for usage, so every token is metered. Parameters
 * in `dropped` are left out (a deployment that opted into dropping what its upstream lacks).
 */
export function toOpenAiChatBody(request: ChatRequest, upstreamModel: string, stream: boolean, dropped: ReadonlySet<string> = NONE): WireBody {
  const s = request.sampling;
  const keep = (name: string): boolean => !dropped.has(name);
  const body: WireBody = { model: upstreamModel, messages: request.messages.map((m) => message(m, keep("image_url"))), stream };
  if (keep("temperature")) body.temperature = s.temperature;
  if (keep("top_p")) body.top_p = s.topP;
  if (keep("n")) body.n = request.n;
  if (stream) body.stream_options = { include_usage: true };
  if (s.seed !== undefined && keep("seed")) body.seed = s.seed;
  if (s.presencePenalty !== 0 && keep("presence_penalty")) body.presence_penalty = s.presencePenalty;
  if (s.frequencyPenalty !== 0 && keep("frequency_penalty")) body.frequency_penalty = s.frequencyPenalty;
  if (s.logitBias.size > 0 && keep("logit_bias")) body.logit_bias = Object.fromEntries(s.logitBias);
  if (request.maxTokens !== undefined) body.max_completion_tokens = request.maxTokens;
  if (request.stop.length > 0 && keep("stop")) body.stop = [...request.stop];
  if (request.tools.length > 0 && keep("tools")) {
    body.tools = request.tools.map((t) => ({
      type: "function",
      function: { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.wireParameters, ...(t.strict ? { strict: true } : {}) },
    }));
    body.tool_choice = typeof request.toolChoice === "object" ? { type: "function", function: { name: request.toolChoice.name } } : request.toolChoice;
    if (keep("parallel_tool_calls")) body.parallel_tool_calls = request.parallelToolCalls;
  }
  const f = request.responseFormat;
  if (keep("response_format")) {
    if (f.type === "json_object") body.response_format = { type: "json_object" };
    if (f.type === "json_schema") body.response_format = { type: "json_schema", json_schema: { name: f.name, ...(f.description !== undefined ? { description: f.description } : {}), schema: f.wireSchema, strict: f.strict } };
  }
  if (request.topLogprobs !== undefined && keep("logprobs")) {
    body.logprobs = true;
    if (request.topLogprobs > 0 && keep("top_logprobs")) body.top_logprobs = request.topLogprobs;
  }
  if (request.reasoningEffort !== undefined && keep("reasoning_effort")) body.reasoning_effort = request.reasoningEffort;
  return body;
}
