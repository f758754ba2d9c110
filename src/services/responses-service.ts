import type { ChatMessage, ChatRequest, Usage } from "../core/chat.ts";
import { emptyUsage } from "../core/chat.ts";
import { ApiError, invalidRequest, objectNotFound, toApiError } from "../core/errors.ts";
import { prefixedId } from "../core/ids.ts";
import type { Logger } from "../logging/logger.ts";
import { conversationItemFromInput, conversationItemId, storedConversationItem } from "../protocol/openai/conversations.ts";
import { parseResponsesRequest } from "../protocol/openai/responses-parse.ts";
import { renderResponse, type ResponseObject } from "../protocol/openai/responses-render.ts";
import { ResponseStreamBuilder, type ResponseStreamEvent } from "../protocol/openai/responses-stream.ts";
import { itemsToChatMessages, toChatRequest } from "../protocol/openai/responses-to-chat.ts";
import type { RequestInputItem, ResponseInputItem, ResponseOutputItem, ResponsesRequest } from "../protocol/openai/responses-types.ts";
import type { VectorSearch } from "../retrieval/types.ts";
import type { ChatModel } from "../providers/provider.ts";
import type { ObjectStore, StoredResponse } from "../storage/object-store.ts";
import type { Principal } from "./access.ts";
import type { ChatRun, ChatService } from "./chat-service.ts";
import type { CodeInterpreterTool } from "./code-interpreter-tool.ts";
import { ResponseTools, type ServerToolDetail } from "./responses-tools.ts";
import { runToolLoop, type ToolLoopPart } from "./tool-loop.ts";
import type { WebSearchTool } from "./web-search-tool.ts";
import type { McpTool, McpTurn } from "./mcp-tool.ts";
import type { ImageService } from "./image-service.ts";
import { FileSearchTool } from "./file-search-tool.ts";
import type { UsageMeter } from "./usage-meter.ts";

/** An item as stored: a wire-form input or output item that always has an id. */
export type StoredItemValue = (Exclude<RequestInputItem, { type: "item_reference" }> | ResponseOutputItem) & { id: string };

/** A turn ready to run: the canonical request with its history, and the items it adds. */
export interface PreparedTurn {
  request: ResponsesRequest;
  chat: ChatRequest;
  /** This turn's own input items, references resolved, each with an id. */
  inputItems: StoredItemValue[];
  /** The container the code interpreter runs in this turn, when it may run. */
  containerId?: string;
  /** The turn's MCP servers and tools, and the approvals it answers. */
  mcp?: McpTurn;
}

/** Options of the Responses service. */
export interface ResponsesServiceOptions {
  /** Searches vector stores for the `file_search` tool; without it the tool is refused. */
  search?: VectorSearch | undefined;
  /** Runs the `code_interpreter` tool; without it the tool is refused. */
  codeInterpreter?: CodeInterpreterTool | undefined;
  /** Runs the `web_search` tool; without it the tool is refused. */
  webSearch?: WebSearchTool | undefined;
  /** Calls remote MCP servers for the `mcp` tool; without it the tool is refused. */
  mcp?: McpTool | undefined;
  /** Makes images for the `image_generation` tool; without it the tool is refused. */
  images?: ImageService | undefined;
  /** Calls of server-run tools per response at most, unless `max_tool_calls` is lower. */
  maxToolCalls?: number;
}

/** A running response: its events as they happen (start events included), then its final object. */
export interface ResponseRun {
  model: ChatModel;
  events: AsyncGenerator<ResponseStreamEvent>;
  /** The response object: final once `events` is done. */
  response(): ResponseObject;
  /** The response as it is stored (code calls keep their outputs). */
  stored(): ResponseObject;
}

const TERMINAL = new Set(["completed", "incomplete", "failed", "cancelled"]);

/** A request body with the `headers` and `authorization` of its `mcp` tools left out. */
function withoutMcpSecrets(body: unknown): unknown {
  if (typeof body !== "object" || body === null || !Array.isArray((body as { tools?: unknown }).tools)) return body;
  const tools = (body as { tools: unknown[] }).tools.map((tool) => {
    if (typeof tool !== "object" || tool === null || (tool as { type?: unknown }).type !== "mcp") return tool;
    const { headers: _headers, authorization: _authorization, ...rest } = tool as Record<string, unknown>;
    return rest;
  });
  return { ...(body as Record<string, unknown>), tools };
}

function itemId(item: Exclude<ResponseInputItem, { type: "item_reference" }>): string {
  return item.id ?? conversationItemId(item.type);
}

/**
 * The Responses API as a use case: builds each turn's context from stored state (a previous
 * response's chain, or a conversation), runs it through the chat service (local engine or
 * upstream), and stores the response, its input items and the conversation's new items, all
 * scoped to the project. Background responses run detached, can be cancelled, and are run again
 * after a restart if they had not finished.
 */
export class ResponsesService {
  readonly #objects: ObjectStore;
  readonly #chat: ChatService;
  readonly #meter: UsageMeter;
  readonly #logger: Logger;
  readonly #fileSearch: FileSearchTool | undefined;
  readonly #tools: ResponseTools;
  readonly #maxToolCalls: number;
  readonly #background = new Map<string, AbortController>();
  readonly #jobs = new Set<Promise<void>>();
  #closed = false;

  constructor(objects: ObjectStore, chat: ChatService, meter: UsageMeter, logger: Logger, options: ResponsesServiceOptions = {}) {
    this.#objects = objects;
    this.#chat = chat;
    this.#meter = meter;
    this.#logger = logger;
    this.#fileSearch = options.search === undefined ? undefined : new FileSearchTool(options.search, chat);
    this.#tools = new ResponseTools({ code: options.codeInterpreter, web: options.webSearch, mcp: options.mcp, images: options.images, meter });
    this.#maxToolCalls = options.maxToolCalls ?? 10;
  }

  /** The items before this turn: the previous response's whole chain, or the conversation's items. */
  async #history(projectId: string, req: ResponsesRequest): Promise<StoredItemValue[]> {
    if (req.conversation !== undefined) {
      const conversation = await this.#objects.getConversation(projectId, req.conversation);
      if (conversation === undefined) throw objectNotFound("Conversation", req.conversation, "conversation", "conversation_not_found");
      return (await this.#objects.allConversationItems(conversation.id)).map((i) => JSON.parse(i.item) as StoredItemValue);
    }
    if (req.previousResponseId === undefined) return [];
    const chain: StoredResponse[] = [];
    let next: string | null = req.previousResponseId;
    while (next !== null) {
      const stored = await this.#objects.getResponse(projectId, next);
      if (stored === undefined) {
        throw next === req.previousResponseId
          ? new ApiError(400, `Previous response with id '${next}' not found.`, { type: "invalid_request_error", param: "previous_response_id", code: "previous_response_not_found" })
          : new ApiError(400, `Response '${next}' in the chain of '${req.previousResponseId}' was deleted; its history is gone.`, { type: "invalid_request_error", param: "previous_response_id", code: "previous_response_not_found" });
      }
      if (next === req.previousResponseId && !TERMINAL.has(stored.status)) {
        throw invalidRequest(`Previous response '${next}' has not finished yet (status '${stored.status}').`, "previous_response_id", "previous_response_not_finished");
      }
      chain.unshift(stored);
      next = stored.previousResponseId;
    }
    const items: StoredItemValue[] = [];
    for (const r of chain) {
      items.push(...(JSON.parse(r.inputItems) as StoredItemValue[]));
      items.push(...(JSON.parse(r.body) as ResponseObject).output);
    }
    return items;
  }

  /** Resolves the turn's context and validates it against the model, before anything runs. */
  async prepare(projectId: string, req: ResponsesRequest): Promise<PreparedTurn> {
    if (req.fileSearch !== undefined && this.#fileSearch === undefined) {
      throw invalidRequest("Tools of type 'file_search' are not available: this server has no vector store search.", `${req.fileSearch.param}.type`, "unsupported_parameter");
    }
    const history = await this.#history(projectId, req);
    const byId = new Map(history.map((i) => [i.id, i]));
    const inputItems = req.input.map((item, i): StoredItemValue => {
      if (item.type === "file_search_call" || item.type === "code_interpreter_call" || item.type === "web_search_call" || item.type === "mcp_list_tools" || item.type === "mcp_call" || item.type === "mcp_approval_request") return { ...item };
      if (item.type === "mcp_approval_response") return { ...item, id: item.id ?? prefixedId("mcpr_", 48) };
      if (item.type !== "item_reference") return { ...item, id: itemId(item) } as StoredItemValue;
      const found = byId.get(item.id);
      if (found === undefined) throw invalidRequest(`Item with id '${item.id}' not found in this response's history.`, `input[${i}].id`, "item_not_found");
      return found;
    });
    const messages = itemsToChatMessages(req.instructions, [...history, ...inputItems], { firstInputIndex: history.length });
    const chat = toChatRequest(req, messages);
    if (!this.#tools.uses(req)) return { request: req, chat, inputItems };
    const tools = await this.#tools.prepare(projectId, req, [...history, ...inputItems], req.input, new AbortController().signal);
    // The model calls the server's tools through functions of their own; forcing a tool forces its function first.
    const prepared: PreparedTurn = { request: req, chat: { ...chat, tools: [...chat.tools, ...tools.functions], toolChoice: tools.choice ?? chat.toolChoice }, inputItems };
    if (tools.containerId !== undefined) prepared.containerId = tools.containerId;
    if (tools.mcp !== undefined) prepared.mcp = tools.mcp;
    return prepared;
  }

  /**
   * Starts a turn: errors about the request (model, context length, capacity) are thrown here, before
   * any event, so they get an HTTP status. With `truncation: "auto"` the oldest turns are dropped
   * until the context fits.
   */
  async start(
    principal: Principal,
    turn: PreparedTurn,
    signal: AbortSignal,
    onUsage: (usage: Usage) => void,
    options: { id?: string; createdAt?: number } = {},
  ): Promise<ResponseRun> {
    // The search runs first, so that a store the project cannot see is a 404 before any event.
    const search = turn.request.fileSearch === undefined ? undefined : await this.#fileSearch?.run(principal.projectId, turn, signal);
    // MCP calls the client approved run first; the model reads what came of them.
    const preamble = turn.mcp === undefined ? undefined : await this.#tools.preamble(turn.mcp, signal);
    let chat = search?.chat ?? turn.chat;
    if (preamble !== undefined) chat = { ...chat, messages: [...chat.messages, ...preamble.messages] };
    let run: ChatRun;
    for (;;) {
      try {
        run = await this.#chat.start(chat, signal, onUsage, { projectId: principal.projectId });
        break;
      } catch (error) {
        const shorter = turn.request.truncation === "auto" && toApiError(error).code === "context_length_exceeded" ? dropOldestTurn(chat.messages) : undefined;
        if (shorter === undefined) throw error;
        chat = { ...chat, messages: shorter };
      }
    }
    const started = run;
    const serverTools = this.#tools.uses(turn.request) ? this.#tools.session(principal, turn.request, turn.containerId, run.model.capabilities.contextSize, turn.mcp) : undefined;
    const parts: AsyncIterator<ToolLoopPart<ServerToolDetail>> =
      serverTools === undefined
        ? { next: async () => (first ? ((first = false), started.first) : started.parts.next()), return: async () => (await started.parts.return?.(undefined)) ?? { done: true, value: undefined } }
        : runToolLoop(started, chat, {
            functions: serverTools.functions,
            maxCalls: Math.min(this.#maxToolCalls, turn.request.maxToolCalls ?? Infinity),
            signal,
            onUsage,
            // Later runs report usage through their parts, which the loop sums.
            start: (next) => this.#chat.start(next, signal, () => undefined, { projectId: principal.projectId }),
          });
    let first = true;
    const builder = new ResponseStreamBuilder({
      request: turn.request,
      model: run.model.descriptor.id,
      ...(options.id !== undefined ? { id: options.id } : {}),
      ...(options.createdAt !== undefined ? { createdAt: options.createdAt } : {}),
    });
    const logger = this.#logger;
    const finish = (): Promise<void> => this.#persist(principal.projectId, turn, builder.storedResponse, false);
    async function* events(): AsyncGenerator<ResponseStreamEvent> {
      yield* builder.start();
      if (search !== undefined) {
        yield* builder.startFileSearch();
        yield* builder.finishFileSearch(search.queries, search.results, search.citations);
      }
      if (preamble !== undefined) yield* preamble.events(builder);
      try {
        for (let step = await parts.next(); !step.done; step = await parts.next()) {
          const part = step.value;
          if (part.type === "tool-start" || part.type === "tool-args" || part.type === "tool-run" || part.type === "tool-progress" || part.type === "tool-done") yield* serverTools?.events(part, builder) ?? [];
          else yield* builder.push(part);
        }
        yield* builder.end();
      } catch (error) {
        if (signal.aborted) {
          // The client left (or the response was cancelled): nothing more to say to anyone.
          builder.fail(error);
          return;
        }
        yield builder.errorEvent(error);
        yield* builder.fail(error);
      } finally {
        await parts.return?.(undefined);
        try {
          await finish();
        } catch (error) {
          logger.error("could not store a response", { error: (error as Error).message });
        }
      }
    }
    return { model: run.model, events: events(), response: () => builder.response, stored: () => builder.storedResponse };
  }

  /** Stores a finished response and appends the turn to its conversation. */
  async #persist(projectId: string, turn: PreparedTurn, response: ResponseObject, background: boolean): Promise<void> {
    const req = turn.request;
    if (req.store) {
      const stored: StoredResponse = {
        id: response.id,
        projectId,
        createdAt: response.created_at,
        status: response.status,
        background,
        previousResponseId: req.previousResponseId ?? null,
        conversationId: req.conversation ?? null,
        request: "{}",
        inputItems: JSON.stringify(turn.inputItems),
        body: JSON.stringify(response),
      };
      if (background) await this.#objects.updateResponse(response.id, response.status, stored.body, ["queued", "in_progress"]);
      else await this.#objects.insertResponse(stored);
    }
    if (req.conversation !== undefined && (response.status === "completed" || response.status === "incomplete")) {
      // Input items get fresh ids: a client's own id, or a reference to an item already in the
      // conversation, must not collide with what is stored.
      // An approval answer is spent on the call it approves; the conversation keeps the call.
      const inputs = turn.inputItems.flatMap((item) => (item.type === "mcp_approval_response" ? [] : [item])).map((item) =>
        storedConversationItem(
          item.type === "message" || item.type === "function_call" || item.type === "function_call_output" ? conversationItemFromInput(item) : { ...item, id: prefixedId(`${item.type.split("_")[0]}_`, 48) },
          response.created_at,
        ),
      );
      const outputs = response.output.map((item) => storedConversationItem(item, response.created_at));
      const items = [...inputs, ...outputs];
      await this.#objects.appendConversationItems(req.conversation, items);
    }
  }

  /**
   * Queues a background response: stored at once as `queued` (so it survives a restart), run
   * detached, metered on its own. Returns the queued response object.
   */
  async startBackground(principal: Principal, rawBody: unknown, turn: PreparedTurn): Promise<ResponseObject> {
    const builder = new ResponseStreamBuilder({ request: turn.request });
    const queued = builder.response;
    await this.#objects.insertResponse({
      id: queued.id,
      projectId: principal.projectId,
      createdAt: queued.created_at,
      status: "queued",
      background: true,
      previousResponseId: turn.request.previousResponseId ?? null,
      conversationId: turn.request.conversation ?? null,
      // Kept to resume after a restart, without the MCP servers' credentials: secrets are not stored
      // (a resumed response's MCP calls then go without them).
      request: JSON.stringify(withoutMcpSecrets(rawBody)),
      inputItems: JSON.stringify(turn.inputItems),
      body: JSON.stringify(queued),
    });
    this.#launch(principal, turn, queued);
    return queued;
  }

  #launch(principal: Principal, turn: PreparedTurn, queued: ResponseObject): void {
    if (this.#closed) return;
    const abort = new AbortController();
    this.#background.set(queued.id, abort);
    const job = this.#runBackground(principal, turn, queued, abort.signal).finally(() => {
      this.#background.delete(queued.id);
      this.#jobs.delete(job);
    });
    this.#jobs.add(job);
  }

  async #runBackground(principal: Principal, turn: PreparedTurn, queued: ResponseObject, signal: AbortSignal): Promise<void> {
    const started = performance.now();
    let usage: Usage | undefined;
    let model: ChatModel | undefined;
    let final: ResponseObject;
    try {
      const inProgress = { ...queued, status: "in_progress" as const };
      await this.#objects.updateResponse(queued.id, "in_progress", JSON.stringify(inProgress), ["queued"]);
      const run = await this.start(principal, { ...turn, request: { ...turn.request, store: false } }, signal, (u) => (usage = u), { id: queued.id, createdAt: queued.created_at });
      model = run.model;
      for await (const _ of run.events) {
        // Events of a background response are not streamed; only the final object is kept.
      }
      final = { ...run.stored(), store: true, background: true };
    } catch (error) {
      if (signal.aborted) return;
      final = renderResponse({ id: queued.id, createdAt: queued.created_at, model: queued.model }, turn.request, {
        status: "failed",
        output: [],
        usage: undefined,
        error: { code: "server_error", message: toApiError(error).message },
        incompleteReason: undefined,
        completedAt: null,
      });
    } finally {
      if (model !== undefined || usage !== undefined) {
        this.#meter.record({
          principal,
          model: model?.descriptor.id ?? turn.request.model,
          endpoint: "/v1/responses",
          usage: usage ?? emptyUsage(),
          latencyMs: Math.round(performance.now() - started),
          status: 200,
          batch: false,
          pricing: model?.descriptor.pricing,
        });
      }
    }
    if (signal.aborted) return;
    await this.#persist(principal.projectId, turn, final, true);
  }

  /** Cancels a background response that has not finished; a finished one cannot be cancelled. */
  async cancel(projectId: string, id: string): Promise<ResponseObject> {
    const stored = await this.#objects.getResponse(projectId, id);
    if (stored === undefined) throw objectNotFound("Response", id, "response_id", "response_not_found");
    const current = JSON.parse(stored.body) as ResponseObject;
    if (!stored.background) throw invalidRequest("Only responses created with 'background: true' can be cancelled.", "response_id");
    if (TERMINAL.has(stored.status)) {
      if (stored.status === "cancelled") return current;
      throw invalidRequest(`Cannot cancel a response with status '${stored.status}'.`, "response_id");
    }
    const cancelled: ResponseObject = { ...current, status: "cancelled" };
    await this.#objects.updateResponse(id, "cancelled", JSON.stringify(cancelled), ["queued", "in_progress"]);
    this.#background.get(id)?.abort();
    return cancelled;
  }

  async get(projectId: string, id: string): Promise<StoredResponse> {
    const stored = await this.#objects.getResponse(projectId, id);
    if (stored === undefined) throw objectNotFound("Response", id, "response_id", "response_not_found");
    return stored;
  }

  async delete(projectId: string, id: string): Promise<void> {
    this.#background.get(id)?.abort();
    if (!(await this.#objects.deleteResponse(projectId, id))) throw objectNotFound("Response", id, "response_id", "response_not_found");
  }

  /** Runs again the background responses a previous process left unfinished. */
  async resumePending(): Promise<number> {
    const pending = await this.#objects.pendingBackgroundResponses();
    for (const stored of pending) {
      const principal: Principal = { projectId: stored.projectId, keyId: null, admin: false, models: null };
      const queued = { ...(JSON.parse(stored.body) as ResponseObject), status: "queued" as const };
      try {
        const req = parseResponsesRequest(JSON.parse(stored.request));
        const turn = await this.prepare(stored.projectId, req);
        // Keep the ids the client already knows for this turn's items.
        turn.inputItems = JSON.parse(stored.inputItems) as StoredItemValue[];
        await this.#objects.updateResponse(stored.id, "queued", JSON.stringify(queued), ["queued", "in_progress"]);
        this.#launch(principal, turn, queued);
      } catch (error) {
        const failed = { ...queued, status: "failed" as const, error: { code: "server_error" as const, message: `Could not resume after a restart: ${toApiError(error).message}` } };
        await this.#objects.updateResponse(stored.id, "failed", JSON.stringify(failed), ["queued", "in_progress"]);
      }
    }
    return pending.length;
  }

  /** Stops background work; unfinished responses stay queued in storage and resume at the next start. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const abort of this.#background.values()) abort.abort();
    await Promise.allSettled([...this.#jobs]);
  }
}

/** The messages without the oldest turn (system messages kept), or undefined when nothing is left to drop. */
function dropOldestTurn(messages: readonly ChatMessage[]): ChatMessage[] | undefined {
  const first = messages.findIndex((m) => m.role !== "system");
  if (first < 0) return undefined;
  let end = first + 1;
  // A turn's tool results go with it; a lone last message is never dropped.
  while (end < messages.length && messages[end]?.role === "tool") end++;
  if (end >= messages.length) return undefined;
  return [...messages.slice(0, first), ...messages.slice(end)];
}
