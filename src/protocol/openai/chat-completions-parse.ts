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
import { CHAT_AUDIO_FORMATS, type AudioOutputOptions, type AudioReference, type InputAudioClip } from "../../core/audio.ts";
import { invalidRequest, unsupportedParameter } from "../../core/errors.ts";
import { readVoice } from "./audio.ts";
import type { WebSearchSettings } from "./responses-types.ts";
import { readImage } from "./image-input.ts";
import { toGrammarSchema } from "./json-schema-subset.ts";
import { readSampling } from "./sampling.ts";
import { readStreamOptions } from "./stream-options.ts";
import { FieldReader, invalidValue, readMetadata } from "./validate.ts";

/** A validated `POST /v1/chat/completions` body. */
export interface ParsedChatCompletionRequest {
  request: ChatRequest;
  stream: boolean;
  includeUsage: boolean;
  includeObfuscation: boolean;
  metadata: Record<string, string> | undefined;
  store: boolean;
  /** The request used the deprecated `functions` / `function_call`: answer in that shape too. */
  legacyFunctions: boolean;
  /** `modalities: ["text", "audio"]`: each choice's text is also spoken, in this voice and format. */
  audioOutput: AudioOutputOptions | undefined;
  /** `input_audio` parts, which become their transcripts (the request's messages hold empty text parts in their place). */
  audioInputs: readonly InputAudioClip[];
  /** Assistant messages that refer to earlier spoken answers by id, whose transcripts become their content. */
  audioReferences: readonly AudioReference[];
  /** `web_search_options`: the web is searched for the latest user message before the model runs. */
  webSearch: WebSearchSettings | undefined;
}

/** Parameters Modelport honours. */
export const HONOURED_PARAMETERS: readonly string[] = [
  "model", "messages", "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed",
  "presence_penalty", "frequency_penalty", "n", "user", "safety_identifier", "prompt_cache_key",
  "metadata", "store", "stream", "stream_options", "logprobs", "top_logprobs", "logit_bias",
  "tools", "tool_choice", "parallel_tool_calls", "functions", "function_call", "response_format",
  "reasoning_effort", "service_tier", "modalities", "audio", "web_search_options",
];

/** Parameters of OpenAI's API that this server cannot honour: rejected by name, never dropped. */
export const REJECTED_PARAMETERS: readonly string[] = [
  "prediction", "verbosity", "prompt_cache_retention", "prompt_cache_options", "moderation",
];

const KNOWN = new Set([...HONOURED_PARAMETERS, ...REJECTED_PARAMETERS]);
const ROLES = ["system", "developer", "user", "assistant", "tool", "function"] as const;
const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const EFFORTS: readonly ReasoningEffort[] = ["none", "minimal", "low", "medium", "high", "xhigh"];

/** Reads message content: a string or an array of parts. Images only where `allowImages`. */
function readContent(
  message: FieldReader,
  options: { required: boolean; allowRefusal?: boolean; allowImages?: boolean; audio?: (clip: Omit<InputAudioClip, "message">) => void },
): { text: string; parts: ContentPart[] } | undefined {
  const param = message.path("content");
  const value = message.obj.content;
  if (value === undefined || value === null) {
    if (options.required) message.required("content");
    return undefined;
  }
  if (typeof value === "string") return { text: value, parts: [{ type: "text", text: value }] };
  const rawParts = message.array("content", { minLength: 1 }) ?? [];
  const parts: ContentPart[] = [];
  let text = "";
  rawParts.forEach((raw, j) => {
    const partParam = `${param}[${j}]`;
    const part = new FieldReader(raw, partParam);
    const type = part.string("type", { required: true });
    if (type === "text") {
      part.rejectUnknown(new Set(["type", "text"]));
      const t = part.string("text", { required: true });
      text += t;
      parts.push({ type: "text", text: t });
    } else if (type === "refusal" && options.allowRefusal) {
      part.rejectUnknown(new Set(["type", "refusal"]));
      text += part.string("refusal", { required: true });
    } else if ((type === "image_url" || type === "image") && options.allowImages) {
      if (type === "image_url") {
        part.rejectUnknown(new Set(["type", "image_url"]));
        const image = new FieldReader(part.required("image_url"), part.path("image_url"));
        image.rejectUnknown(new Set(["url", "detail"]));
        parts.push(readImage(image.string("url", { required: true }), image.obj.detail, partParam));
      } else {
        // The flat form some OpenAI-compatible providers accept, normalised to image_url.
        part.rejectUnknown(new Set(["type", "image", "detail"]));
        parts.push(readImage(part.string("image", { required: true }), part.obj.detail, partParam));
      }
    } else if (type === "input_audio" && options.audio !== undefined) {
      part.rejectUnknown(new Set(["type", "input_audio"]));
      const audio = new FieldReader(part.required("input_audio"), part.path("input_audio"));
      audio.rejectUnknown(new Set(["data", "format"]));
      const format = audio.enumeration("format", ["wav", "mp3"] as const, { required: true }) ?? "wav";
      const data = readBase64Audio(audio.string("data", { required: true }), audio.path("data"));
      // The transcript takes this place once it is known.
      options.audio({ part: parts.length, data, format, param: partParam });
      parts.push({ type: "text", text: "" });
    } else if (type === "input_audio" || type === "file") {
      throw invalidRequest(`Content of type '${type}' is not supported by this server.`, partParam, "unsupported_content_type");
    } else {
      const allowed = ["text", ...(options.allowRefusal ? ["refusal"] : []), ...(options.allowImages ? ["image_url", "image"] : []), ...(options.audio ? ["input_audio"] : [])];
      throw invalidValue(`${partParam}.type`, type, allowed);
    }
  });
  return { text, parts };
}

function readToolCalls(message: FieldReader): ToolCall[] {
  const calls = message.array("tool_calls") ?? [];
  return calls.map((raw, j) => {
    const call = new FieldReader(raw, `${message.path("tool_calls")}[${j}]`);
    call.rejectUnknown(new Set(["id", "type", "function"]));
    call.enumeration("type", ["function"] as const, { required: true });
    const fn = new FieldReader(call.required("function"), call.path("function"));
    fn.rejectUnknown(new Set(["name", "arguments"]));
    return {
      id: call.string("id", { required: true }),
      name: fn.string("name", { required: true }),
      arguments: fn.string("arguments", { required: true }),
    };
  });
}

interface CallBook {
  ids: Set<string>;
  clips: InputAudioClip[];
  references: AudioReference[];
  /** Legacy `function_call`s waiting for their `function` message, by name. */
  legacy: Map<string, string[]>;
  counter: number;
}

function readMessage(raw: unknown, index: number, book: CallBook): ChatMessage {
  const param = `messages[${index}]`;
  const message = new FieldReader(raw, param);
  const role = message.enumeration("role", ROLES, { required: true }) as (typeof ROLES)[number];
  switch (role) {
    case "system":
    case "developer":
      message.rejectUnknown(new Set(["role", "content", "name"]));
      message.string("name");
      return { role: "system", content: readContent(message, { required: true })?.text ?? "" };
    case "user": {
      message.rejectUnknown(new Set(["role", "content", "name"]));
      message.string("name");
      const content = readContent(message, { required: true, allowImages: true, audio: (clip) => book.clips.push({ ...clip, message: index }) });
      return { role: "user", content: content?.text ?? "", parts: content?.parts ?? [] };
    }
    case "assistant": {
      // `annotations` comes back when clients resend a response message as history; it carries no input.
      message.rejectUnknown(new Set(["role", "content", "name", "refusal", "tool_calls", "function_call", "audio", "annotations"]));
      message.string("name");
      message.string("refusal");
      message.array("annotations");
      const audio = message.object("audio");
      if (audio !== undefined) {
        audio.rejectUnknown(new Set(["id"]));
        book.references.push({ message: index, id: audio.string("id", { required: true, nonEmpty: true }), param: audio.path("id") });
      }
      const toolCalls = readToolCalls(message);
      const legacy = message.object("function_call");
      if (legacy !== undefined) {
        legacy.rejectUnknown(new Set(["name", "arguments"]));
        const name = legacy.string("name", { required: true });
        const id = `call_legacy_${book.counter++}`;
        toolCalls.push({ id, name, arguments: legacy.string("arguments", { required: true }) });
        book.legacy.set(name, [...(book.legacy.get(name) ?? []), id]);
      }
      const content = readContent(message, { required: toolCalls.length === 0 && audio === undefined, allowRefusal: true })?.text ?? "";
      for (const call of toolCalls) book.ids.add(call.id);
      return { role: "assistant", content, toolCalls };
    }
    case "tool": {
      message.rejectUnknown(new Set(["role", "content", "tool_call_id"]));
      const toolCallId = message.string("tool_call_id", { required: true });
      if (!book.ids.has(toolCallId)) {
        throw invalidRequest(
          `Invalid parameter: messages with role 'tool' must be a response to a preceding message with 'tool_calls' (no call has id '${toolCallId}').`,
          message.path("tool_call_id"),
        );
      }
      return { role: "tool", content: readContent(message, { required: true })?.text ?? "", toolCallId };
    }
    case "function": {
      message.rejectUnknown(new Set(["role", "content", "name"]));
      const name = message.string("name", { required: true });
      const pending = book.legacy.get(name);
      const toolCallId = pending?.shift();
      if (toolCallId === undefined) {
        throw invalidRequest(
          `Invalid parameter: a message with role 'function' must answer a preceding 'function_call' to '${name}'.`,
          message.path("name"),
        );
      }
      return { role: "tool", content: readContent(message, { required: true })?.text ?? "", toolCallId };
    }
  }
}

function readStop(reader: FieldReader): string[] {
  const value = reader.obj.stop;
  if (value === undefined || value === null) return [];
  const stops = typeof value === "string" ? [value] : reader.array("stop", { maxLength: 4 }) ?? [];
  return stops.map((s, i) => {
    const param = typeof value === "string" ? "stop" : `stop[${i}]`;
    if (typeof s !== "string") throw invalidRequest(`Invalid type for '${param}': expected a string, but got ${typeof s} instead.`, param, "invalid_type");
    if (s === "") throw invalidRequest(`Invalid '${param}': empty string. Stop sequences must not be empty.`, param, "empty_string");
    return s;
  });
}


/** Reads a function tool's `name`, `description`, `parameters` (and `strict` where allowed). */
export function readFunctionDefinition(fn: FieldReader, allowStrict: boolean): ToolDefinition {
  fn.rejectUnknown(new Set(allowStrict ? ["name", "description", "parameters", "strict"] : ["name", "description", "parameters"]));
  const name = fn.string("name", { required: true });
  if (!FUNCTION_NAME.test(name)) {
    throw invalidRequest(`Invalid '${fn.path("name")}': '${name}' does not match ^[a-zA-Z0-9_-]{1,64}$.`, fn.path("name"), "invalid_value");
  }
  const strict = (allowStrict ? fn.boolean("strict") : undefined) ?? false;
  const parameters = fn.has("parameters")
    ? toGrammarSchema(fn.obj.parameters, fn.path("parameters"), strict, `function '${name}'`)
    : { type: "object", properties: {} };
  const wireParameters = fn.has("parameters") ? (fn.obj.parameters as JsonSchema) : { type: "object", properties: {} };
  return { name, description: fn.string("description"), parameters, wireParameters, strict };
}

function readTools(reader: FieldReader): { tools: ToolDefinition[]; choice: ToolChoice; legacy: boolean } {
  const rawTools = reader.array("tools", { maxLength: 128 });
  const rawFunctions = reader.array("functions", { minLength: 1, maxLength: 128 });
  if (rawTools !== undefined && rawFunctions !== undefined) {
    throw invalidRequest("Use either 'tools' or the deprecated 'functions', not both.", "functions");
  }
  const tools: ToolDefinition[] = [];
  if (rawTools !== undefined) {
    rawTools.forEach((raw, i) => {
      const tool = new FieldReader(raw, `tools[${i}]`);
      const type = tool.string("type", { required: true });
      if (type !== "function") throw invalidRequest(`Tools of type '${type}' are not supported; only 'function' tools are.`, tool.path("type"), "unsupported_parameter");
      tool.rejectUnknown(new Set(["type", "function"]));
      tools.push(readFunctionDefinition(new FieldReader(tool.required("function"), tool.path("function")), true));
    });
  }
  rawFunctions?.forEach((raw, i) => tools.push(readFunctionDefinition(new FieldReader(raw, `functions[${i}]`), false)));
  const names = new Set<string>();
  for (const [i, tool] of tools.entries()) {
    if (names.has(tool.name)) throw invalidRequest(`Duplicate function name '${tool.name}'.`, rawFunctions ? `functions[${i}].name` : `tools[${i}].function.name`, "invalid_value");
    names.add(tool.name);
  }

  const legacy = rawFunctions !== undefined;
  const choiceKey = legacy ? "function_call" : "tool_choice";
  if (!legacy && reader.has("function_call")) throw invalidRequest("'function_call' requires 'functions'; with 'tools' use 'tool_choice'.", "function_call");
  if (legacy && reader.has("tool_choice")) throw invalidRequest("'tool_choice' requires 'tools'; with 'functions' use 'function_call'.", "tool_choice");
  const raw = reader.obj[choiceKey];
  let choice: ToolChoice = tools.length > 0 ? "auto" : "none";
  if (raw !== undefined && raw !== null) {
    if (typeof raw === "string") {
      const allowed = legacy ? (["none", "auto"] as const) : (["none", "auto", "required"] as const);
      choice = reader.enumeration(choiceKey, allowed as readonly ("none" | "auto" | "required")[]) ?? choice;
    } else {
      const obj = new FieldReader(raw, choiceKey);
      let name: string;
      if (legacy) {
        obj.rejectUnknown(new Set(["name"]));
        name = obj.string("name", { required: true });
      } else {
        const type = obj.string("type", { required: true });
        if (type !== "function") throw invalidRequest(`tool_choice of type '${type}' is not supported; use 'function'.`, "tool_choice.type", "unsupported_parameter");
        obj.rejectUnknown(new Set(["type", "function"]));
        const fn = new FieldReader(obj.required("function"), "tool_choice.function");
        fn.rejectUnknown(new Set(["name"]));
        name = fn.string("name", { required: true });
      }
      if (!names.has(name)) {
        throw invalidRequest(`Invalid '${choiceKey}': no function named '${name}' was given.`, legacy ? "function_call.name" : "tool_choice.function.name", "invalid_value");
      }
      choice = { name };
    }
    if (tools.length === 0 && choice !== "none") {
      throw invalidRequest(`'${choiceKey}' is only allowed when '${legacy ? "functions" : "tools"}' are specified.`, choiceKey);
    }
  }
  return { tools, choice, legacy };
}

function readResponseFormat(reader: FieldReader): ResponseFormat {
  const format = reader.object("response_format");
  if (format === undefined) return { type: "text" };
  const type = format.enumeration("type", ["text", "json_object", "json_schema"] as const, { required: true });
  if (type === "text" || type === "json_object") {
    format.rejectUnknown(new Set(["type"]));
    return { type: type as "text" | "json_object" };
  }
  format.rejectUnknown(new Set(["type", "json_schema"]));
  const spec = new FieldReader(format.required("json_schema"), "response_format.json_schema");
  spec.rejectUnknown(new Set(["name", "description", "schema", "strict"]));
  const name = spec.string("name", { required: true });
  if (!FUNCTION_NAME.test(name)) throw invalidRequest(`Invalid 'response_format.json_schema.name': '${name}' does not match ^[a-zA-Z0-9_-]{1,64}$.`, "response_format.json_schema.name", "invalid_value");
  const strict = spec.boolean("strict") ?? false;
  const schema = spec.has("schema")
    ? toGrammarSchema(spec.obj.schema, "response_format.json_schema.schema", strict, `response_format '${name}'`)
    : { type: "object", additionalProperties: true };
  const wireSchema = spec.has("schema") ? (spec.obj.schema as JsonSchema) : { type: "object", additionalProperties: true };
  const description = spec.string("description");
  return { type: "json_schema", name, ...(description !== undefined ? { description } : {}), schema, wireSchema, strict };
}


/** Validates a chat completions body and converts it to the canonical request. */
export function parseChatCompletionRequest(body: unknown): ParsedChatCompletionRequest {
  const reader = new FieldReader(body, "");
  reader.rejectUnknown(KNOWN);
  for (const key of REJECTED_PARAMETERS) if (reader.has(key)) throw unsupportedParameter(key);
  const tier = reader.enumeration("service_tier", ["auto", "default", "flex", "scale", "priority"] as const);
  if (tier !== undefined && tier !== "auto" && tier !== "default") throw unsupportedParameter("service_tier", `value '${tier}' is not supported; use 'auto' or 'default'`);
  const audioOutput = readAudioOutput(reader);

  const model = reader.string("model", { required: true, nonEmpty: true });
  const rawMessages = reader.array("messages", { required: true, minLength: 1 }) ?? [];
  const book: CallBook = { ids: new Set(), clips: [], references: [], legacy: new Map(), counter: 0 };
  const messages = rawMessages.map((m, i) => readMessage(m, i, book));

  const maxTokens = reader.number("max_tokens", { integer: true, min: 1 });
  const maxCompletionTokens = reader.number("max_completion_tokens", { integer: true, min: 1 });
  if (maxTokens !== undefined && maxCompletionTokens !== undefined) {
    throw invalidRequest("Set either 'max_tokens' or 'max_completion_tokens', not both.", "max_tokens");
  }
  const seed = reader.number("seed", { integer: true });
  reader.string("user");
  reader.string("safety_identifier");
  const promptCacheKey = reader.string("prompt_cache_key");

  const stream = reader.boolean("stream") ?? false;
  if (stream && audioOutput !== undefined && audioOutput.format !== "pcm16") {
    throw invalidRequest(`Invalid 'audio.format': '${audioOutput.format}' cannot be streamed; streamed audio is 'pcm16', as with OpenAI.`, "audio.format", "unsupported_value");
  }
  const { includeUsage, includeObfuscation } = readStreamOptions(reader, stream, true);

  const logprobs = reader.boolean("logprobs") ?? false;
  const topLogprobs = reader.number("top_logprobs", { integer: true, min: 0, max: 20 });
  if (topLogprobs !== undefined && !logprobs) {
    throw invalidRequest("'top_logprobs' requires 'logprobs' to be true.", "top_logprobs");
  }
  const { tools, choice, legacy } = readTools(reader);
  const responseFormat = readResponseFormat(reader);
  if (responseFormat.type !== "text" && tools.length > 0 && choice !== "none") {
    throw invalidRequest("'response_format' other than 'text' cannot be combined with tool calls on this server; set tool_choice to 'none'.", "response_format");
  }

  const request: ChatRequest = {
    model,
    messages,
    sampling: readSampling(reader, seed),
    maxTokens: maxTokens ?? maxCompletionTokens,
    stop: readStop(reader),
    n: reader.number("n", { integer: true, min: 1, max: 128 }) ?? 1,
    tools,
    toolChoice: choice,
    parallelToolCalls: reader.boolean("parallel_tool_calls") ?? true,
    responseFormat,
    topLogprobs: logprobs ? (topLogprobs ?? 0) : undefined,
    reasoningEffort: reader.enumeration("reasoning_effort", EFFORTS),
    priority: "interactive",
    ...(promptCacheKey !== undefined && promptCacheKey !== "" ? { promptCacheKey } : {}),
  };
  return {
    request,
    stream,
    includeUsage,
    includeObfuscation,
    metadata: readMetadata(reader, "metadata"),
    store: reader.boolean("store") ?? false,
    legacyFunctions: legacy,
    audioOutput,
    audioInputs: book.clips,
    audioReferences: book.references,
    webSearch: readWebSearchOptions(reader),
  };
}

/**
 * `web_search_options` (as OpenAI's search models take it): the context size, and the user's
 * approximate location (its country given to engines that localise, the place told to the model).
 */
function readWebSearchOptions(reader: FieldReader): WebSearchSettings | undefined {
  const options = reader.object("web_search_options");
  if (options === undefined) return undefined;
  options.rejectUnknown(new Set(["search_context_size", "user_location"]));
  const contextSize = options.enumeration("search_context_size", ["low", "medium", "high"] as const) ?? "medium";
  const location = options.object("user_location");
  let country: string | undefined;
  let place: string | undefined;
  if (location !== undefined) {
    location.rejectUnknown(new Set(["type", "approximate"]));
    location.enumeration("type", ["approximate"] as const, { required: true });
    const approximate = new FieldReader(location.required("approximate"), location.path("approximate"));
    approximate.rejectUnknown(new Set(["country", "region", "city", "timezone"]));
    country = approximate.string("country");
    if (country !== undefined && !/^[A-Za-z]{2}$/.test(country)) throw invalidRequest(`Invalid '${approximate.path("country")}': expected a two-letter ISO country code.`, approximate.path("country"), "invalid_value");
    const parts = [approximate.string("city"), approximate.string("region"), country].filter((p): p is string => p !== undefined && p.trim() !== "");
    const timezone = approximate.string("timezone");
    place = parts.length === 0 ? undefined : `${parts.join(", ")}${timezone === undefined || timezone === "" ? "" : ` (time zone ${timezone})`}`;
  }
  return { param: "web_search_options", allowedDomains: [], country, location: place, contextSize, forced: true };
}

/** OpenAI's limit on audio in a request, as on the transcription endpoints. */
const MAX_INPUT_AUDIO_BYTES = 25 * 1024 * 1024;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decodes base64 audio, strictly: a malformed or empty string is a 400 naming the param. */
function readBase64Audio(data: string, param: string): Buffer {
  if (data === "") throw invalidRequest(`Invalid '${param}': empty string. Expected base64-encoded audio.`, param, "empty_string");
  if (data.length % 4 !== 0 || !BASE64.test(data)) throw invalidRequest(`Invalid '${param}': not valid base64.`, param, "invalid_base64");
  const bytes = Buffer.from(data, "base64");
  if (bytes.length > MAX_INPUT_AUDIO_BYTES) throw invalidRequest(`Invalid '${param}': the audio is larger than the maximum of 25 MB.`, param, "file_too_large");
  return bytes;
}

/** `modalities` and `audio`: spoken output needs both, and each without the other is a 400. */
function readAudioOutput(reader: FieldReader): AudioOutputOptions | undefined {
  const modalities = reader.array("modalities");
  modalities?.forEach((m, i) => {
    if (m !== "text" && m !== "audio") throw invalidValue(`modalities[${i}]`, String(m), ["text", "audio"]);
  });
  const wantsAudio = modalities?.includes("audio") ?? false;
  if (modalities !== undefined && !modalities.includes("text")) {
    throw unsupportedParameter("modalities", "must include \"text\": spoken answers are the model's text, synthesised");
  }
  const audio = reader.object("audio");
  if (audio === undefined) {
    if (wantsAudio) throw invalidRequest("Missing required parameter: 'audio'. It is required when 'modalities' includes \"audio\".", "audio", "missing_required_parameter");
    return undefined;
  }
  if (!wantsAudio) throw invalidRequest("'audio' requires 'modalities' to include \"audio\".", "audio", "invalid_value");
  audio.rejectUnknown(new Set(["voice", "format"]));
  const voice = readVoice(audio.required("voice"), "audio.voice");
  const format = audio.enumeration("format", CHAT_AUDIO_FORMATS, { required: true }) ?? "pcm16";
  return { voice, format };
}
