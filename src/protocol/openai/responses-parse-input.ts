import { invalidRequest, unsupportedParameter } from "../../core/errors.ts";
import type { AttributeValue } from "../../retrieval/types.ts";
import { readImage } from "./image-input.ts";
import type {
  AssistantMessageItem,
  CodeInterpreterOutput,
  FileSearchResult,
  FunctionCallItem,
  FunctionCallOutputItem,
  InputContentPart,
  InputFilePart,
  InputImagePart,
  InputMessageItem,
  InputTextPart,
  ItemStatus,
  McpCallError,
  OutputTextPart,
  RefusalPart,
  RequestInputItem,
  ResponseCodeInterpreterCall,
  ResponseFileSearchCall,
  ResponseInputItem,
} from "./responses-types.ts";
import { describeType, FieldReader, invalidValue } from "./validate.ts";

// Validation of input items: a Responses request's `input`, and the items the Conversations API adds.

const STATUSES: readonly ItemStatus[] = ["in_progress", "completed", "incomplete"];
const SUPPORTED_ITEM_TYPES = ["message", "function_call", "function_call_output", "item_reference"];
/** Item types of the spec that belong to built-in tools, reasoning or compaction. */
const UNSUPPORTED_ITEM_TYPES = new Set([
  "file_search_call", "computer_call", "computer_call_output", "web_search_call", "tool_search_call",
  "tool_search_output", "additional_tools", "reasoning", "compaction", "compaction_trigger", "image_generation_call",
  "local_shell_call", "local_shell_call_output", "shell_call", "shell_call_output",
  "apply_patch_call", "apply_patch_call_output", "mcp_list_tools", "mcp_approval_request", "mcp_approval_response",
  "mcp_call", "custom_tool_call", "custom_tool_call_output", "program", "program_output",
]);

/** Refuses a parameter this server does not support when the body sets it. */
export function rejectIfSet(reader: FieldReader, key: string, detail?: string): void {
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

/** A `code_interpreter_call` item sent back as input (a client keeping its own history). */
function readCodeInterpreterCallItem(item: FieldReader): ResponseCodeInterpreterCall {
  item.rejectUnknown(new Set(["type", "id", "status", "container_id", "code", "outputs"]));
  const id = item.string("id", { required: true, nonEmpty: true });
  const status = item.enumeration("status", ["in_progress", "interpreting", "completed", "incomplete", "failed"] as const, { required: true }) as ResponseCodeInterpreterCall["status"];
  const containerId = item.string("container_id", { required: true, nonEmpty: true });
  const code = item.obj.code === null ? null : (item.string("code") ?? null);
  const raw = item.obj.outputs === null ? undefined : item.array("outputs");
  const outputs =
    raw === undefined
      ? null
      : raw.map((value, i): CodeInterpreterOutput => {
          const output = new FieldReader(value, `${item.path("outputs")}[${i}]`);
          const kind = output.enumeration("type", ["logs", "image"] as const, { required: true });
          if (kind === "logs") {
            output.rejectUnknown(new Set(["type", "logs"]));
            return { type: "logs", logs: output.string("logs", { required: true }) as string };
          }
          output.rejectUnknown(new Set(["type", "url"]));
          return { type: "image", url: output.string("url", { required: true }) as string };
        });
  return { type: "code_interpreter_call", id, status, container_id: containerId, code, outputs };
}

/** The MCP items a client may send back as input: its approval answers, and earlier lists, calls and requests. */
function readMcpItem(item: FieldReader, type: string): RequestInputItem {
  if (type === "mcp_approval_response") {
    item.rejectUnknown(new Set(["type", "id", "approval_request_id", "approve", "reason"]));
    const id = item.string("id");
    const reason = item.obj.reason === null ? null : item.string("reason");
    return {
      type: "mcp_approval_response",
      ...(id !== undefined ? { id } : {}),
      approval_request_id: item.string("approval_request_id", { required: true, nonEmpty: true }) as string,
      approve: item.boolean("approve") ?? (item.required("approve") as never),
      ...(reason !== undefined ? { reason } : {}),
    };
  }
  const common = { id: item.string("id", { required: true, nonEmpty: true }) as string, server_label: item.string("server_label", { required: true }) as string };
  if (type === "mcp_list_tools") {
    item.rejectUnknown(new Set(["type", "id", "server_label", "tools", "error"]));
    const tools = (item.array("tools", { required: true }) ?? []).map((t, i) => {
      const tool = new FieldReader(t, `${item.path("tools")}[${i}]`);
      tool.rejectUnknown(new Set(["name", "description", "input_schema", "annotations"]));
      return { name: tool.string("name", { required: true }) as string, description: tool.string("description") ?? null, input_schema: tool.object("input_schema")?.obj ?? {}, annotations: tool.object("annotations")?.obj ?? null };
    });
    return { type: "mcp_list_tools", ...common, tools, error: item.string("error") ?? null };
  }
  const name = item.string("name", { required: true }) as string;
  const args = item.string("arguments", { required: true }) as string;
  if (type === "mcp_approval_request") {
    item.rejectUnknown(new Set(["type", "id", "server_label", "name", "arguments"]));
    return { type: "mcp_approval_request", ...common, name, arguments: args };
  }
  item.rejectUnknown(new Set(["type", "id", "server_label", "name", "arguments", "output", "error", "status", "approval_request_id"]));
  const error = item.obj.error === null || item.obj.error === undefined ? null : (item.object("error")?.obj as McpCallError);
  return {
    type: "mcp_call",
    ...common,
    name,
    arguments: args,
    output: item.obj.output === null ? null : (item.string("output") ?? null),
    error,
    status: item.enumeration("status", ["in_progress", "completed", "incomplete", "calling", "failed"] as const) ?? "completed",
    approval_request_id: item.obj.approval_request_id === null ? null : (item.string("approval_request_id") ?? null),
  };
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
    case "code_interpreter_call":
      if (allowFileSearchCall) return readCodeInterpreterCallItem(item);
      break;
    case "web_search_call":
      if (allowFileSearchCall) {
        item.rejectUnknown(new Set(["type", "id", "status", "action"]));
        const action = item.object("action");
        action?.rejectUnknown(new Set(["type", "query", "queries", "sources", "url", "pattern"]));
        const sources = (action?.array("sources") ?? []).flatMap((v) => (typeof v === "object" && v !== null && typeof (v as { url?: unknown }).url === "string" ? [{ type: "url" as const, url: (v as { url: string }).url }] : []));
        return {
          type: "web_search_call",
          id: item.string("id", { required: true, nonEmpty: true }) as string,
          status: item.enumeration("status", ["in_progress", "searching", "completed", "failed"] as const, { required: true }) as "completed",
          action: { type: "search", query: action?.string("query") ?? "", ...(sources.length > 0 ? { sources } : {}) },
        };
      }
      break;
    case "mcp_approval_response":
    case "mcp_list_tools":
    case "mcp_call":
    case "mcp_approval_request":
      if (allowFileSearchCall) return readMcpItem(item, type);
      break;
  }
  if (UNSUPPORTED_ITEM_TYPES.has(type)) {
    throw invalidRequest(
      `Input items of type '${type}' are not supported by this server: built-in tools, reasoning and compaction items are not supported yet.`,
      item.path("type"),
      "unsupported_parameter",
    );
  }
  throw invalidValue(
    item.path("type"),
    type,
    allowFileSearchCall ? [...SUPPORTED_ITEM_TYPES, "file_search_call", "code_interpreter_call", "web_search_call", "mcp_approval_response", "mcp_list_tools", "mcp_call", "mcp_approval_request"] : SUPPORTED_ITEM_TYPES,
  );
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

/** Reads a request's `input`: a string (one user message) or an array of items. */
export function readInput(reader: FieldReader): RequestInputItem[] {
  if (!reader.has("input")) return [];
  const value = stringOrArray(reader, "input");
  if (typeof value === "string") return [{ type: "message", role: "user", content: [{ type: "input_text", text: value }] }];
  return value.map((raw, i) => readInputItem(raw, i, "input", true));
}

