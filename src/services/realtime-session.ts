import { audioInputTokens, audioOutputTokens, transcriptText } from "../core/audio.ts";
import type { ChatMessage, ChatRequest, ToolCall, Usage } from "../core/chat.ts";
import { ApiError, toApiError } from "../core/errors.ts";
import { prefixedId, unixSeconds } from "../core/ids.ts";
import {
  applySessionUpdate,
  clientEventId,
  defaultRealtimeConfig,
  parseRealtimeClientEvent,
  renderRealtimeItem as renderItem,
  renderRealtimeResponse,
  renderSession,
  type NewRealtimeItem,
  type RealtimeContent as Content,
  type RealtimeItem as Item,
  type RealtimeAudioFormat,
  type RealtimeClientEvent,
  type RealtimeConfig,
  type ResponseOverrides,
} from "../protocol/openai/realtime.ts";
import { decodeAlaw, decodeMulaw, encodeAlaw, encodeMulaw } from "../providers/audio/g711.ts";
import { resample } from "../providers/audio/pcm.ts";
import type { ChatModel, LiveTranscription } from "../providers/provider.ts";
import type { AudioService } from "./audio-service.ts";
import type { ChatService } from "./chat-service.ts";
import { REALTIME_RATE as SAMPLE_RATE, RealtimeInput } from "./realtime-input.ts";

/** What a session needs from the server around it. */
export interface RealtimeDeps {
  chat: ChatService;
  /** The session's project, whose guardrails its responses run. */
  projectId: string;
  audio: AudioService;
  /** The models that speak and hear (as for chat audio). */
  speechModel: string;
  transcriptionModel: string;
  /** Admits one response against the key's limits and budget; its `finish` reconciles the tokens. */
  admit(model: ChatModel, estimatedTokens: number): Promise<{ headers: Record<string, string>; finish(usage: Usage | undefined): Promise<void> }>;
  /** Records one response's usage, or with `transcription` one turn of a transcription session. */
  meter(model: ChatModel, usage: Usage, latencyMs: number, transcription?: boolean): void;
  /** Seconds a session may last. */
  maxSessionSeconds: number;
  /** Most bytes of input audio held uncommitted. */
  maxBufferBytes: number;
}

/** Decodes appended audio in the session's format to 24 kHz PCM. */
function decodeInput(bytes: Buffer, format: RealtimeAudioFormat): Int16Array {
  if (format === "pcm") return new Int16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length - (bytes.length % 2)));
  const narrow = format === "pcmu" ? decodeMulaw(bytes) : decodeAlaw(bytes);
  return resample({ samples: narrow, sampleRate: 8000 }, SAMPLE_RATE).samples;
}

/** 24 kHz PCM bytes to the session's output format. */
function encodeOutput(pcm: Buffer, format: RealtimeAudioFormat): Buffer {
  if (format === "pcm") return pcm;
  const samples = new Int16Array(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.length - (pcm.length % 2)));
  const narrow = resample({ samples, sampleRate: SAMPLE_RATE }, 8000).samples;
  return format === "pcmu" ? encodeMulaw(narrow) : encodeAlaw(narrow);
}

/** `x-ratelimit-*` headers as `rate_limits.updated` lists them. */
function rateLimitsOf(headers: Record<string, string>): Record<string, unknown>[] {
  const seconds = (reset: string | undefined): number => {
    // "1h2m3s", "5s" or "250ms", as the headers write it.
    let total = 0;
    for (const [, n, unit] of (reset ?? "").matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) total += Number(n) * ({ ms: 0.001, h: 3600, m: 60, s: 1 }[unit as "ms"] ?? 0);
    return total;
  };
  return (["requests", "tokens"] as const).flatMap((name) => {
    const limit = headers[`x-ratelimit-limit-${name}`];
    if (limit === undefined) return [];
    return [{ name, limit: Number(limit), remaining: Number(headers[`x-ratelimit-remaining-${name}`] ?? 0), reset_seconds: seconds(headers[`x-ratelimit-reset-${name}`]) }];
  });
}

/**
 * Where to cut `text` for speech (the index of the last character to speak; not yet when ≤ 0): after
 * the last finished sentence, or for the `first` words of an answer also after a clause or eight words.
 */
export function speechCut(text: string, first: boolean): number {
  const sentence = Math.max(text.lastIndexOf(". "), text.lastIndexOf("! "), text.lastIndexOf("? "), text.lastIndexOf("\n"));
  if (sentence > 0 || !first) return sentence;
  const clause = Math.max(text.lastIndexOf(", "), text.lastIndexOf("; "), text.lastIndexOf(": "));
  if (clause > 0) return clause;
  const words = [...text.matchAll(/\S+\s/g)];
  return words.length >= 8 ? (words[7]!.index ?? 0) + words[7]![0].length - 1 : 0;
}

/** A response being generated. */
interface ActiveResponse {
  id: string;
  abort: AbortController;
  done: Promise<void>;
  /** The assistant item being spoken, for truncation on barge-in. */
  item: Item | undefined;
}

/**
 * One Realtime API session (GA protocol) on any chat model, free of sockets: client events in
 * (`handle`), server events out (`send`). Audio appended is watched by libfvad for turns (server
 * VAD), each committed turn is transcribed by the built-in recognizer and the model reads the
 * conversation as text; its answer streams as text, or as a transcript with speech made sentence
 * by sentence. Speech starting while an answer plays cancels it (barge-in).
 */
export class RealtimeSession {
  readonly #model: ChatModel;
  readonly #deps: RealtimeDeps;
  readonly #send: (event: Record<string, unknown>) => void;
  readonly #id = prefixedId("sess_", 24);
  readonly #expiresAt: number;
  #config: RealtimeConfig = defaultRealtimeConfig();
  readonly #items: Item[] = [];
  readonly #input: RealtimeInput;
  #response: ActiveResponse | undefined;
  #spoken = false;
  /** Transcriptions of committed turns still running: a response waits for them. */
  #hearing: Promise<void> = Promise.resolve();
  /** Client events are handled one at a time, in order. */
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  /** Aborted on close: transcriptions still running stop with the session. */
  readonly #closing = new AbortController();
  /** Seconds of user audio heard since the last response, counted into its usage. */
  #pendingAudioSeconds = 0;

  /** `config`: the session an ephemeral secret was made for, else the defaults. */
  constructor(model: ChatModel, deps: RealtimeDeps, send: (event: Record<string, unknown>) => void, config?: RealtimeConfig) {
    this.#model = model;
    if (config !== undefined) this.#config = config;
    this.#deps = deps;
    this.#send = send;
    this.#expiresAt = unixSeconds() + deps.maxSessionSeconds;
    this.#input = new RealtimeInput(deps.maxBufferBytes, {
      speechStarted: (itemId, startMs) => this.#startSpeech(itemId, startMs),
      speechStopped: (itemId, endMs) => this.#stopSpeech(itemId, endMs),
      idleTimeout: (startMs, endMs) => this.#idle(startMs, endMs),
      listen: () => this.#listen(),
    });
  }

  /** Opens the session: `session.created` with the defaults. */
  start(): void {
    this.#emit({ type: "session.created", session: this.#session() });
  }

  /** One client message (a WebSocket text frame); answered in order, problems as `error` events. */
  handle(text: string): Promise<void> {
    this.#queue = this.#queue.then(() => this.#handle(text));
    return this.#queue;
  }

  /** Ends the session: cancels a response under way and frees the detector. */
  close(): void {
    this.#closed = true;
    this.#closing.abort(new Error("session closed"));
    this.#response?.abort.abort(new Error("session closed"));
    this.#input.dispose();
  }

  #emit(event: Record<string, unknown>): void {
    if (!this.#closed) this.#send({ event_id: prefixedId("event_", 22), ...event });
  }

  #error(error: unknown, eventId: string | undefined): void {
    const e = toApiError(error);
    this.#emit({ type: "error", error: { type: e.type, code: e.code, message: e.message, param: e.param, event_id: eventId ?? null } });
  }

  #session(): Record<string, unknown> {
    return renderSession(this.#id, this.#model.descriptor.id, this.#expiresAt, this.#config);
  }

  async #handle(text: string): Promise<void> {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      this.#error(new ApiError(400, "The message is not valid JSON.", { type: "invalid_request_error", code: "invalid_json" }), undefined);
      return;
    }
    const eventId = clientEventId(raw);
    try {
      await this.#dispatch(parseRealtimeClientEvent(raw));
    } catch (error) {
      this.#error(error, eventId);
    }
  }

  async #dispatch(event: RealtimeClientEvent): Promise<void> {
    switch (event.type) {
      case "session.update":
        this.#config = applySessionUpdate(this.#config, event.session, this.#spoken);
        this.#emit({ type: "session.updated", session: this.#session() });
        return;
      case "input_audio_buffer.append":
        await this.#input.append(decodeInput(event.audio, this.#config.inputFormat), this.#config);
        return;
      case "input_audio_buffer.commit":
        this.#commit(this.#input.speechItemId ?? prefixedId("item_", 22));
        return;
      case "input_audio_buffer.clear":
        this.#input.clear();
        this.#emit({ type: "input_audio_buffer.cleared" });
        return;
      case "output_audio_buffer.clear":
        // Audio goes out as it is made over this socket; there is no server-side playback buffer to clear.
        this.#emit({ type: "output_audio_buffer.cleared", response_id: this.#response?.id ?? null });
        return;
      case "conversation.item.create":
        this.#create(event.item, event.previousItemId);
        return;
      case "conversation.item.retrieve":
        this.#emit({ type: "conversation.item.retrieved", item: renderItem(this.#find(event.itemId)) });
        return;
      case "conversation.item.delete": {
        const item = this.#find(event.itemId);
        this.#items.splice(this.#items.indexOf(item), 1);
        this.#emit({ type: "conversation.item.deleted", item_id: item.id });
        return;
      }
      case "conversation.item.truncate": {
        const item = this.#find(event.itemId);
        const part = item.content[event.contentIndex];
        if (item.role !== "assistant" || part?.type !== "output_audio") throw new ApiError(400, `Item '${item.id}' has no audio at content_index ${event.contentIndex}.`, { type: "invalid_request_error", code: "invalid_value", param: "content_index" });
        // Speech runs at about 15 characters a second: the transcript is cut where the listener stopped hearing.
        part.transcript = part.transcript.slice(0, Math.round((event.audioEndMs / 1000) * 15));
        this.#emit({ type: "conversation.item.truncated", item_id: item.id, content_index: event.contentIndex, audio_end_ms: event.audioEndMs });
        return;
      }
      case "response.create":
        if (this.#config.type === "transcription") {
          throw new ApiError(400, "Transcription sessions make no responses; use a session of type 'realtime'.", { type: "invalid_request_error", code: "invalid_value", param: "type" });
        }
        if (this.#response !== undefined) {
          throw new ApiError(400, `Conversation already has an active response in progress: ${this.#response.id}. Wait until the response is finished before creating a new one.`, { type: "invalid_request_error", code: "conversation_already_has_active_response" });
        }
        this.#respond(event.response);
        return;
      case "response.cancel":
        if (this.#response === undefined || (event.responseId !== undefined && event.responseId !== this.#response.id)) {
          throw new ApiError(400, "Cancellation failed: no active response found.", { type: "invalid_request_error", code: "response_cancel_not_active" });
        }
        this.#response.abort.abort(new Error("cancelled"));
        await this.#response.done;
        return;
    }
  }

  #find(id: string): Item {
    const item = this.#items.find((i) => i.id === id);
    if (item === undefined) throw new ApiError(400, `Item with item_id not found: ${id}`, { type: "invalid_request_error", code: "item_not_found", param: "item_id" });
    return item;
  }

  #create(item: NewRealtimeItem, previousItemId: string | undefined): void {
    if (item.id !== undefined && this.#items.some((i) => i.id === item.id)) {
      throw new ApiError(400, `Item with id '${item.id}' already exists.`, { type: "invalid_request_error", code: "item_id_exists", param: "item.id" });
    }
    const id = item.id ?? prefixedId("item_", 22);
    let stored: Item;
    if (item.type === "function_call") stored = { id, type: item.type, status: "completed", content: [], callId: item.callId, name: item.name, arguments: item.arguments };
    else if (item.type === "function_call_output") stored = { id, type: item.type, status: "completed", content: [], callId: item.callId, output: item.output };
    else if (item.role === "assistant") stored = { id, type: "message", role: "assistant", status: "completed", content: item.content.map((c) => (c.type === "output_text" ? { type: "output_text", text: c.text } : { type: "output_audio", transcript: c.text })) };
    else {
      stored = { id, type: "message", role: item.role, status: "completed", content: [] };
      for (const c of item.content) {
        if (c.type === "input_text") stored.content.push({ type: "input_text", text: c.text });
        else {
          const content: Content = { type: "input_audio", transcript: c.transcript };
          stored.content.push(content);
          if (c.transcript === null && c.audio !== undefined) this.#hear(stored, content, decodeInput(c.audio, this.#config.inputFormat), stored.content.length - 1);
        }
      }
    }
    const at = previousItemId === undefined ? this.#items.length : this.#items.findIndex((i) => i.id === previousItemId) + 1;
    if (at === 0 && previousItemId !== undefined && previousItemId !== "root") throw new ApiError(400, `Item with id '${previousItemId}' not found.`, { type: "invalid_request_error", code: "item_not_found", param: "previous_item_id" });
    this.#items.splice(at, 0, stored);
    this.#emit({ type: "conversation.item.added", previous_item_id: this.#items[at - 1]?.id ?? null, item: renderItem(stored) });
    this.#emit({ type: "conversation.item.done", previous_item_id: this.#items[at - 1]?.id ?? null, item: renderItem(stored) });
  }

  #startSpeech(itemId: string, startMs: number): void {
    this.#emit({ type: "input_audio_buffer.speech_started", audio_start_ms: Math.round(startMs), item_id: itemId });
    const turn = this.#config.turnDetection;
    // Barge-in: the listener spoke over the answer.
    if (this.#response !== undefined && turn?.interruptResponse) this.#response.abort.abort(new Error("interrupted"));
  }

  /** The listener said nothing for `idle_timeout_ms`: the silence is committed and answered. */
  #idle(startMs: number, endMs: number): void {
    const itemId = prefixedId("item_", 22);
    this.#emit({ type: "input_audio_buffer.timeout_triggered", audio_start_ms: Math.round(startMs), audio_end_ms: Math.round(endMs), item_id: itemId });
    try {
      this.#commit(itemId);
    } catch {
      // Less than 100 ms held (no prefix padding): the response reads the conversation as it is.
    }
    if (this.#response === undefined && this.#config.type === "realtime") this.#respond(undefined);
  }

  /** A live recognition for the turn now spoken, where the transcription model has one. */
  #listen(): LiveTranscription | undefined {
    try {
      const listener = this.#deps.audio.listener(this.#deps.transcriptionModel, "audio");
      return this.#deps.audio.recognizeLive(listener, SAMPLE_RATE, this.#config.transcription?.language, this.#closing.signal);
    } catch {
      // No recognizer: the committed turn reports the failure as it is transcribed.
      return undefined;
    }
  }

  #stopSpeech(itemId: string, endMs: number): void {
    this.#emit({ type: "input_audio_buffer.speech_stopped", audio_end_ms: Math.round(endMs), item_id: itemId });
    this.#commit(itemId);
    if (!this.#config.turnDetection?.createResponse || this.#config.type === "transcription") return;
    const previous = this.#response;
    if (previous === undefined) this.#respond(undefined);
    // An answer this turn interrupted is still winding down: answer the turn once it has.
    else if (previous.abort.signal.aborted) void previous.done.then(() => this.#response === undefined && !this.#closed && this.#respond(undefined));
  }

  /** Commits the buffer as a user audio item; its transcript follows. */
  #commit(itemId: string): void {
    const { pcm, live } = this.#input.commit();
    const previous = this.#items.at(-1)?.id ?? null;
    const content: Content = { type: "input_audio", transcript: null };
    const item: Item = { id: itemId, type: "message", role: "user", status: "completed", content: [content] };
    this.#items.push(item);
    this.#emit({ type: "input_audio_buffer.committed", previous_item_id: previous, item_id: itemId });
    this.#emit({ type: "conversation.item.added", previous_item_id: previous, item: renderItem(item) });
    this.#hear(item, content, pcm, 0, previous, live);
  }

  /**
   * Transcribes a user item's audio in the background (finishing `live`, the recognition fed while
   * the turn was spoken, where there is one); a response waits for it. A transcription session
   * admits and meters each turn as `/audio/transcriptions` would; a realtime session counts the
   * audio into its next response.
   */
  #hear(item: Item, content: Content & { type: "input_audio" }, pcm: Int16Array, index: number, previous?: string | null, live?: LiveTranscription): void {
    const seconds = pcm.length / SAMPLE_RATE;
    const transcribing = this.#config.type === "transcription";
    const run = async (): Promise<void> => {
      try {
        const listener = this.#deps.audio.listener(this.#deps.transcriptionModel, "audio");
        const started = performance.now();
        const admission = transcribing ? await this.#deps.admit(listener, 0) : undefined;
        const heard = live !== undefined ? await live.end() : await this.#deps.audio.recognize(listener, { samples: pcm, sampleRate: SAMPLE_RATE }, this.#config.transcription?.language, this.#closing.signal);
        const transcript = transcriptText(heard);
        content.transcript = transcript;
        if (admission !== undefined) {
          const usage: Usage = { promptTokens: Math.ceil(seconds), completionTokens: 0, cachedTokens: 0, reasoningTokens: 0, audioSeconds: seconds };
          await admission.finish(usage).catch(() => undefined);
          this.#deps.meter(listener, usage, performance.now() - started, true);
        }
        if (this.#config.transcription !== null) {
          this.#emit({ type: "conversation.item.input_audio_transcription.delta", item_id: item.id, content_index: index, delta: transcript });
          this.#emit({ type: "conversation.item.input_audio_transcription.completed", item_id: item.id, content_index: index, transcript, usage: { type: "duration", seconds: Math.ceil(seconds) } });
        }
      } catch (error) {
        live?.cancel();
        content.transcript = "";
        const e = toApiError(error);
        this.#emit({ type: "conversation.item.input_audio_transcription.failed", item_id: item.id, content_index: index, error: { type: e.type, code: e.code, message: e.message, param: e.param } });
      }
      if (previous !== undefined) this.#emit({ type: "conversation.item.done", previous_item_id: previous, item: renderItem(item) });
      if (!transcribing) this.#pendingAudioSeconds += seconds;
    };
    this.#hearing = this.#hearing.then(run);
  }

  /** The conversation as chat messages: audio by its transcript, calls and their outputs as tool turns. */
  #messages(instructions: string): ChatMessage[] {
    const messages: ChatMessage[] = instructions === "" ? [] : [{ role: "system", content: instructions }];
    for (const item of this.#items) {
      if (item.type === "function_call") {
        const call: ToolCall = { id: item.callId ?? item.id, name: item.name ?? "", arguments: item.arguments ?? "" };
        const last = messages.at(-1);
        if (last?.role === "assistant") messages[messages.length - 1] = { ...last, toolCalls: [...last.toolCalls, call] };
        else messages.push({ role: "assistant", content: "", toolCalls: [call] });
        continue;
      }
      if (item.type === "function_call_output") {
        messages.push({ role: "tool", content: item.output ?? "", toolCallId: item.callId ?? "" });
        continue;
      }
      const text = item.content
        .map((c) => (c.type === "input_text" || c.type === "output_text" ? c.text : c.transcript ?? ""))
        .filter((t) => t !== "")
        .join("\n");
      if (item.role === "system") messages.push({ role: "system", content: text });
      else if (item.role === "assistant") messages.push({ role: "assistant", content: text, toolCalls: [] });
      else messages.push({ role: "user", content: text, parts: [{ type: "text", text }] });
    }
    return messages;
  }

  #respond(overrides: ResponseOverrides | undefined): void {
    const abort = new AbortController();
    const id = prefixedId("resp_", 22);
    const active: ActiveResponse = { id, abort, done: Promise.resolve(), item: undefined };
    this.#response = active;
    active.done = this.#generate(active, overrides).finally(() => {
      if (this.#response === active) this.#response = undefined;
    });
  }

  async #generate(active: ActiveResponse, overrides: ResponseOverrides | undefined): Promise<void> {
    const started = performance.now();
    const modalities = overrides?.outputModalities ?? this.#config.outputModalities;
    const audio = modalities.includes("audio");
    const inConversation = overrides?.conversation !== "none";
    const output: Item[] = [];
    const response = (status: string, usage: Record<string, unknown> | null, details: Record<string, unknown> | null = null): Record<string, unknown> =>
      renderRealtimeResponse({
        id: active.id,
        status,
        details,
        output,
        conversationId: inConversation ? "conv_" + this.#id.slice(5) : null,
        modalities,
        maxOutputTokens: overrides?.maxOutputTokens ?? this.#config.maxOutputTokens,
        format: this.#config.outputFormat,
        voice: this.#config.voice,
        metadata: overrides?.metadata ?? null,
        usage,
      });
    this.#emit({ type: "response.created", response: response("in_progress", null) });
    let usage: Usage | undefined;
    let parts: AsyncIterator<unknown> | undefined;
    let admission: { finish(usage: Usage | undefined): Promise<void> } | undefined;
    let spokenSeconds = 0;
    let heardSeconds = 0;
    let status = "completed";
    let details: Record<string, unknown> | null = null;
    try {
      await this.#hearing;
      heardSeconds = this.#pendingAudioSeconds;
      this.#pendingAudioSeconds = 0;
      const maxTokens = overrides?.maxOutputTokens ?? this.#config.maxOutputTokens;
      const request: ChatRequest = {
        model: this.#model.descriptor.id,
        messages: this.#messages(overrides?.instructions ?? this.#config.instructions),
        sampling: { temperature: this.#config.temperature, topP: 1, seed: undefined, presencePenalty: 0, frequencyPenalty: 0, logitBias: new Map() },
        maxTokens: maxTokens === "inf" ? undefined : maxTokens,
        stop: [],
        n: 1,
        tools: overrides?.tools ?? this.#config.tools,
        toolChoice: overrides?.toolChoice ?? this.#config.toolChoice,
        parallelToolCalls: true,
        responseFormat: { type: "text" },
        topLogprobs: undefined,
        reasoningEffort: undefined,
        priority: "interactive",
      };
      const admitted = await this.#deps.admit(this.#model, 0);
      admission = admitted;
      const limits = rateLimitsOf(admitted.headers);
      if (limits.length > 0) this.#emit({ type: "rate_limits.updated", rate_limits: limits });
      const speaker = audio ? this.#deps.audio.speaker(this.#deps.speechModel, "pcm", "audio.output.voice") : undefined;
      const run = await this.#deps.chat.start(request, active.abort.signal, (u) => (usage = u), { projectId: this.#deps.projectId });
      parts = run.parts;
      let message: Item | undefined;
      let text = "";
      let unspoken = "";
      let spokeAny = false;
      const calls = new Map<number, Item>();
      const speak = async (sentence: string): Promise<void> => {
        if (speaker === undefined || message === undefined || sentence.trim() === "") return;
        const speech = await this.#deps.audio.synthesize(speaker, { model: speaker.descriptor.id, input: sentence, voice: this.#config.voice, instructions: undefined, speed: this.#config.speed, format: "pcm", streamFormat: "audio" }, active.abort.signal);
        for await (const bytes of speech.bytes) {
          if (active.abort.signal.aborted) return;
          this.#emit({ type: "response.output_audio.delta", response_id: active.id, item_id: message.id, output_index: output.indexOf(message), content_index: 0, delta: encodeOutput(bytes, this.#config.outputFormat).toString("base64") });
        }
        spokenSeconds += speech.seconds();
        this.#spoken = true;
        // What has been spoken is what the conversation keeps if the listener interrupts.
        const part = message.content[0];
        if (part?.type === "output_audio") part.transcript = (part.transcript + " " + sentence).trim();
      };
      const stopIfCancelled = (): void => {
        // A cancel or barge-in ends the answer here, whether or not the model noticed.
        if (active.abort.signal.aborted) throw active.abort.signal.reason;
      };
      for (let step = run.first; !step.done; step = await run.parts.next()) {
        stopIfCancelled();
        const part = step.value;
        if (part.type === "text-delta" && part.text !== "") {
          if (message === undefined) {
            message = { id: prefixedId("item_", 22), type: "message", role: "assistant", status: "in_progress", content: [audio ? { type: "output_audio", transcript: "" } : { type: "output_text", text: "" }] };
            active.item = message;
            output.push(message);
            this.#emit({ type: "response.output_item.added", response_id: active.id, output_index: output.length - 1, item: renderItem(message) });
            if (inConversation) this.#items.push(message);
            if (inConversation) this.#emit({ type: "conversation.item.added", previous_item_id: this.#items.at(-2)?.id ?? null, item: renderItem(message) });
            this.#emit({ type: "response.content_part.added", response_id: active.id, item_id: message.id, output_index: output.length - 1, content_index: 0, part: audio ? { type: "audio", transcript: "" } : { type: "text", text: "" } });
          }
          text += part.text;
          const index = output.indexOf(message);
          if (audio) {
            this.#emit({ type: "response.output_audio_transcript.delta", response_id: active.id, item_id: message.id, output_index: index, content_index: 0, delta: part.text });
            unspoken += part.text;
            // Each finished sentence is spoken while the model goes on; the first words sooner (at
            // a clause, or after eight words), as the time to the first audio is what a listener waits.
            const cut = speechCut(unspoken, !spokeAny);
            if (cut > 0) {
              spokeAny = true;
              const sentence = unspoken.slice(0, cut + 1);
              unspoken = unspoken.slice(cut + 1);
              await speak(sentence);
            }
          } else {
            this.#emit({ type: "response.output_text.delta", response_id: active.id, item_id: message.id, output_index: index, content_index: 0, delta: part.text });
            const c = message.content[0];
            if (c?.type === "output_text") c.text = text;
          }
        } else if (part.type === "tool-call-start") {
          const call: Item = { id: prefixedId("item_", 22), type: "function_call", status: "in_progress", content: [], callId: part.id, name: part.name, arguments: "" };
          calls.set(part.index, call);
          output.push(call);
          this.#emit({ type: "response.output_item.added", response_id: active.id, output_index: output.length - 1, item: renderItem(call) });
          if (inConversation) {
            this.#items.push(call);
            this.#emit({ type: "conversation.item.added", previous_item_id: this.#items.at(-2)?.id ?? null, item: renderItem(call) });
          }
        } else if (part.type === "tool-call-delta") {
          const call = calls.get(part.index);
          if (call === undefined) continue;
          call.arguments = (call.arguments ?? "") + part.arguments;
          this.#emit({ type: "response.function_call_arguments.delta", response_id: active.id, item_id: call.id, output_index: output.indexOf(call), call_id: call.callId, delta: part.arguments });
        }
      }
      stopIfCancelled();
      await speak(unspoken);
      stopIfCancelled();
      if (message !== undefined) {
        const index = output.indexOf(message);
        message.status = "completed";
        if (audio) {
          const c = message.content[0];
          if (c?.type === "output_audio") c.transcript = text;
          this.#emit({ type: "response.output_audio.done", response_id: active.id, item_id: message.id, output_index: index, content_index: 0 });
          this.#emit({ type: "response.output_audio_transcript.done", response_id: active.id, item_id: message.id, output_index: index, content_index: 0, transcript: text });
          this.#emit({ type: "response.content_part.done", response_id: active.id, item_id: message.id, output_index: index, content_index: 0, part: { type: "audio", transcript: text } });
        } else {
          this.#emit({ type: "response.output_text.done", response_id: active.id, item_id: message.id, output_index: index, content_index: 0, text });
          this.#emit({ type: "response.content_part.done", response_id: active.id, item_id: message.id, output_index: index, content_index: 0, part: { type: "text", text } });
        }
        this.#emit({ type: "response.output_item.done", response_id: active.id, output_index: index, item: renderItem(message) });
        if (inConversation) this.#emit({ type: "conversation.item.done", item: renderItem(message) });
      }
      for (const call of calls.values()) {
        call.status = "completed";
        const index = output.indexOf(call);
        this.#emit({ type: "response.function_call_arguments.done", response_id: active.id, item_id: call.id, output_index: index, call_id: call.callId, name: call.name, arguments: call.arguments ?? "" });
        this.#emit({ type: "response.output_item.done", response_id: active.id, output_index: index, item: renderItem(call) });
        if (inConversation) this.#emit({ type: "conversation.item.done", item: renderItem(call) });
      }
    } catch (error) {
      // A generation left mid-way (cancelled, interrupted, the socket closed) is ended here, or the
      // engine would keep its sequence while the generator waits to be read.
      await parts?.return?.(undefined).catch(() => undefined);
      if (active.abort.signal.aborted) {
        status = "cancelled";
        details = { type: "cancelled", reason: (active.abort.signal.reason as Error | undefined)?.message === "interrupted" ? "turn_detected" : "client_cancelled" };
        // The interrupted answer keeps what was spoken of it.
        if (active.item !== undefined) active.item.status = "incomplete";
      } else {
        status = "failed";
        const e = toApiError(error);
        details = { type: "failed", error: { type: e.type, code: e.code ?? "server_error" } };
        this.#error(error, undefined);
      }
    }
    const text = usage ?? { promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0 };
    const audioIn = audioInputTokens(heardSeconds);
    const audioOut = audioOutputTokens(spokenSeconds);
    const total: Usage = {
      ...text,
      promptTokens: text.promptTokens + audioIn,
      completionTokens: text.completionTokens + audioOut,
      audioInputTokens: audioIn,
      audioOutputTokens: audioOut,
    };
    await admission?.finish(total).catch(() => undefined);
    this.#deps.meter(this.#model, total, performance.now() - started);
    // idle_timeout_ms counts from when the answer has finished playing.
    if (status === "completed") this.#input.armIdleTimeout(spokenSeconds * 1000);
    this.#emit({
      type: "response.done",
      response: response(status, {
        total_tokens: total.promptTokens + total.completionTokens,
        input_tokens: total.promptTokens,
        output_tokens: total.completionTokens,
        input_token_details: { text_tokens: text.promptTokens, audio_tokens: audioIn, cached_tokens: text.cachedTokens, image_tokens: 0, cached_tokens_details: { text_tokens: text.cachedTokens, audio_tokens: 0, image_tokens: 0 } },
        output_token_details: { text_tokens: text.completionTokens, audio_tokens: audioOut },
      }, details),
    });
  }
}
