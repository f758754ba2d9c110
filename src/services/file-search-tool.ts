import { countTokens } from "gpt-tokenizer";
import type { ChatRequest } from "../core/chat.ts";
import { ApiError } from "../core/errors.ts";
import { fileCitations, fileSearchResult } from "../protocol/openai/responses-render.ts";
import { textOf } from "../protocol/openai/responses-to-chat.ts";
import type { FileCitation, FileSearchResult, RequestInputItem, ResponseOutputItem, ResponsesRequest } from "../protocol/openai/responses-types.ts";
import type { ChatModel } from "../providers/provider.ts";
import type { SearchHit, SearchResult, VectorSearch } from "../retrieval/types.ts";

/**
 * Tokens kept free for the answer when a request sets no `max_output_tokens`, at most a quarter of
 * the model's context, so that search results cannot leave the model no room to answer.
 */
const ANSWER_RESERVE_TOKENS = 512;
/** Tokens of search results given to a model whose context size is not known here (upstreams). */
const UNKNOWN_CONTEXT_BUDGET_TOKENS = 16_000;
/** Tokens a message's role and separators may take in a chat template, kept free beside the budget. */
const CONTEXT_MESSAGE_OVERHEAD = 16;

/** What the tool needs of a turn: its settings and instructions, its canonical request, its own input items. */
export interface FileSearchTurn {
  request: Pick<ResponsesRequest, "fileSearch" | "instructions">;
  chat: ChatRequest;
  inputItems: readonly (RequestInputItem | ResponseOutputItem)[];
}

/** A file search run for a turn: what the response shows of it, and the request with its results. */
export interface FileSearchRun {
  queries: string[];
  results: FileSearchResult[];
  citations: FileCitation[];
  chat: ChatRequest;
}

/**
 * What the `file_search` tool searches for: the text of the latest user message among a turn's own
 * input items, or, when no user message has text, all the text of those items. Empty when there is
 * no text at all (no search runs then).
 */
export function fileSearchQuery(items: readonly (RequestInputItem | ResponseOutputItem)[]): string {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i];
    if (item?.type === "message" && item.role === "user") {
      const text = textOf(item.content).trim();
      if (text !== "") return text;
    }
  }
  const texts: string[] = [];
  for (const item of items) {
    if (item.type === "message") texts.push(textOf(item.content));
    else if (item.type === "function_call_output") texts.push(typeof item.output === "string" ? item.output : textOf(item.output));
  }
  return texts.join("\n").trim();
}

/** The first line of the message that gives the model the search results. */
export const FILE_SEARCH_CONTEXT_HEADER = "Excerpts from the user's files, found by file search for this conversation. Use them to answer.";

/**
 * The search results the model is given, as one system message's text: a header, then each hit as
 * `[n] <filename>:\n<text>`, best first, as many as fit in `budget` tokens (counted with `count`).
 * The hit that does not fit whole is cut to fit when at least `minPartial` tokens are left; the rest
 * are left out. `fed` lists the hits given (in part or whole), which are the ones cited.
 */
export function packFileSearchContext(
  hits: readonly SearchHit[],
  budget: number,
  count: (text: string) => number,
  minPartial = 32,
): { text: string; fed: SearchHit[] } {
  const fed: SearchHit[] = [];
  let text = FILE_SEARCH_CONTEXT_HEADER;
  let left = budget - count(text);
  for (const hit of hits) {
    const label = `\n\n[${fed.length + 1}] ${hit.filename}:\n`;
    const whole = label + hit.text;
    const cost = count(whole);
    if (cost <= left) {
      text += whole;
      left -= cost;
      fed.push(hit);
      continue;
    }
    const room = left - count(label) - 1;
    if (room >= minPartial) {
      // Cut by characters in proportion, then shorten until the count agrees.
      let chars = Math.floor((hit.text.length * room) / Math.max(1, count(hit.text)));
      while (chars > 0 && count(`${label}${hit.text.slice(0, chars)}…`) > left) chars = Math.floor(chars * 0.9);
      if (chars > 0) {
        text += `${label}${hit.text.slice(0, chars)}…`;
        fed.push(hit);
      }
    }
    break;
  }
  return fed.length === 0 ? { text: "", fed } : { text, fed };
}

/** The system message that gives the model search results goes after the instructions, before the conversation. */
function withContextMessage(chat: ChatRequest, hasInstructions: boolean, text: string): ChatRequest {
  const at = hasInstructions ? 1 : 0;
  return { ...chat, messages: [...chat.messages.slice(0, at), { role: "system", content: text }, ...chat.messages.slice(at)] };
}

/**
 * The built-in `file_search` tool: searches the turn's vector stores and gives the model what it
 * found, before the model answers. The Responses service runs it for a turn whose request enables it.
 */
export class FileSearchTool {
  readonly #search: VectorSearch;
  readonly #models: { resolve(name: string): ChatModel };

  /** `models` resolves the turn's model, only once there are hits to fit into its context. */
  constructor(search: VectorSearch, models: { resolve(name: string): ChatModel }) {
    this.#search = search;
    this.#models = models;
  }

  /**
   * Runs the turn's file search (query: see `fileSearchQuery`) in the project and puts the hits that
   * fit before the conversation as a system message. The query's embedding is not metered; the
   * results given to the model are prompt tokens like any other.
   */
  async run(projectId: string, turn: FileSearchTurn, signal: AbortSignal): Promise<FileSearchRun> {
    const settings = turn.request.fileSearch;
    if (settings === undefined) return { queries: [], results: [], citations: [], chat: turn.chat };
    const query = fileSearchQuery(turn.inputItems);
    if (query === "") return { queries: [], results: [], citations: [], chat: turn.chat };
    let found: SearchResult;
    try {
      found = await this.#search.search(
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
  async #fitContext(turn: FileSearchTurn, hits: readonly SearchHit[]): Promise<{ chat: ChatRequest; fed: SearchHit[] }> {
    const chat = turn.chat;
    if (hits.length === 0) return { chat, fed: [] };
    const model = this.#models.resolve(chat.model);
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
}
