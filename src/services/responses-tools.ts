import { emptyUsage, type ChatMessage, type ToolChoice, type ToolDefinition } from "../core/chat.ts";
import { ApiError, invalidRequest } from "../core/errors.ts";
import type { ResponseStreamBuilder, ResponseStreamEvent } from "../protocol/openai/responses-stream.ts";
import type { CodeInterpreterOutput, RequestInputItem, ResponseMcpApprovalRequest, ResponseOutputItem, ResponsesRequest } from "../protocol/openai/responses-types.ts";
import { emitMcpApprovalRequest, emitMcpListTools, finishMcpCall, mcpCallArgumentsDelta, mcpCallRunning, startMcpCall } from "../protocol/openai/responses-mcp.ts";
import { McpTool, type McpCallOutcome, type McpTurn } from "./mcp-tool.ts";
import { finishImageGeneration, imageGenerating, imagePartial, startImageGeneration } from "../protocol/openai/responses-image-gen.ts";
import { toGrammarSchema } from "../protocol/openai/json-schema-subset.ts";
import { IMAGE_GENERATION_FUNCTION } from "../protocol/openai/responses-to-chat.ts";
import type { ImageService } from "./image-service.ts";

const IMAGE_PARAMETERS = { type: "object", properties: { prompt: { type: "string", description: "A detailed description of the image to make." } }, required: ["prompt"], additionalProperties: false };

/** The function the model is given to make an image. */
const IMAGE_FUNCTION: ToolDefinition = {
  name: IMAGE_GENERATION_FUNCTION,
  description: "Makes an image from a detailed description and shows it to the user.",
  parameters: toGrammarSchema(IMAGE_PARAMETERS, "tools", true, "function 'image_generation'"),
  wireParameters: IMAGE_PARAMETERS,
  strict: true,
};

/** The prompt the model wrote: `{"prompt": …}`, or the arguments themselves. */
function imagePrompt(args: string): string {
  try {
    const parsed = JSON.parse(args) as { prompt?: unknown };
    if (typeof parsed.prompt === "string" && parsed.prompt.trim() !== "") return parsed.prompt;
  } catch {
    // Bare text: the prompt as written.
  }
  return args.trim() === "" ? "An image" : args;
}
import type { ContainerFileRef } from "../protocol/openai/responses-stream.ts";
import type { Principal } from "./access.ts";
import { callCode, partialCode, PYTHON_TOOL, type CodeInterpreterTool } from "./code-interpreter-tool.ts";
import type { ServerFunction, ToolLoopPart } from "./tool-loop.ts";
import type { UsageMeter } from "./usage-meter.ts";
import { searchQuery, WEB_SEARCH_FUNCTION, type WebSearchDetail, type WebSearchTool } from "./web-search-tool.ts";

/** What a server-run call shows in the response, per tool. */
export type ServerToolDetail =
  | { tool: "code"; outputs: CodeInterpreterOutput[]; files: ContainerFileRef[] }
  | ({ tool: "web" } & WebSearchDetail)
  | { tool: "mcp"; outcome: McpCallOutcome }
  | { tool: "mcp-approval"; label: string; name: string; args: string }
  | { tool: "image"; b64: string | undefined }
  | { tool: "image-partial"; b64: string; index: number };

/** The loop's parts about server-run calls. */
export type ToolEventPart = Extract<ToolLoopPart<ServerToolDetail>, { type: "tool-start" | "tool-args" | "tool-run" | "tool-progress" | "tool-done" }>;

/** The server's tools a turn may use, ready for the chat request. */
export interface PreparedTools {
  /** Functions added to the model's tools. */
  functions: ToolDefinition[];
  /** The tool choice that forces a server tool, if one is forced. */
  choice: ToolChoice | undefined;
  /** The container the code interpreter runs in. */
  containerId: string | undefined;
  /** The MCP servers, their tools and the approval answers of the turn. */
  mcp: McpTurn | undefined;
}

/** Work done before the model answers (MCP calls the client approved): what the model reads, and the items it shows. */
export interface ToolPreamble {
  messages: ChatMessage[];
  events(builder: ResponseStreamBuilder): ResponseStreamEvent[];
}

/** The tools of one running response: what the loop runs, and how each call shows in the stream. */
export interface ToolSession {
  functions: ReadonlyMap<string, ServerFunction<ServerToolDetail>>;
  /** The builder's events for one of the loop's tool parts. */
  events(part: ToolEventPart, builder: ResponseStreamBuilder): ResponseStreamEvent[];
}

/**
 * The Responses API's server-run tools (`code_interpreter`, `web_search`): checks a turn may use them,
 * gives the model their functions, runs their calls and maps them onto the response's items and
 * events. `file_search` runs before the model instead (file-search-tool.ts).
 */
export class ResponseTools {
  readonly #code: CodeInterpreterTool | undefined;
  readonly #web: WebSearchTool | undefined;
  readonly #mcp: McpTool | undefined;
  readonly #images: ImageService | undefined;
  readonly #meter: UsageMeter;

  constructor(options: { code: CodeInterpreterTool | undefined; web: WebSearchTool | undefined; mcp: McpTool | undefined; images: ImageService | undefined; meter: UsageMeter }) {
    this.#images = options.images;
    this.#code = options.code;
    this.#web = options.web;
    this.#mcp = options.mcp;
    this.#meter = options.meter;
  }

  /** Whether a request uses a server-run tool. */
  uses(req: ResponsesRequest): boolean {
    return req.codeInterpreter !== undefined || req.webSearch !== undefined || req.imageGeneration !== undefined || req.mcp.length > 0 || req.input.some((i) => i.type === "mcp_approval_response");
  }

  /** Checks the turn's tools can run here (400s naming them) and makes or finds its container. */
  async prepare(projectId: string, req: ResponsesRequest, history: readonly (RequestInputItem | ResponseOutputItem)[], input: readonly RequestInputItem[], signal: AbortSignal): Promise<PreparedTools> {
    const functions: ToolDefinition[] = [];
    let choice: ToolChoice | undefined;
    let containerId: string | undefined;
    const code = req.codeInterpreter;
    if (code !== undefined) {
      if (this.#code === undefined) throw invalidRequest("Tools of type 'code_interpreter' are not available on this server.", `${code.param}.type`, "unsupported_parameter");
      this.#code.check(code);
      containerId = await this.#code.container(projectId, code, history);
      functions.push(PYTHON_TOOL);
      if (code.forced) choice = { name: PYTHON_TOOL.name };
    }
    const web = req.webSearch;
    if (web !== undefined) {
      if (this.#web === undefined) throw invalidRequest("Tools of type 'web_search' are not available on this server.", `${web.param}.type`, "unsupported_parameter");
      this.#web.check(web);
      functions.push(WEB_SEARCH_FUNCTION);
      if (web.forced) choice = { name: WEB_SEARCH_FUNCTION.name };
    }
    const image = req.imageGeneration;
    if (image !== undefined) {
      if (this.#images === undefined) throw invalidRequest("Tools of type 'image_generation' are not available on this server.", `${image.param}.type`, "unsupported_parameter");
      try {
        this.#images.model({ model: image.model, endpoint: "/images/generations" });
      } catch (error) {
        // The image model is named by the tool, not by the request's `model`.
        if (error instanceof ApiError) throw new ApiError(error.status, error.message, { type: error.type, code: error.code, param: `${image.param}.model` });
        throw error;
      }
      functions.push(IMAGE_FUNCTION);
      if (image.forced) choice = { name: IMAGE_FUNCTION.name };
    }
    let mcp: McpTurn | undefined;
    if (req.mcp.length > 0 || input.some((i) => i.type === "mcp_approval_response")) {
      if (this.#mcp === undefined) throw invalidRequest("Tools of type 'mcp' are not available on this server.", "tools", "unsupported_parameter");
      mcp = await this.#mcp.prepare(req.mcp, history, input, signal);
      functions.push(...mcp.definitions);
      const forced = req.mcpForced;
      if (forced !== undefined) {
        const named = [...mcp.functions].filter(([, f]) => f.server.settings.label === forced.label && (forced.name === undefined || f.tool === forced.name));
        choice = named.length === 1 ? { name: named[0]?.[0] ?? "" } : "required";
      }
    }
    return { functions, choice, containerId, mcp };
  }

  /** Runs the MCP calls the client approved (or tells the model it refused them), before the model answers. */
  async preamble(mcp: McpTurn, signal: AbortSignal): Promise<ToolPreamble> {
    const tool = this.#mcp;
    const messages: ChatMessage[] = [];
    const done: { request: ResponseMcpApprovalRequest; outcome: McpCallOutcome | undefined }[] = [];
    for (const answer of mcp.answers) {
      const server = mcp.servers.find((s) => s.settings.label === answer.request.server_label);
      if (!answer.approve || server === undefined || tool === undefined) {
        messages.push(...McpTool.answerMessages(answer.request, `The user did not approve this call${answer.reason ? `: ${answer.reason}` : "."}`));
        done.push({ request: answer.request, outcome: undefined });
        continue;
      }
      const outcome = await tool.call(server.settings, answer.request.name, answer.request.arguments, signal);
      messages.push(...McpTool.answerMessages(answer.request, McpTool.forModel(outcome)));
      done.push({ request: answer.request, outcome });
    }
    return {
      messages,
      events: (builder) => {
        const events: ResponseStreamEvent[] = [];
        for (const server of mcp.servers) if (server.listed !== undefined) emitMcpListTools(builder, server.settings.label, server.tools, server.listed.error, events);
        for (const { request, outcome } of done) {
          if (outcome === undefined) continue;
          const id = startMcpCall(builder, request.server_label, request.name, request.id, events);
          mcpCallRunning(builder, id, request.arguments, events);
          finishMcpCall(builder, id, outcome.output, outcome.error, events);
        }
        return events;
      },
    };
  }

  /** The tools of one response run by `principal`, for a model whose context is `contextTokens`. */
  session(principal: Principal, req: ResponsesRequest, containerId: string | undefined, contextTokens: number | undefined, mcp?: McpTurn): ToolSession {
    const functions = new Map<string, ServerFunction<ServerToolDetail>>();
    const code = this.#code;
    if (code !== undefined && req.codeInterpreter !== undefined && containerId !== undefined) {
      const onSession = (): void =>
        void this.#meter.record({ principal, model: "code-interpreter", endpoint: "/v1/containers/sessions", usage: { ...emptyUsage(), promptTokens: 1 }, latencyMs: 0, status: 200, batch: false, pricing: code.sessionPricing });
      functions.set(PYTHON_TOOL.name, {
        run: async (args, signal) => {
          const ran = await code.execute(principal.projectId, containerId, callCode(args), signal, onSession);
          return { forModel: ran.forModel, detail: { tool: "code", outputs: ran.outputs, files: ran.files } };
        },
      });
    }
    const web = this.#web;
    const settings = req.webSearch;
    if (web !== undefined && settings !== undefined) {
      // Sources are numbered across the response's searches, so every [n] in the answer is unique.
      const next = { n: 1 };
      functions.set(WEB_SEARCH_FUNCTION.name, {
        run: async (args, signal) => {
          const started = performance.now();
          const ran = await web.run(searchQuery(args), settings, contextTokens, next, signal);
          const price = { input: web.pricePerCall * 1_000_000, cachedInput: 0, output: 0 };
          this.#meter.record({ principal, model: "web-search", endpoint: "/v1/responses/web_search", usage: { ...emptyUsage(), promptTokens: 1 }, latencyMs: performance.now() - started, status: ran.detail.failed ? 502 : 200, batch: false, pricing: price });
          return { forModel: ran.forModel, detail: { tool: "web", ...ran.detail } };
        },
      });
    }
    const images = this.#images;
    const image = req.imageGeneration;
    if (images !== undefined && image !== undefined) {
      functions.set(IMAGE_FUNCTION.name, {
        run: async (args, signal, progress) => {
          try {
            const made = await images.generate(
              principal,
              image.model,
              {
                prompt: imagePrompt(args),
                size: image.size,
                quality: image.quality,
                background: image.background,
                outputFormat: image.outputFormat,
                outputCompression: image.outputCompression,
                moderation: image.moderation,
                partialImages: image.partialImages,
                onPartial: (b64, index) => progress({ tool: "image-partial", b64, index }),
              },
              signal,
            );
            return { forModel: "The image was made and shown to the user.", detail: { tool: "image", b64: made.b64 } };
          } catch (error) {
            signal.throwIfAborted();
            return { forModel: `The image could not be made: ${(error as Error).message}`, detail: { tool: "image", b64: undefined } };
          }
        },
      });
    }
    const mcpTool = this.#mcp;
    for (const [name, fn] of mcp?.functions ?? []) {
      if (mcpTool === undefined) break;
      functions.set(name, {
        run: async (args, signal) => {
          if (mcpTool.needsApproval(fn.server.settings, fn.tool)) return { forModel: "", detail: { tool: "mcp-approval", label: fn.server.settings.label, name: fn.tool, args }, stop: true };
          const outcome = await mcpTool.call(fn.server.settings, fn.tool, args, signal);
          return { forModel: McpTool.forModel(outcome), detail: { tool: "mcp", outcome } };
        },
      });
    }
    // Each call's item id in the builder, and how much of its code (or arguments) the client has seen.
    const items = new Map<string, { id: string; shown: number }>();
    return {
      functions,
      events: (part, builder) => {
        const events: ResponseStreamEvent[] = [];
        const python = part.name === PYTHON_TOOL.name;
        const remote = mcp?.functions.get(part.name);
        // A call that waits for approval shows as its request once its arguments are whole.
        const waits = remote !== undefined && mcpTool !== undefined && mcpTool.needsApproval(remote.server.settings, remote.tool);
        if (remote !== undefined) {
          if (part.type === "tool-start" && !waits) items.set(part.callId, { id: startMcpCall(builder, remote.server.settings.label, remote.tool, null, events), shown: 0 });
          const item = items.get(part.callId);
          if (part.type === "tool-args" && item !== undefined) {
            mcpCallArgumentsDelta(builder, item.id, part.args.slice(item.shown), events);
            item.shown = part.args.length;
          }
          if (part.type === "tool-run" && item !== undefined) mcpCallRunning(builder, item.id, part.args, events);
          if (part.type === "tool-done") {
            const detail = part.detail;
            if (detail.tool === "mcp" && item !== undefined) finishMcpCall(builder, item.id, detail.outcome.output, detail.outcome.error, events);
            if (detail.tool === "mcp-approval") emitMcpApprovalRequest(builder, detail.label, detail.name, detail.args, events);
          }
          return events;
        }
        if (part.name === IMAGE_FUNCTION.name) {
          if (part.type === "tool-start") items.set(part.callId, { id: startImageGeneration(builder, events), shown: 0 });
          const id = items.get(part.callId)?.id ?? "";
          if (part.type === "tool-run") imageGenerating(builder, id, events);
          if (part.type === "tool-progress" && part.detail.tool === "image-partial") imagePartial(builder, id, part.detail.b64, part.detail.index, events);
          if (part.type === "tool-done" && part.detail.tool === "image") finishImageGeneration(builder, id, part.detail.b64, events);
          return events;
        }
        switch (part.type) {
          case "tool-start":
            items.set(part.callId, { id: python ? builder.startCodeCall(containerId ?? "", events) : builder.startWebSearch(events), shown: 0 });
            break;
          case "tool-args": {
            const item = items.get(part.callId);
            if (!python || item === undefined) break;
            const code = partialCode(part.args);
            if (code.length > item.shown) builder.codeDelta(item.id, code.slice(item.shown), events);
            item.shown = Math.max(item.shown, code.length);
            break;
          }
          case "tool-run": {
            const id = items.get(part.callId)?.id ?? "";
            if (python) builder.runCode(id, callCode(part.args), events);
            else builder.webSearching(id, searchQuery(part.args), events);
            break;
          }
          case "tool-done": {
            const id = items.get(part.callId)?.id ?? "";
            const detail = part.detail;
            if (detail.tool === "code") builder.finishCodeCall(id, detail.outputs, detail.files, events);
            else if (detail.tool === "web") {
              builder.finishWebSearch(id, detail.query, detail.sources, detail.numbered, detail.failed, events);
              for (const url of detail.opened) builder.openedPage(url, events);
            }
            break;
          }
        }
        return events;
      },
    };
  }
}
