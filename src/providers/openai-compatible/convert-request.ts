import type { ChatMessage, ChatRequest, ContentPart } from "../../core/chat.ts";

/** A JSON object for an upstream request body. */
export type WireBody = Record<string, unknown>;

function content(parts: readonly ContentPart[], text: string): unknown {
  if (!parts.some((p) => p.type === "image")) return text;
  return parts.map((p) => (p.type === "text" ? { type: "text", text: p.text } : { type: "image_url", image_url: { url: p.url, detail: p.detail } }));
}

function message(m: ChatMessage): WireBody {
  switch (m.role) {
    case "system":
      return { role: "system", content: m.content };
    case "user":
      return { role: "user", content: content(m.parts, m.content) };
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
 * upstream model name. Streaming requests always ask for usage, so every token is metered.
 */
export function toOpenAiChatBody(request: ChatRequest, upstreamModel: string, stream: boolean): WireBody {
  const s = request.sampling;
  const body: WireBody = {
    model: upstreamModel,
    messages: request.messages.map(message),
    temperature: s.temperature,
    top_p: s.topP,
    n: request.n,
    stream,
  };
  if (stream) body.stream_options = { include_usage: true };
  if (s.seed !== undefined) body.seed = s.seed;
  if (s.presencePenalty !== 0) body.presence_penalty = s.presencePenalty;
  if (s.frequencyPenalty !== 0) body.frequency_penalty = s.frequencyPenalty;
  if (s.logitBias.size > 0) body.logit_bias = Object.fromEntries(s.logitBias);
  if (request.maxTokens !== undefined) body.max_completion_tokens = request.maxTokens;
  if (request.stop.length > 0) body.stop = [...request.stop];
  if (request.tools.length > 0) {
    body.tools = request.tools.map((t) => ({
      type: "function",
      function: { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.parameters, ...(t.strict ? { strict: true } : {}) },
    }));
    body.tool_choice = typeof request.toolChoice === "object" ? { type: "function", function: { name: request.toolChoice.name } } : request.toolChoice;
    body.parallel_tool_calls = request.parallelToolCalls;
  }
  const f = request.responseFormat;
  if (f.type === "json_object") body.response_format = { type: "json_object" };
  if (f.type === "json_schema") body.response_format = { type: "json_schema", json_schema: { name: f.name, schema: f.schema, strict: f.strict } };
  if (request.topLogprobs !== undefined) {
    body.logprobs = true;
    if (request.topLogprobs > 0) body.top_logprobs = request.topLogprobs;
  }
  if (request.reasoningEffort !== undefined) body.reasoning_effort = request.reasoningEffort;
  return body;
}
