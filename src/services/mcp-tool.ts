import type { ChatMessage, ToolDefinition } from "../core/chat.ts";
import { invalidRequest } from "../core/errors.ts";
import { toGrammarSchema } from "../protocol/openai/json-schema-subset.ts";
import { mcpFunctionName } from "../protocol/openai/responses-to-chat.ts";
import type { McpCallError, McpServerSettings, McpToolInfo, RequestInputItem, ResponseMcpApprovalRequest, ResponseOutputItem } from "../protocol/openai/responses-types.ts";
import { connectMcp, type McpConnection } from "../providers/mcp/mcp-client.ts";
import { policyFetch } from "../providers/web/safe-fetch.ts";

/** The remote MCP tool's configuration (config `mcp`). */
export interface McpConfig {
  enabled: boolean;
  /** Hosts (`name`, `name:port`, IPs, CIDRs) of private MCP servers that may be reached. */
  allowPrivate: readonly string[];
  /** Milliseconds to connect, list tools, or run one call. */
  timeoutMs: number;
}

/** One server of a turn: its settings, its tools, and the list to show when it was listed now. */
export interface McpTurnServer {
  settings: McpServerSettings;
  tools: McpToolInfo[];
  /** Listed this turn (an `mcp_list_tools` item to show), or undefined when the chain's list was reused. */
  listed: { error: string | undefined } | undefined;
}

/** A call the model may make: which server's which tool. */
export interface McpFunction {
  server: McpTurnServer;
  tool: string;
}

/** The MCP side of a prepared turn. */
export interface McpTurn {
  servers: McpTurnServer[];
  functions: Map<string, McpFunction>;
  definitions: ToolDefinition[];
  /** Approval answers in the input, with the requests they answer: run (or refused) before the model. */
  answers: { request: ResponseMcpApprovalRequest; approve: boolean; reason: string | undefined }[];
}

/** What one call gave back. */
export interface McpCallOutcome {
  output: string | null;
  error: McpCallError | null;
}

/**
 * The Responses API's remote MCP tool, on the official TypeScript SDK: lists each server's tools
 * once per response chain (reusing an `mcp_list_tools` item of the chain), gives the model a function
 * per allowed tool, calls the server when the model calls one (or asks the client's approval first),
 * and runs approved calls before the model answers. Server URLs obey the fetch policy.
 */
export class McpTool {
  readonly #config: McpConfig;
  readonly #fetch: ReturnType<typeof policyFetch>;

  constructor(config: McpConfig) {
    this.#config = config;
    this.#fetch = policyFetch({ allowPrivate: config.allowPrivate });
  }

  /** Lists (or reuses) each server's tools and finds the approval answers' requests. */
  async prepare(servers: readonly McpServerSettings[], history: readonly (RequestInputItem | ResponseOutputItem)[], input: readonly RequestInputItem[], signal: AbortSignal): Promise<McpTurn> {
    if (servers.length > 0 && !this.#config.enabled) throw invalidRequest("Tools of type 'mcp' are disabled on this server (mcp.enabled).", `${servers[0]?.param}.type`, "unsupported_parameter");
    const turn: McpTurn = { servers: [], functions: new Map(), definitions: [], answers: [] };
    for (const settings of servers) {
      const cached = [...history].reverse().find((i) => i.type === "mcp_list_tools" && i.server_label === settings.label && (i.error ?? null) === null);
      let server: McpTurnServer;
      if (cached?.type === "mcp_list_tools") server = { settings, tools: cached.tools, listed: undefined };
      else {
        try {
          const tools = await this.#withConnection(settings, (c) => c.listTools(signal));
          server = { settings, tools: tools.map((t) => ({ name: t.name, description: t.description ?? null, input_schema: t.inputSchema as McpToolInfo["input_schema"], annotations: (t.annotations as McpToolInfo["annotations"]) ?? null })), listed: { error: undefined } };
        } catch (error) {
          signal.throwIfAborted();
          server = { settings, tools: [], listed: { error: `Could not list the tools of ${settings.label}: ${(error as Error).message}` } };
        }
      }
      turn.servers.push(server);
      for (const tool of server.tools) {
        if (settings.allowedTools !== undefined && !settings.allowedTools.includes(tool.name)) continue;
        if (settings.readOnly && (tool.annotations as { readOnlyHint?: unknown } | null)?.readOnlyHint !== true) continue;
        const name = mcpFunctionName(settings.label, tool.name);
        turn.functions.set(name, { server, tool: tool.name });
        let parameters: ToolDefinition["parameters"];
        try {
          parameters = toGrammarSchema(tool.input_schema, settings.param, false, `MCP tool '${tool.name}'`);
        } catch {
          // A schema the grammar compiler cannot take: the model gets any object, the server checks it.
          parameters = toGrammarSchema({ type: "object" }, settings.param, false);
        }
        turn.definitions.push({ name, description: [settings.description, tool.description].filter((d) => d).join(" — ") || undefined, parameters, wireParameters: tool.input_schema, strict: false });
      }
    }
    input.forEach((item, i) => {
      if (item.type !== "mcp_approval_response") return;
      const request = history.find((h): h is ResponseMcpApprovalRequest => h.type === "mcp_approval_request" && h.id === item.approval_request_id);
      if (request === undefined) throw invalidRequest(`No approval request with id '${item.approval_request_id}' in this response's history.`, `input[${i}].approval_request_id`, "invalid_value");
      if (!servers.some((s) => s.label === request.server_label)) throw invalidRequest(`The approved call is to '${request.server_label}', which is not among this request's mcp tools.`, `input[${i}].approval_request_id`, "invalid_value");
      turn.answers.push({ request, approve: item.approve, reason: item.reason ?? undefined });
    });
    return turn;
  }

  /** Whether calling `tool` of `settings` waits for the client's approval. */
  needsApproval(settings: McpServerSettings, tool: string): boolean {
    if (settings.approval.never.includes(tool)) return false;
    if (settings.approval.always.includes(tool)) return true;
    return settings.approval.default;
  }

  /** Calls a server's tool; failures come back as the call's error, for the model to read. */
  async call(settings: McpServerSettings, tool: string, args: string, signal: AbortSignal): Promise<McpCallOutcome> {
    let parsed: Record<string, unknown>;
    try {
      const value: unknown = JSON.parse(args === "" ? "{}" : args);
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not an object");
      parsed = value as Record<string, unknown>;
    } catch {
      return { output: null, error: { type: "mcp_tool_execution_error", content: [{ type: "text", text: "The arguments are not a JSON object." }] } };
    }
    try {
      const result = await this.#withConnection(settings, (c) => c.callTool(tool, parsed, this.#config.timeoutMs, signal));
      return result.isError ? { output: null, error: { type: "mcp_tool_execution_error", content: result.content } } : { output: result.text, error: null };
    } catch (error) {
      signal.throwIfAborted();
      const code = (error as { code?: unknown }).code;
      const message = (error as Error).message;
      if (typeof code === "number" && code < 0) return { output: null, error: { type: "mcp_protocol_error", code, message } };
      return { output: null, error: { type: "http_error", code: typeof code === "number" ? code : 502, message } };
    }
  }

  /** The text a model reads for a call's outcome. */
  static forModel(outcome: McpCallOutcome): string {
    if (outcome.error === null) return outcome.output ?? "";
    const e = outcome.error;
    return `The MCP call failed: ${e.type === "mcp_tool_execution_error" ? JSON.stringify(e.content) : e.message}`;
  }

  /** The messages an answered approval gives the model: the call it approved, and what came of it. */
  static answerMessages(request: ResponseMcpApprovalRequest, result: string): ChatMessage[] {
    const id = `call_${request.id}`;
    return [
      { role: "assistant", content: "", toolCalls: [{ id, name: mcpFunctionName(request.server_label, request.name), arguments: request.arguments }] },
      { role: "tool", content: result, toolCallId: id },
    ];
  }

  async #withConnection<T>(settings: McpServerSettings, work: (c: McpConnection) => Promise<T>): Promise<T> {
    const connection = await connectMcp(settings.url, settings.headers, this.#fetch, this.#config.timeoutMs);
    try {
      return await work(connection);
    } finally {
      await connection.close().catch(() => undefined);
    }
  }
}
