import type { ChatMessage, ChatRequest, ContentPart } from "../../core/chat.ts";

type Block = Record<string, unknown>;

/** An Anthropic message: blocks under one role; consecutive turns of one role are merged. */
interface AnthropicMessage {
  role: "user" | "assistant";
  content: Block[];
}

/** An image part as Anthropic's source: inline base64 from a data URL, else a URL. */
function imageBlock(url: string): Block {
  const match = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  if (match) return { type: "image", source: { type: "base64", media_type: match[1], data: match[2] } };
  return { type: "image", source: { type: "url", url } };
}

function userBlocks(parts: readonly ContentPart[], text: string, images: boolean): Block[] {
  if (!images || !parts.some((p) => p.type === "image")) return text === "" ? [] : [{ type: "text", text }];
  return parts.flatMap((p): Block[] => (p.type === "text" ? (p.text === "" ? [] : [{ type: "text", text: p.text }]) : [imageBlock(p.url)]));
}

/** Anthropic wants tool input as an object; arguments that are not one are kept under a key rather than lost. */
function toolInput(args: string): unknown {
  try {
    const value: unknown = JSON.parse(args === "" ? "{}" : args);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value;
    return { value };
  } catch {
    return { arguments: args };
  }
}

function blocks(m: Exclude<ChatMessage, { role: "system" }>, images: boolean): AnthropicMessage {
  switch (m.role) {
    case "user":
      return { role: "user", content: userBlocks(m.parts, m.content, images) };
    case "assistant":
      return {
        role: "assistant",
        content: [
          ...(m.content === "" ? [] : [{ type: "text", text: m.content }]),
          ...m.toolCalls.map((c) => ({ type: "tool_use", id: c.id, name: c.name, input: toolInput(c.arguments) })),
        ],
      };
    case "tool":
      // Tool results travel in a user turn, next to any other results and text of that turn.
      return { role: "user", content: [{ type: "tool_result", tool_use_id: m.toolCallId, content: m.content }] };
  }
}

/**
 * Converts a canonical chat request to an Anthropic Messages body (streaming). System messages
 * become the top-level `system`; tool results become `tool_result` blocks in user turns; turns of
 * the same role are merged, as Anthropic requires alternation. Parameters in `dropped` are left out.
 */
export function toAnthropicBody(request: ChatRequest, model: string, defaultMaxTokens: number, dropped: ReadonlySet<string>): Record<string, unknown> {
  const keep = (name: string): boolean => !dropped.has(name);
  const system = request.messages.filter((m) => m.role === "system").map((m) => m.content);
  const messages: AnthropicMessage[] = [];
  for (const m of request.messages) {
    if (m.role === "system") continue;
    const next = blocks(m, keep("image_url"));
    const last = messages.at(-1);
    if (last !== undefined && last.role === next.role) last.content.push(...next.content);
    else messages.push(next);
  }
  // An empty turn is an Anthropic error; an empty text block is one too.
  for (const m of messages) if (m.content.length === 0) m.content.push({ type: "text", text: " " });
  const body: Record<string, unknown> = {
    model,
    max_tokens: request.maxTokens ?? defaultMaxTokens,
    messages,
    stream: true,
  };
  if (system.length > 0) body.system = system.join("\n\n");
  const s = request.sampling;
  if (keep("temperature") && s.temperature <= 1) body.temperature = s.temperature;
  if (keep("top_p") && s.topP !== 1) body.top_p = s.topP;
  if (keep("stop") && request.stop.length > 0) body.stop_sequences = [...request.stop];
  if (keep("tools") && request.tools.length > 0) {
    body.tools = request.tools.map((t) => ({
      name: t.name,
      ...(t.description ? { description: t.description } : {}),
      input_schema: t.wireParameters.type === "object" ? t.wireParameters : { type: "object", properties: {}, ...t.wireParameters },
    }));
    const parallel = keep("parallel_tool_calls") ? { disable_parallel_tool_use: !request.parallelToolCalls } : {};
    const c = request.toolChoice;
    body.tool_choice =
      c === "none" ? { type: "none" } : c === "auto" ? { type: "auto", ...parallel } : c === "required" ? { type: "any", ...parallel } : { type: "tool", name: c.name, ...parallel };
  }
  return body;
}
