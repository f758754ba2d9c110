import type {
  ChatMessage,
  ChatRequest,
  ContentPart,
  JsonSchema,
  ReasoningEffort,
  ResponseFormat,
  ToolCall,
  ToolChoice,
  ToolDefinition,
} from "../../core/chat.ts";
import { invalidRequest, unsupportedParameter } from "../../core/errors.ts";
import { parseAttributeFilter } from "./attribute-filters.ts";
import type { AttributeFilter, AttributeValue, SearchHit } from "../../retrieval/types.ts";
import { readImage } from "./image-input.ts";
import { toGrammarSchema } from "./json-schema-subset.ts";
import { describeType, FieldReader, invalidValue, type JsonObject, readMetadata } from "./validate.ts";

// ---------------------------------------------------------------------------------------------
// Items. They keep OpenAI's wire shape (snake_case, `type` tags) so that the storage layer can
// persist them as they are and list them back (`GET /v1/responses/{id}/input_items`) unchanged.
// ---------------------------------------------------------------------------------------------

/** The status an item of a response can have. */
export type ItemStatus = "in_progress" | "completed" | "incomplete";

/** Text given as input. */
export interface InputTextPart {
  type: "input_text";
  text: string;
}

/** An image given as input: a validated (and normalised) URL, or a file id still to resolve. */
export interface InputImagePart {
  type: "input_image";
  image_url: string | null;
  file_id: string | null;
  detail: "low" | "high" | "auto";
}

/** A file given as input; kept so that it can be listed back, but not yet turned into model input. */
export interface InputFilePart {
  type: "input_file";
  file_id: string | null;
  file_data?: string;
  file_url?: string;
  filename?: string;
}

/** Content of a user, system or developer message. */
export type InputContentPart = InputTextPart | InputImagePart | InputFilePart;

/** The log probability of one output token, as `output_text` parts carry it. */
export interface OutputLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

/**
 * A citation of a file the `file_search` tool found. `index` is a position in the text: Modelport
 * puts every citation at the end of the message's text (its length), as the model gives no spans.
 */
export interface FileCitation {
  type: "file_citation";
  file_id: string;
  filename: string;
  index: number;
}

/** Text the assistant produced. Annotations are file citations from `file_search`, else none. */
export interface OutputTextPart {
  type: "output_text";
  text: string;
  annotations: FileCitation[];
  logprobs: OutputLogprob[];
}

/** A refusal the assistant produced (only ever seen in input, sent back by a client). */
export interface RefusalPart {
  type: "refusal";
  refusal: string;
}

/** A user, system or developer message given as input. */
export interface InputMessageItem {
  type: "message";
  id?: string;
  role: "user" | "system" | "developer";
  content: InputContentPart[];
  status?: ItemStatus;
}

/** An earlier assistant message given back as input. */
export interface AssistantMessageItem {
  type: "message";
  id?: string;
  role: "assistant";
  content: (OutputTextPart | RefusalPart)[];
  status?: ItemStatus;
}

/** An earlier function call given back as input. */
export interface FunctionCallItem {
  type: "function_call";
  id?: string;
  call_id: string;
  name: string;
  arguments: string;
  status?: ItemStatus;
}

/** The result of a function call, given as input. */
export interface FunctionCallOutputItem {
  type: "function_call_output";
  id?: string;
  call_id: string;
  output: string | InputTextPart[];
  status?: ItemStatus;
}

/** A reference to an item of a stored response or conversation, resolved before generation. */
export interface ItemReference {
  type: "item_reference";
  id: string;
}

/** One validated, normalised item of a request's `input`. */
export type ResponseInputItem =
  | InputMessageItem
  | AssistantMessageItem
  | FunctionCallItem
  | FunctionCallOutputItem
  | ItemReference;

/** An assistant message a response produced. */
export interface ResponseOutputMessage {
  type: "message";
  id: string;
  status: ItemStatus;
  role: "assistant";
  content: OutputTextPart[];
}

/** A function call a response produced. */
export interface ResponseFunctionCall {
  type: "function_call";
  id: string;
  call_id: string;
  name: string;
  arguments: string;
  status: ItemStatus;
}

/** One result of a file search, as `file_search_call.results` lists it. */
export interface FileSearchResult {
  file_id: string;
  filename: string;
  text: string;
  /** 0–1, 1 best. */
  score: number;
  attributes: Record<string, AttributeValue>;
}

/**
 * A `file_search` tool call: the queries as run and, when `include` asks for
 * `file_search_call.results`, what they found (null otherwise). Clients may send one back as input.
 */
export interface ResponseFileSearchCall {
  type: "file_search_call";
  id: string;
  status: "in_progress" | "searching" | "completed" | "incomplete" | "failed";
  queries: string[];
  results: FileSearchResult[] | null;
}

/** One item of a response's `output`. */
export type ResponseOutputItem = ResponseOutputMessage | ResponseFunctionCall | ResponseFileSearchCall;

/** One item of a Responses request's `input`: the items conversations share, or a file search call sent back. */
export type RequestInputItem = ResponseInputItem | ResponseFileSearchCall;

// ---------------------------------------------------------------------------------------------
// Request settings as the response object repeats them.
// ---------------------------------------------------------------------------------------------

/** A function tool in the Responses API's flat wire shape. */
export interface FunctionToolParam {
  type: "function";
  name: string;
  description: string | null;
  parameters: JsonObject | null;
  /** As the client sent it; null when left out. */
  strict: boolean | null;
}

/** The rankers a `file_search` tool may name (the spec's RankerVersionType). */
export const FILE_SEARCH_RANKERS = ["auto", "default-2024-11-15"] as const;

/** A `file_search` tool in wire form, as the response repeats it (defaults filled in, as OpenAI does). */
export interface FileSearchToolParam {
  type: "file_search";
  vector_store_ids: string[];
  max_num_results: number;
  filters: AttributeFilter | null;
  ranking_options: {
    ranker: (typeof FILE_SEARCH_RANKERS)[number];
    score_threshold: number;
    hybrid_search?: { embedding_weight: number; text_weight: number };
  };
}

/** A tool in wire form, as the response repeats it. */
export type ToolParam = FunctionToolParam | FileSearchToolParam;

/** What the `file_search` tool searches, for a turn in which it runs. */
export interface FileSearchSettings {
  /** The tool's param path (`tools[i]`), for errors about it. */
  param: string;
  vectorStoreIds: string[];
  maxNumResults: number;
  filter: AttributeFilter | undefined;
  scoreThreshold: number;
  /** Reciprocal-rank-fusion weights (`ranking_options.hybrid_search`); both 1 by default. */
  weights: { embedding: number; text: number };
}

/** The default of `max_num_results` (the spec gives none; OpenAI's search endpoint defaults to 10). */
export const DEFAULT_FILE_SEARCH_RESULTS = 10;

/** `tool_choice` in wire form. */
export type ToolChoiceParam =
  | "none"
  | "auto"
  | "required"
  | { type: "function"; name: string }
  | { type: "file_search" }
  | { type: "allowed_tools"; mode: "auto" | "required"; tools: ({ type: "function"; name: string } | { type: "file_search" })[] };

/** `text.format` in wire form, with the schema as the client sent it. */
export type TextFormatParam =
  | { type: "text" }
  | { type: "json_object" }
  | { type: "json_schema"; name: string; schema: JsonObject; strict: boolean; description?: string };

/** The values `include` may list. */
export const INCLUDE_VALUES = [
  "file_search_call.results",
  "web_search_call.results",
  "web_search_call.action.sources",
  "message.input_image.image_url",
  "computer_call_output.output.image_url",
  "code_interpreter_call.outputs",
  "reasoning.encrypted_content",
  "message.output_text.logprobs",
] as const;

/** One value of `include`. */
export type IncludeValue = (typeof INCLUDE_VALUES)[number];

/** A validated `POST /v1/responses` body. */
export interface ResponsesRequest {
  model: string;
  /** The new input, `item_reference`s not yet resolved. */
  input: RequestInputItem[];
  instructions: string | undefined;
  previousResponseId: string | undefined;
  /** The conversation's id, from either wire form. */
  conversation: string | undefined;
  store: boolean;
  background: boolean;
  stream: boolean;
  includeObfuscation: boolean;
  /**
   * Validated; `message.output_text.logprobs` and `file_search_call.results` change the output, the
   * rest concern built-in tools this server does not have.
   */
  include: IncludeValue[];
  metadata: Record<string, string>;
  /** 'auto' asks the caller to drop the oldest items when the context is too long. */
  truncation: "auto" | "disabled";
  maxOutputTokens: number | undefined;
  /** Applies to built-in tools only: 0 means the `file_search` tool does not run. Repeated in the response. */
  maxToolCalls: number | undefined;
  temperature: number | undefined;
  topP: number | undefined;
  topLogprobs: number | undefined;
  parallelToolCalls: boolean;
  /** The functions the model may call (an `allowed_tools` choice already applied). */
  tools: ToolDefinition[];
  /**
   * The `file_search` tool's settings when it runs this turn: the tool was given and `tool_choice`
   * (with any `allowed_tools`) and `max_tool_calls` let it run. Undefined otherwise.
   */
  fileSearch: FileSearchSettings | undefined;
  toolChoice: ToolChoice;
  responseFormat: ResponseFormat;
  reasoningEffort: ReasoningEffort | undefined;
  /** Only 'auto' is accepted (the model decides, and these models give none); repeated in the response. */
  reasoningSummary: "auto" | undefined;
  user: string | undefined;
  safetyIdentifier: string | undefined;
  promptCacheKey: string | undefined;
  /** The settings the response object repeats, in wire form. */
  echo: { tools: ToolParam[]; toolChoice: ToolChoiceParam; textFormat: TextFormatParam };
}

// ---------------------------------------------------------------------------------------------
// Parsing.
// ---------------------------------------------------------------------------------------------

/** Parameters Modelport honours. */
export const HONOURED_PARAMETERS: readonly string[] = [
  "model", "input", "instructions", "previous_response_id", "conversation", "store", "tools", "tool_choice",
  "parallel_tool_calls", "max_output_tokens", "temperature", "top_p", "text", "reasoning", "metadata",
  "truncation", "include", "background", "stream", "stream_options", "user", "safety_identifier",
  "prompt_cache_key", "service_tier", "top_logprobs", "max_tool_calls",
];

/** Parameters of OpenAI's API that this server cannot honour: rejected by name unless null. */
export const REJECTED_PARAMETERS: readonly string[] = [
  "prompt", "prompt_cache_retention", "prompt_cache_options", "moderation", "context_management",
];

const KNOWN = new Set([...HONOURED_PARAMETERS, ...REJECTED_PARAMETERS]);
const NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const STATUSES: readonly ItemStatus[] = ["in_progress", "completed", "incomplete"];
const EFFORTS = ["none", "minimal", "low", "medium", "high", "xhigh", "max"] as const;
const SUPPORTED_ITEM_TYPES = ["message", "function_call", "function_call_output", "item_reference"];
/** Item types of the spec that belong to built-in tools, reasoning or compaction. */
const UNSUPPORTED_ITEM_TYPES = new Set([
  "file_search_call", "computer_call", "computer_call_output", "web_search_call", "tool_search_call",
  "tool_search_output", "additional_tools", "reasoning", "compaction", "compaction_trigger", "image_generation_call",
  "code_interpreter_call", "local_shell_call", "local_shell_call_output", "shell_call", "shell_call_output",
  "apply_patch_call", "apply_patch_call_output", "mcp_list_tools", "mcp_approval_request", "mcp_approval_response",
  "mcp_call", "custom_tool_call", "custom_tool_call_output", "program", "program_output",
]);

function rejectIfSet(reader: FieldReader, key: string, detail?: string): void {
  if (reader.has(key)) throw unsupportedParameter(reader.path(key), detail);
}

/** Reads a value that may be a string or an array, as `content` and `output` may be. */
function stringOrArray(reader: FieldReader, key: string): string | unknown[] {
  const value = reader.required(key);
  if (typeof value === "string" || Array.isArray(value)) return value;
  const param = reader.path(key);
  throw invalidRequest(
    `Invalid type for '${param}': expected one of a string or an array, but got ${describeType(value)} instead.`,
    param,
    "invalid_type",
  );
}

function readInputText(part: FieldReader): InputTextPart {
  part.rejectUnknown(new Set(["type", "text", "prompt_cache_breakpoint"]));
  rejectIfSet(part, "prompt_cache_breakpoint");
  return { type: "input_text", text: part.string("text", { required: true }) };
}

function readInputImage(part: FieldReader, param: string): InputImagePart {
  part.rejectUnknown(new Set(["type", "image_url", "file_id", "detail", "prompt_cache_breakpoint"]));
  rejectIfSet(part, "prompt_cache_breakpoint");
  const detail = part.enumeration("detail", ["low", "high", "auto", "original"] as const) ?? "auto";
  if (detail === "original") throw unsupportedParameter(part.path("detail"), "value 'original' is not supported; use 'low', 'high' or 'auto'");
  const url = part.string("image_url");
  const fileId = part.string("file_id");
  if ((url === undefined) === (fileId === undefined)) {
    throw invalidRequest(`Invalid '${param}': provide exactly one of 'image_url' or 'file_id'.`, part.path("image_url"), url === undefined ? "missing_required_parameter" : "invalid_value");
  }
  // Validated here, where the path is exact; a data URL comes back normalised (whitespace dropped).
  const image = url === undefined ? undefined : readImage(url, detail, part.path("image_url"));
  return { type: "input_image", image_url: image?.url ?? null, file_id: fileId ?? null, detail };
}

function readInputFile(part: FieldReader, param: string): InputFilePart {
  part.rejectUnknown(new Set(["type", "file_id", "file_data", "file_url", "filename", "detail", "prompt_cache_breakpoint"]));
  rejectIfSet(part, "prompt_cache_breakpoint");
  part.enumeration("detail", ["auto", "low", "high"] as const);
  const fileId = part.string("file_id");
  const fileData = part.string("file_data");
  const fileUrl = part.string("file_url");
  const filename = part.string("filename");
  if (fileId === undefined && fileData === undefined && fileUrl === undefined) {
    throw invalidRequest(`Invalid '${param}': provide one of 'file_id', 'file_data' or 'file_url'.`, part.path("file_id"), "missing_required_parameter");
  }
  return {
    type: "input_file",
    file_id: fileId ?? null,
    ...(fileData !== undefined ? { file_data: fileData } : {}),
    ...(fileUrl !== undefined ? { file_url: fileUrl } : {}),
    ...(filename !== undefined ? { filename } : {}),
  };
}

function readInputParts(raw: unknown[], param: string, role: InputMessageItem["role"]): InputContentPart[] {
  return raw.map((value, j) => {
    const partParam = `${param}[${j}]`;
    const part = new FieldReader(value, partParam);
    const type = part.string("type", { required: true });
    switch (type) {
      case "input_text":
        return readInputText(part);
      case "input_image":
      case "input_file":
        // Canonical system messages are text only; user messages carry images.
        if (role !== "user") {
          throw invalidRequest(`Content of type '${type}' is only supported in user messages.`, part.path("type"), "unsupported_content_type");
        }
        return type === "input_image" ? readInputImage(part, partParam) : readInputFile(part, partParam);
      default:
        throw invalidValue(part.path("type"), type, ["input_text", "input_image", "input_file"]);
    }
  });
}

function readAssistantParts(raw: unknown[], param: string): (OutputTextPart | RefusalPart)[] {
  return raw.map((value, j) => {
    const part = new FieldReader(value, `${param}[${j}]`);
    const type = part.string("type", { required: true });
    if (type === "output_text") {
      // Annotations and logprobs come back when clients resend output items; they carry no input.
      part.rejectUnknown(new Set(["type", "text", "annotations", "logprobs"]));
      part.array("annotations");
      part.array("logprobs");
      return { type: "output_text", text: part.string("text", { required: true }), annotations: [], logprobs: [] };
    }
    if (type === "refusal") {
      part.rejectUnknown(new Set(["type", "refusal"]));
      return { type: "refusal", refusal: part.string("refusal", { required: true }) };
    }
    throw invalidValue(part.path("type"), type, ["output_text", "refusal"]);
  });
}

function readMessageItem(item: FieldReader): InputMessageItem | AssistantMessageItem {
  // `id` and `status` come with messages sent back from earlier output or input item listings.
  item.rejectUnknown(new Set(["type", "role", "content", "id", "status", "phase"]));
  const role = item.enumeration("role", ["user", "assistant", "system", "developer"] as const, { required: true }) as
    | "user"
    | "assistant"
    | "system"
    | "developer";
  const id = item.string("id");
  const status = item.enumeration("status", STATUSES);
  item.enumeration("phase", ["commentary", "final_answer"] as const);
  const content = stringOrArray(item, "content");
  const extra = { ...(id !== undefined ? { id } : {}), ...(status !== undefined ? { status } : {}) };
  if (role === "assistant") {
    const parts: (OutputTextPart | RefusalPart)[] =
      typeof content === "string"
        ? [{ type: "output_text", text: content, annotations: [], logprobs: [] }]
        : readAssistantParts(content, item.path("content"));
    return { type: "message", ...extra, role, content: parts };
  }
  const parts: InputContentPart[] =
    typeof content === "string" ? [{ type: "input_text", text: content }] : readInputParts(content, item.path("content"), role);
  return { type: "message", ...extra, role, content: parts };
}

function readFunctionCallItem(item: FieldReader): FunctionCallItem {
  item.rejectUnknown(new Set(["type", "id", "call_id", "name", "arguments", "status", "namespace", "caller"]));
  rejectIfSet(item, "namespace");
  rejectIfSet(item, "caller");
  const id = item.string("id");
  const callId = item.string("call_id", { required: true, nonEmpty: true });
  const name = item.string("name", { required: true, nonEmpty: true });
  const args = item.string("arguments", { required: true });
  const status = item.enumeration("status", STATUSES);
  return {
    type: "function_call",
    ...(id !== undefined ? { id } : {}),
    call_id: callId,
    name,
    arguments: args,
    ...(status !== undefined ? { status } : {}),
  };
}

function readFunctionCallOutputItem(item: FieldReader): FunctionCallOutputItem {
  item.rejectUnknown(new Set(["type", "id", "call_id", "output", "name", "namespace", "caller", "status"]));
  rejectIfSet(item, "namespace");
  rejectIfSet(item, "caller");
  const id = item.string("id");
  const callId = item.string("call_id", { required: true, nonEmpty: true, maxLength: 64 });
  item.string("name", { nonEmpty: true, maxLength: 128 });
  const status = item.enumeration("status", STATUSES);
  const raw = stringOrArray(item, "output");
  let output: string | InputTextPart[];
  if (typeof raw === "string") {
    output = raw;
  } else {
    output = raw.map((value, j) => {
      const part = new FieldReader(value, `${item.path("output")}[${j}]`);
      const type = part.string("type", { required: true });
      if (type === "input_text") return readInputText(part);
      if (type === "input_image" || type === "input_file") {
        // Canonical tool messages are text: an image the model cannot see must not vanish silently.
        throw invalidRequest(`Function call outputs of type '${type}' are not supported by this server; send text.`, part.path("type"), "unsupported_content_type");
      }
      throw invalidValue(part.path("type"), type, ["input_text", "input_image", "input_file"]);
    });
  }
  return {
    type: "function_call_output",
    ...(id !== undefined ? { id } : {}),
    call_id: callId,
    output,
    ...(status !== undefined ? { status } : {}),
  };
}

const FILE_SEARCH_CALL_STATUSES = ["in_progress", "searching", "completed", "incomplete", "failed"] as const;

/** A `file_search_call` item sent back as input (a client keeping its own history): validated, kept for listing. */
function readFileSearchCallItem(item: FieldReader): ResponseFileSearchCall {
  item.rejectUnknown(new Set(["type", "id", "status", "queries", "results"]));
  const id = item.string("id", { required: true, nonEmpty: true });
  const status = item.enumeration("status", FILE_SEARCH_CALL_STATUSES, { required: true }) as ResponseFileSearchCall["status"];
  const queries = (item.array("queries", { required: true }) ?? []).map((value, i) => {
    const param = `${item.path("queries")}[${i}]`;
    if (typeof value !== "string") throw invalidRequest(`Invalid type for '${param}': expected a string, but got ${describeType(value)} instead.`, param, "invalid_type");
    return value;
  });
  const raw = item.array("results");
  const results =
    raw === undefined
      ? null
      : raw.map((value, i): FileSearchResult => {
          const result = new FieldReader(value, `${item.path("results")}[${i}]`);
          result.rejectUnknown(new Set(["file_id", "filename", "text", "score", "attributes"]));
          const attributes: Record<string, AttributeValue> = {};
          const given = result.object("attributes");
          for (const [key, v] of Object.entries(given?.obj ?? {})) {
            if (typeof v !== "string" && typeof v !== "boolean" && !(typeof v === "number" && Number.isFinite(v))) {
              const param = given?.path(key) ?? key;
              throw invalidRequest(`Invalid type for '${param}': expected a string, number or boolean.`, param, "invalid_type");
            }
            attributes[key] = v;
          }
          return {
            file_id: result.string("file_id") ?? "",
            filename: result.string("filename") ?? "",
            text: result.string("text") ?? "",
            score: result.number("score") ?? 0,
            attributes,
          };
        });
  return { type: "file_search_call", id, status, queries, results };
}

function readInputItem(raw: unknown, index: number, param: string, allowFileSearchCall: true): RequestInputItem;
function readInputItem(raw: unknown, index: number, param: string, allowFileSearchCall: false): ResponseInputItem;
function readInputItem(raw: unknown, index: number, param: string, allowFileSearchCall: boolean): RequestInputItem {
  const item = new FieldReader(raw, `${param}[${index}]`);
  // `type` may be left out of easy messages and of item references.
  let type: string;
  if (item.has("type")) type = item.string("type", { required: true });
  else type = !item.has("role") && item.has("id") ? "item_reference" : "message";
  switch (type) {
    case "message":
      return readMessageItem(item);
    case "function_call":
      return readFunctionCallItem(item);
    case "function_call_output":
      return readFunctionCallOutputItem(item);
    case "item_reference":
      item.rejectUnknown(new Set(["type", "id"]));
      return { type: "item_reference", id: item.string("id", { required: true, nonEmpty: true }) };
    case "file_search_call":
      // A Responses input may hand back a search call; conversations do not keep them from clients.
      if (allowFileSearchCall) return readFileSearchCallItem(item);
      break;
  }
  if (UNSUPPORTED_ITEM_TYPES.has(type)) {
    throw invalidRequest(
      `Input items of type '${type}' are not supported by this server: built-in tools, reasoning and compaction items are not supported yet.`,
      item.path("type"),
      "unsupported_parameter",
    );
  }
  throw invalidValue(item.path("type"), type, allowFileSearchCall ? [...SUPPORTED_ITEM_TYPES, "file_search_call"] : SUPPORTED_ITEM_TYPES);
}

/**
 * Validates an array of input items as `parseResponsesRequest` validates `input`, with errors naming
 * `param[i]...` (the Conversations API passes `items`). `item_reference`s come back unresolved.
 */
export function parseInputItems(value: unknown, param: string): ResponseInputItem[] {
  if (!Array.isArray(value)) {
    throw invalidRequest(`Invalid type for '${param}': expected an array, but got ${describeType(value)} instead.`, param, "invalid_type");
  }
  return value.map((raw, i) => readInputItem(raw, i, param, false));
}

function readInput(reader: FieldReader): RequestInputItem[] {
  if (!reader.has("input")) return [];
  const value = stringOrArray(reader, "input");
  if (typeof value === "string") return [{ type: "message", role: "user", content: [{ type: "input_text", text: value }] }];
  return value.map((raw, i) => readInputItem(raw, i, "input", true));
}

/** Validates a `file_search` tool: its wire echo (defaults filled in) and what it searches. */
function readFileSearchTool(tool: FieldReader, param: string): { wire: FileSearchToolParam; settings: FileSearchSettings } {
  tool.rejectUnknown(new Set(["type", "vector_store_ids", "max_num_results", "filters", "ranking_options"]));
  const ids = (tool.array("vector_store_ids", { required: true, minLength: 1 }) ?? []).map((value, i) => {
    const idParam = `${tool.path("vector_store_ids")}[${i}]`;
    if (typeof value !== "string") throw invalidRequest(`Invalid type for '${idParam}': expected a string, but got ${describeType(value)} instead.`, idParam, "invalid_type");
    if (value.length === 0) throw invalidRequest(`Invalid '${idParam}': empty string. Expected a string with minimum length 1, but got an empty string instead.`, idParam, "empty_string");
    return value;
  });
  const maxNumResults = tool.number("max_num_results", { integer: true, min: 1, max: 50 }) ?? DEFAULT_FILE_SEARCH_RESULTS;
  const filter = tool.has("filters") ? parseAttributeFilter(tool.obj.filters, tool.path("filters")) : undefined;
  const ranking = tool.object("ranking_options");
  ranking?.rejectUnknown(new Set(["ranker", "score_threshold", "hybrid_search"]));
  const ranker = ranking?.enumeration("ranker", FILE_SEARCH_RANKERS) ?? "auto";
  const scoreThreshold = ranking?.number("score_threshold", { min: 0, max: 1 }) ?? 0;
  const hybrid = ranking?.object("hybrid_search");
  let weights = { embedding: 1, text: 1 };
  if (hybrid !== undefined) {
    hybrid.rejectUnknown(new Set(["embedding_weight", "text_weight"]));
    hybrid.required("embedding_weight");
    hybrid.required("text_weight");
    weights = { embedding: hybrid.number("embedding_weight", { min: 0 }) ?? 1, text: hybrid.number("text_weight", { min: 0 }) ?? 1 };
    if (weights.embedding === 0 && weights.text === 0) {
      throw invalidRequest(`Invalid '${hybrid.path("embedding_weight")}': at least one of 'embedding_weight' and 'text_weight' must be above 0.`, hybrid.path("embedding_weight"), "invalid_value");
    }
  }
  return {
    wire: {
      type: "file_search",
      vector_store_ids: ids,
      max_num_results: maxNumResults,
      filters: filter ?? null,
      ranking_options: {
        ranker,
        score_threshold: scoreThreshold,
        ...(hybrid !== undefined ? { hybrid_search: { embedding_weight: weights.embedding, text_weight: weights.text } } : {}),
      },
    },
    settings: { param, vectorStoreIds: ids, maxNumResults, filter, scoreThreshold, weights },
  };
}

function readTools(reader: FieldReader): { definitions: ToolDefinition[]; wire: ToolParam[]; fileSearch: FileSearchSettings | undefined } {
  const definitions: ToolDefinition[] = [];
  const wire: ToolParam[] = [];
  const names = new Set<string>();
  let fileSearch: FileSearchSettings | undefined;
  (reader.array("tools") ?? []).forEach((raw, i) => {
    const tool = new FieldReader(raw, `tools[${i}]`);
    const type = tool.string("type", { required: true });
    if (type === "file_search") {
      if (fileSearch !== undefined) throw invalidRequest("At most one tool of type 'file_search' may be given.", tool.path("type"), "invalid_value");
      const parsed = readFileSearchTool(tool, `tools[${i}]`);
      fileSearch = parsed.settings;
      wire.push(parsed.wire);
      return;
    }
    if (type !== "function") {
      throw invalidRequest(
        `Tools of type '${type}' are not supported: built-in tools are not supported by this server yet, except 'file_search'; use tools of type 'function' or 'file_search'.`,
        tool.path("type"),
        "unsupported_parameter",
      );
    }
    tool.rejectUnknown(new Set(["type", "name", "description", "parameters", "strict", "output_schema", "defer_loading", "allowed_callers"]));
    rejectIfSet(tool, "output_schema");
    rejectIfSet(tool, "allowed_callers");
    if (tool.boolean("defer_loading") === true) throw unsupportedParameter(tool.path("defer_loading"), "requires tool search, which this server does not support yet");
    const name = tool.string("name", { required: true });
    if (!NAME.test(name)) throw invalidRequest(`Invalid '${tool.path("name")}': '${name}' does not match ^[a-zA-Z0-9_-]{1,64}$.`, tool.path("name"), "invalid_value");
    if (names.has(name)) throw invalidRequest(`Duplicate function name '${name}'.`, tool.path("name"), "invalid_value");
    names.add(name);
    const description = tool.string("description");
    const given = tool.boolean("strict");
    // OpenAI makes a function whose `strict` is left out strict by rewriting its schema (every
    // property required, no others allowed). That rewrite changes what the client asked for, and an
    // upstream given `strict: true` with the schema as sent would refuse it; the local grammar
    // enforces the schema either way, so left out means non-strict here, and the echo says null.
    const strict = given ?? false;
    const parameters = tool.object("parameters")?.obj;
    const wireParameters: JsonSchema = parameters ?? { type: "object", properties: {} };
    definitions.push({
      name,
      description,
      parameters: toGrammarSchema(wireParameters, tool.path("parameters"), strict),
      wireParameters,
      strict,
    });
    wire.push({ type: "function", name, description: description ?? null, parameters: parameters ?? null, strict: given ?? null });
  });
  return { definitions, wire, fileSearch };
}

function readFunctionChoice(obj: FieldReader, names: ReadonlySet<string>): string {
  const name = obj.string("name", { required: true });
  if (!names.has(name)) throw invalidRequest(`Invalid '${obj.path("name")}': no function named '${name}' was given in 'tools'.`, obj.path("name"), "invalid_value");
  return name;
}

function requireFileSearchTool(obj: FieldReader, hasFileSearch: boolean): void {
  if (!hasFileSearch) throw invalidRequest(`Invalid '${obj.path("type")}': no tool of type 'file_search' was given in 'tools'.`, obj.path("type"), "invalid_value");
}

/**
 * Reads `tool_choice`. The `file_search` tool, when given, runs before the model answers unless the
 * choice is 'none' or an `allowed_tools` list leaves it out; when it runs it satisfies 'required' and
 * `{"type":"file_search"}`, so the model itself then answers under 'auto' (or 'none' without functions).
 */
function readToolChoice(
  reader: FieldReader,
  definitions: ToolDefinition[],
  hasFileSearch: boolean,
): { tools: ToolDefinition[]; choice: ToolChoice; wire: ToolChoiceParam; searches: boolean } {
  const names = new Set(definitions.map((t) => t.name));
  const raw = reader.obj.tool_choice;
  let wire: ToolChoiceParam = "auto";
  let choice: ToolChoice = "auto";
  let tools = definitions;
  let searches = hasFileSearch;
  if (typeof raw === "string") {
    choice = wire = reader.enumeration("tool_choice", ["none", "auto", "required"] as const) ?? "auto";
  } else if (raw !== undefined && raw !== null) {
    const obj = new FieldReader(raw, "tool_choice");
    const type = obj.string("type", { required: true });
    if (type === "function") {
      obj.rejectUnknown(new Set(["type", "name"]));
      const name = readFunctionChoice(obj, names);
      choice = { name };
      wire = { type: "function", name };
      // The named function is what the model must call; a search would not be asked for.
      searches = false;
    } else if (type === "file_search") {
      obj.rejectUnknown(new Set(["type"]));
      requireFileSearchTool(obj, hasFileSearch);
      choice = "auto";
      wire = { type: "file_search" };
    } else if (type === "allowed_tools") {
      obj.rejectUnknown(new Set(["type", "mode", "tools"]));
      const mode = obj.enumeration("mode", ["auto", "required"] as const, { required: true }) as "auto" | "required";
      let searchAllowed = false;
      const allowed: ({ type: "function"; name: string } | { type: "file_search" })[] = (obj.array("tools", { required: true }) ?? []).map((value, i) => {
        const entry = new FieldReader(value, `tool_choice.tools[${i}]`);
        const entryType = entry.string("type", { required: true });
        if (entryType === "file_search") {
          entry.rejectUnknown(new Set(["type"]));
          requireFileSearchTool(entry, hasFileSearch);
          searchAllowed = true;
          return { type: "file_search" };
        }
        if (entryType !== "function") {
          throw invalidRequest(`Allowed tools of type '${entryType}' are not supported: only 'function' and 'file_search' tools are.`, entry.path("type"), "unsupported_parameter");
        }
        entry.rejectUnknown(new Set(["type", "name"]));
        return { type: "function", name: readFunctionChoice(entry, names) };
      });
      // The model is offered only the allowed functions, which is what the restriction means.
      const keep = new Set(allowed.flatMap((t) => (t.type === "function" ? [t.name] : [])));
      tools = definitions.filter((t) => keep.has(t.name));
      searches = searchAllowed;
      choice = mode;
      wire = { type: "allowed_tools", mode, tools: allowed };
    } else {
      throw invalidRequest(
        `tool_choice of type '${type}' is not supported: of the built-in tools only 'file_search' is supported by this server; use 'function', 'file_search' or 'allowed_tools'.`,
        obj.path("type"),
        "unsupported_parameter",
      );
    }
  }
  if (definitions.length === 0 && !hasFileSearch && choice !== "none" && choice !== "auto") {
    throw invalidRequest("'tool_choice' other than 'none' or 'auto' is only allowed when 'tools' are specified.", "tool_choice");
  }
  if (choice === "none") searches = false;
  // A search that runs is the tool call 'required' asks for; the model then answers as it likes.
  if (searches && choice === "required") choice = "auto";
  if (tools.length === 0) choice = "none";
  return { tools, choice, wire, searches };
}

function readText(reader: FieldReader): { format: ResponseFormat; wire: TextFormatParam } {
  const text = reader.object("text");
  if (text === undefined) return { format: { type: "text" }, wire: { type: "text" } };
  text.rejectUnknown(new Set(["format", "verbosity"]));
  const verbosity = text.enumeration("verbosity", ["low", "medium", "high"] as const);
  if (verbosity !== undefined && verbosity !== "medium") {
    throw unsupportedParameter("text.verbosity", `value '${verbosity}' is not supported; only 'medium' is`);
  }
  const format = text.object("format");
  if (format === undefined) return { format: { type: "text" }, wire: { type: "text" } };
  const type = format.enumeration("type", ["text", "json_object", "json_schema"] as const, { required: true });
  if (type === "text" || type === "json_object") {
    format.rejectUnknown(new Set(["type"]));
    return { format: { type }, wire: { type } };
  }
  format.rejectUnknown(new Set(["type", "name", "schema", "strict", "description"]));
  const name = format.string("name", { required: true });
  if (!NAME.test(name)) throw invalidRequest(`Invalid 'text.format.name': '${name}' does not match ^[a-zA-Z0-9_-]{1,64}$.`, "text.format.name", "invalid_value");
  const description = format.string("description");
  const raw = new FieldReader(format.required("schema"), "text.format.schema").obj;
  const strict = format.boolean("strict") ?? false;
  const schema = toGrammarSchema(raw, "text.format.schema", strict);
  return {
    format: { type: "json_schema", name, ...(description !== undefined ? { description } : {}), schema, wireSchema: raw, strict },
    wire: { type: "json_schema", name, schema: raw, strict, ...(description !== undefined ? { description } : {}) },
  };
}

function readReasoning(reader: FieldReader): { effort: ReasoningEffort | undefined; summary: "auto" | undefined } {
  const reasoning = reader.object("reasoning");
  if (reasoning === undefined) return { effort: undefined, summary: undefined };
  reasoning.rejectUnknown(new Set(["effort", "summary", "generate_summary", "mode", "context"]));
  const effort = reasoning.enumeration("effort", EFFORTS);
  if (effort === "max") throw unsupportedParameter("reasoning.effort", "value 'max' is not supported; use at most 'xhigh'");
  let summary: "auto" | undefined;
  for (const key of ["summary", "generate_summary"]) {
    const value = reasoning.enumeration(key, ["auto", "concise", "detailed"] as const);
    // 'auto' leaves it to the model, and these models give no summaries; asking for one is refused.
    if (value !== undefined && value !== "auto") throw unsupportedParameter(reasoning.path(key), `value '${value}' is not supported: this server produces no reasoning summaries`);
    summary ??= value;
  }
  const mode = reasoning.string("mode");
  if (mode !== undefined && mode !== "standard") throw unsupportedParameter("reasoning.mode", `value '${mode}' is not supported; only 'standard' is`);
  const context = reasoning.enumeration("context", ["auto", "current_turn", "all_turns"] as const);
  if (context !== undefined && context !== "auto") throw unsupportedParameter("reasoning.context", `value '${context}' is not supported; only 'auto' is`);
  return { effort, summary };
}

function readConversation(reader: FieldReader): string | undefined {
  const value = reader.obj.conversation;
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return reader.string("conversation", { required: true, nonEmpty: true });
  const conversation = new FieldReader(value, "conversation");
  conversation.rejectUnknown(new Set(["id"]));
  return conversation.string("id", { required: true, nonEmpty: true });
}

/** Validates a `POST /v1/responses` body against OpenAI's CreateResponse and what this server honours. */
export function parseResponsesRequest(body: unknown): ResponsesRequest {
  const reader = new FieldReader(body, "");
  reader.rejectUnknown(KNOWN);
  for (const key of REJECTED_PARAMETERS) rejectIfSet(reader, key);
  const tier = reader.enumeration("service_tier", ["auto", "default", "flex", "scale", "priority", "fast", "ultrafast"] as const);
  if (tier !== undefined && tier !== "auto" && tier !== "default") throw unsupportedParameter("service_tier", `value '${tier}' is not supported; use 'auto' or 'default'`);

  const model = reader.string("model", { required: true, nonEmpty: true });
  const input = readInput(reader);
  const instructions = reader.string("instructions");
  const previousResponseId = reader.string("previous_response_id", { nonEmpty: true });
  const conversation = readConversation(reader);
  if (previousResponseId !== undefined && conversation !== undefined) {
    throw invalidRequest(
      "Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id' or 'conversation'.",
      "conversation",
      "mutually_exclusive_parameters",
    );
  }
  if (input.length === 0 && previousResponseId === undefined && conversation === undefined) {
    throw invalidRequest("Missing required parameter: 'input'.", "input", "missing_required_parameter");
  }

  const store = reader.boolean("store") ?? true;
  const background = reader.boolean("background") ?? false;
  if (background && !store) throw invalidRequest("Background responses must be stored: set 'store' to true.", "background", "invalid_value");
  const stream = reader.boolean("stream") ?? false;
  let includeObfuscation = true;
  const streamOptions = reader.object("stream_options");
  if (streamOptions !== undefined) {
    if (!stream) throw invalidRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options");
    streamOptions.rejectUnknown(new Set(["include_obfuscation"]));
    includeObfuscation = streamOptions.boolean("include_obfuscation") ?? true;
  }
  const include = (reader.array("include") ?? []).map((value, i) => {
    const param = `include[${i}]`;
    if (typeof value !== "string") throw invalidRequest(`Invalid type for '${param}': expected a string, but got ${describeType(value)} instead.`, param, "invalid_type");
    if (!(INCLUDE_VALUES as readonly string[]).includes(value)) throw invalidValue(param, value, INCLUDE_VALUES);
    return value as IncludeValue;
  });

  const { definitions, wire: wireTools, fileSearch } = readTools(reader);
  const { tools, choice, wire: wireChoice, searches } = readToolChoice(reader, definitions, fileSearch !== undefined);
  const maxToolCalls = reader.number("max_tool_calls", { integer: true, min: 0 });
  const text = readText(reader);
  if (text.format.type !== "text" && tools.length > 0 && choice !== "none") {
    throw invalidRequest("'text.format' other than 'text' cannot be combined with tool calls on this server; set tool_choice to 'none'.", "text.format");
  }
  const reasoning = readReasoning(reader);

  return {
    model,
    input,
    instructions,
    previousResponseId,
    conversation,
    store,
    background,
    stream,
    includeObfuscation,
    include,
    metadata: readMetadata(reader, "metadata") ?? {},
    truncation: reader.enumeration("truncation", ["auto", "disabled"] as const) ?? "disabled",
    maxOutputTokens: reader.number("max_output_tokens", { integer: true, min: 16 }),
    maxToolCalls,
    temperature: reader.number("temperature", { min: 0, max: 2 }),
    topP: reader.number("top_p", { min: 0, max: 1 }),
    topLogprobs: reader.number("top_logprobs", { integer: true, min: 0, max: 20 }),
    parallelToolCalls: reader.boolean("parallel_tool_calls") ?? true,
    tools,
    fileSearch: searches && maxToolCalls !== 0 ? fileSearch : undefined,
    toolChoice: choice,
    responseFormat: text.format,
    reasoningEffort: reasoning.effort,
    reasoningSummary: reasoning.summary,
    user: reader.string("user"),
    safetyIdentifier: reader.string("safety_identifier", { maxLength: 64 }),
    promptCacheKey: reader.string("prompt_cache_key"),
    echo: { tools: wireTools, toolChoice: wireChoice, textFormat: text.wire },
  };
}

// ---------------------------------------------------------------------------------------------
// Conversion to the canonical chat request.
// ---------------------------------------------------------------------------------------------

/** Whether the request asked for the log probabilities of output tokens. */
export function wantsLogprobs(req: ResponsesRequest): boolean {
  return req.include.includes("message.output_text.logprobs") || req.topLogprobs !== undefined;
}

function textOf(parts: readonly (InputContentPart | OutputTextPart | RefusalPart)[]): string {
  let text = "";
  for (const part of parts) {
    if (part.type === "input_text" || part.type === "output_text") text += part.text;
    else if (part.type === "refusal") text += part.refusal;
  }
  return text;
}

function userParts(item: InputMessageItem, param: string): ContentPart[] {
  return item.content.map((part, j): ContentPart => {
    const here = `${param}.content[${j}]`;
    switch (part.type) {
      case "input_text":
        return { type: "text", text: part.text };
      case "input_image":
        if (part.image_url === null) {
          throw invalidRequest("Images given by 'file_id' are not supported by this server yet; send 'image_url' (an https or base64 data URL).", `${here}.file_id`, "unsupported_parameter");
        }
        return readImage(part.image_url, part.detail, here);
      case "input_file":
        throw invalidRequest("Content of type 'input_file' is not supported by this server yet.", `${here}.type`, "unsupported_content_type");
    }
  });
}

/**
 * Converts resolved items (no `item_reference`) to canonical chat messages. `instructions` comes
 * first as a system message; developer and system messages become system messages; function calls
 * that follow an assistant message or each other join it as one assistant turn with tool calls.
 * Errors name `input[i]` for items from `firstInputIndex` on (the request's own input) and
 * `input` for earlier ones (history from a stored response or conversation).
 */
export function itemsToChatMessages(
  instructions: string | undefined,
  items: readonly (RequestInputItem | ResponseOutputItem)[],
  options: { firstInputIndex?: number } = {},
): ChatMessage[] {
  const first = options.firstInputIndex ?? 0;
  const messages: ChatMessage[] = [];
  if (instructions !== undefined) messages.push({ role: "system", content: instructions });
  const callIds = new Set<string>();
  // The assistant turn that function calls may still join: only while nothing else came between.
  let turn: { content: string; toolCalls: ToolCall[] } | undefined;
  items.forEach((item, i) => {
    const param = i >= first ? `input[${i - first}]` : "input";
    if (item.type !== "function_call") turn = undefined;
    switch (item.type) {
      case "message":
        if (item.role === "assistant") {
          turn = { content: textOf(item.content), toolCalls: [] };
          messages.push({ role: "assistant", content: turn.content, toolCalls: turn.toolCalls });
        } else if (item.role === "user") {
          messages.push({ role: "user", content: textOf(item.content), parts: userParts(item, param) });
        } else {
          messages.push({ role: "system", content: textOf(item.content) });
        }
        break;
      case "function_call":
        if (turn === undefined) {
          turn = { content: "", toolCalls: [] };
          messages.push({ role: "assistant", content: "", toolCalls: turn.toolCalls });
        }
        turn.toolCalls.push({ id: item.call_id, name: item.name, arguments: item.arguments });
        callIds.add(item.call_id);
        break;
      case "function_call_output":
        if (!callIds.has(item.call_id)) {
          throw invalidRequest(`No tool call found for function call output with call_id ${item.call_id}.`, param === "input" ? "input" : `${param}.call_id`, "invalid_value");
        }
        messages.push({ role: "tool", content: typeof item.output === "string" ? item.output : textOf(item.output), toolCallId: item.call_id });
        break;
      case "file_search_call":
        // A past search is not given to the model again: its answer, which follows, already used
        // it, and a turn with the tool runs a search of its own.
        break;
      case "item_reference":
        // The caller resolves references against storage first; one left here is a bug, not bad input.
        throw new Error(`item_reference ${item.id} was not resolved before conversion`);
    }
  });
  return messages;
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

/** Builds the canonical chat request of a Responses request: one choice, no stop sequences, OpenAI's sampling defaults. */
export function toChatRequest(req: ResponsesRequest, messages: ChatMessage[]): ChatRequest {
  return {
    model: req.model,
    messages,
    sampling: {
      temperature: req.temperature ?? 1,
      topP: req.topP ?? 1,
      seed: undefined,
      presencePenalty: 0,
      frequencyPenalty: 0,
      logitBias: new Map(),
    },
    maxTokens: req.maxOutputTokens,
    stop: [],
    n: 1,
    tools: req.tools,
    toolChoice: req.toolChoice,
    parallelToolCalls: req.parallelToolCalls,
    responseFormat: req.responseFormat,
    topLogprobs: wantsLogprobs(req) ? (req.topLogprobs ?? 0) : undefined,
    reasoningEffort: req.reasoningEffort,
    priority: "interactive",
  };
}
