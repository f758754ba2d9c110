import type { ChatMessage, ChatRequest, ContentPart, ToolCall } from "../../core/chat.ts";
import { invalidRequest } from "../../core/errors.ts";
import { readImage } from "./image-input.ts";
import type {
  InputContentPart,
  InputMessageItem,
  OutputTextPart,
  RefusalPart,
  RequestInputItem,
  ResponseOutputItem,
  ResponsesRequest,
} from "./responses-types.ts";

/** Whether the request asked for the log probabilities of output tokens. */
export function wantsLogprobs(req: ResponsesRequest): boolean {
  return req.include.includes("message.output_text.logprobs") || req.topLogprobs !== undefined;
}

/** The text of message content: text parts and refusals, joined. */
export function textOf(parts: readonly (InputContentPart | OutputTextPart | RefusalPart)[]): string {
  let text = "";
  for (const part of parts) {
    if (part.type === "input_text" || part.type === "output_text") text += part.text;
    else if (part.type === "refusal") text += part.refusal;
  }
  return text;
}

function userParts(item: InputMessageItem, param: string): ContentPart[] {
  return item.content.map((part, j): ContentPart => {
    const here = `${param}.content[${j}]`;
    switch (part.type) {
      case "input_text":
        return { type: "text", text: part.text };
      case "input_image":
        if (part.image_url === null) {
          throw invalidRequest("Images given by 'file_id' are not supported by this server yet; send 'image_url' (an https or base64 data URL).", `${here}.file_id`, "unsupported_parameter");
        }
        return readImage(part.image_url, part.detail, here);
      case "input_file":
        throw invalidRequest("Content of type 'input_file' is not supported by this server yet.", `${here}.type`, "unsupported_content_type");
    }
  });
}

/** The function the model calls to run code when the `code_interpreter` tool is given: `{"code": "…"}`. */
export const CODE_INTERPRETER_FUNCTION = "python";

/** The function the model calls to make an image when the `image_generation` tool is given: `{"prompt": "…"}`. */
export const IMAGE_GENERATION_FUNCTION = "image_generation";

/** The model's name for an MCP server's tool: `mcp__<label>__<tool>`, within OpenAI's function-name rules. */
export function mcpFunctionName(label: string, tool: string): string {
  return `mcp__${label}__${tool}`.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 64);
}

/**
 * Converts resolved items (no `item_reference`) to canonical chat messages. `instructions` comes
 * first as a system message; developer and system messages become system messages; function calls
 * that follow an assistant message or each other join it as one assistant turn with tool calls.
 * Errors name `input[i]` for items from `firstInputIndex` on (the request's own input) and
 * `input` for earlier ones (history from a stored response or conversation).
 */
export function itemsToChatMessages(
  instructions: string | undefined,
  items: readonly (RequestInputItem | ResponseOutputItem)[],
  options: { firstInputIndex?: number } = {},
): ChatMessage[] {
  const first = options.firstInputIndex ?? 0;
  const messages: ChatMessage[] = [];
  if (instructions !== undefined) messages.push({ role: "system", content: instructions });
  const callIds = new Set<string>();
  // The assistant turn that function calls may still join: only while nothing else came between.
  let turn: { content: string; toolCalls: ToolCall[] } | undefined;
  // A call the server ran joins the assistant turn, and its result ends that turn.
  const serverCall = (call: ToolCall, result: string): void => {
    if (turn === undefined) messages.push({ role: "assistant", content: "", toolCalls: [call] });
    else turn.toolCalls.push(call);
    messages.push({ role: "tool", content: result, toolCallId: call.id });
    turn = undefined;
  };
  items.forEach((item, i) => {
    const param = i >= first ? `input[${i - first}]` : "input";
    if (item.type !== "function_call" && item.type !== "code_interpreter_call" && item.type !== "mcp_call" && item.type !== "image_generation_call") turn = undefined;
    switch (item.type) {
      case "message":
        if (item.role === "assistant") {
          turn = { content: textOf(item.content), toolCalls: [] };
          messages.push({ role: "assistant", content: turn.content, toolCalls: turn.toolCalls });
        } else if (item.role === "user") {
          messages.push({ role: "user", content: textOf(item.content), parts: userParts(item, param) });
        } else {
          messages.push({ role: "system", content: textOf(item.content) });
        }
        break;
      case "function_call":
        if (turn === undefined) {
          turn = { content: "", toolCalls: [] };
          messages.push({ role: "assistant", content: "", toolCalls: turn.toolCalls });
        }
        turn.toolCalls.push({ id: item.call_id, name: item.name, arguments: item.arguments });
        callIds.add(item.call_id);
        break;
      case "function_call_output":
        if (!callIds.has(item.call_id)) {
          throw invalidRequest(`No tool call found for function call output with call_id ${item.call_id}.`, param === "input" ? "input" : `${param}.call_id`, "invalid_value");
        }
        messages.push({ role: "tool", content: typeof item.output === "string" ? item.output : textOf(item.output), toolCallId: item.call_id });
        break;
      case "code_interpreter_call": {
        // Past code and what it printed go back to the model as its own tool call and result.
        const logs = item.outputs?.map((o) => (o.type === "logs" ? o.logs : "[an image was shown]")).join("\n");
        serverCall({ id: item.id, name: CODE_INTERPRETER_FUNCTION, arguments: JSON.stringify({ code: item.code ?? "" }) }, logs ?? "(the output of this call was not kept: code_interpreter_call.outputs was not included)");
        break;
      }
      case "mcp_call":
        serverCall(
          { id: item.id, name: mcpFunctionName(item.server_label, item.name), arguments: item.arguments },
          item.error === null ? (item.output ?? "") : `The MCP call failed: ${JSON.stringify(item.error)}`,
        );
        break;
      case "image_generation_call":
        // The model asked for an image; it does not read the image's bytes back.
        serverCall({ id: item.id, name: IMAGE_GENERATION_FUNCTION, arguments: "{}" }, item.status === "completed" ? "The image was made and shown to the user." : "The image could not be made.");
        break;
      case "mcp_list_tools":
      case "mcp_approval_request":
      case "mcp_approval_response":
        // Lists are the server's, not the conversation's; approvals are answered before the model runs.
        break;
      case "file_search_call":
        // A past search is not given to the model again: its answer, which follows, already used
        // it, and a turn with the tool runs a search of its own.
        break;
      case "item_reference":
        // The caller resolves references against storage first; one left here is a bug, not bad input.
        throw new Error(`item_reference ${item.id} was not resolved before conversion`);
    }
  });
  return messages;
}

/** Builds the canonical chat request of a Responses request: one choice, no stop sequences, OpenAI's sampling defaults. */
export function toChatRequest(req: ResponsesRequest, messages: ChatMessage[]): ChatRequest {
  return {
    model: req.model,
    messages,
    sampling: {
      temperature: req.temperature ?? 1,
      topP: req.topP ?? 1,
      seed: undefined,
      presencePenalty: 0,
      frequencyPenalty: 0,
      logitBias: new Map(),
    },
    maxTokens: req.maxOutputTokens,
    stop: [],
    n: 1,
    tools: req.tools,
    toolChoice: req.toolChoice,
    parallelToolCalls: req.parallelToolCalls,
    responseFormat: req.responseFormat,
    topLogprobs: wantsLogprobs(req) ? (req.topLogprobs ?? 0) : undefined,
    reasoningEffort: req.reasoningEffort,
    priority: "interactive",
    ...(req.promptCacheKey !== undefined && req.promptCacheKey !== "" ? { promptCacheKey: req.promptCacheKey } : {}),
  };
}
