import { emptyUsage, type ToolChoice, type ToolDefinition } from "../core/chat.ts";
import { invalidRequest } from "../core/errors.ts";
import type { ResponseStreamBuilder, ResponseStreamEvent } from "../protocol/openai/responses-stream.ts";
import type { CodeInterpreterOutput, RequestInputItem, ResponseOutputItem, ResponsesRequest } from "../protocol/openai/responses-types.ts";
import type { ContainerFileRef } from "../protocol/openai/responses-stream.ts";
import type { Principal } from "./access.ts";
import { callCode, partialCode, PYTHON_TOOL, type CodeInterpreterTool } from "./code-interpreter-tool.ts";
import type { ServerFunction, ToolLoopPart } from "./tool-loop.ts";
import type { UsageMeter } from "./usage-meter.ts";
import { searchQuery, WEB_SEARCH_FUNCTION, type WebSearchDetail, type WebSearchTool } from "./web-search-tool.ts";

/** What a server-run call shows in the response, per tool. */
export type ServerToolDetail = { tool: "code"; outputs: CodeInterpreterOutput[]; files: ContainerFileRef[] } | ({ tool: "web" } & WebSearchDetail);

/** The loop's parts about server-run calls. */
export type ToolEventPart = Extract<ToolLoopPart<ServerToolDetail>, { type: "tool-start" | "tool-args" | "tool-run" | "tool-done" }>;

/** The server's tools a turn may use, ready for the chat request. */
export interface PreparedTools {
  /** Functions added to the model's tools. */
  functions: ToolDefinition[];
  /** The tool choice that forces a server tool, if one is forced. */
  choice: ToolChoice | undefined;
  /** The container the code interpreter runs in. */
  containerId: string | undefined;
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
  readonly #meter: UsageMeter;

  constructor(options: { code: CodeInterpreterTool | undefined; web: WebSearchTool | undefined; meter: UsageMeter }) {
    this.#code = options.code;
    this.#web = options.web;
    this.#meter = options.meter;
  }

  /** Whether a request uses a server-run tool. */
  uses(req: ResponsesRequest): boolean {
    return req.codeInterpreter !== undefined || req.webSearch !== undefined;
  }

  /** Checks the turn's tools can run here (400s naming them) and makes or finds its container. */
  async prepare(projectId: string, req: ResponsesRequest, history: readonly (RequestInputItem | ResponseOutputItem)[]): Promise<PreparedTools> {
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
    return { functions, choice, containerId };
  }

  /** The tools of one response run by `principal`, for a model whose context is `contextTokens`. */
  session(principal: Principal, req: ResponsesRequest, containerId: string | undefined, contextTokens: number | undefined): ToolSession {
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
    // Each call's item id in the builder, and how much of its code the client has seen.
    const items = new Map<string, { id: string; shown: number }>();
    return {
      functions,
      events: (part, builder) => {
        const events: ResponseStreamEvent[] = [];
        const python = part.name === PYTHON_TOOL.name;
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
            else builder.finishWebSearch(id, detail.query, detail.sources, detail.numbered, detail.failed, events);
            break;
          }
        }
        return events;
      },
    };
  }
}
