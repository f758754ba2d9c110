import { countTokens } from "gpt-tokenizer";
import type { ChatMessage, ChatRequest, Usage } from "../core/chat.ts";
import { ApiError, invalidRequest, toApiError } from "../core/errors.ts";
import { prefixedId } from "../core/ids.ts";
import type { Logger } from "../logging/logger.ts";
import {
  fileCitations,
  fileSearchQuery,
  fileSearchResult,
  itemsToChatMessages,
  packFileSearchContext,
  parseResponsesRequest,
  toChatRequest,
  type FileCitation,
  type FileSearchResult,
  type ResponseInputItem,
  type ResponseOutputItem,
  type ResponsesRequest,
} from "../protocol/openai/responses.ts";
import type { SearchHit, SearchResult, VectorSearch } from "../retrieval/types.ts";
import { renderResponse, ResponseStreamBuilder, type ResponseObject, type ResponseStreamEvent } from "../protocol/openai/responses-render.ts";
import type { ChatModel } from "../providers/provider.ts";
import type { ObjectStore, StoredResponse } from "../storage/object-store.ts";
import type { Principal } from "./access.ts";
import type { ChatRun, ChatService } from "./chat-service.ts";
import { conversationItemFromInput, conversationItemId, storedConversationItem } from "../protocol/openai/conversations.ts";
import type { UsageMeter } from "./usage-meter.ts";

/** An item as stored: a wire-form input or output item that always has an id. */
export type StoredItemValue = (Exclude<ResponseInputItem, { type: "item_reference" }> | ResponseOutputItem) & { id: string };

/** A turn ready to run: the canonical request with its history, and the items it adds. */
export interface PreparedTurn {
  request: ResponsesRequest;
  chat: ChatRequest;
  /** This turn's own input items, references resolved, each with an id. */
  inputItems: StoredItemValue[];
}

/** A file search run for a turn: what the response shows of it, and the request with its results. */
interface FileSearchRun {
  queries: string[];
  results: FileSearchResult[];
  citations: FileCitation[];
  chat: ChatRequest;
}

/** Options of the Responses service. */
export interface ResponsesServiceOptions {
  /** Searches vector stores for the `file_search` tool; without it the tool is refused. */
  search?: VectorSearch | undefined;
}

/**
 * Tokens kept free for the answer when a request sets no `max_output_tokens`, at most a quarter of
 * the model's context, so that search results cannot leave the model no room to answer.
 */
const ANSWER_RESERVE_TOKENS = 512;
/** Tokens of search results given to a model whose context size is not known here (upstreams). */
const UNKNOWN_CONTEXT_BUDGET_TOKENS = 16_000;
/** Tokens a message's role and separators may take in a chat template, kept free beside the budget. */
const CONTEXT_MESSAGE_OVERHEAD = 16;

/** A running response: its events as they happen (start events included), then its final object. */
export interface ResponseRun {
  model: ChatModel;
  events: AsyncGenerator<ResponseStreamEvent>;
  /** The response object: final once `events` is done. */
  response(): ResponseObject;
}

const TERMINAL = new Set(["completed", "incomplete", "failed", "cancelled"]);

function itemId(item: Exclude<ResponseInputItem, { type: "item_reference" }>): string {
  return item.id ?? conversationItemId(item.type);
}

/** The system message that gives the model search results goes after the instructions, before the conversation. */
function withContextMessage(chat: ChatRequest, hasInstructions: boolean, text: string): ChatRequest {
  const at = hasInstructions ? 1 : 0;
  return { ...chat, messages: [...chat.messages.slice(0, at), { role: "system", content: text }, ...chat.messages.slice(at)] };
}

function notFound(what: string, id: string, param: string, code: string): ApiError {
  return new ApiError(404, `${what} with id '${id}' not found.`, { type: "invalid_request_error", param, code });
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
  readonly #search: VectorSearch | undefined;
  readonly #background = new Map<string, AbortController>();
  readonly #jobs = new Set<Promise<void>>();
  #closed = false;

  constructor(objects: ObjectStore, chat: ChatService, meter: UsageMeter, logger: Logger, options: ResponsesServiceOptions = {}) {
    this.#objects = objects;
    this.#chat = chat;
    this.#meter = meter;
    this.#logger = logger;
    this.#search = options.search;
  }

  /** The items before this turn: the previous response's whole chain, or the conversation's items. */
  async #history(projectId: string, req: ResponsesRequest): Promise<StoredItemValue[]> {
    if (req.conversation !== undefined) {
      const conversation = await this.#objects.getConversation(projectId, req.conversation);
      if (conversation === undefined) throw notFound("Conversation", req.conversation, "conversation", "conversation_not_found");
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
    if (req.fileSearch !== undefined && this.#search === undefined) {
      throw invalidRequest("Tools of type 'file_search' are not available: this server has no vector store search.", `${req.fileSearch.param}.type`, "unsupported_parameter");
    }
    const history = await this.#history(projectId, req);
    const byId = new Map(history.map((i) => [i.id, i]));
    const inputItems = req.input.map((item, i): StoredItemValue => {
      if (item.type === "file_search_call") return { ...item };
      if (item.type !== "item_reference") return { ...item, id: itemId(item) } as StoredItemValue;
      const found = byId.get(item.id);
      if (found === undefined) throw invalidRequest(`Item with id '${item.id}' not found in this response's history.`, `input[${i}].id`, "item_not_found");
      return found;
    });
    const messages = itemsToChatMessages(req.instructions, [...history, ...inputItems], { firstInputIndex: history.length });
    return { request: req, chat: toChatRequest(req, messages), inputItems };
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
    const search = turn.request.fileSearch === undefined ? undefined : await this.#fileSearch(principal.projectId, turn, signal);
    let chat = search?.chat ?? turn.chat;
    let run: ChatRun;
    for (;;) {
      try {
        run = await this.#chat.start(chat, signal, onUsage);
        break;
      } catch (error) {
        const shorter = turn.request.truncation === "auto" && toApiError(error).code === "context_length_exceeded" ? dropOldestTurn(chat.messages) : undefined;
        if (shorter === undefined) throw error;
        chat = { ...chat, messages: shorter };
      }
    }
    const started = run;
    const builder = new ResponseStreamBuilder({
      request: turn.request,
      model: run.model.descriptor.id,
      ...(options.id !== undefined ? { id: options.id } : {}),
      ...(options.createdAt !== undefined ? { createdAt: options.createdAt } : {}),
    });
    const logger = this.#logger;
    const finish = (): Promise<void> => this.#persist(principal.projectId, turn, builder.response, false);
    async function* events(): AsyncGenerator<ResponseStreamEvent> {
      yield* builder.start();
      if (search !== undefined) {
        yield* builder.startFileSearch();
        yield* builder.finishFileSearch(search.queries, search.results, search.citations);
      }
      try {
        for (let step = started.first; !step.done; step = await started.parts.next()) yield* builder.push(step.value);
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
        await started.parts.return?.(undefined);
        try {
          await finish();
        } catch (error) {
          logger.error("could not store a response", { error: (error as Error).message });
        }
      }
    }
    return { model: run.model, events: events(), response: () => builder.response };
  }

  /**
   * Runs the turn's file search (query: see `fileSearchQuery`) in the principal's project and puts
   * the hits that fit before the conversation as a system message. The query's embedding is not
   * metered; the results given to the model are prompt tokens like any other.
   */
  async #fileSearch(projectId: string, turn: PreparedTurn, signal: AbortSignal): Promise<FileSearchRun> {
    const settings = turn.request.fileSearch;
    const search = this.#search;
    if (settings === undefined || search === undefined) return { queries: [], results: [], citations: [], chat: turn.chat };
    const query = fileSearchQuery(turn.inputItems);
    if (query === "") return { queries: [], results: [], citations: [], chat: turn.chat };
    let found: SearchResult;
    try {
      found = await search.search(
        projectId,
        {
          vectorStoreIds: settings.vectorStoreIds,
          queries: [query],
          maxResults: settings.maxNumResults,
          filter: settings.filter,
          scoreThreshold: settings.scoreThreshold,
          // The model would phrase its own queries; the rewrite stands in for that.
          rewriteQuery: true,
          weights: settings.weights,
        },
        signal,
      );
    } catch (error) {
      // A store this project cannot see (404) or that has expired is named by the tool's param.
      if (error instanceof ApiError && error.param === "vector_store_id") {
        throw new ApiError(error.status, error.message, { type: error.type, code: error.code, param: `${settings.param}.vector_store_ids`, headers: { ...error.headers } });
      }
      throw error;
    }
    const fitted = await this.#fitContext(turn, found.hits);
    return { queries: found.queries, results: found.hits.map(fileSearchResult), citations: fileCitations(fitted.fed), chat: fitted.chat };
  }

  /**
   * Gives the model as many hits as fit: its context, less the prompt without them and the answer's
   * room (`max_output_tokens`, else up to {@link ANSWER_RESERVE_TOKENS}), counted with the model's own
   * tokenizer where it has one, and checked again once the results are in the prompt.
   */
  async #fitContext(turn: PreparedTurn, hits: readonly SearchHit[]): Promise<{ chat: ChatRequest; fed: SearchHit[] }> {
    const chat = turn.chat;
    if (hits.length === 0) return { chat, fed: [] };
    const model = this.#chat.resolve(chat.model);
    const contextSize = model.capabilities.contextSize;
    const hasInstructions = turn.request.instructions !== undefined;
    if (contextSize === undefined) {
      const packed = packFileSearchContext(hits, UNKNOWN_CONTEXT_BUDGET_TOKENS, countTokens);
      return packed.fed.length === 0 ? { chat, fed: [] } : { chat: withContextMessage(chat, hasInstructions, packed.text), fed: packed.fed };
    }
    const count = (request: ChatRequest): Promise<number> => model.countPromptTokens(request);
    const reserve = chat.maxTokens ?? Math.min(ANSWER_RESERVE_TOKENS, Math.floor(contextSize / 4));
    const base = await count(chat);
    const room = contextSize - base - reserve - CONTEXT_MESSAGE_OVERHEAD;
    // The budget is in o200k tokens; the model's tokenizer may count more, so check and shrink.
    let budget = room;
    for (let attempt = 0; attempt < 4 && budget > 0; attempt++) {
      const packed = packFileSearchContext(hits, budget, countTokens);
      if (packed.fed.length === 0) break;
      const candidate = withContextMessage(chat, hasInstructions, packed.text);
      const used = (await count(candidate)) - base;
      if (used <= room) return { chat: candidate, fed: packed.fed };
      budget = Math.floor(((budget * room) / used) * 0.95);
    }
    return { chat, fed: [] };
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
      const inputs = turn.inputItems.map((item) =>
        storedConversationItem(item.type === "file_search_call" ? { ...item, id: prefixedId("fs_", 48) } : conversationItemFromInput(item), response.created_at),
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
      request: JSON.stringify(rawBody),
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
      final = { ...run.response(), store: true, background: true };
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
          usage: usage ?? { promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0 },
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
    if (stored === undefined) throw notFound("Response", id, "response_id", "response_not_found");
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
    if (stored === undefined) throw notFound("Response", id, "response_id", "response_not_found");
    return stored;
  }

  async delete(projectId: string, id: string): Promise<void> {
    this.#background.get(id)?.abort();
    if (!(await this.#objects.deleteResponse(projectId, id))) throw notFound("Response", id, "response_id", "response_not_found");
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
