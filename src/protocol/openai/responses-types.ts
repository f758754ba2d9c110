import type { ReasoningEffort, ResponseFormat, ToolChoice, ToolDefinition } from "../../core/chat.ts";
import type { AttributeFilter, AttributeValue } from "../../retrieval/types.ts";
import type { JsonObject } from "./validate.ts";

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

/** A file the code interpreter wrote, cited where the answer names it (else at the end of its text). */
export interface ContainerFileCitation {
  type: "container_file_citation";
  container_id: string;
  file_id: string;
  filename: string;
  start_index: number;
  end_index: number;
}

/** A web page the answer cites (`web_search`), at the `[n]` marker or the title or URL that names it. */
export interface UrlCitation {
  type: "url_citation";
  url: string;
  title: string;
  start_index: number;
  end_index: number;
}

/** Text the assistant produced. Annotations cite files from `file_search` or the code interpreter, or web pages. */
export interface OutputTextPart {
  type: "output_text";
  text: string;
  annotations: (FileCitation | ContainerFileCitation | UrlCitation)[];
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

/** What a code interpreter call printed, or an image it drew (a `data:` URL of the PNG). */
export type CodeInterpreterOutput = { type: "logs"; logs: string } | { type: "image"; url: string };

/**
 * A `code_interpreter` call: the code the model wrote, the container it ran in, and, when `include`
 * asks for `code_interpreter_call.outputs`, what it printed and drew (null otherwise).
 */
export interface ResponseCodeInterpreterCall {
  type: "code_interpreter_call";
  id: string;
  status: "in_progress" | "interpreting" | "completed" | "incomplete" | "failed";
  container_id: string;
  code: string | null;
  outputs: CodeInterpreterOutput[] | null;
}

/**
 * A `web_search` call: what was searched and, when `include` asks for
 * `web_search_call.action.sources`, the pages found.
 */
export interface ResponseWebSearchCall {
  type: "web_search_call";
  id: string;
  status: "in_progress" | "searching" | "completed" | "failed";
  action: { type: "search"; query: string; queries?: string[]; sources?: { type: "url"; url: string }[] } | { type: "open_page"; url: string };
}

/** A tool an MCP server offers, as `mcp_list_tools` lists it. */
export interface McpToolInfo {
  name: string;
  description: string | null;
  input_schema: JsonObject;
  annotations: JsonObject | null;
}

/** The tools of an MCP server, listed once per response chain. */
export interface ResponseMcpListTools {
  type: "mcp_list_tools";
  id: string;
  server_label: string;
  tools: McpToolInfo[];
  error?: string | null;
}

/** Why an MCP call failed. */
export type McpCallError =
  | { type: "mcp_protocol_error"; code: number; message: string }
  | { type: "mcp_tool_execution_error"; content: unknown }
  | { type: "http_error"; code: number; message: string };

/** A call of an MCP server's tool: its arguments, and its output or error. */
export interface ResponseMcpCall {
  type: "mcp_call";
  id: string;
  server_label: string;
  name: string;
  arguments: string;
  output: string | null;
  error: McpCallError | null;
  status: "in_progress" | "completed" | "incomplete" | "calling" | "failed";
  approval_request_id: string | null;
}

/** A call the client must approve (`mcp_approval_response`) before it runs. */
export interface ResponseMcpApprovalRequest {
  type: "mcp_approval_request";
  id: string;
  server_label: string;
  name: string;
  arguments: string;
}

/** The client's answer to an approval request, in the next request's input. */
export interface McpApprovalResponseItem {
  type: "mcp_approval_response";
  id?: string;
  approval_request_id: string;
  approve: boolean;
  reason?: string | null;
}

/** An image the `image_generation` tool made: its bytes, base64, in `result`. */
export interface ResponseImageGenerationCall {
  type: "image_generation_call";
  id: string;
  status: "in_progress" | "completed" | "generating" | "failed";
  result: string | null;
}

/** One item of a response's `output`. */
export type ResponseOutputItem =
  | ResponseImageGenerationCall
  | ResponseOutputMessage
  | ResponseFunctionCall
  | ResponseFileSearchCall
  | ResponseCodeInterpreterCall
  | ResponseWebSearchCall
  | ResponseMcpListTools
  | ResponseMcpCall
  | ResponseMcpApprovalRequest;

/** One item of a Responses request's `input`: the items conversations share, or a file search call sent back. */
export type RequestInputItem =
  | ResponseInputItem
  | ResponseFileSearchCall
  | ResponseCodeInterpreterCall
  | ResponseWebSearchCall
  | ResponseMcpListTools
  | ResponseMcpCall
  | ResponseMcpApprovalRequest
  | McpApprovalResponseItem;

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

/** A `code_interpreter` tool in wire form: a container id, or `auto` with files to copy in. */
export interface CodeInterpreterToolParam {
  type: "code_interpreter";
  container: string | { type: "auto"; file_ids: string[]; memory_limit: ContainerMemoryLimit | null };
}

/** Memory limits a container may have. */
export const CONTAINER_MEMORY_LIMITS = ["1g", "4g", "16g", "64g"] as const;
export type ContainerMemoryLimit = (typeof CONTAINER_MEMORY_LIMITS)[number];

/** The `web_search` tool's types (and the preview's). */
export const WEB_SEARCH_TYPES = ["web_search", "web_search_2025_08_26", "web_search_preview", "web_search_preview_2025_03_11"] as const;

/** A `web_search` tool in wire form, as the response repeats it. */
export interface WebSearchToolParam {
  type: (typeof WEB_SEARCH_TYPES)[number];
  filters?: { allowed_domains: string[] } | null;
  user_location: { type: "approximate"; country: string | null; region: string | null; city: string | null; timezone: string | null } | null;
  search_context_size: "low" | "medium" | "high";
}

/** An `mcp` tool in wire form, as the response repeats it: its headers and authorization are not. */
export interface McpToolParam {
  type: "mcp";
  server_label: string;
  server_url: string;
  server_description?: string;
  headers: null;
  allowed_tools: string[] | { tool_names?: string[]; read_only?: boolean } | null;
  require_approval: "always" | "never" | { always?: { tool_names?: string[] }; never?: { tool_names?: string[] } };
}

/** An `image_generation` tool in wire form, as the response repeats it. */
export interface ImageGenerationToolParam {
  type: "image_generation";
  model: string;
  quality: string;
  size: string;
  output_format: string;
  output_compression: number;
  moderation: string;
  background: string;
  partial_images: number;
}

/** How images are made, for a turn in which the model may make one. */
export interface ImageGenerationSettings {
  param: string;
  /** The image model (a model routed to an upstream that serves images). */
  model: string;
  quality: string | undefined;
  size: string | undefined;
  outputFormat: string | undefined;
  outputCompression: number | undefined;
  moderation: string | undefined;
  background: string | undefined;
  /** Partial renders streamed while the image is made (0–3). */
  partialImages: number;
  forced: boolean;
}

/** A tool in wire form, as the response repeats it. */
export type ToolParam = FunctionToolParam | FileSearchToolParam | CodeInterpreterToolParam | WebSearchToolParam | McpToolParam | ImageGenerationToolParam;

/** One remote MCP server a turn may call. */
export interface McpServerSettings {
  param: string;
  label: string;
  url: string;
  description: string | undefined;
  /** Sent with every request to the server (`headers`, and `authorization` as a Bearer token). Never stored. */
  headers: Record<string, string>;
  /** Tool names the model may call; undefined for all. */
  allowedTools: string[] | undefined;
  /** Only tools annotated read-only (`allowed_tools.read_only`). */
  readOnly: boolean;
  /** Tools that need the client's approval first: all, none, or those named. */
  approval: { default: boolean; always: string[]; never: string[] };
}

/** How the web is searched, for a turn in which the model may search. */
export interface WebSearchSettings {
  param: string;
  allowedDomains: string[];
  /** ISO country of the user's approximate location, given to engines that localise. */
  country: string | undefined;
  /** Where the user is, told to the model. */
  location: string | undefined;
  contextSize: "low" | "medium" | "high";
  /** `tool_choice: {type: "web_search"}`: the model must search first. */
  forced: boolean;
}

/** How the code interpreter runs, for a turn in which it may. */
export interface CodeInterpreterSettings {
  /** The tool's param path (`tools[i]`), for errors about it. */
  param: string;
  /** An existing container, or one made (or reused from the conversation) for the response. */
  container: { id: string } | { fileIds: string[]; memoryLimit: ContainerMemoryLimit };
  /** `tool_choice` `{type: "code_interpreter"}` (or `required` with no functions): the model must run code first. */
  forced: boolean;
}

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
  | { type: "code_interpreter" }
  | { type: "image_generation" }
  | { type: (typeof WEB_SEARCH_TYPES)[number] }
  | { type: "mcp"; server_label: string; name?: string | null }
  | { type: "allowed_tools"; mode: "auto" | "required"; tools: AllowedToolParam[] };

/** A tool an `allowed_tools` choice lets the model use. */
export type AllowedToolParam =
  | { type: "function"; name: string }
  | { type: "file_search" }
  | { type: "code_interpreter" }
  | { type: "image_generation" }
  | { type: (typeof WEB_SEARCH_TYPES)[number] }
  | { type: "mcp"; server_label: string };

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
  /** The `code_interpreter` tool's settings when the model may run code this turn, else undefined. */
  codeInterpreter: CodeInterpreterSettings | undefined;
  /** The `web_search` tool's settings when the model may search this turn, else undefined. */
  webSearch: WebSearchSettings | undefined;
  /** The `image_generation` tool's settings when the model may make an image this turn, else undefined. */
  imageGeneration: ImageGenerationSettings | undefined;
  /** The MCP servers the model may call this turn. */
  mcp: McpServerSettings[];
  /** `tool_choice: {type: "mcp", server_label, name}`: that server (and tool) must be called first. */
  mcpForced: { label: string; name: string | undefined } | undefined;
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
