import { obfuscation } from "./obfuscation.ts";
import type { SpokenPart } from "../../core/audio.ts";
import type { ChatStreamPart, FinishReason, TokenLogprob, ToolCall, Usage } from "../../core/chat.ts";
import { encodeSseFrame, encodeSseJson } from "../../core/sse.ts";

/** OpenAI's usage object, with every detail field present. */
export function renderUsage(usage: Usage): Record<string, unknown> {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedTokens, audio_tokens: usage.audioInputTokens ?? 0 },
    completion_tokens_details: {
      reasoning_tokens: usage.reasoningTokens,
      audio_tokens: usage.audioOutputTokens ?? 0,
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

/** A web page an answer cites (`web_search_options`): `text.slice(startIndex, endIndex)` is its `[n]` marker. */
export interface ChatUrlCitation {
  url: string;
  title: string;
  startIndex: number;
  endIndex: number;
}

/**
 * A choice's citations, streamed as a delta of their own just before the choice's finish, as
 * OpenAI's search models send them. Made by the server, never by a model.
 */
export interface CitationsPart {
  type: "annotations";
  choice: number;
  annotations: readonly ChatUrlCitation[];
}

/** A citation in wire form (`ChatCompletionResponseMessage.annotations[]`). */
export function renderCitation(c: ChatUrlCitation): Record<string, unknown> {
  return { type: "url_citation", url_citation: { start_index: c.startIndex, end_index: c.endIndex, url: c.url, title: c.title } };
}

/** One finished choice of a non-streamed completion. */
export interface CompletedChoice {
  text: string;
  finishReason: FinishReason;
  toolCalls: readonly ToolCall[];
  /** Present when logprobs were asked for. */
  logprobs: readonly TokenLogprob[] | undefined;
  /** The choice's text spoken, when audio output was asked for. */
  audio?: { id: string; data: Buffer; expiresAt: number; transcript: string };
  /** The web pages the text cites, when the request searched the web. */
  annotations?: readonly ChatUrlCitation[] | undefined;
}

function renderLogprob(entry: TokenLogprob): Record<string, unknown> {
  return {
    token: entry.token,
    logprob: entry.logprob,
    bytes: entry.bytes,
    top_logprobs: entry.topLogprobs.map((t) => ({ token: t.token, logprob: t.logprob, bytes: t.bytes })),
  };
}

/** The wire finish reason: deprecated function calling reports `function_call`. */
function wireFinishReason(reason: FinishReason, legacy: boolean): string {
  return reason === "tool_calls" && legacy ? "function_call" : reason;
}

/** Renders a `chat.completion` object. */
export function renderChatCompletion(
  env: CompletionEnvelope,
  choices: readonly CompletedChoice[],
  usage: Usage,
  options: { legacyFunctions: boolean },
): Record<string, unknown> {
  return {
    id: env.id,
    object: "chat.completion",
    created: env.created,
    model: env.model,
    choices: choices.map((c, index) => {
      const message: Record<string, unknown> = {
        role: "assistant",
        // A spoken answer's text is its transcript, as with OpenAI's audio models.
        content: (c.toolCalls.length > 0 && c.text === "") || c.audio !== undefined ? null : c.text,
        refusal: null,
        annotations: (c.annotations ?? []).map(renderCitation),
      };
      if (c.audio !== undefined) {
        message.audio = { id: c.audio.id, data: c.audio.data.toString("base64"), expires_at: c.audio.expiresAt, transcript: c.audio.transcript };
      }
      const first = c.toolCalls[0];
      if (options.legacyFunctions && first !== undefined) {
        message.function_call = { name: first.name, arguments: first.arguments };
      } else if (c.toolCalls.length > 0) {
        message.tool_calls = c.toolCalls.map((t) => ({ id: t.id, type: "function", function: { name: t.name, arguments: t.arguments } }));
      }
      return {
        index,
        message,
        logprobs: c.logprobs === undefined ? null : { content: c.logprobs.map(renderLogprob), refusal: null },
        finish_reason: wireFinishReason(c.finishReason, options.legacyFunctions),
      };
    }),
    usage: renderUsage(usage),
    service_tier: "default",
    system_fingerprint: env.systemFingerprint,
  };
}

/**
 * Serialises the `chat.completion.chunk` frames of one stream, straight from the canonical parts.
 * Chunks are written once per token, so the fields every chunk shares are serialised once and
 * spliced in, rather than building and stringifying a whole object per token. The output is what
 * JSON.stringify would give.
 */
export class ChunkSerializer {
  readonly #env: CompletionEnvelope;
  readonly #head: string;
  readonly #tail: (contentLength: number) => string;
  readonly #legacy: boolean;
  readonly #logprobs: boolean;
  readonly #includeUsage: boolean;
  readonly #audioIds: readonly string[] | undefined;

  /** With `audioIds` (one per choice), text streams as the transcript of each choice's spoken answer. */
  constructor(
    env: CompletionEnvelope,
    options: { includeUsage: boolean; includeObfuscation: boolean; legacyFunctions: boolean; logprobs: boolean; audioIds?: readonly string[] | undefined },
  ) {
    this.#env = env;
    this.#head =
      `{"id":${JSON.stringify(env.id)},"object":"chat.completion.chunk","created":${env.created},` +
      `"model":${JSON.stringify(env.model)},"service_tier":"default","system_fingerprint":${JSON.stringify(env.systemFingerprint)},"choices":[`;
    const usage = options.includeUsage ? ',"usage":null' : "";
    this.#tail = options.includeObfuscation
      ? (n) => `]${usage},"obfuscation":"${obfuscation(n)}"}`
      : () => `]${usage}}`;
    this.#legacy = options.legacyFunctions;
    this.#logprobs = options.logprobs;
    this.#includeUsage = options.includeUsage;
    this.#audioIds = options.audioIds;
  }

  /** The frame that opens choice `choice`: the assistant's role, with empty content. */
  opening(choice: number): string {
    const logprobs = this.#logprobs ? `{"content":[],"refusal":null}` : "null";
    const audioId = this.#audioIds?.[choice];
    if (audioId !== undefined) {
      return this.#frame(choice, `"role":"assistant","content":null,"refusal":null,"audio":{"id":${JSON.stringify(audioId)},"transcript":""}`, logprobs, "null", 0);
    }
    return this.#frame(choice, `"role":"assistant","content":"","refusal":null`, logprobs, "null", 0);
  }

  /**
   * The SSE frame of the chunk `part` produces, or undefined for a part that produces none:
   * `served-by`, and `usage` unless the client asked for it (`stream_options.include_usage`).
   */
  chunk(part: ChatStreamPart | SpokenPart | CitationsPart): string | undefined {
    switch (part.type) {
      case "text-delta": {
        const logprobs = this.#logprobs ? `{"content":${JSON.stringify((part.logprobs ?? []).map(renderLogprob))},"refusal":null}` : "null";
        const inner = this.#audioIds === undefined ? `"content":${JSON.stringify(part.text)}` : `"audio":{"transcript":${JSON.stringify(part.text)}}`;
        return this.#frame(part.choice, inner, logprobs, "null", part.text.length);
      }
      case "audio-data":
        return this.#frame(part.choice, `"audio":{"data":"${part.data.toString("base64")}"}`, "null", "null", 0);
      case "audio-done":
        return this.#frame(part.choice, `"audio":{"id":${JSON.stringify(part.id)},"expires_at":${part.expiresAt}}`, "null", "null", 0);
      case "tool-call-start": {
        const inner = this.#legacy
          ? `"function_call":{"name":${JSON.stringify(part.name)},"arguments":""}`
          : `"tool_calls":[{"index":${part.index},"id":${JSON.stringify(part.id)},"type":"function","function":{"name":${JSON.stringify(part.name)},"arguments":""}}]`;
        return this.#frame(part.choice, inner, "null", "null", 0);
      }
      case "tool-call-delta": {
        const inner = this.#legacy
          ? `"function_call":{"arguments":${JSON.stringify(part.arguments)}}`
          : `"tool_calls":[{"index":${part.index},"function":{"arguments":${JSON.stringify(part.arguments)}}}]`;
        return this.#frame(part.choice, inner, "null", "null", part.arguments.length);
      }
      case "annotations":
        return this.#frame(part.choice, `"annotations":${JSON.stringify(part.annotations.map(renderCitation))}`, "null", "null", 0);
      case "finish":
        return this.#frame(part.choice, "", "null", `"${wireFinishReason(part.finishReason, this.#legacy)}"`, 0);
      case "usage":
        return this.#includeUsage ? encodeSseJson(renderUsageChunk(this.#env, part.usage)) : undefined;
      case "served-by":
        // A fallback took over before anything was sent; the envelope already names the model that serves.
        return undefined;
    }
  }

  /** One chunk carrying `delta: {inner}` for choice `choice`, as an SSE frame. */
  #frame(choice: number, inner: string, logprobs: string, finish: string, length: number): string {
    const body = `{"index":${choice},"delta":{${inner}},"logprobs":${logprobs},"finish_reason":${finish}}`;
    return encodeSseFrame(this.#head + body + this.#tail(length));
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
