import type { ChatMessage, ToolDefinition } from "../../core/chat.ts";

/** Marks the start of a call in the model's output; the JSON call follows on the next line. */
export const TOOL_CALL_OPEN = "<tool_call>";
export const TOOL_CALL_CLOSE = "</tool_call>";

/**
 * Renders tools the way Hermes- and Qwen-style instruct models were trained to see them: function
 * signatures in the system prompt, calls as `<tool_call>{"name","arguments"}</tool_call>`, results as
 * `<tool_response>` turns. Every model gets the same convention, which the call grammar then enforces.
 */
export function toolSystemText(tools: readonly ToolDefinition[]): string {
  const signatures = tools
    .map((t) => JSON.stringify({ type: "function", function: { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.parameters } }))
    .join("\n");
  return [
    "# Tools",
    "",
    "You may call one or more functions to assist with the user query.",
    "",
    "You are provided with function signatures within <tools></tools> XML tags:",
    "<tools>",
    signatures,
    "</tools>",
    "",
    "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:",
    TOOL_CALL_OPEN,
    '{"name": <function-name>, "arguments": <args-json-object>}',
    TOOL_CALL_CLOSE,
  ].join("\n");
}

/** How an earlier call appears in the assistant's turn. */
export function renderToolCall(name: string, args: string): string {
  return `${TOOL_CALL_OPEN}\n{"name": ${JSON.stringify(name)}, "arguments": ${args.trim() === "" ? "{}" : args}}\n${TOOL_CALL_CLOSE}`;
}

/**
 * Rewrites a conversation with tools into plain system / user / assistant turns: tool signatures
 * join the system prompt (when tools may be called), calls join the assistant's text, and
 * consecutive tool results become one user turn of `<tool_response>` blocks.
 */
export function withToolsRendered(messages: readonly ChatMessage[], tools: readonly ToolDefinition[], offerTools: boolean): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const message of messages) {
    if (message.role === "assistant" && message.toolCalls.length > 0) {
      const calls = message.toolCalls.map((c) => renderToolCall(c.name, c.arguments));
      out.push({ role: "assistant", content: [message.content, ...calls].filter((s) => s !== "").join("\n"), toolCalls: [] });
    } else if (message.role === "tool") {
      const block = `<tool_response>\n${message.content}\n</tool_response>`;
      const last = out.at(-1);
      if (last?.role === "user" && last.content.startsWith("<tool_response>")) {
        out[out.length - 1] = { role: "user", content: `${last.content}\n${block}`, parts: [] };
      } else {
        out.push({ role: "user", content: block, parts: [] });
      }
    } else {
      out.push(message);
    }
  }
  if (offerTools && tools.length > 0) {
    const text = toolSystemText(tools);
    const first = out[0];
    if (first?.role === "system") out[0] = { role: "system", content: `${first.content}\n\n${text}` };
    else out.unshift({ role: "system", content: text });
  }
  return out;
}
