import { prefixedId } from "../../core/ids.ts";
import type { ResponseStreamBuilder, ResponseStreamEvent } from "./responses-stream.ts";
import type { McpCallError, McpToolInfo, ResponseMcpCall } from "./responses-types.ts";

// The remote MCP tool's items and stream events, on the response builder's generic items.

/** An `mcp_list_tools` item, whole: `in_progress`, then `completed` with the tools or `failed` with the error. */
export function emitMcpListTools(builder: ResponseStreamBuilder, label: string, tools: readonly McpToolInfo[] | undefined, error: string | undefined, events: ResponseStreamEvent[]): void {
  const id = prefixedId("mcpl_", 48);
  builder.openItem({ type: "mcp_list_tools", id, server_label: label, tools: [] }, (index) => [{ type: "response.mcp_list_tools.in_progress", output_index: index, item_id: id }], events);
  builder.updateItem(
    id,
    (item, index) => {
      if (item.type !== "mcp_list_tools") return [];
      item.tools = (tools ?? []).map((t) => ({ ...t }));
      item.error = error ?? null;
      return [{ type: error === undefined ? "response.mcp_list_tools.completed" : "response.mcp_list_tools.failed", output_index: index, item_id: id }];
    },
    events,
  );
  builder.closeItem(id, events);
}

/** An `mcp_call` starts: `response.output_item.added` and `response.mcp_call.in_progress`. Returns its id. */
export function startMcpCall(builder: ResponseStreamBuilder, label: string, name: string, approvalRequestId: string | null, events: ResponseStreamEvent[]): string {
  const id = prefixedId("mcp_", 48);
  const item: ResponseMcpCall = { type: "mcp_call", id, server_label: label, name, arguments: "", output: null, error: null, status: "in_progress", approval_request_id: approvalRequestId };
  builder.openItem(item, (index) => [{ type: "response.mcp_call.in_progress", output_index: index, item_id: id }], events);
  return id;
}

/** More of a call's arguments, as the model writes them. */
export function mcpCallArgumentsDelta(builder: ResponseStreamBuilder, id: string, delta: string, events: ResponseStreamEvent[]): void {
  if (delta === "") return;
  builder.updateItem(
    id,
    (item, index) => {
      if (item.type !== "mcp_call") return [];
      item.arguments += delta;
      return [{ type: "response.mcp_call_arguments.delta", output_index: index, item_id: id, delta }];
    },
    events,
  );
}

/** The arguments are whole and the call goes to the server: `response.mcp_call_arguments.done`. */
export function mcpCallRunning(builder: ResponseStreamBuilder, id: string, args: string, events: ResponseStreamEvent[]): void {
  builder.updateItem(
    id,
    (item, index) => {
      if (item.type !== "mcp_call") return [];
      item.arguments = args;
      item.status = "calling";
      return [{ type: "response.mcp_call_arguments.done", output_index: index, item_id: id, arguments: args }];
    },
    events,
  );
}

/** The server answered: the output, or the error; `response.mcp_call.completed` or `.failed`, then done. */
export function finishMcpCall(builder: ResponseStreamBuilder, id: string, output: string | null, error: McpCallError | null, events: ResponseStreamEvent[]): void {
  builder.updateItem(
    id,
    (item, index) => {
      if (item.type !== "mcp_call") return [];
      item.output = output;
      item.error = error;
      item.status = error === null ? "completed" : "failed";
      return [{ type: error === null ? "response.mcp_call.completed" : "response.mcp_call.failed", output_index: index, item_id: id }];
    },
    events,
  );
  builder.closeItem(id, events);
}

/** A call that waits for the client's approval: an `mcp_approval_request` item, whole. Returns its id. */
export function emitMcpApprovalRequest(builder: ResponseStreamBuilder, label: string, name: string, args: string, events: ResponseStreamEvent[]): string {
  const id = prefixedId("mcpr_", 48);
  builder.openItem({ type: "mcp_approval_request", id, server_label: label, name, arguments: args }, () => [], events);
  builder.closeItem(id, events);
  return id;
}
