import { obfuscation } from "./obfuscation.ts";
import type { ChatStreamPart, FinishReason, TokenLogprob, Usage } from "../../core/chat.ts";
import { emptyUsage } from "../../core/chat.ts";
import { toApiError } from "../../core/errors.ts";
import { prefixedId, unixSeconds } from "../../core/ids.ts";
import {
  copyItem,
  renderResponse,
  toResponseError,
  type IncompleteReason,
  type ResponseError,
  type ResponseIdentity,
  type ResponseObject,
  type ResponseStatus,
} from "./responses-render.ts";
import type {
  CodeInterpreterOutput,
  ContainerFileCitation,
  FileCitation,
  FileSearchResult,
  ItemStatus,
  OutputLogprob,
  OutputTextPart,
  ResponseCodeInterpreterCall,
  ResponseFileSearchCall,
  ResponseImageGenerationCall,
  ResponseMcpApprovalRequest,
  ResponseMcpCall,
  ResponseMcpListTools,
  ResponseWebSearchCall,
  UrlCitation,
  ResponseFunctionCall,
  ResponseOutputItem,
  ResponseOutputMessage,
  ResponsesRequest,
} from "./responses-types.ts";

// The Responses API's stream events, and the builder that turns canonical parts into them.

export type { EventLogprob, ResponseLifecycleEvent, ResponseOutputItemEvent, ResponseContentPartEvent, ResponseTextDeltaEvent, ResponseTextDoneEvent, ResponseFunctionCallArgumentsDeltaEvent, ResponseFunctionCallArgumentsDoneEvent, ResponseFileSearchCallEvent, ResponseCodeInterpreterCallEvent, ResponseCodeInterpreterCodeEvent, ResponseOutputTextAnnotationAddedEvent, ResponseErrorEvent, ResponseStreamEvent } from "./responses-events.ts";
import type { EventLogprob, ResponseLifecycleEvent, ResponseErrorEvent, ResponseStreamEvent } from "./responses-events.ts";

/** Builds an `error` event from any error. */
export function renderErrorEvent(error: unknown, sequenceNumber: number): ResponseErrorEvent {
  const e = toApiError(error);
  return { type: "error", code: e.code ?? e.type, message: e.message, param: e.param, sequence_number: sequenceNumber };
}


function outputLogprob(entry: TokenLogprob): OutputLogprob {
  const bytes = (b: number[] | null, token: string): number[] => b ?? [...Buffer.from(token, "utf8")];
  return {
    token: entry.token,
    logprob: entry.logprob,
    bytes: bytes(entry.bytes, entry.token),
    top_logprobs: entry.topLogprobs.map((t) => ({ token: t.token, logprob: t.logprob, bytes: bytes(t.bytes, t.token) })),
  };
}

function eventLogprob(entry: TokenLogprob): EventLogprob {
  return { token: entry.token, logprob: entry.logprob, top_logprobs: entry.topLogprobs.map((t) => ({ token: t.token, logprob: t.logprob })) };
}

interface MessageSlot {
  item: ResponseOutputMessage;
  part: OutputTextPart;
  index: number;
  logprobs: TokenLogprob[];
  open: boolean;
}

interface CallSlot {
  item: ResponseFunctionCall;
  index: number;
  open: boolean;
}

interface SearchSlot {
  item: ResponseFileSearchCall;
  index: number;
  open: boolean;
}

interface CodeSlot {
  item: ResponseCodeInterpreterCall;
  index: number;
  open: boolean;
}

interface WebSlot {
  item: ResponseWebSearchCall;
  index: number;
  open: boolean;
}

/** An item of a tool whose events are made outside the builder (MCP): only its place and state are kept here. */
interface OtherSlot {
  item: ResponseMcpListTools | ResponseMcpCall | ResponseMcpApprovalRequest | ResponseImageGenerationCall;
  index: number;
  open: boolean;
}

type Slot = MessageSlot | CallSlot | SearchSlot | CodeSlot | WebSlot | OtherSlot;

/** A web page given to the model as source `[n]`. */
export interface NumberedSource {
  n: number;
  url: string;
  title: string;
}

/** A file the code interpreter wrote, to be cited on the answer. */
export interface ContainerFileRef {
  containerId: string;
  fileId: string;
  /** Its path in the container (`/mnt/data/…`). */
  path: string;
}

/** Where the answer names `path` (its full path, or its file name), else its end. */
function citationSpan(text: string, path: string): { start_index: number; end_index: number } {
  const name = path.split("/").pop() ?? path;
  for (const needle of [path, name]) {
    const at = text.indexOf(needle);
    if (needle !== "" && at >= 0) return { start_index: at, end_index: at + needle.length };
  }
  return { start_index: text.length, end_index: text.length };
}

/** Options of a response under construction. */
export interface ResponseBuilderOptions {
  request: ResponsesRequest;
  /** Defaults to the request's model. */
  model?: string;
  /** Defaults to a new `resp_…` id. */
  id?: string;
  /** Unix seconds; defaults to now. */
  createdAt?: number;
}

/**
 * Turns the canonical parts of one generation (choice 0) into the Responses API's stream events,
 * in OpenAI's order, and into the final response object. The non-streamed path feeds the same
 * builder and keeps only `response`, so both paths agree by construction.
 *
 * Tool calls are assumed to arrive one after another, as every provider streams them: a call is
 * closed when the next item starts. A late delta for a closed call still reaches the final
 * response, though its `done` events have gone out.
 */
export class ResponseStreamBuilder {
  readonly #request: ResponsesRequest;
  readonly #identity: ResponseIdentity;
  readonly #obfuscate: boolean;
  readonly #slots: Slot[] = [];
  readonly #calls = new Map<number, CallSlot>();
  #message: MessageSlot | undefined;
  /** Citations for the message that ends the generation, from a file search. */
  #citations: FileCitation[] = [];
  /** Every code call's outputs, kept for storage whatever `include` says (the model reads them in follow-ups). */
  readonly #codeOutputs = new Map<string, CodeInterpreterOutput[]>();
  /** Web pages the model was given, by their number, cited where the answer marks them `[n]`. */
  readonly #webSources = new Map<number, NumberedSource>();
  /** Files the code interpreter wrote, cited on the message that ends the generation. */
  #containerFiles: ContainerFileRef[] = [];
  #sequence = 0;
  #finishReason: FinishReason | undefined;
  #usage: Usage | undefined;
  #final: ResponseObject | undefined;

  constructor(options: ResponseBuilderOptions) {
    this.#request = options.request;
    this.#identity = {
      id: options.id ?? prefixedId("resp_", 48),
      createdAt: options.createdAt ?? unixSeconds(),
      model: options.model ?? options.request.model,
    };
    this.#obfuscate = options.request.stream && options.request.includeObfuscation;
  }

  /** The response's id. */
  get id(): string {
    return this.#identity.id;
  }

  /** Whether the response has reached a terminal state (`end` or `fail` was called). */
  get finished(): boolean {
    return this.#final !== undefined;
  }

  /** The response as it stands: the final object once finished. */
  get response(): ResponseObject {
    return this.#final ?? this.#render(this.#request.background ? "queued" : "in_progress", null, null);
  }

  /**
   * The response as stored: code calls keep their outputs even when `include` left them out of what
   * the client got, so a follow-up's model reads them (retrieval applies its own `include`).
   */
  get storedResponse(): ResponseObject {
    const response = this.response;
    if (this.#codeOutputs.size === 0) return response;
    return { ...response, output: response.output.map((item) => (item.type === "code_interpreter_call" ? { ...item, outputs: this.#codeOutputs.get(item.id) ?? item.outputs } : item)) };
  }

  /** The output items so far (final once finished), for storage. */
  get output(): ResponseOutputItem[] {
    return this.#slots.map((s) => copyItem(s.item));
  }

  /** `response.created` then `response.in_progress`. */
  start(): ResponseStreamEvent[] {
    return [
      this.#lifecycle("response.created", this.#render(this.#request.background ? "queued" : "in_progress", null, null)),
      this.#lifecycle("response.in_progress", this.#render("in_progress", null, null)),
    ];
  }

  /** The events for one canonical part; parts of other choices and `served-by` give none. */
  push(part: ChatStreamPart): ResponseStreamEvent[] {
    if (this.#final !== undefined) return [];
    switch (part.type) {
      case "usage":
        this.#usage = part.usage;
        return [];
      case "served-by":
        return [];
    }
    if (part.choice !== 0 || this.#finishReason !== undefined) return [];
    const events: ResponseStreamEvent[] = [];
    switch (part.type) {
      case "text-delta":
        if (part.text === "" && !part.logprobs?.length) break;
        this.#textDelta(part.text, part.logprobs ?? [], events);
        break;
      case "tool-call-start":
        this.#closeAll("completed", events);
        this.#openCall(part.index, part.id, part.name, events);
        break;
      case "tool-call-delta":
        this.#callDelta(part.index, part.arguments, events);
        break;
      case "finish":
        this.#finishReason = part.finishReason;
        this.#closeAll(this.#incompleteReason() === undefined ? "completed" : "incomplete", events);
        if (!this.#slots.some((s) => s.item.type !== "file_search_call")) {
          // A generation with no text still answers with a message, as clients read output[0].
          this.#textDelta("", [], events, true);
          this.#closeAll(this.#incompleteReason() === undefined ? "completed" : "incomplete", events);
        }
        break;
    }
    return events;
  }

  /**
   * A `file_search_call` item starts: `response.output_item.added` (in progress), then
   * `response.file_search_call.in_progress` and `.searching`. Call before any part is pushed.
   */
  startFileSearch(): ResponseStreamEvent[] {
    if (this.#final !== undefined) return [];
    const index = this.#slots.length;
    const item: ResponseFileSearchCall = { type: "file_search_call", id: prefixedId("fs_", 48), status: "in_progress", queries: [], results: null };
    this.#slots.push({ item, index, open: true });
    const events: ResponseStreamEvent[] = [{ type: "response.output_item.added", output_index: index, item: copyItem(item), sequence_number: this.#sequence++ }];
    events.push({ type: "response.file_search_call.in_progress", output_index: index, item_id: item.id, sequence_number: this.#sequence++ });
    item.status = "searching";
    events.push({ type: "response.file_search_call.searching", output_index: index, item_id: item.id, sequence_number: this.#sequence++ });
    return events;
  }

  /**
   * The search is done: the item gets its queries and, when `include` asks for
   * `file_search_call.results`, its results (null otherwise); `response.file_search_call.completed`
   * and `response.output_item.done` follow. The citations go on the message that ends the generation,
   * each at the end of its text.
   */
  finishFileSearch(queries: readonly string[], results: readonly FileSearchResult[], citations: readonly FileCitation[]): ResponseStreamEvent[] {
    const slot = this.#slots.find((s): s is SearchSlot => s.item.type === "file_search_call" && s.open);
    if (this.#final !== undefined || slot === undefined) return [];
    slot.item.queries = [...queries];
    slot.item.results = this.#request.include.includes("file_search_call.results") ? results.map((r) => ({ ...r, attributes: { ...r.attributes } })) : null;
    this.#citations = citations.map((c) => ({ ...c }));
    const events: ResponseStreamEvent[] = [];
    this.#closeSlot(slot, "completed", events);
    return events;
  }

  /**
   * A `code_interpreter_call` item starts (what is open before it closes): `response.output_item.added`
   * and `response.code_interpreter_call.in_progress`. Returns its id for the calls below.
   */
  startCodeCall(containerId: string, events: ResponseStreamEvent[]): string {
    const item: ResponseCodeInterpreterCall = { type: "code_interpreter_call", id: prefixedId("ci_", 48), status: "in_progress", container_id: containerId, code: "", outputs: null };
    if (this.#final !== undefined) return item.id;
    this.#closeAll("completed", events);
    const index = this.#slots.length;
    this.#slots.push({ item, index, open: true });
    events.push({ type: "response.output_item.added", output_index: index, item: copyItem(item), sequence_number: this.#sequence++ });
    events.push({ type: "response.code_interpreter_call.in_progress", output_index: index, item_id: item.id, sequence_number: this.#sequence++ });
    return item.id;
  }

  /** More of a call's code, as the model writes it. */
  codeDelta(id: string, delta: string, events: ResponseStreamEvent[]): void {
    const slot = this.#codeSlot(id);
    if (slot === undefined || delta === "") return;
    slot.item.code = (slot.item.code ?? "") + delta;
    events.push({ type: "response.code_interpreter_call_code.delta", output_index: slot.index, item_id: id, delta, sequence_number: this.#sequence++ });
  }

  /** The code is whole and runs: `response.code_interpreter_call_code.done`, then `.interpreting`. */
  runCode(id: string, code: string, events: ResponseStreamEvent[]): void {
    const slot = this.#codeSlot(id);
    if (slot === undefined) return;
    slot.item.code = code;
    events.push({ type: "response.code_interpreter_call_code.done", output_index: slot.index, item_id: id, code, sequence_number: this.#sequence++ });
    slot.item.status = "interpreting";
    events.push({ type: "response.code_interpreter_call.interpreting", output_index: slot.index, item_id: id, sequence_number: this.#sequence++ });
  }

  /**
   * The code ran: its outputs (kept when `include` asks for `code_interpreter_call.outputs`), the
   * files it wrote (cited on the answer), `response.code_interpreter_call.completed` and
   * `response.output_item.done`.
   */
  finishCodeCall(id: string, outputs: readonly CodeInterpreterOutput[], files: readonly ContainerFileRef[], events: ResponseStreamEvent[]): void {
    const slot = this.#codeSlot(id);
    if (slot === undefined) return;
    slot.item.outputs = this.#request.include.includes("code_interpreter_call.outputs") ? outputs.map((o) => ({ ...o })) : null;
    this.#codeOutputs.set(id, outputs.map((o) => ({ ...o })));
    this.#containerFiles.push(...files.filter((f) => !this.#containerFiles.some((c) => c.fileId === f.fileId)));
    this.#closeSlot(slot, "completed", events);
  }

  /** A `web_search_call` item starts: `response.output_item.added` and `response.web_search_call.in_progress`. */
  startWebSearch(events: ResponseStreamEvent[]): string {
    const item: ResponseWebSearchCall = { type: "web_search_call", id: prefixedId("ws_", 48), status: "in_progress", action: { type: "search", query: "" } };
    if (this.#final !== undefined) return item.id;
    this.#closeAll("completed", events);
    const index = this.#slots.length;
    this.#slots.push({ item, index, open: true });
    events.push({ type: "response.output_item.added", output_index: index, item: copyItem(item), sequence_number: this.#sequence++ });
    events.push({ type: "response.web_search_call.in_progress", output_index: index, item_id: item.id, sequence_number: this.#sequence++ });
    return item.id;
  }

  /** The query is known and runs: `response.web_search_call.searching`. */
  webSearching(id: string, query: string, events: ResponseStreamEvent[]): void {
    const slot = this.#webSlot(id);
    if (slot === undefined) return;
    slot.item.action = { type: "search", query };
    slot.item.status = "searching";
    events.push({ type: "response.web_search_call.searching", output_index: slot.index, item_id: id, sequence_number: this.#sequence++ });
  }

  /**
   * The search is done: its queries and (with `include: ["web_search_call.action.sources"]`) the
   * pages found; `response.web_search_call.completed` and `response.output_item.done` (status
   * `failed`, without the completed event, when the search failed). `numbered` are the pages the
   * model was given, cited where the answer marks them `[n]`.
   */
  finishWebSearch(id: string, query: string, sources: readonly { url: string }[], numbered: readonly NumberedSource[], failed: boolean, events: ResponseStreamEvent[]): void {
    const slot = this.#webSlot(id);
    if (slot === undefined) return;
    const withSources = this.#request.include.includes("web_search_call.action.sources");
    slot.item.action = { type: "search", query, queries: [query], ...(withSources ? { sources: sources.map((s) => ({ type: "url" as const, url: s.url })) } : {}) };
    for (const source of numbered) this.#webSources.set(source.n, { ...source });
    if (!failed) return this.#closeSlot(slot, "completed", events);
    slot.open = false;
    slot.item.status = "failed";
    events.push({ type: "response.output_item.done", output_index: slot.index, item: copyItem(slot.item), sequence_number: this.#sequence++ });
  }

  /**
   * Adds an item whose events the caller makes (responses-mcp.ts): what is open closes, then
   * `response.output_item.added`, then `then(index)`'s events, each numbered here.
   */
  openItem(item: OtherSlot["item"], then: (index: number) => Omit<ResponseStreamEvent, "sequence_number">[], events: ResponseStreamEvent[]): void {
    if (this.#final !== undefined) return;
    this.#closeAll("completed", events);
    const index = this.#slots.length;
    this.#slots.push({ item, index, open: true });
    events.push({ type: "response.output_item.added", output_index: index, item: copyItem(item), sequence_number: this.#sequence++ });
    for (const e of then(index)) events.push({ ...e, sequence_number: this.#sequence++ } as ResponseStreamEvent);
  }

  /** An open item added by {@link openItem}, changed by `change`, with the events it returns numbered here. */
  updateItem(id: string, change: (item: OtherSlot["item"], index: number) => Omit<ResponseStreamEvent, "sequence_number">[], events: ResponseStreamEvent[]): void {
    const slot = this.#slots.find((s): s is OtherSlot => s.item.id === id && s.open && (s.item.type === "mcp_call" || s.item.type === "mcp_list_tools" || s.item.type === "mcp_approval_request" || s.item.type === "image_generation_call"));
    if (this.#final !== undefined || slot === undefined) return;
    for (const e of change(slot.item, slot.index)) events.push({ ...e, sequence_number: this.#sequence++ } as ResponseStreamEvent);
  }

  /** Closes an item added by {@link openItem}: `response.output_item.done`. */
  closeItem(id: string, events: ResponseStreamEvent[]): void {
    const slot = this.#slots.find((s): s is OtherSlot => s.item.id === id && s.open && (s.item.type === "mcp_call" || s.item.type === "mcp_list_tools" || s.item.type === "mcp_approval_request" || s.item.type === "image_generation_call"));
    if (this.#final !== undefined || slot === undefined) return;
    slot.open = false;
    events.push({ type: "response.output_item.done", output_index: slot.index, item: copyItem(slot.item), sequence_number: this.#sequence++ });
  }

  /** A page the search read, as its own `web_search_call` with an `open_page` action, whole. */
  openedPage(url: string, events: ResponseStreamEvent[]): void {
    const id = this.startWebSearch(events);
    const slot = this.#webSlot(id);
    if (slot === undefined) return;
    slot.item.action = { type: "open_page", url };
    this.#closeSlot(slot, "completed", events);
  }

  #webSlot(id: string): WebSlot | undefined {
    if (this.#final !== undefined) return undefined;
    return this.#slots.find((s): s is WebSlot => s.item.type === "web_search_call" && s.item.id === id && s.open);
  }

  #codeSlot(id: string): CodeSlot | undefined {
    if (this.#final !== undefined) return undefined;
    return this.#slots.find((s): s is CodeSlot => s.item.type === "code_interpreter_call" && s.item.id === id && s.open);
  }

  /** After the last part: closes what is open and gives `response.completed` or `response.incomplete`. */
  end(): ResponseStreamEvent[] {
    if (this.#final !== undefined) return [];
    const events: ResponseStreamEvent[] = [];
    if (this.#finishReason === undefined) this.push({ type: "finish", choice: 0, finishReason: "stop" }).forEach((e) => events.push(e));
    const reason = this.#incompleteReason();
    this.#usage ??= emptyUsage();
    if (reason === undefined) {
      this.#final = this.#render("completed", null, unixSeconds());
      events.push(this.#lifecycle("response.completed", this.#final));
    } else {
      this.#final = this.#render("incomplete", null, null, reason);
      events.push(this.#lifecycle("response.incomplete", this.#final));
    }
    return events;
  }

  /** The generation failed: `response.failed`, with what was produced so far marked incomplete. */
  fail(error: unknown): ResponseStreamEvent[] {
    if (this.#final !== undefined) return [];
    for (const slot of this.#slots) {
      if (slot.open) {
        slot.open = false;
        if ("status" in slot.item) slot.item.status = "incomplete";
      }
    }
    this.#final = this.#render("failed", toResponseError(error), null);
    return [this.#lifecycle("response.failed", this.#final)];
  }

  /** An `error` event numbered in this stream's sequence. */
  errorEvent(error: unknown): ResponseErrorEvent {
    return renderErrorEvent(error, this.#sequence++);
  }

  #incompleteReason(): IncompleteReason | undefined {
    if (this.#finishReason === "length") return "max_output_tokens";
    if (this.#finishReason === "content_filter") return "content_filter";
    return undefined;
  }

  #render(status: ResponseStatus, error: ResponseError | null, completedAt: number | null, reason?: IncompleteReason): ResponseObject {
    return renderResponse(this.#identity, this.#request, {
      status,
      output: this.#slots.map((s) => s.item),
      usage: this.#usage,
      error,
      incompleteReason: reason,
      completedAt,
    });
  }

  #lifecycle(type: ResponseLifecycleEvent["type"], response: ResponseObject): ResponseLifecycleEvent {
    return { type, response, sequence_number: this.#sequence++ };
  }

  #textDelta(text: string, logprobs: readonly TokenLogprob[], events: ResponseStreamEvent[], force = false): void {
    let slot = this.#message;
    if (slot === undefined || !slot.open) {
      // Text after function calls starts a new message, as OpenAI's items follow the model's order.
      this.#closeAll("completed", events);
      const index = this.#slots.length;
      const part: OutputTextPart = { type: "output_text", text: "", annotations: [], logprobs: [] };
      const item: ResponseOutputMessage = { type: "message", id: prefixedId("msg_", 48), status: "in_progress", role: "assistant", content: [part] };
      slot = { item, part, index, logprobs: [], open: true };
      this.#message = slot;
      this.#slots.push(slot);
      events.push({ type: "response.output_item.added", output_index: index, item: { ...item, content: [] }, sequence_number: this.#sequence++ });
      events.push({
        type: "response.content_part.added",
        item_id: item.id,
        output_index: index,
        content_index: 0,
        part: { type: "output_text", text: "", annotations: [], logprobs: [] },
        sequence_number: this.#sequence++,
      });
    }
    if (text === "" && logprobs.length === 0 && force) return;
    slot.part.text += text;
    slot.logprobs.push(...logprobs);
    events.push({
      type: "response.output_text.delta",
      item_id: slot.item.id,
      output_index: slot.index,
      content_index: 0,
      delta: text,
      logprobs: logprobs.map(eventLogprob),
      ...(this.#obfuscate ? { obfuscation: obfuscation(text.length) } : {}),
      sequence_number: this.#sequence++,
    });
  }

  #openCall(index: number, callId: string, name: string, events: ResponseStreamEvent[]): void {
    const outputIndex = this.#slots.length;
    const item: ResponseFunctionCall = { type: "function_call", id: prefixedId("fc_", 48), call_id: callId, name, arguments: "", status: "in_progress" };
    const slot: CallSlot = { item, index: outputIndex, open: true };
    this.#calls.set(index, slot);
    this.#slots.push(slot);
    events.push({ type: "response.output_item.added", output_index: outputIndex, item: { ...item }, sequence_number: this.#sequence++ });
  }

  #callDelta(index: number, args: string, events: ResponseStreamEvent[]): void {
    const slot = this.#calls.get(index);
    if (slot === undefined || args === "") return;
    slot.item.arguments += args;
    if (!slot.open) return;
    events.push({
      type: "response.function_call_arguments.delta",
      item_id: slot.item.id,
      output_index: slot.index,
      delta: args,
      ...(this.#obfuscate ? { obfuscation: obfuscation(args.length) } : {}),
      sequence_number: this.#sequence++,
    });
  }

  /** Closes every open item in output order, with the `done` events OpenAI sends for each. */
  #closeAll(status: ItemStatus, events: ResponseStreamEvent[]): void {
    // A code or MCP call closes when it has run, not when the next item starts.
    for (const slot of this.#slots) if (slot.open && slot.item.type !== "code_interpreter_call" && slot.item.type !== "image_generation_call" && !slot.item.type.startsWith("mcp_")) this.#closeSlot(slot, status, events);
  }

  #closeSlot(slot: Slot, status: ItemStatus, events: ResponseStreamEvent[]): void {
    slot.open = false;
    if ("status" in slot.item) slot.item.status = status;
    if ("part" in slot) {
      slot.part.logprobs = slot.logprobs.map(outputLogprob);
      const id = slot.item.id;
      // The generation has ended: the file search's citations go on this, its last message.
      if (this.#finishReason !== undefined && this.#citations.length > 0) {
        for (const citation of this.#citations) {
          const annotation: FileCitation = { ...citation, index: slot.part.text.length };
          slot.part.annotations.push(annotation);
          events.push({
            type: "response.output_text.annotation.added",
            item_id: id,
            output_index: slot.index,
            content_index: 0,
            annotation_index: slot.part.annotations.length - 1,
            annotation: { ...annotation },
            sequence_number: this.#sequence++,
          });
        }
        this.#citations = [];
      }
      if (this.#finishReason !== undefined && this.#webSources.size > 0) {
        for (const match of slot.part.text.matchAll(/\[(\d{1,3})\]/g)) {
          const source = this.#webSources.get(Number(match[1]));
          if (source === undefined) continue;
          const annotation: UrlCitation = { type: "url_citation", url: source.url, title: source.title, start_index: match.index, end_index: match.index + match[0].length };
          slot.part.annotations.push(annotation);
          events.push({ type: "response.output_text.annotation.added", item_id: id, output_index: slot.index, content_index: 0, annotation_index: slot.part.annotations.length - 1, annotation: { ...annotation }, sequence_number: this.#sequence++ });
        }
        this.#webSources.clear();
      }
      if (this.#finishReason !== undefined && this.#containerFiles.length > 0) {
        for (const file of this.#containerFiles) {
          const annotation: ContainerFileCitation = { type: "container_file_citation", container_id: file.containerId, file_id: file.fileId, filename: file.path.split("/").pop() ?? file.path, ...citationSpan(slot.part.text, file.path) };
          slot.part.annotations.push(annotation);
          events.push({ type: "response.output_text.annotation.added", item_id: id, output_index: slot.index, content_index: 0, annotation_index: slot.part.annotations.length - 1, annotation: { ...annotation }, sequence_number: this.#sequence++ });
        }
        this.#containerFiles = [];
      }
      events.push({
        type: "response.output_text.done",
        item_id: id,
        output_index: slot.index,
        content_index: 0,
        text: slot.part.text,
        logprobs: slot.logprobs.map(eventLogprob),
        sequence_number: this.#sequence++,
      });
      events.push({
        type: "response.content_part.done",
        item_id: id,
        output_index: slot.index,
        content_index: 0,
        part: { ...slot.part, annotations: slot.part.annotations.map((a) => ({ ...a })), logprobs: [...slot.part.logprobs] },
        sequence_number: this.#sequence++,
      });
    } else if (slot.item.type === "function_call") {
      events.push({
        type: "response.function_call_arguments.done",
        item_id: slot.item.id,
        output_index: slot.index,
        name: slot.item.name,
        arguments: slot.item.arguments,
        sequence_number: this.#sequence++,
      });
    } else if (slot.item.type === "web_search_call") {
      if (status === "completed") events.push({ type: "response.web_search_call.completed", output_index: slot.index, item_id: slot.item.id, sequence_number: this.#sequence++ });
    } else if (slot.item.type === "code_interpreter_call") {
      if (status === "completed") events.push({ type: "response.code_interpreter_call.completed", output_index: slot.index, item_id: slot.item.id, sequence_number: this.#sequence++ });
    } else if (status === "completed") {
      events.push({ type: "response.file_search_call.completed", output_index: slot.index, item_id: slot.item.id, sequence_number: this.#sequence++ });
    }
    events.push({ type: "response.output_item.done", output_index: slot.index, item: copyItem(slot.item), sequence_number: this.#sequence++ });
  }
}

/** Feeds every part of a generation to a builder and ends it: the non-streamed path. */
export async function collectResponse(
  builder: ResponseStreamBuilder,
  parts: Iterable<ChatStreamPart> | AsyncIterable<ChatStreamPart>,
): Promise<ResponseObject> {
  builder.start();
  for await (const part of parts) builder.push(part);
  builder.end();
  return builder.response;
}
