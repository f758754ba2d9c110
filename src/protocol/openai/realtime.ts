import type { VoiceChoice } from "../../core/audio.ts";
import type { ToolChoice, ToolDefinition } from "../../core/chat.ts";
import { invalidRequest, unsupportedParameter } from "../../core/errors.ts";
import { readVoice } from "./audio.ts";
import { readFunctionDefinition } from "./chat-completions-parse.ts";
import { FieldReader, invalidValue } from "./validate.ts";

/** Audio on the socket: 16-bit PCM at 24 kHz, or G.711 μ-law / A-law at 8 kHz. */
export type RealtimeAudioFormat = "pcm" | "pcmu" | "pcma";

/** Server-side turn detection. `semantic_vad` is approximated by server VAD with a silence from its eagerness. */
export interface TurnDetection {
  type: "server_vad" | "semantic_vad";
  threshold: number;
  prefixPaddingMs: number;
  silenceDurationMs: number;
  createResponse: boolean;
  interruptResponse: boolean;
  idleTimeoutMs: number | null;
  eagerness: "low" | "medium" | "high" | "auto";
}

/** `noise_reduction`: which microphone the filter is for. */
export type NoiseReduction = "near_field" | "far_field";

/** A realtime session's configuration, as `session.updated` reports it. */
export interface RealtimeConfig {
  /** `transcription` sessions only transcribe the user's turns: no responses. */
  type: "realtime" | "transcription";
  outputModalities: ("text" | "audio")[];
  instructions: string;
  inputFormat: RealtimeAudioFormat;
  outputFormat: RealtimeAudioFormat;
  /** Transcripts of the user's audio, reported as events; `null` turns them off (the model still hears it). */
  transcription: { model: string; language: string | undefined; prompt: string | undefined } | null;
  turnDetection: TurnDetection | null;
  noiseReduction: NoiseReduction | null;
  voice: VoiceChoice;
  speed: number;
  tools: ToolDefinition[];
  toolChoice: ToolChoice;
  maxOutputTokens: number | "inf";
  /** Sampling temperature (the beta protocol's `temperature`, 0.6–1.2). */
  temperature: number;
}

/**
 * The configuration a session starts with; a transcription session (`?intent=transcription`) starts
 * with transcription on.
 */
export function defaultRealtimeConfig(type: RealtimeConfig["type"] = "realtime"): RealtimeConfig {
  return {
    type,
    outputModalities: ["audio"],
    instructions: "",
    inputFormat: "pcm",
    outputFormat: "pcm",
    transcription: type === "transcription" ? { model: "whisper-1", language: undefined, prompt: undefined } : null,
    turnDetection: { type: "server_vad", threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: 500, createResponse: true, interruptResponse: true, idleTimeoutMs: null, eagerness: "auto" },
    noiseReduction: null,
    voice: { name: "alloy" },
    speed: 1,
    tools: [],
    toolChoice: "auto",
    maxOutputTokens: "inf",
    temperature: 0.8,
  };
}

/** Content of a user or system message item. */
export type RealtimeInputContent = { type: "input_text"; text: string } | { type: "input_audio"; audio: Buffer | undefined; transcript: string | null };

/** A conversation item as a client creates it. */
export type NewRealtimeItem =
  | { type: "message"; id: string | undefined; role: "user" | "system"; content: RealtimeInputContent[] }
  | { type: "message"; id: string | undefined; role: "assistant"; content: { type: "output_text" | "output_audio"; text: string }[] }
  | { type: "function_call"; id: string | undefined; callId: string; name: string; arguments: string }
  | { type: "function_call_output"; id: string | undefined; callId: string; output: string };

/** What `response.create` may override for one response. */
export interface ResponseOverrides {
  instructions: string | undefined;
  outputModalities: ("text" | "audio")[] | undefined;
  /** `none` answers out of band: the response is not added to the conversation. */
  conversation: "auto" | "none";
  maxOutputTokens: number | "inf" | undefined;
  tools: ToolDefinition[] | undefined;
  toolChoice: ToolChoice | undefined;
  metadata: Record<string, string> | undefined;
}

/** A validated client event. */
export type RealtimeClientEvent = { eventId: string | undefined } & (
  | { type: "session.update"; session: FieldReader }
  | { type: "input_audio_buffer.append"; audio: Buffer }
  | { type: "input_audio_buffer.commit" }
  | { type: "input_audio_buffer.clear" }
  | { type: "output_audio_buffer.clear" }
  | { type: "conversation.item.create"; previousItemId: string | undefined; item: NewRealtimeItem }
  | { type: "conversation.item.retrieve"; itemId: string }
  | { type: "conversation.item.delete"; itemId: string }
  | { type: "conversation.item.truncate"; itemId: string; contentIndex: number; audioEndMs: number }
  | { type: "response.create"; response: ResponseOverrides }
  | { type: "response.cancel"; responseId: string | undefined }
);

const CLIENT_EVENTS = [
  "session.update", "input_audio_buffer.append", "input_audio_buffer.commit", "input_audio_buffer.clear", "output_audio_buffer.clear",
  "conversation.item.create", "conversation.item.retrieve", "conversation.item.delete", "conversation.item.truncate", "response.create", "response.cancel",
] as const;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A required field's value: readers throw for a missing one, so undefined never gets here. */
function must<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("a required field was not checked");
  return value;
}

/** Decodes base64 strictly: a 400 naming `param` otherwise. */
function readBase64(value: string, param: string): Buffer {
  if (value.length % 4 !== 0 || !BASE64.test(value)) throw invalidRequest(`Invalid '${param}': not valid base64.`, param, "invalid_base64");
  return Buffer.from(value, "base64");
}

/** The `event_id` a client gave an event, if any, even when the rest of the event is invalid. */
export function clientEventId(raw: unknown): string | undefined {
  const id = typeof raw === "object" && raw !== null ? (raw as { event_id?: unknown }).event_id : undefined;
  return typeof id === "string" ? id : undefined;
}

/** Validates one client event (a parsed JSON message); problems are 400s naming the field. */
export function parseRealtimeClientEvent(raw: unknown): RealtimeClientEvent {
  const reader = new FieldReader(raw, "");
  const type = reader.string("type", { required: true });
  if (!(CLIENT_EVENTS as readonly string[]).includes(type)) throw invalidValue("type", type, CLIENT_EVENTS);
  const eventId = reader.string("event_id");
  const only = (...fields: string[]): void => reader.rejectUnknown(new Set(["type", "event_id", ...fields]));
  switch (type as (typeof CLIENT_EVENTS)[number]) {
    case "session.update": {
      only("session");
      const session = reader.object("session");
      if (session === undefined) reader.required("session");
      return { eventId, type: "session.update", session: session as FieldReader };
    }
    case "input_audio_buffer.append":
      only("audio");
      return { eventId, type: "input_audio_buffer.append", audio: readBase64(reader.string("audio", { required: true }), "audio") };
    case "input_audio_buffer.commit":
    case "input_audio_buffer.clear":
    case "output_audio_buffer.clear":
      only();
      return { eventId, type: type as "input_audio_buffer.commit" };
    case "conversation.item.create": {
      only("item", "previous_item_id");
      const item = reader.object("item") ?? (reader.required("item") as never);
      return { eventId, type: "conversation.item.create", previousItemId: reader.string("previous_item_id"), item: readItem(item) };
    }
    case "conversation.item.retrieve":
    case "conversation.item.delete":
      only("item_id");
      return { eventId, type: type as "conversation.item.retrieve", itemId: reader.string("item_id", { required: true }) };
    case "conversation.item.truncate":
      only("item_id", "content_index", "audio_end_ms");
      return {
        eventId,
        type: "conversation.item.truncate",
        itemId: reader.string("item_id", { required: true }),
        contentIndex: reader.number("content_index", { integer: true, min: 0 }) ?? (reader.required("content_index") as never),
        audioEndMs: reader.number("audio_end_ms", { integer: true, min: 0 }) ?? (reader.required("audio_end_ms") as never),
      };
    case "response.create":
      only("response");
      return { eventId, type: "response.create", response: readResponseOverrides(reader.object("response")) };
    case "response.cancel":
      only("response_id");
      return { eventId, type: "response.cancel", responseId: reader.string("response_id") };
  }
}

function readItem(item: FieldReader): NewRealtimeItem {
  const type = must(item.enumeration("type", ["message", "function_call", "function_call_output"] as const, { required: true }));
  const id = item.string("id");
  if (type === "function_call_output") {
    item.rejectUnknown(new Set(["type", "id", "object", "status", "call_id", "output"]));
    return { type, id, callId: item.string("call_id", { required: true }), output: item.string("output", { required: true }) };
  }
  if (type === "function_call") {
    item.rejectUnknown(new Set(["type", "id", "object", "status", "call_id", "name", "arguments"]));
    return { type, id, callId: item.string("call_id") ?? `call_${Math.random().toString(36).slice(2, 14)}`, name: item.string("name", { required: true }), arguments: item.string("arguments", { required: true }) };
  }
  item.rejectUnknown(new Set(["type", "id", "object", "status", "role", "content"]));
  const role = must(item.enumeration("role", ["user", "system", "assistant"] as const, { required: true }));
  const parts = item.array("content", { required: true }) ?? [];
  if (role === "assistant") {
    return {
      type,
      id,
      role,
      content: parts.map((raw, i) => {
        const part = new FieldReader(raw, `${item.path("content")}[${i}]`);
        part.rejectUnknown(new Set(["type", "text", "transcript", "audio"]));
        const kind = must(part.enumeration("type", ["output_text", "output_audio"] as const, { required: true }));
        return { type: kind, text: kind === "output_text" ? part.string("text", { required: true }) : (part.string("transcript") ?? "") };
      }),
    };
  }
  return {
    type,
    id,
    role,
    content: parts.map((raw, i): RealtimeInputContent => {
      const part = new FieldReader(raw, `${item.path("content")}[${i}]`);
      const kind = must(part.enumeration("type", role === "user" ? (["input_text", "input_audio", "input_image"] as const) : (["input_text"] as const), { required: true }));
      if (kind === "input_image") throw invalidRequest(`Content of type 'input_image' is not supported by this server's realtime sessions.`, part.path("type"), "unsupported_content_type");
      if (kind === "input_text") {
        part.rejectUnknown(new Set(["type", "text"]));
        return { type: "input_text", text: part.string("text", { required: true }) };
      }
      part.rejectUnknown(new Set(["type", "audio", "transcript"]));
      const audio = part.string("audio");
      return { type: "input_audio", audio: audio === undefined ? undefined : readBase64(audio, part.path("audio")), transcript: part.string("transcript") ?? null };
    }),
  };
}

function readModalities(reader: FieldReader, key: string): ("text" | "audio")[] | undefined {
  const list = reader.array(key);
  if (list === undefined) return undefined;
  if (list.length !== 1 || (list[0] !== "text" && list[0] !== "audio")) {
    throw invalidRequest(`Invalid '${reader.path(key)}': expected ["text"] or ["audio"] (audio comes with its transcript).`, reader.path(key), "invalid_value");
  }
  return [list[0]];
}

function readTools(reader: FieldReader): ToolDefinition[] | undefined {
  return reader.array("tools")?.map((raw, i) => {
    const tool = new FieldReader(raw, `${reader.path("tools")}[${i}]`);
    const type = tool.string("type", { required: true });
    if (type !== "function") throw unsupportedParameter(`${tool.path("type")}`, `tools of type '${type}' are not supported by this server's realtime sessions`);
    // The realtime tool is flat: its name, description and parameters sit beside `type`.
    const fields = new FieldReader(Object.fromEntries(Object.entries(tool.obj).filter(([k]) => k !== "type")), tool.path("").replace(/\.$/, ""));
    return readFunctionDefinition(fields, false);
  });
}

function readToolChoice(reader: FieldReader): ToolChoice | undefined {
  const raw = reader.obj.tool_choice;
  if (raw === undefined || raw === null) return undefined;
  if (raw === "auto" || raw === "none" || raw === "required") return raw;
  const choice = reader.object("tool_choice");
  if (choice === undefined) throw invalidValue("tool_choice", String(raw), ["auto", "none", "required"]);
  choice.rejectUnknown(new Set(["type", "name"]));
  choice.enumeration("type", ["function"] as const, { required: true });
  return { name: choice.string("name", { required: true }) };
}

function readMaxTokens(reader: FieldReader, key: string): number | "inf" | undefined {
  const raw = reader.obj[key];
  if (raw === undefined || raw === null) return undefined;
  if (raw === "inf") return "inf";
  return reader.number(key, { integer: true, min: 1, max: 4096 });
}

function readResponseOverrides(response: FieldReader | undefined): ResponseOverrides {
  if (response === undefined) return { instructions: undefined, outputModalities: undefined, conversation: "auto", maxOutputTokens: undefined, tools: undefined, toolChoice: undefined, metadata: undefined };
  response.rejectUnknown(new Set(["instructions", "output_modalities", "conversation", "max_output_tokens", "tools", "tool_choice", "metadata", "audio", "input", "prompt"]));
  for (const key of ["input", "prompt"]) if (response.has(key)) throw unsupportedParameter(response.path(key), "is not supported by this server's realtime sessions");
  const conversation = response.obj.conversation;
  if (conversation !== undefined && conversation !== null && conversation !== "auto" && conversation !== "none") throw invalidValue(response.path("conversation"), String(conversation), ["auto", "none"]);
  const metadata = response.object("metadata");
  return {
    instructions: response.string("instructions"),
    outputModalities: readModalities(response, "output_modalities"),
    conversation: conversation === "none" ? "none" : "auto",
    maxOutputTokens: readMaxTokens(response, "max_output_tokens"),
    tools: readTools(response),
    toolChoice: readToolChoice(response),
    metadata: metadata === undefined ? undefined : Object.fromEntries(Object.entries(metadata.obj).map(([k, v]) => [k, String(v)])),
  };
}

function readFormat(reader: FieldReader | undefined): RealtimeAudioFormat | undefined {
  if (reader === undefined) return undefined;
  reader.rejectUnknown(new Set(["type", "rate"]));
  const type = must(reader.enumeration("type", ["audio/pcm", "audio/pcmu", "audio/pcma"] as const, { required: true }));
  if (type === "audio/pcm") {
    const rate = reader.number("rate", { integer: true });
    if (rate !== undefined && rate !== 24_000) throw invalidValue(reader.path("rate"), String(rate), ["24000"]);
    return "pcm";
  }
  return type === "audio/pcmu" ? "pcmu" : "pcma";
}

function readTurnDetection(reader: FieldReader, current: TurnDetection | null): TurnDetection | null {
  if (reader.obj.turn_detection === null) return null;
  const turn = reader.object("turn_detection");
  if (turn === undefined) return current;
  turn.rejectUnknown(new Set(["type", "threshold", "prefix_padding_ms", "silence_duration_ms", "create_response", "interrupt_response", "idle_timeout_ms", "eagerness"]));
  const type = turn.enumeration("type", ["server_vad", "semantic_vad"] as const) ?? "server_vad";
  const eagerness = turn.enumeration("eagerness", ["low", "medium", "high", "auto"] as const) ?? "auto";
  // Semantic VAD, approximated: the pause that ends a turn grows as eagerness falls.
  const semanticSilence = { low: 1200, medium: 800, high: 400, auto: 800 }[eagerness];
  return {
    type,
    threshold: turn.number("threshold", { min: 0, max: 1 }) ?? 0.5,
    prefixPaddingMs: turn.number("prefix_padding_ms", { integer: true, min: 0 }) ?? 300,
    silenceDurationMs: turn.number("silence_duration_ms", { integer: true, min: 0 }) ?? (type === "semantic_vad" ? semanticSilence : 500),
    createResponse: turn.boolean("create_response") ?? true,
    interruptResponse: turn.boolean("interrupt_response") ?? true,
    idleTimeoutMs: turn.number("idle_timeout_ms", { integer: true, min: 5000, max: 30000 }) ?? null,
    eagerness,
  };
}

/**
 * Applies a `session.update` (GA shape: `output_modalities`, `audio.input` / `audio.output`) to the
 * current configuration; only the fields present change. 400s name the field under `session.`.
 */
export function applySessionUpdate(current: RealtimeConfig, session: FieldReader, voiceLocked: boolean): RealtimeConfig {
  const type = session.enumeration("type", ["realtime", "transcription"] as const) ?? current.type;
  if (type === "transcription") {
    // A transcription session has only input audio: the fields of a realtime session are unknown to it.
    session.rejectUnknown(new Set(["type", "audio", "include", "object", "id", "expires_at"]));
    session.object("audio")?.rejectUnknown(new Set(["input"]));
  }
  session.rejectUnknown(new Set(["type", "model", "output_modalities", "instructions", "audio", "include", "tracing", "tools", "tool_choice", "max_output_tokens", "truncation", "prompt", "object", "id", "expires_at", "temperature"]));
  for (const key of ["prompt", "tracing"]) if (session.has(key)) throw unsupportedParameter(session.path(key), "is not supported by this server's realtime sessions");
  const next: RealtimeConfig = { ...current, type };
  const include = session.array("include");
  include?.forEach((v, i) => {
    if (v !== "item.input_audio_transcription.logprobs") throw invalidValue(`${session.path("include")}[${i}]`, String(v), ["item.input_audio_transcription.logprobs"]);
  });
  // As /v1/audio/transcriptions: PocketSphinx scores words by posterior, it has no token logprobs to give.
  if (include !== undefined && include.length > 0) throw unsupportedParameter(session.path("include"), "is not supported by this server's speech recognizers: PocketSphinx gives word confidences, not token logprobs");
  // A transcription session transcribes: it starts with the default recognizer on.
  if (type === "transcription" && current.type !== "transcription" && next.transcription === null) next.transcription = { model: "whisper-1", language: undefined, prompt: undefined };
  next.outputModalities = readModalities(session, "output_modalities") ?? current.outputModalities;
  next.instructions = session.string("instructions") ?? current.instructions;
  next.tools = readTools(session) ?? current.tools;
  next.toolChoice = readToolChoice(session) ?? current.toolChoice;
  next.maxOutputTokens = readMaxTokens(session, "max_output_tokens") ?? current.maxOutputTokens;
  next.temperature = session.number("temperature", { min: 0.6, max: 1.2 }) ?? current.temperature;
  const audio = session.object("audio");
  if (audio !== undefined) {
    audio.rejectUnknown(new Set(["input", "output"]));
    const input = audio.object("input");
    if (input !== undefined) {
      input.rejectUnknown(new Set(["format", "transcription", "noise_reduction", "turn_detection"]));
      next.inputFormat = readFormat(input.object("format")) ?? current.inputFormat;
      if (input.obj.transcription === null) next.transcription = null;
      else {
        const t = input.object("transcription");
        if (t !== undefined) {
          t.rejectUnknown(new Set(["model", "language", "prompt"]));
          next.transcription = { model: t.string("model") ?? "whisper-1", language: t.string("language"), prompt: t.string("prompt") };
        }
      }
      if (input.obj.noise_reduction === null) next.noiseReduction = null;
      else {
        const noise = input.object("noise_reduction");
        if (noise !== undefined) {
          noise.rejectUnknown(new Set(["type"]));
          next.noiseReduction = must(noise.enumeration("type", ["near_field", "far_field"] as const, { required: true }));
        }
      }
      next.turnDetection = readTurnDetection(input, current.turnDetection);
    }
    const output = audio.object("output");
    if (output !== undefined) {
      output.rejectUnknown(new Set(["format", "voice", "speed"]));
      next.outputFormat = readFormat(output.object("format")) ?? current.outputFormat;
      if (output.has("voice")) {
        if (voiceLocked) throw invalidRequest("The voice cannot be changed once the session has spoken.", output.path("voice"), "invalid_value");
        next.voice = readVoice(output.obj.voice, output.path("voice"));
      }
      next.speed = output.number("speed", { min: 0.25, max: 1.5 }) ?? current.speed;
    }
  }
  return next;
}

function renderFormat(format: RealtimeAudioFormat): Record<string, unknown> {
  return format === "pcm" ? { type: "audio/pcm", rate: 24_000 } : { type: `audio/${format}` };
}

function renderTool(tool: ToolDefinition): Record<string, unknown> {
  return { type: "function", name: tool.name, description: tool.description ?? "", parameters: tool.wireParameters };
}

/** A GA session's `audio.input`. */
function renderInput(c: RealtimeConfig): Record<string, unknown> {
  const turn = c.turnDetection;
  return {
    format: renderFormat(c.inputFormat),
    // Off is left out: the GA session schema has no null for these.
    ...(c.transcription === null ? {} : { transcription: { model: c.transcription.model, ...(c.transcription.language ? { language: c.transcription.language } : {}), ...(c.transcription.prompt ? { prompt: c.transcription.prompt } : {}) } }),
    ...(c.noiseReduction === null ? {} : { noise_reduction: { type: c.noiseReduction } }),
    turn_detection:
      turn === null
        ? null
        : turn.type === "semantic_vad"
          ? { type: "semantic_vad", eagerness: turn.eagerness, create_response: turn.createResponse, interrupt_response: turn.interruptResponse }
          : { type: "server_vad", threshold: turn.threshold, prefix_padding_ms: turn.prefixPaddingMs, silence_duration_ms: turn.silenceDurationMs, create_response: turn.createResponse, interrupt_response: turn.interruptResponse, idle_timeout_ms: turn.idleTimeoutMs },
  };
}

/** The GA session object of `session.created` / `session.updated`: a realtime or a transcription session. */
export function renderSession(id: string, model: string, expiresAt: number, c: RealtimeConfig): Record<string, unknown> {
  if (c.type === "transcription") return { type: "transcription", object: "realtime.transcription_session", id, expires_at: expiresAt, include: [], audio: { input: renderInput(c) } };
  return {
    type: "realtime",
    object: "realtime.session",
    id,
    model,
    expires_at: expiresAt,
    output_modalities: c.outputModalities,
    instructions: c.instructions,
    include: [],
    audio: {
      input: renderInput(c),
      output: { format: renderFormat(c.outputFormat), voice: "name" in c.voice ? c.voice.name : c.voice.id, speed: c.speed },
    },
    tools: c.tools.map(renderTool),
    tool_choice: typeof c.toolChoice === "string" ? c.toolChoice : { type: "function", name: c.toolChoice.name },
    max_output_tokens: c.maxOutputTokens,
    tracing: null,
    truncation: "auto",
    prompt: null,
  };
}

/** Content of a conversation item as a session keeps it. */
export type RealtimeContent =
  | { type: "input_text"; text: string }
  | { type: "input_audio"; transcript: string | null }
  | { type: "output_text"; text: string }
  | { type: "output_audio"; transcript: string };

/** A conversation item as a session keeps it. */
export interface RealtimeItem {
  id: string;
  type: "message" | "function_call" | "function_call_output";
  role?: "user" | "assistant" | "system";
  status: "completed" | "incomplete" | "in_progress";
  content: RealtimeContent[];
  callId?: string;
  name?: string;
  arguments?: string;
  output?: string;
}

/** A `realtime.item`. */
export function renderRealtimeItem(item: RealtimeItem): Record<string, unknown> {
  const base = { id: item.id, object: "realtime.item", type: item.type, status: item.status };
  if (item.type === "function_call") return { ...base, call_id: item.callId, name: item.name, arguments: item.arguments ?? "" };
  if (item.type === "function_call_output") return { ...base, call_id: item.callId, output: item.output ?? "" };
  // A transcript not made yet is left out: the schema has no null for it.
  return { ...base, role: item.role, content: item.content.map((c) => (c.type === "input_audio" && c.transcript === null ? { type: c.type } : { ...c })) };
}

/** A `realtime.response`; `status_details` and `usage` are left out until there are some. */
export function renderRealtimeResponse(r: {
  id: string;
  status: string;
  details: Record<string, unknown> | null;
  output: readonly RealtimeItem[];
  conversationId: string | null;
  modalities: readonly string[];
  maxOutputTokens: number | "inf";
  format: RealtimeAudioFormat;
  voice: VoiceChoice;
  metadata: Record<string, string> | null;
  usage: Record<string, unknown> | null;
}): Record<string, unknown> {
  return {
    id: r.id,
    object: "realtime.response",
    status: r.status,
    ...(r.details === null ? {} : { status_details: r.details }),
    output: r.output.map(renderRealtimeItem),
    conversation_id: r.conversationId,
    output_modalities: r.modalities,
    max_output_tokens: r.maxOutputTokens,
    audio: { output: { format: renderFormat(r.format), voice: "name" in r.voice ? r.voice.name : r.voice.id } },
    metadata: r.metadata,
    ...(r.usage === null ? {} : { usage: r.usage }),
  };
}
