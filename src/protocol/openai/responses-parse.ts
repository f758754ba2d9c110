import type { JsonSchema, ReasoningEffort, ResponseFormat, ToolChoice, ToolDefinition } from "../../core/chat.ts";
import { invalidRequest, unsupportedParameter } from "../../core/errors.ts";
import { parseAttributeFilter } from "./attribute-filters.ts";
import { toGrammarSchema } from "./json-schema-subset.ts";
import { readInput, rejectIfSet } from "./responses-parse-input.ts";
import {
  CONTAINER_MEMORY_LIMITS,
  DEFAULT_FILE_SEARCH_RESULTS,
  FILE_SEARCH_RANKERS,
  INCLUDE_VALUES,
  type AllowedToolParam,
  type CodeInterpreterSettings,
  type CodeInterpreterToolParam,
  type ImageGenerationSettings,
  type ImageGenerationToolParam,
  type McpServerSettings,
  type McpToolParam,
  type WebSearchSettings,
  type WebSearchToolParam,
  WEB_SEARCH_TYPES,
  type FileSearchSettings,
  type FileSearchToolParam,
  type IncludeValue,
  type ResponsesRequest,
  type TextFormatParam,
  type ToolChoiceParam,
  type ToolParam,
} from "./responses-types.ts";
import { describeType, FieldReader, invalidValue, readMetadata } from "./validate.ts";
import { readStreamOptions } from "./stream-options.ts";

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
const EFFORTS = ["none", "minimal", "low", "medium", "high", "xhigh", "max"] as const;

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

/** A `code_interpreter` tool: a container id, or `{type: "auto", file_ids, memory_limit}`. */
function readCodeInterpreterTool(tool: FieldReader): { container: CodeInterpreterSettings["container"]; wire: CodeInterpreterToolParam } {
  tool.rejectUnknown(new Set(["type", "container", "allowed_callers"]));
  rejectIfSet(tool, "allowed_callers");
  const raw = tool.obj.container;
  if (typeof raw === "string") {
    const id = tool.string("container", { required: true, nonEmpty: true });
    return { container: { id }, wire: { type: "code_interpreter", container: id } };
  }
  const container = tool.object("container") ?? (tool.required("container") as never);
  container.rejectUnknown(new Set(["type", "file_ids", "memory_limit", "network_policy"]));
  container.enumeration("type", ["auto"] as const, { required: true });
  if (container.has("network_policy")) throw unsupportedParameter(container.path("network_policy"), "is not supported: sandboxed code never has network access on this server");
  const fileIds = (container.array("file_ids", { maxLength: 50 }) ?? []).map((v, i) => {
    if (typeof v !== "string" || v === "") throw invalidRequest(`Invalid '${container.path("file_ids")}[${i}]': expected a file id.`, `${container.path("file_ids")}[${i}]`, "invalid_value");
    return v;
  });
  const memoryLimit = container.obj.memory_limit === null ? undefined : container.enumeration("memory_limit", CONTAINER_MEMORY_LIMITS);
  return {
    container: { fileIds, memoryLimit: memoryLimit ?? "1g" },
    wire: { type: "code_interpreter", container: { type: "auto", file_ids: fileIds, memory_limit: memoryLimit ?? null } },
  };
}

/** A `web_search` (or `web_search_preview`) tool: domain filters, the user's location, the context size. */
function readWebSearchTool(tool: FieldReader, type: WebSearchToolParam["type"]): { settings: Omit<WebSearchSettings, "forced">; wire: WebSearchToolParam } {
  const preview = type.startsWith("web_search_preview");
  tool.rejectUnknown(new Set(preview ? ["type", "user_location", "search_context_size", "search_content_types"] : ["type", "filters", "user_location", "search_context_size", "external_web_access"]));
  if (tool.boolean("external_web_access") === false) throw unsupportedParameter(tool.path("external_web_access"), "is not supported: this server has no offline web cache");
  const types = tool.array("search_content_types");
  if (types !== undefined && types.some((t) => t !== "text")) throw unsupportedParameter(tool.path("search_content_types"), "only 'text' is searched on this server");
  const filters = tool.obj.filters === null ? undefined : tool.object("filters");
  filters?.rejectUnknown(new Set(["allowed_domains"]));
  const domains = (filters?.obj.allowed_domains === null ? undefined : filters?.array("allowed_domains", { maxLength: 100 })) ?? [];
  const allowedDomains = domains.map((d, i) => {
    const param = `${filters?.path("allowed_domains")}[${i}]`;
    const bare = typeof d === "string" ? d.replace(/^https?:\/\//, "").replace(/\/.*$/, "").toLowerCase() : "";
    if (!/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*\.?$/.test(bare)) throw invalidRequest(`Invalid '${param}': expected a domain name.`, param, "invalid_value");
    return bare;
  });
  const location = tool.obj.user_location === null ? undefined : tool.object("user_location");
  location?.rejectUnknown(new Set(["type", "country", "region", "city", "timezone"]));
  location?.enumeration("type", ["approximate"] as const);
  const field = (key: string): string | null => (location?.obj[key] === null ? null : (location?.string(key) ?? null));
  const country = field("country");
  if (country !== null && !/^[A-Za-z]{2}$/.test(country)) throw invalidRequest(`Invalid '${location?.path("country")}': expected a two-letter ISO country code.`, location?.path("country") ?? "user_location.country", "invalid_value");
  const where = location === undefined ? null : { type: "approximate" as const, country, region: field("region"), city: field("city"), timezone: field("timezone") };
  const contextSize = tool.enumeration("search_context_size", ["low", "medium", "high"] as const) ?? "medium";
  const place = where === null ? undefined : [where.city, where.region, where.country].filter((p) => p !== null && p !== "").join(", ");
  return {
    settings: { param: "", allowedDomains, country: country ?? undefined, location: place === "" ? undefined : place, contextSize },
    wire: { type, ...(preview ? {} : { filters: allowedDomains.length === 0 ? null : { allowed_domains: allowedDomains } }), user_location: where, search_context_size: contextSize },
  };
}

/** A tool-name filter (`{tool_names, read_only}`) or a list of names. */
function readToolFilter(reader: FieldReader, key: string): { names: string[] | undefined; readOnly: boolean } | undefined {
  const raw = reader.obj[key];
  if (raw === undefined || raw === null) return undefined;
  const names = (list: unknown[], path: string): string[] =>
    list.map((v, i) => {
      if (typeof v !== "string" || v === "") throw invalidRequest(`Invalid '${path}[${i}]': expected a tool name.`, `${path}[${i}]`, "invalid_value");
      return v;
    });
  if (Array.isArray(raw)) return { names: names(raw, reader.path(key)), readOnly: false };
  const filter = reader.object(key) ?? (reader.required(key) as never);
  filter.rejectUnknown(new Set(["tool_names", "read_only"]));
  const list = filter.array("tool_names");
  return { names: list === undefined ? undefined : names(list, filter.path("tool_names")), readOnly: filter.boolean("read_only") ?? false };
}

/** An `mcp` tool: a remote server by URL, its headers, which tools and which need approval. */
function readMcpTool(tool: FieldReader): { settings: McpServerSettings; wire: McpToolParam } {
  tool.rejectUnknown(new Set(["type", "server_label", "server_url", "connector_id", "tunnel_id", "authorization", "server_description", "headers", "allowed_tools", "allowed_callers", "require_approval", "defer_loading"]));
  for (const key of ["connector_id", "tunnel_id"]) if (tool.has(key) && tool.obj[key] !== null) throw unsupportedParameter(tool.path(key), "is not supported: this server calls MCP servers by server_url");
  rejectIfSet(tool, "allowed_callers");
  if (tool.boolean("defer_loading") === true) throw unsupportedParameter(tool.path("defer_loading"), "requires tool search, which this server does not support yet");
  const label = tool.string("server_label", { required: true, nonEmpty: true }) as string;
  if (!/^[a-zA-Z0-9_-]{1,64}$/.test(label)) throw invalidRequest(`Invalid '${tool.path("server_label")}': '${label}' does not match ^[a-zA-Z0-9_-]{1,64}$.`, tool.path("server_label"), "invalid_value");
  const url = tool.string("server_url", { required: true, nonEmpty: true }) as string;
  if (!/^https?:\/\//i.test(url)) throw invalidRequest(`Invalid '${tool.path("server_url")}': expected an http(s) URL.`, tool.path("server_url"), "invalid_value");
  const headers: Record<string, string> = {};
  const given = tool.obj.headers === null ? undefined : tool.object("headers");
  for (const [k, v] of Object.entries(given?.obj ?? {})) {
    if (typeof v !== "string") throw invalidRequest(`Invalid '${given?.path(k)}': expected a string.`, given?.path(k) ?? "headers", "invalid_type");
    headers[k.toLowerCase()] = v;
  }
  const authorization = tool.string("authorization");
  if (authorization !== undefined) headers.authorization = /^bearer /i.test(authorization) ? authorization : `Bearer ${authorization}`;
  const allowed = readToolFilter(tool, "allowed_tools");
  const approvalRaw = tool.obj.require_approval;
  let approval: McpServerSettings["approval"] = { default: true, always: [], never: [] };
  let approvalWire: McpToolParam["require_approval"] = "always";
  if (approvalRaw === "never" || approvalRaw === "always") {
    approval = { default: approvalRaw === "always", always: [], never: [] };
    approvalWire = approvalRaw;
  } else if (approvalRaw !== undefined && approvalRaw !== null) {
    const filter = tool.object("require_approval");
    if (filter === undefined) throw invalidValue(tool.path("require_approval"), String(approvalRaw), ["always", "never"]);
    filter.rejectUnknown(new Set(["always", "never"]));
    const always = readToolFilter(filter, "always")?.names ?? [];
    const never = readToolFilter(filter, "never")?.names ?? [];
    // Tools named under neither need approval, as OpenAI's default.
    approval = { default: true, always, never };
    approvalWire = { ...(filter.has("always") ? { always: { tool_names: always } } : {}), ...(filter.has("never") ? { never: { tool_names: never } } : {}) };
  }
  const description = tool.string("server_description");
  return {
    settings: { param: "", label, url, description, headers, allowedTools: allowed?.names, readOnly: allowed?.readOnly ?? false, approval },
    wire: {
      type: "mcp",
      server_label: label,
      server_url: url,
      ...(description !== undefined ? { server_description: description } : {}),
      // The headers and authorization are secrets: never repeated, never stored.
      headers: null,
      allowed_tools: allowed === undefined ? null : allowed.readOnly ? { ...(allowed.names !== undefined ? { tool_names: allowed.names } : {}), read_only: true } : (allowed.names ?? null),
      require_approval: approvalWire,
    },
  };
}

/** An `image_generation` tool: the image model and how it makes images. */
function readImageGenerationTool(tool: FieldReader): { settings: Omit<ImageGenerationSettings, "forced">; wire: ImageGenerationToolParam } {
  tool.rejectUnknown(new Set(["type", "model", "quality", "size", "output_format", "output_compression", "moderation", "background", "input_fidelity", "input_image_mask", "partial_images", "action"]));
  if (tool.has("input_image_mask") && tool.obj.input_image_mask !== null) throw unsupportedParameter(tool.path("input_image_mask"), "is not supported: the image_generation tool makes new images on this server, it does not edit");
  const action = tool.enumeration("action", ["auto", "generate", "edit"] as const);
  if (action === "edit") throw unsupportedParameter(tool.path("action"), "value 'edit' is not supported: the image_generation tool makes new images on this server");
  const partial = tool.number("partial_images", { integer: true, min: 0, max: 3 }) ?? 0;
  tool.enumeration("input_fidelity", ["high", "low"] as const);
  const quality = tool.enumeration("quality", ["low", "medium", "high", "auto"] as const);
  const size = tool.string("size");
  const outputFormat = tool.enumeration("output_format", ["png", "webp", "jpeg"] as const);
  const outputCompression = tool.number("output_compression", { integer: true, min: 0, max: 100 });
  const moderation = tool.enumeration("moderation", ["auto", "low"] as const);
  const background = tool.enumeration("background", ["transparent", "opaque", "auto"] as const);
  const model = tool.string("model", { nonEmpty: true }) ?? "gpt-image-1";
  return {
    settings: { param: "", model, quality, size, outputFormat, outputCompression, moderation, background, partialImages: partial },
    wire: { type: "image_generation", model, quality: quality ?? "auto", size: size ?? "auto", output_format: outputFormat ?? "png", output_compression: outputCompression ?? 100, moderation: moderation ?? "auto", background: background ?? "auto", partial_images: partial },
  };
}

function readTools(reader: FieldReader): { definitions: ToolDefinition[]; wire: ToolParam[]; fileSearch: FileSearchSettings | undefined; code: { param: string; container: CodeInterpreterSettings["container"] } | undefined; web: Omit<WebSearchSettings, "forced"> | undefined; mcp: McpServerSettings[]; image: Omit<ImageGenerationSettings, "forced"> | undefined } {
  const definitions: ToolDefinition[] = [];
  const wire: ToolParam[] = [];
  const names = new Set<string>();
  let fileSearch: FileSearchSettings | undefined;
  let code: { param: string; container: CodeInterpreterSettings["container"] } | undefined;
  let web: Omit<WebSearchSettings, "forced"> | undefined;
  const mcp: McpServerSettings[] = [];
  let image: Omit<ImageGenerationSettings, "forced"> | undefined;
  (reader.array("tools") ?? []).forEach((raw, i) => {
    const tool = new FieldReader(raw, `tools[${i}]`);
    const type = tool.string("type", { required: true });
    if (type === "image_generation") {
      if (image !== undefined) throw invalidRequest("At most one tool of type 'image_generation' may be given.", tool.path("type"), "invalid_value");
      const parsed = readImageGenerationTool(tool);
      image = { ...parsed.settings, param: `tools[${i}]` };
      wire.push(parsed.wire);
      return;
    }
    if (type === "mcp") {
      const parsed = readMcpTool(tool);
      if (mcp.some((m) => m.label === parsed.settings.label)) throw invalidRequest(`Duplicate server_label '${parsed.settings.label}'.`, tool.path("server_label"), "invalid_value");
      mcp.push({ ...parsed.settings, param: `tools[${i}]` });
      wire.push(parsed.wire);
      return;
    }
    if ((WEB_SEARCH_TYPES as readonly string[]).includes(type)) {
      if (web !== undefined) throw invalidRequest("At most one web search tool may be given.", tool.path("type"), "invalid_value");
      const parsed = readWebSearchTool(tool, type as WebSearchToolParam["type"]);
      web = { ...parsed.settings, param: `tools[${i}]` };
      wire.push(parsed.wire);
      return;
    }
    if (type === "code_interpreter") {
      if (code !== undefined) throw invalidRequest("At most one tool of type 'code_interpreter' may be given.", tool.path("type"), "invalid_value");
      const parsed = readCodeInterpreterTool(tool);
      code = { param: `tools[${i}]`, container: parsed.container };
      wire.push(parsed.wire);
      return;
    }
    if (type === "file_search") {
      if (fileSearch !== undefined) throw invalidRequest("At most one tool of type 'file_search' may be given.", tool.path("type"), "invalid_value");
      const parsed = readFileSearchTool(tool, `tools[${i}]`);
      fileSearch = parsed.settings;
      wire.push(parsed.wire);
      return;
    }
    if (type !== "function") {
      throw invalidRequest(
        `Tools of type '${type}' are not supported: of the built-in tools this server has 'file_search' and 'code_interpreter'; use those or tools of type 'function'.`,
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
      parameters: toGrammarSchema(wireParameters, tool.path("parameters"), strict, `function '${name}'`),
      wireParameters,
      strict,
    });
    wire.push({ type: "function", name, description: description ?? null, parameters: parameters ?? null, strict: given ?? null });
  });
  return { definitions, wire, fileSearch, code, web, mcp, image };
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
  hasCode: boolean,
  hasWeb: boolean,
  mcpLabels: readonly string[],
  hasImage: boolean,
): { forcesImage: boolean; imagesAllowed: boolean; mcpAllowed: readonly string[]; mcpForced: { label: string; name: string | undefined } | undefined; tools: ToolDefinition[]; choice: ToolChoice; wire: ToolChoiceParam; searches: boolean; codes: boolean; forcesCode: boolean; browses: boolean; forcesWeb: boolean } {
  const names = new Set(definitions.map((t) => t.name));
  const raw = reader.obj.tool_choice;
  let wire: ToolChoiceParam = "auto";
  let choice: ToolChoice = "auto";
  let tools = definitions;
  let searches = hasFileSearch;
  let codes = hasCode;
  let forcesCode = false;
  let browses = hasWeb;
  let forcesWeb = false;
  let mcpForced: { label: string; name: string | undefined } | undefined;
  let forcesImage = false;
  let imagesAllowed = hasImage;
  let mcpAllowed: readonly string[] = mcpLabels;
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
    } else if (type === "code_interpreter") {
      obj.rejectUnknown(new Set(["type"]));
      if (!hasCode) throw invalidRequest(`Invalid '${obj.path("type")}': no tool of type 'code_interpreter' was given in 'tools'.`, obj.path("type"), "invalid_value");
      choice = "auto";
      forcesCode = true;
      wire = { type: "code_interpreter" };
    } else if (type === "image_generation") {
      obj.rejectUnknown(new Set(["type"]));
      if (!hasImage) throw invalidRequest(`Invalid '${obj.path("type")}': no tool of type 'image_generation' was given in 'tools'.`, obj.path("type"), "invalid_value");
      choice = "auto";
      forcesImage = true;
      wire = { type: "image_generation" };
    } else if (type === "mcp") {
      obj.rejectUnknown(new Set(["type", "server_label", "name"]));
      const label = obj.string("server_label", { required: true }) as string;
      if (!mcpLabels.includes(label)) throw invalidRequest(`Invalid '${obj.path("server_label")}': no tool of type 'mcp' with server_label '${label}' was given in 'tools'.`, obj.path("server_label"), "invalid_value");
      const name = obj.obj.name === null ? undefined : obj.string("name");
      choice = "auto";
      mcpForced = { label, name };
      wire = { type: "mcp", server_label: label, ...(name !== undefined ? { name } : {}) };
    } else if ((WEB_SEARCH_TYPES as readonly string[]).includes(type)) {
      obj.rejectUnknown(new Set(["type"]));
      if (!hasWeb) throw invalidRequest(`Invalid '${obj.path("type")}': no tool of type '${type}' was given in 'tools'.`, obj.path("type"), "invalid_value");
      choice = "auto";
      forcesWeb = true;
      wire = { type: type as (typeof WEB_SEARCH_TYPES)[number] };
    } else if (type === "allowed_tools") {
      obj.rejectUnknown(new Set(["type", "mode", "tools"]));
      const mode = obj.enumeration("mode", ["auto", "required"] as const, { required: true }) as "auto" | "required";
      let searchAllowed = false;
      // Built-in tools of the server (code, web, images, MCP servers by label) may be allowed too.
      const allowedBuiltins = new Set<string>();
      const allowed: AllowedToolParam[] = (obj.array("tools", { required: true }) ?? []).map((value, i) => {
        const entry = new FieldReader(value, `tool_choice.tools[${i}]`);
        const entryType = entry.string("type", { required: true });
        if (entryType === "file_search") {
          entry.rejectUnknown(new Set(["type"]));
          requireFileSearchTool(entry, hasFileSearch);
          searchAllowed = true;
          return { type: "file_search" };
        }
        if (entryType === "mcp") {
          entry.rejectUnknown(new Set(["type", "server_label"]));
          const label = entry.string("server_label", { required: true }) as string;
          if (!mcpLabels.includes(label)) throw invalidRequest(`Invalid '${entry.path("server_label")}': no tool of type 'mcp' with server_label '${label}' was given in 'tools'.`, entry.path("server_label"), "invalid_value");
          allowedBuiltins.add(`mcp:${label}`);
          return { type: "mcp", server_label: label };
        }
        const builtin = entryType === "code_interpreter" ? hasCode : entryType === "image_generation" ? hasImage : (WEB_SEARCH_TYPES as readonly string[]).includes(entryType) ? hasWeb : undefined;
        if (builtin !== undefined) {
          entry.rejectUnknown(new Set(["type"]));
          if (!builtin) throw invalidRequest(`Invalid '${entry.path("type")}': no tool of type '${entryType}' was given in 'tools'.`, entry.path("type"), "invalid_value");
          allowedBuiltins.add((WEB_SEARCH_TYPES as readonly string[]).includes(entryType) ? "web_search" : entryType);
          return { type: entryType } as AllowedToolParam;
        }
        if (entryType !== "function") {
          throw invalidRequest(`Allowed tools of type '${entryType}' are not supported: 'function', 'file_search', 'code_interpreter', 'web_search', 'image_generation' and 'mcp' tools are.`, entry.path("type"), "unsupported_parameter");
        }
        entry.rejectUnknown(new Set(["type", "name"]));
        return { type: "function", name: readFunctionChoice(entry, names) };
      });
      // The model is offered only the allowed functions, which is what the restriction means.
      const keep = new Set(allowed.flatMap((t) => (t.type === "function" ? [t.name] : [])));
      tools = definitions.filter((t) => keep.has(t.name));
      searches = searchAllowed;
      codes = hasCode && allowedBuiltins.has("code_interpreter");
      browses = hasWeb && allowedBuiltins.has("web_search");
      imagesAllowed = hasImage && allowedBuiltins.has("image_generation");
      mcpAllowed = mcpLabels.filter((l) => allowedBuiltins.has(`mcp:${l}`));
      choice = mode;
      wire = { type: "allowed_tools", mode, tools: allowed };
    } else {
      throw invalidRequest(
        `tool_choice of type '${type}' is not supported: of the built-in tools this server has 'file_search' and 'code_interpreter'; use those, 'function' or 'allowed_tools'.`,
        obj.path("type"),
        "unsupported_parameter",
      );
    }
  }
  if (definitions.length === 0 && !hasFileSearch && !hasCode && !hasWeb && !hasImage && mcpLabels.length === 0 && choice !== "none" && choice !== "auto") {
    throw invalidRequest("'tool_choice' other than 'none' or 'auto' is only allowed when 'tools' are specified.", "tool_choice");
  }
  if (choice === "none") searches = codes = browses = false;
  // 'required' with one server tool and no functions can only mean calling it.
  if (codes && !browses && choice === "required" && tools.length === 0 && !searches) forcesCode = true;
  if (browses && !codes && choice === "required" && tools.length === 0 && !searches) forcesWeb = true;
  // A search that runs is the tool call 'required' asks for; the model then answers as it likes.
  if ((searches || forcesCode || forcesWeb) && choice === "required") choice = "auto";
  if (choice === "none") {
    mcpForced = undefined;
    forcesImage = false;
  }
  // With the server's own tools the model has functions to call even without the client's.
  if (tools.length === 0 && !codes && !browses && ((mcpLabels.length === 0 && !hasImage) || choice === "none")) choice = "none";
  return { tools, choice, wire, searches, codes, forcesCode, browses, forcesWeb, mcpForced, forcesImage, imagesAllowed, mcpAllowed };
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
  const schema = toGrammarSchema(raw, "text.format.schema", strict, `response_format '${name}'`);
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
  const { includeObfuscation } = readStreamOptions(reader, stream, false);
  const include = (reader.array("include") ?? []).map((value, i) => {
    const param = `include[${i}]`;
    if (typeof value !== "string") throw invalidRequest(`Invalid type for '${param}': expected a string, but got ${describeType(value)} instead.`, param, "invalid_type");
    if (!(INCLUDE_VALUES as readonly string[]).includes(value)) throw invalidValue(param, value, INCLUDE_VALUES);
    return value as IncludeValue;
  });

  const { definitions, wire: wireTools, fileSearch, code, web, mcp, image } = readTools(reader);
  const { tools, choice, wire: wireChoice, searches, codes, forcesCode, browses, forcesWeb, mcpForced, forcesImage, imagesAllowed, mcpAllowed } = readToolChoice(
    reader,
    definitions,
    fileSearch !== undefined,
    code !== undefined,
    web !== undefined,
    mcp.map((m) => m.label),
    image !== undefined,
  );
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
    codeInterpreter: code !== undefined && codes && maxToolCalls !== 0 ? { ...code, forced: forcesCode } : undefined,
    webSearch: web !== undefined && browses && maxToolCalls !== 0 ? { ...web, forced: forcesWeb } : undefined,
    mcp: choice === "none" || maxToolCalls === 0 ? [] : mcp.filter((m) => mcpAllowed.includes(m.label)),
    mcpForced,
    imageGeneration: image !== undefined && imagesAllowed && choice !== "none" && maxToolCalls !== 0 ? { ...image, forced: forcesImage } : undefined,
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
