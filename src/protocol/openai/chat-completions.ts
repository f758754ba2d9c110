import type { ChatMessage, ChatRequest, FinishReason, ToolCall, Usage } from "../../core/chat.ts";
import { invalidRequest, unsupportedParameter } from "../../core/errors.ts";
import { FieldReader, invalidValue, readMetadata } from "./validate.ts";

/** A validated `POST /v1/chat/completions` body. */
export interface ParsedChatCompletionRequest {
  request: ChatRequest;
  stream: boolean;
  includeUsage: boolean;
  includeObfuscation: boolean;
  metadata: Record<string, string> | undefined;
  store: boolean;
}

/** Parameters Modelport honours. */
const HONOURED = new Set([
  "model", "messages", "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed",
  "presence_penalty", "frequency_penalty", "n", "user", "safety_identifier", "prompt_cache_key",
  "metadata", "store", "stream", "stream_options", "logprobs", "service_tier", "modalities",
]);

/** Parameters of OpenAI's API that this server does not honour yet: rejected by name, never dropped. */
const NOT_YET = new Set([
  "tools", "tool_choice", "parallel_tool_calls", "functions", "function_call", "response_format",
  "top_logprobs", "logit_bias", "reasoning_effort", "audio", "prediction", "web_search_options",
  "verbosity", "prompt_cache_retention", "prompt_cache_options", "moderation",
]);

const KNOWN = new Set([...HONOURED, ...NOT_YET]);
const ROLES = ["system", "developer", "user", "assistant", "tool", "function"] as const;

/** Content given as a string or as an array of parts; only text parts are accepted here. */
function readTextContent(message: FieldReader, options: { required: boolean; allowRefusal?: boolean }): string | undefined {
  const param = message.path("content");
  const value = message.obj.content;
  if (value === undefined || value === null) {
    if (options.required) message.required("content");
    return undefined;
  }
  if (typeof value === "string") return value;
  const parts = message.array("content", { minLength: 1 }) ?? [];
  let text = "";
  parts.forEach((raw, j) => {
    const partParam = `${param}[${j}]`;
    const part = new FieldReader(raw, partParam);
    const type = part.string("type", { required: true });
    if (type === "text") {
      part.rejectUnknown(new Set(["type", "text"]));
      text += part.string("text", { required: true });
    } else if (type === "refusal" && options.allowRefusal) {
      part.rejectUnknown(new Set(["type", "refusal"]));
      text += part.string("refusal", { required: true });
    } else if (type === "image_url" || type === "input_audio" || type === "file") {
      throw invalidRequest(
        `Content of type '${type}' is not supported: local models accept text only (node-llama-cpp has no multimodal support). Send text parts, or route this model to an upstream provider that accepts ${type === "image_url" ? "images" : type === "input_audio" ? "audio" : "files"}.`,
        partParam,
        "unsupported_content_type",
      );
    } else {
      throw invalidValue(`${partParam}.type`, type, options.allowRefusal ? ["text", "refusal"] : ["text", "image_url", "input_audio", "file"]);
    }
  });
  return text;
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

function readMessage(raw: unknown, index: number, toolCallIds: Set<string>): ChatMessage {
  const param = `messages[${index}]`;
  const message = new FieldReader(raw, param);
  const role = message.enumeration("role", ROLES, { required: true }) as (typeof ROLES)[number];
  switch (role) {
    case "system":
    case "developer":
      message.rejectUnknown(new Set(["role", "content", "name"]));
      message.string("name");
      return { role: "system", content: readTextContent(message, { required: true }) ?? "" };
    case "user":
      message.rejectUnknown(new Set(["role", "content", "name"]));
      message.string("name");
      return { role: "user", content: readTextContent(message, { required: true }) ?? "" };
    case "assistant": {
      message.rejectUnknown(new Set(["role", "content", "name", "refusal", "tool_calls", "function_call", "audio"]));
      message.string("name");
      message.string("refusal");
      if (message.has("function_call")) throw unsupportedParameter(message.path("function_call"));
      if (message.has("audio")) throw unsupportedParameter(message.path("audio"));
      const toolCalls = readToolCalls(message);
      const content = readTextContent(message, { required: toolCalls.length === 0, allowRefusal: true }) ?? "";
      for (const call of toolCalls) toolCallIds.add(call.id);
      return { role: "assistant", content, toolCalls };
    }
    case "tool": {
      message.rejectUnknown(new Set(["role", "content", "tool_call_id"]));
      const toolCallId = message.string("tool_call_id", { required: true });
      if (!toolCallIds.has(toolCallId)) {
        throw invalidRequest(
          `Invalid parameter: messages with role 'tool' must be a response to a preceding message with 'tool_calls' (no call has id '${toolCallId}').`,
          message.path("tool_call_id"),
        );
      }
      return { role: "tool", content: readTextContent(message, { required: true }) ?? "", toolCallId };
    }
    case "function":
      throw invalidRequest(
        "Messages with role 'function' (the deprecated function-calling format) are not supported yet; use 'tool' messages.",
        message.path("role"),
        "unsupported_parameter",
      );
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

/** Folds any integer, negative or larger than 32 bits included, onto the engine's unsigned 32-bit seed. */
function toEngineSeed(seed: number): number {
  const mod = 2 ** 32;
  return ((seed % mod) + mod) % mod;
}

/** Validates a chat completions body and converts it to the canonical request. */
export function parseChatCompletionRequest(body: unknown): ParsedChatCompletionRequest {
  const reader = new FieldReader(body, "");
  reader.rejectUnknown(KNOWN);
  for (const key of NOT_YET) if (reader.has(key)) throw unsupportedParameter(key);
  if (reader.boolean("logprobs") === true) throw unsupportedParameter("logprobs", "(true) is not supported by this server yet");
  const tier = reader.enumeration("service_tier", ["auto", "default", "flex", "scale", "priority"] as const);
  if (tier !== undefined && tier !== "auto" && tier !== "default") throw unsupportedParameter("service_tier", `value '${tier}' is not supported; use 'auto' or 'default'`);
  const modalities = reader.array("modalities");
  if (modalities !== undefined && !(modalities.length === 1 && modalities[0] === "text")) {
    throw unsupportedParameter("modalities", "supports only [\"text\"] on this server");
  }

  const model = reader.string("model", { required: true, nonEmpty: true });
  const rawMessages = reader.array("messages", { required: true, minLength: 1 }) ?? [];
  const toolCallIds = new Set<string>();
  const messages = rawMessages.map((m, i) => readMessage(m, i, toolCallIds));

  const maxTokens = reader.number("max_tokens", { integer: true, min: 1 });
  const maxCompletionTokens = reader.number("max_completion_tokens", { integer: true, min: 1 });
  if (maxTokens !== undefined && maxCompletionTokens !== undefined) {
    throw invalidRequest("Set either 'max_tokens' or 'max_completion_tokens', not both.", "max_tokens");
  }
  const seed = reader.number("seed", { integer: true });
  reader.string("user");
  reader.string("safety_identifier");
  reader.string("prompt_cache_key");

  const stream = reader.boolean("stream") ?? false;
  let includeUsage = false;
  let includeObfuscation = true;
  const streamOptions = reader.object("stream_options");
  if (streamOptions !== undefined) {
    if (!stream) throw invalidRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options");
    streamOptions.rejectUnknown(new Set(["include_usage", "include_obfuscation"]));
    includeUsage = streamOptions.boolean("include_usage") ?? false;
    includeObfuscation = streamOptions.boolean("include_obfuscation") ?? true;
  }

  const request: ChatRequest = {
    model,
    messages,
    sampling: {
      temperature: reader.number("temperature", { min: 0, max: 2 }) ?? 1,
      topP: reader.number("top_p", { min: 0, max: 1 }) ?? 1,
      seed: seed === undefined ? undefined : toEngineSeed(seed),
      presencePenalty: reader.number("presence_penalty", { min: -2, max: 2 }) ?? 0,
      frequencyPenalty: reader.number("frequency_penalty", { min: -2, max: 2 }) ?? 0,
    },
    maxTokens: maxTokens ?? maxCompletionTokens,
    stop: readStop(reader),
    n: reader.number("n", { integer: true, min: 1, max: 128 }) ?? 1,
  };
  return {
    request,
    stream,
    includeUsage,
    includeObfuscation,
    metadata: readMetadata(reader, "metadata"),
    store: reader.boolean("store") ?? false,
  };
}

/** OpenAI's usage object, with every detail field present. */
export function renderUsage(usage: Usage): Record<string, unknown> {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedTokens, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: usage.reasoningTokens,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

/** Fields every completion object and chunk of one response share. */
export interface CompletionEnvelope {
  id: string;
  created: number;
  model: string;
  systemFingerprint: string;
}

/** One finished choice of a non-streamed completion. */
export interface CompletedChoice {
  text: string;
  finishReason: FinishReason;
}

/** Renders a `chat.completion` object. */
export function renderChatCompletion(env: CompletionEnvelope, choices: readonly CompletedChoice[], usage: Usage): Record<string, unknown> {
  return {
    id: env.id,
    object: "chat.completion",
    created: env.created,
    model: env.model,
    choices: choices.map((c, index) => ({
      index,
      message: { role: "assistant", content: c.text, refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: c.finishReason,
    })),
    usage: renderUsage(usage),
    service_tier: "default",
    system_fingerprint: env.systemFingerprint,
  };
}

/** The delta of one streamed choice. */
export type ChunkDelta =
  | { kind: "role" }
  | { kind: "content"; text: string }
  | { kind: "finish"; finishReason: FinishReason };

const OBFUSCATION_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * Random padding so chunk sizes reveal less about token lengths, as OpenAI's `obfuscation` field.
 * Only the length needs to be unpredictable to an observer of encrypted traffic, not secret, so
 * Math.random is enough and keeps this off the per-token hot path's syscalls.
 */
function obfuscation(contentLength: number): string {
  const length = 16 - (contentLength % 16) + Math.floor(Math.random() * 16);
  let out = "";
  for (let i = 0; i < length; i++) out += OBFUSCATION_CHARS[Math.floor(Math.random() * 62)];
  return out;
}

/**
 * Serialises the `chat.completion.chunk` objects of one stream. Chunks are written once per token,
 * so the fields every chunk shares are serialised once and spliced in, rather than building and
 * stringifying a whole object per token. The output is byte-for-byte what JSON.stringify would give.
 */
export class ChunkSerializer {
  readonly #head: string;
  readonly #tail: (contentLength: number) => string;

  constructor(env: CompletionEnvelope, options: { includeUsage: boolean; includeObfuscation: boolean }) {
    this.#head =
      `{"id":${JSON.stringify(env.id)},"object":"chat.completion.chunk","created":${env.created},` +
      `"model":${JSON.stringify(env.model)},"service_tier":"default","system_fingerprint":${JSON.stringify(env.systemFingerprint)},"choices":[`;
    const usage = options.includeUsage ? ',"usage":null' : "";
    this.#tail = options.includeObfuscation
      ? (n) => `]${usage},"obfuscation":"${obfuscation(n)}"}`
      : () => `]${usage}}`;
  }

  /** The JSON text of one chunk carrying `delta` for choice `choice`. */
  chunk(choice: number, delta: ChunkDelta): string {
    let body: string;
    let length = 0;
    switch (delta.kind) {
      case "role":
        body = `{"index":${choice},"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}`;
        break;
      case "content":
        length = delta.text.length;
        body = `{"index":${choice},"delta":{"content":${JSON.stringify(delta.text)}},"logprobs":null,"finish_reason":null}`;
        break;
      case "finish":
        body = `{"index":${choice},"delta":{},"logprobs":null,"finish_reason":"${delta.finishReason}"}`;
        break;
    }
    return this.#head + body + this.#tail(length);
  }
}

/** Renders the final usage chunk: empty `choices`, then `usage`. */
export function renderUsageChunk(env: CompletionEnvelope, usage: Usage): Record<string, unknown> {
  return {
    id: env.id,
    object: "chat.completion.chunk",
    created: env.created,
    model: env.model,
    service_tier: "default",
    system_fingerprint: env.systemFingerprint,
    choices: [],
    usage: renderUsage(usage),
  };
}
