import type { Pcm16, SpeechRequest, Transcript } from "../../core/audio.ts";
import type { ChatStreamPart } from "../../core/chat.ts";
import type { TextCompletionPart } from "../../core/completion.ts";
import { invalidRequest } from "../../core/errors.ts";
import type { Pricing } from "../../core/pricing.ts";
import {
  unsupportedAudio,
  unsupportedEndpoint,
  type ChatModel,
  type EmbedResult,
  type ForwardedResponse,
  type ForwardEndpoint,
  type ModelCapabilities,
  type ModelDescriptor,
  type SpeechAudio,
  type LiveTranscription,
  type TranscribeOptions,
} from "../provider.ts";
import { SpeechEngine } from "./speech-engine.ts";
import { PocketsphinxRecognizer } from "./pocketsphinx.ts";

/** What an audio model is called and priced as. */
export interface AudioModelSpec {
  id: string;
  aliases: readonly string[];
  pricing: Pricing | undefined;
}

/** The parts of ChatModel an audio-only model answers with 400 `unsupported_endpoint`. */
abstract class AudioOnlyModel {
  abstract readonly descriptor: ModelDescriptor;

  async *streamChat(): AsyncGenerator<ChatStreamPart> {
    throw invalidRequest(`The model '${this.descriptor.id}' is an audio model: it does not support /v1/chat/completions or /v1/responses.`, "model", "unsupported_endpoint");
  }
  async *completeText(): AsyncGenerator<TextCompletionPart> {
    throw unsupportedEndpoint(this.descriptor.id, "/completions");
  }
  async forward(endpoint: ForwardEndpoint): Promise<ForwardedResponse> {
    throw unsupportedEndpoint(this.descriptor.id, endpoint);
  }
  async embed(): Promise<EmbedResult> {
    throw unsupportedEndpoint(this.descriptor.id, "/embeddings");
  }
  async countPromptTokens(): Promise<number> {
    throw unsupportedEndpoint(this.descriptor.id, "/responses");
  }
  stats(): Record<string, number> {
    return {};
  }
}

function descriptorOf(spec: AudioModelSpec): ModelDescriptor {
  return { id: spec.id, aliases: spec.aliases, created: 0, ownedBy: "modelport", pricing: spec.pricing };
}

const AUDIO_ONLY = { contextSize: undefined, embeddings: "none", completions: "none", forwards: new Set<ForwardEndpoint>(), vision: false } as const;

/** Text to speech: Flite for English, eSpeak NG for every other language (Mandarin for Chinese text). */
export class LocalSpeechModel extends AudioOnlyModel implements ChatModel {
  readonly descriptor: ModelDescriptor;
  readonly capabilities: ModelCapabilities = { ...AUDIO_ONLY, speech: true, transcription: false };
  /** Started on first use: its worker thread and voice data cost memory a server that never speaks need not pay. */
  #engine: SpeechEngine | undefined;
  readonly #language: string;

  constructor(spec: AudioModelSpec, language: string) {
    super();
    this.descriptor = descriptorOf(spec);
    this.#language = language;
  }

  async speak(request: SpeechRequest, signal: AbortSignal): Promise<SpeechAudio> {
    this.#engine ??= new SpeechEngine();
    const plan = await this.#engine.plan({ text: request.input, voice: request.voice, instructions: request.instructions, speed: request.speed, language: this.#language });
    return { sampleRate: plan.sampleRate, stretch: plan.stretch, chunks: this.#engine.synthesize(request.input, plan, signal) };
  }

  async transcribe(): Promise<Transcript> {
    throw unsupportedAudio(this.descriptor.id, "/audio/transcriptions");
  }

  async dispose(): Promise<void> {
    await this.#engine?.dispose();
  }
}

/** Speech to text on PocketSphinx's English model. */
export class LocalTranscriptionModel extends AudioOnlyModel implements ChatModel {
  readonly descriptor: ModelDescriptor;
  readonly capabilities: ModelCapabilities = { ...AUDIO_ONLY, speech: false, transcription: true };
  readonly #recognizer: PocketsphinxRecognizer;

  constructor(spec: AudioModelSpec, model: { hmm: string; lm: string; dict: string }) {
    super();
    this.descriptor = descriptorOf(spec);
    this.#recognizer = new PocketsphinxRecognizer(model);
  }

  async speak(): Promise<SpeechAudio> {
    throw unsupportedAudio(this.descriptor.id, "/audio/speech");
  }

  async transcribe(audio: Pcm16, options: TranscribeOptions, workDir: string, signal: AbortSignal): Promise<Transcript> {
    this.#checkLanguage(options.language);
    return this.#recognizer.transcribe(audio, workDir, signal);
  }

  transcribeLive(options: TranscribeOptions, signal: AbortSignal): LiveTranscription {
    this.#checkLanguage(options.language);
    return this.#recognizer.live(signal);
  }

  #checkLanguage(language: string | undefined): void {
    if (language !== undefined && !/^en(-|$)/i.test(language)) {
      throw invalidRequest(`Invalid 'language': the model '${this.descriptor.id}' transcribes English only ('en'), not '${language}'.`, "language", "unsupported_value");
    }
  }

  async dispose(): Promise<void> {}
}
