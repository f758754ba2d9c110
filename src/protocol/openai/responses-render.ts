import type { ReasoningEffort, Usage } from "../../core/chat.ts";
import { toApiError } from "../../core/errors.ts";
import type { SearchHit } from "../../retrieval/types.ts";
import type {
  FileCitation,
  FileSearchResult,
  ResponseOutputItem,
  ResponsesRequest,
  TextFormatParam,
  ToolChoiceParam,
  ToolParam,
} from "./responses-types.ts";

/** Where a response stands. */
export type ResponseStatus = "completed" | "incomplete" | "in_progress" | "queued" | "failed" | "cancelled";

/** The codes the spec allows in a response's `error`. */
export type ResponseErrorCode =
  | "server_error"
  | "rate_limit_exceeded"
  | "invalid_prompt"
  | "invalid_image"
  | "invalid_image_format"
  | "invalid_base64_image"
  | "invalid_image_url";

/** A failed response's `error`. */
export interface ResponseError {
  code: ResponseErrorCode;
  message: string;
}

/** Token accounting in the Responses API's shape. */
export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number; cache_write_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/** Why a response stopped short. */
export type IncompleteReason = "max_output_tokens" | "content_filter";

/** The `response` object, as `POST /v1/responses` returns it and stream events carry it. */
export interface ResponseObject {
  id: string;
  object: "response";
  created_at: number;
  status: ResponseStatus;
  background: boolean;
  completed_at: number | null;
  conversation: { id: string } | null;
  error: ResponseError | null;
  incomplete_details: { reason: IncompleteReason } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  max_tool_calls: number | null;
  model: string;
  output: ResponseOutputItem[];
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  prompt_cache_key: string | null;
  reasoning: { effort: ReasoningEffort | null; summary: "auto" | null };
  safety_identifier: string | null;
  service_tier: "default";
  store: boolean;
  temperature: number;
  text: { format: TextFormatParam; verbosity: "medium" };
  tool_choice: ToolChoiceParam;
  tools: ToolParam[];
  top_logprobs: number;
  top_p: number;
  truncation: "auto" | "disabled";
  /** Left out until known: the spec's `usage` is an object, never null. */
  usage?: ResponseUsage;
  /** Left out when not given: the spec's `user` is a string, never null. */
  user?: string;
  metadata: Record<string, string>;
}

/** What identifies one response. */
export interface ResponseIdentity {
  id: string;
  /** Unix seconds. */
  createdAt: number;
  /** The model that serves it (a fallback's, if one took over). */
  model: string;
}

/** How far a response has got. */
export interface ResponseState {
  status: ResponseStatus;
  output: readonly ResponseOutputItem[];
  usage: Usage | undefined;
  error: ResponseError | null;
  incompleteReason: IncompleteReason | undefined;
  completedAt: number | null;
}

/** Renders a usage in the Responses API's shape. */
export function renderResponseUsage(usage: Usage): ResponseUsage {
  return {
    input_tokens: usage.promptTokens,
    // Prefix state is reused, never written as a billable cache entry.
    input_tokens_details: { cached_tokens: usage.cachedTokens, cache_write_tokens: 0 },
    output_tokens: usage.completionTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens },
    total_tokens: usage.promptTokens + usage.completionTokens,
  };
}

/** The `response.input_tokens` object: what a request's input would count, without running it. */
export function renderInputTokens(tokens: number): { object: "response.input_tokens"; input_tokens: number } {
  return { object: "response.input_tokens", input_tokens: tokens };
}

/** A stored response as a retrieval with `include` shows it: code calls' outputs only when asked for. */
export function applyResponseInclude(response: ResponseObject, include: readonly string[]): ResponseObject {
  if (include.includes("code_interpreter_call.outputs")) return response;
  return { ...response, output: response.output.map((item) => (item.type === "code_interpreter_call" ? { ...item, outputs: null } : item)) };
}

/** A deep copy of an output item, so that an event never shows later changes. */
export function copyItem(item: ResponseOutputItem): ResponseOutputItem {
  if (item.type === "function_call") return { ...item };
  if (item.type === "file_search_call") {
    return { ...item, queries: [...item.queries], results: item.results?.map((r) => ({ ...r, attributes: { ...r.attributes } })) ?? null };
  }
  if (item.type === "code_interpreter_call") return { ...item, outputs: item.outputs?.map((o) => ({ ...o })) ?? null };
  if (item.type === "mcp_list_tools" || item.type === "mcp_call" || item.type === "mcp_approval_request" || item.type === "image_generation_call") return structuredClone(item);
  if (item.type === "web_search_call") {
    if (item.action.type === "open_page") return { ...item, action: { ...item.action } };
    const { sources, queries, ...action } = item.action;
    return { ...item, action: { ...action, ...(queries !== undefined ? { queries: [...queries] } : {}), ...(sources !== undefined ? { sources: sources.map((s) => ({ ...s })) } : {}) } };
  }
  return {
    ...item,
    content: item.content.map((part) => ({
      ...part,
      annotations: part.annotations.map((a) => ({ ...a })),
      logprobs: part.logprobs.map((l) => ({ ...l, top_logprobs: [...l.top_logprobs] })),
    })),
  };
}

/** Builds the full `response` object: every property the spec requires, and those OpenAI sends besides. */
export function renderResponse(identity: ResponseIdentity, request: ResponsesRequest, state: ResponseState): ResponseObject {
  return {
    id: identity.id,
    object: "response",
    created_at: identity.createdAt,
    status: state.status,
    background: request.background,
    completed_at: state.completedAt,
    conversation: request.conversation === undefined ? null : { id: request.conversation },
    error: state.error,
    incomplete_details: state.incompleteReason === undefined ? null : { reason: state.incompleteReason },
    instructions: request.instructions ?? null,
    max_output_tokens: request.maxOutputTokens ?? null,
    max_tool_calls: request.maxToolCalls ?? null,
    model: identity.model,
    output: state.output.map(copyItem),
    parallel_tool_calls: request.parallelToolCalls,
    previous_response_id: request.previousResponseId ?? null,
    prompt_cache_key: request.promptCacheKey ?? null,
    reasoning: { effort: request.reasoningEffort ?? null, summary: request.reasoningSummary ?? null },
    safety_identifier: request.safetyIdentifier ?? null,
    service_tier: "default",
    store: request.store,
    temperature: request.temperature ?? 1,
    text: { format: request.echo.textFormat, verbosity: "medium" },
    tool_choice: request.echo.toolChoice,
    tools: request.echo.tools,
    top_logprobs: request.topLogprobs ?? 0,
    top_p: request.topP ?? 1,
    truncation: request.truncation,
    ...(state.usage !== undefined ? { usage: renderResponseUsage(state.usage) } : {}),
    ...(request.user !== undefined ? { user: request.user } : {}),
    metadata: request.metadata,
  };
}

/** Maps any error onto a response's `error`, whose codes the spec limits. */
export function toResponseError(error: unknown): ResponseError {
  const e = toApiError(error);
  let code: ResponseErrorCode = e.status >= 500 ? "server_error" : "invalid_prompt";
  if (e.status === 429) code = "rate_limit_exceeded";
  else if (e.code === "invalid_image_url" || e.code === "invalid_image_format") code = e.code;
  else if (e.code === "invalid_base64") code = "invalid_base64_image";
  return { code, message: e.message };
}

/** One citation per distinct file among the hits given to the model, in their order. */
export function fileCitations(fed: readonly SearchHit[]): FileCitation[] {
  const seen = new Set<string>();
  const citations: FileCitation[] = [];
  for (const hit of fed) {
    if (seen.has(hit.fileId)) continue;
    seen.add(hit.fileId);
    citations.push({ type: "file_citation", file_id: hit.fileId, filename: hit.filename, index: 0 });
  }
  return citations;
}

/** A search hit as `file_search_call.results` lists it. */
export function fileSearchResult(hit: SearchHit): FileSearchResult {
  return { file_id: hit.fileId, filename: hit.filename, text: hit.text, score: hit.score, attributes: { ...hit.attributes } };
}
