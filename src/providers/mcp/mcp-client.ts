// Types only: the SDK (about 190 ms to import) is loaded when a request first uses an MCP server.
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import type { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

/** A tool an MCP server offers. */
export interface McpServerTool {
  name: string;
  description: string | undefined;
  inputSchema: Record<string, unknown>;
  annotations: Record<string, unknown> | undefined;
}

/** What a tool call gave back: its content as text, and whether the tool reported an error. */
export interface McpCallResult {
  text: string;
  content: unknown;
  isError: boolean;
}

/** An open session with a remote MCP server. */
export interface McpConnection {
  listTools(signal: AbortSignal): Promise<McpServerTool[]>;
  callTool(name: string, args: Record<string, unknown>, timeoutMs: number, signal: AbortSignal): Promise<McpCallResult>;
  close(): Promise<void>;
}

type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** A tool result's content as text: text parts as they are, other parts (images, resources) named. */
function contentText(content: unknown): string {
  if (!Array.isArray(content)) return "";
  return content
    .map((part: { type?: unknown; text?: unknown; resource?: { uri?: unknown; text?: unknown } }) => {
      if (part.type === "text" && typeof part.text === "string") return part.text;
      if (part.type === "resource" && typeof part.resource?.text === "string") return part.resource.text;
      return `[${String(part.type)} content]`;
    })
    .join("\n");
}

/**
 * Connects to a remote MCP server with the official SDK (`@modelcontextprotocol/sdk`): Streamable
 * HTTP first, then the legacy HTTP+SSE transport for servers that answer it with an error, as the
 * SDK's guide for backwards compatibility does. Every request goes through `fetch` (the server's
 * fetch policy) with `headers`.
 */
export async function connectMcp(url: string, headers: Record<string, string>, fetchFn: FetchLike, timeoutMs: number): Promise<McpConnection> {
  const target = new URL(url);
  const requestInit: RequestInit = { headers };
  const [sdk, sse, streamable] = await Promise.all([
    import("@modelcontextprotocol/sdk/client/index.js"),
    import("@modelcontextprotocol/sdk/client/sse.js"),
    import("@modelcontextprotocol/sdk/client/streamableHttp.js"),
  ]);
  const open = async (transport: StreamableHTTPClientTransport | SSEClientTransport): Promise<Client> => {
    const client = new sdk.Client({ name: "modelport", version: "0.1.0" });
    try {
      await client.connect(transport, { timeout: timeoutMs });
    } catch (error) {
      // A failed transport is closed, or the SSE one's event source would go on reconnecting.
      await client.close().catch(() => undefined);
      await transport.close().catch(() => undefined);
      throw error;
    }
    return client;
  };
  let client: Client;
  try {
    client = await open(new streamable.StreamableHTTPClientTransport(target, { requestInit, fetch: fetchFn }));
  } catch (first) {
    try {
      client = await open(new sse.SSEClientTransport(target, { requestInit, eventSourceInit: { fetch: (u, init) => fetchFn(u, { ...init, headers: { ...headers, ...(init?.headers as Record<string, string> | undefined) } }) }, fetch: fetchFn }));
    } catch {
      throw first;
    }
  }
  return {
    async listTools(signal) {
      const tools: McpServerTool[] = [];
      let cursor: string | undefined;
      // Pages, as the protocol lists them; a server with endless pages stops at a hundred.
      for (let page = 0; page < 100; page++) {
        const listed = await client.listTools(cursor === undefined ? {} : { cursor }, { timeout: timeoutMs, signal });
        for (const t of listed.tools) {
          tools.push({ name: t.name, description: t.description, inputSchema: t.inputSchema as Record<string, unknown>, annotations: t.annotations as Record<string, unknown> | undefined });
        }
        cursor = listed.nextCursor;
        if (cursor === undefined) break;
      }
      return tools;
    },
    async callTool(name, args, timeout, signal) {
      const result = await client.callTool({ name, arguments: args }, undefined, { timeout, signal });
      const content = (result as { content?: unknown }).content;
      return { text: contentText(content), content, isError: (result as { isError?: unknown }).isError === true };
    },
    close: () => client.close(),
  };
}
