import { audioInputTokens, audioOutputTokens, speechFormatOf, transcriptText, type AudioOutputOptions, type SpokenPart } from "../core/audio.ts";
import type { ChatMessage, ChatRequest, ChatStreamPart, ContentPart, Usage } from "../core/chat.ts";
import { ApiError, invalidRequest } from "../core/errors.ts";
import { prefixedId, unixSeconds } from "../core/ids.ts";
import type { ParsedChatCompletionRequest } from "../protocol/openai/chat-completions-parse.ts";
import type { ChatModel } from "../providers/provider.ts";
import type { AudioService } from "./audio-service.ts";

/** Which models hear and speak for chat, and how long spoken answers can be referred back to. */
export interface ChatAudioOptions {
  speechModel: string;
  transcriptionModel: string;
  /** Seconds a spoken answer's id stays usable in later requests (OpenAI: about an hour). */
  retentionSeconds: number;
}

/** A spoken answer, whole: what `message.audio` carries. */
export interface SpokenAnswer {
  id: string;
  data: Buffer;
  expiresAt: number;
  transcript: string;
}

/** A request whose recordings have been transcribed, and the audio tokens that stands for. */
export interface HeardRequest {
  request: ChatRequest;
  audioInputTokens: number;
}

/** Remembered spoken answers are capped, oldest dropped first, so a busy server's memory stays bounded. */
const MAX_REMEMBERED = 20_000;

/**
 * Audio in and out of chat for any text model: `input_audio` parts are transcribed and the transcript
 * is what the model reads; with `modalities: ["text", "audio"]` each choice's text is spoken. Spoken
 * answers are remembered (their transcripts, per project, for `retentionSeconds`) so a later
 * request's assistant message can refer to one by `audio.id`. That memory is in-process: it does not
 * survive a restart, as OpenAI's own audio ids expire.
 */
export class ChatAudio {
  readonly #audio: AudioService;
  readonly #options: ChatAudioOptions;
  readonly #answers = new Map<string, { projectId: string; transcript: string; expiresAt: number }>();

  constructor(audio: AudioService, options: ChatAudioOptions) {
    this.#audio = audio;
    this.#options = options;
  }

  /** Whether a request needs anything from here before its model runs. */
  needsHearing(parsed: ParsedChatCompletionRequest): boolean {
    return parsed.audioInputs.length > 0 || parsed.audioReferences.length > 0;
  }

  /**
   * The speaking model for `output`, checked before any model work: a missing model, a format this
   * server cannot encode or an unknown voice is a 400 naming `audio.…`. `speak()` resolves the voice
   * before it makes any audio, and its chunks are never read here.
   */
  async speaker(output: AudioOutputOptions, signal: AbortSignal): Promise<ChatModel> {
    const model = this.#audio.speaker(this.#options.speechModel, speechFormatOf(output.format), "audio.format");
    try {
      await model.speak(speechRequest(model, ".", output), signal);
    } catch (error) {
      if (error instanceof ApiError && error.param === "voice") throw new ApiError(error.status, error.message.replaceAll("'voice'", "'audio.voice'"), { type: error.type, code: error.code, param: "audio.voice" });
      throw error;
    }
    return model;
  }

  /**
   * The request as its model reads it: each recording replaced by its transcript, each reference to
   * an earlier spoken answer by that answer's transcript. Unknown or expired ids, recordings that do
   * not decode and a server without a transcription model are 400s naming the part.
   */
  async hear(parsed: ParsedChatCompletionRequest, projectId: string, signal: AbortSignal): Promise<HeardRequest> {
    const messages: ChatMessage[] = [...parsed.request.messages];
    let seconds = 0;
    const first = parsed.audioInputs[0];
    const listener = first === undefined ? undefined : this.#audio.listener(this.#options.transcriptionModel, first.param);
    const filled = new Map<number, ContentPart[]>();
    for (const clip of parsed.audioInputs) {
      if (listener === undefined) break;
      const heard = await this.#audio.transcribeClip(listener, clip.data, clip.param, signal);
      seconds += heard.seconds;
      const message = messages[clip.message];
      if (message?.role !== "user") continue;
      const parts = filled.get(clip.message) ?? [...message.parts];
      parts[clip.part] = { type: "text", text: transcriptText(heard.transcript) };
      filled.set(clip.message, parts);
    }
    for (const [index, parts] of filled) {
      // Recordings join the message's text as lines of their own.
      const content = parts.flatMap((p) => (p.type === "text" && p.text !== "" ? [p.text] : [])).join("\n");
      messages[index] = { role: "user", content, parts };
    }
    for (const ref of parsed.audioReferences) {
      const answer = this.#recall(projectId, ref.id);
      if (answer === undefined) throw invalidRequest(`Audio with id '${ref.id}' not found or expired.`, ref.param, "invalid_value");
      const message = messages[ref.message];
      if (message?.role === "assistant" && message.content === "") messages[ref.message] = { ...message, content: answer };
    }
    return { request: { ...parsed.request, messages }, audioInputTokens: audioInputTokens(seconds) };
  }

  /** Speaks `text` whole (a non-streamed answer) and remembers it under `id`. */
  async speakAll(model: ChatModel, id: string, text: string, output: AudioOutputOptions, projectId: string, signal: AbortSignal): Promise<SpokenAnswer & { tokens: number }> {
    const speech = await this.#audio.synthesize(model, speechRequest(model, text, output), signal);
    const chunks: Buffer[] = [];
    for await (const chunk of speech.bytes) chunks.push(chunk);
    const expiresAt = this.#remember(projectId, id, text);
    return { id, data: Buffer.concat(chunks), expiresAt, transcript: text, tokens: audioOutputTokens(speech.seconds()) };
  }

  /**
   * A generation's parts with each choice's speech inserted before its `finish`: the audio as it is
   * encoded, then the answer's id and expiry. `spoken(tokens)` is called with the audio tokens made
   * so far each time a choice has been spoken.
   */
  async *speakStream(
    parts: AsyncIterable<ChatStreamPart>,
    model: ChatModel,
    ids: readonly string[],
    output: AudioOutputOptions,
    projectId: string,
    signal: AbortSignal,
    spoken: (tokens: number) => void,
  ): AsyncGenerator<ChatStreamPart | SpokenPart> {
    const texts = ids.map(() => "");
    let tokens = 0;
    for await (const part of parts) {
      if (part.type === "text-delta") texts[part.choice] += part.text;
      if (part.type === "finish" && (texts[part.choice] ?? "") !== "") {
        const text = texts[part.choice] ?? "";
        const id = ids[part.choice] ?? prefixedId("audio_");
        const speech = await this.#audio.synthesize(model, speechRequest(model, text, output), signal);
        for await (const data of speech.bytes) yield { type: "audio-data", choice: part.choice, data };
        tokens += audioOutputTokens(speech.seconds());
        spoken(tokens);
        yield { type: "audio-done", choice: part.choice, id, expiresAt: this.#remember(projectId, id, text) };
      }
      yield part;
    }
  }

  #remember(projectId: string, id: string, transcript: string): number {
    const expiresAt = unixSeconds() + this.#options.retentionSeconds;
    if (this.#answers.size >= MAX_REMEMBERED) {
      const oldest = this.#answers.keys().next().value;
      if (oldest !== undefined) this.#answers.delete(oldest);
    }
    this.#answers.set(id, { projectId, transcript, expiresAt });
    return expiresAt;
  }

  #recall(projectId: string, id: string): string | undefined {
    const answer = this.#answers.get(id);
    if (answer === undefined || answer.projectId !== projectId) return undefined;
    if (answer.expiresAt < unixSeconds()) {
      this.#answers.delete(id);
      return undefined;
    }
    return answer.transcript;
  }
}

function speechRequest(model: ChatModel, text: string, output: AudioOutputOptions): Parameters<AudioService["synthesize"]>[1] {
  return { model: model.descriptor.id, input: text, voice: output.voice, instructions: undefined, speed: 1, format: speechFormatOf(output.format), streamFormat: "audio" };
}

/** A usage with the audio tokens of a request added to its text tokens. */
export function withAudioTokens(usage: Usage, input: number, output: number): Usage {
  if (input === 0 && output === 0) return usage;
  return {
    ...usage,
    promptTokens: usage.promptTokens + input,
    completionTokens: usage.completionTokens + output,
    audioInputTokens: (usage.audioInputTokens ?? 0) + input,
    audioOutputTokens: (usage.audioOutputTokens ?? 0) + output,
  };
}
