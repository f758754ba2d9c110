import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pcm16, SpeechFormat, SpeechRequest, Transcript } from "../core/audio.ts";
import { ApiError, invalidRequest } from "../core/errors.ts";
import { ffmpegAvailable, ffmpegDecode, ffmpegEncode } from "../providers/audio/ffmpeg.ts";
import { concatSamples, decodeWav, encodeWav, resample } from "../providers/audio/pcm.ts";
import { isForwardForm, unsupportedAudio, type ChatModel, type ForwardBody, type ForwardedResponse, type LiveTranscription } from "../providers/provider.ts";
import type { TranscriptionOptions } from "../protocol/openai/audio.ts";
import type { EndpointCall } from "./endpoints/endpoint.ts";
import { relays } from "./endpoints/relay.ts";
import type { ModelRegistry } from "./model-registry.ts";

/** The audio endpoints. */
export type AudioEndpoint = "/audio/speech" | "/audio/transcriptions" | "/audio/translations";

/** OpenAI's `pcm` and `wav` speech are 24 kHz 16-bit mono; the other formats are encoded at that rate too. */
export const SPEECH_OUTPUT_RATE = 24_000;
/** What speech recognizers read. */
const RECOGNIZER_RATE = 16_000;

/** Speech being encoded for the client. */
export interface SpeechStream {
  /** Encoded audio as it is made. */
  bytes: AsyncIterable<Buffer>;
  /** Input characters, the unit speech is metered in. */
  characters: number;
}

/** A recording transcribed, and its length (the unit transcription is metered in). */
export interface TranscriptionResult {
  transcript: Transcript;
  seconds: number;
}

/**
 * Speech and transcription, free of HTTP: resolves the model and checks it can, admits the request,
 * runs the engine, and converts audio between what clients send or want and what engines use (FFmpeg
 * for every compressed format; WAV and raw PCM without it).
 */
export class AudioService {
  readonly #registry: ModelRegistry;

  constructor(registry: ModelRegistry) {
    this.#registry = registry;
  }

  /**
   * The upstream model a request names when it relays `endpoint` rather than computing it here (an
   * OpenAI or Azure deployment with audio), else undefined: the request is then parsed and served
   * here, and an unknown or unsuitable model is reported as usual.
   */
  relayFor(name: unknown, endpoint: AudioEndpoint): ChatModel | undefined {
    if (typeof name !== "string" || name === "") return undefined;
    const model = this.#registry.find(name);
    const computes = endpoint === "/audio/speech" ? model?.capabilities.speech : model?.capabilities.transcription;
    return model !== undefined && computes !== true && relays(model, endpoint) ? model : undefined;
  }

  /**
   * Relays an audio request as is to `model`'s upstream, with the retries, breaker and deadline of
   * any relay, after admission. Speech is metered here by its input characters; a transcription's
   * usage comes from the upstream's answer (the caller reads it).
   */
  async relay(call: EndpointCall, model: ChatModel, requested: string, endpoint: AudioEndpoint, body: ForwardBody): Promise<ForwardedResponse> {
    const characters = endpoint === "/audio/speech" && !isForwardForm(body) && typeof body.input === "string" ? body.input.length : 0;
    await call.admit(requested, model, characters);
    call.served(model);
    if (endpoint === "/audio/speech") call.usage({ promptTokens: characters, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0, characters });
    return model.forward(endpoint, body, call.signal);
  }

  #model(name: string, capability: "speech" | "transcription", endpoint: AudioEndpoint): ChatModel {
    const model = this.#registry.resolve(name);
    if (!model.capabilities[capability]) throw unsupportedAudio(model.descriptor.id, endpoint);
    return model;
  }

  /** Starts speech: a bad voice or an encoding this server cannot make is a 400 before any audio. */
  async speech(call: EndpointCall, request: SpeechRequest): Promise<SpeechStream> {
    const model = this.#model(request.model, "speech", "/audio/speech");
    checkEncodable(request.format, "response_format");
    await call.admit(request.model, model, request.input.length);
    call.served(model);
    const characters = request.input.length;
    call.usage({ promptTokens: characters, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0, characters });
    return { bytes: (await this.synthesize(model, request, call.signal)).bytes, characters };
  }

  /**
   * The model that speaks chat answers, or a 400 naming `param` when there is none: for callers that
   * admitted their request for another model (a chat completion speaking its text).
   */
  speaker(name: string, format: SpeechFormat, param: string): ChatModel {
    const model = this.#registry.find(name);
    if (model === undefined || !model.capabilities.speech) {
      throw invalidRequest(`Spoken answers need the speech model '${name}', which this server does not have (see audio.chatSpeechModel in the configuration).`, param, "unsupported_value");
    }
    checkEncodable(format, param);
    return model;
  }

  /** The model that transcribes recordings given in chat messages, or a 400 naming `param`. */
  listener(name: string, param: string): ChatModel {
    const model = this.#registry.find(name);
    if (model === undefined || !model.capabilities.transcription) {
      throw invalidRequest(`Audio input needs the transcription model '${name}', which this server does not have (PocketSphinx is not installed, or see audio.chatTranscriptionModel in the configuration).`, param, "unsupported_value");
    }
    return model;
  }

  /**
   * Speaks with `model` and encodes it; `seconds()` is the audio's length once the bytes have been
   * read. Neither admits nor meters: callers do.
   */
  async synthesize(model: ChatModel, request: SpeechRequest, signal: AbortSignal): Promise<{ bytes: AsyncIterable<Buffer>; seconds: () => number }> {
    const audio = await model.speak(request, signal);
    let samples = 0;
    const counted = (async function* (): AsyncGenerator<Int16Array> {
      for await (const chunk of audio.chunks) {
        samples += chunk.length;
        yield chunk;
      }
    })();
    const seconds = (): number => samples / audio.sampleRate / audio.stretch;
    const plain = request.format === "wav" || request.format === "pcm";
    // WAV and raw PCM at the engine's own tempo are made here: spawning FFmpeg costs more than the
    // resampling (bench:audio, wav real-time factor).
    if (ffmpegAvailable() && !(plain && Math.abs(audio.stretch - 1) <= 0.001)) {
      // FFmpeg reads the engine's rate and writes OpenAI's 24 kHz.
      return { bytes: ffmpegEncode(counted, audio.sampleRate, request.format, audio.stretch, signal, SPEECH_OUTPUT_RATE), seconds };
    }
    if (Math.abs(audio.stretch - 1) > 0.001) {
      throw invalidRequest(`Invalid 'speed': ${request.speed} is beyond what the engine speaks at by itself, and changing the tempo further needs FFmpeg, which is not installed on this server.`, "speed", "unsupported_value");
    }
    return { bytes: encodePlain(counted, audio.sampleRate, request.format === "wav"), seconds };
  }

  /**
   * Transcribes a recording held in memory (a chat message's `input_audio`) with `model`; a file
   * that does not decode is a 400 naming `param`. Neither admits nor meters.
   */
  async transcribeClip(model: ChatModel, data: Buffer, param: string, signal: AbortSignal): Promise<TranscriptionResult> {
    const pcm = await withScratch("modelport-clip-", async (dir) => {
      const path = join(dir, "clip");
      await writeFile(path, data);
      try {
        return await decodeUpload(path, signal);
      } catch (error) {
        if (error instanceof ApiError) throw new ApiError(error.status, error.message, { type: "invalid_request_error", param, code: error.code ?? "invalid_value" });
        throw error;
      }
    });
    const seconds = pcm.samples.length / pcm.sampleRate;
    if (seconds < 0.1) throw invalidRequest(`Invalid '${param}': the audio is shorter than 0.1 s.`, param, "invalid_value");
    return { transcript: await this.recognize(model, pcm, undefined, signal), seconds };
  }

  /**
   * Recognises mono PCM at any rate (resampled to what recognizers read) with `model`, in a private
   * scratch directory removed however it ends. Neither admits nor meters.
   */
  recognize(model: ChatModel, pcm: Pcm16, language: string | undefined, signal: AbortSignal): Promise<Transcript> {
    return withScratch("modelport-stt-", (dir) => model.transcribe(resample(pcm, RECOGNIZER_RATE), { language }, dir, signal));
  }

  /**
   * Recognises mono PCM at `sampleRate` while it arrives: written to the model's live recognizer
   * where it has one (resampled chunk by chunk), else collected and recognised whole at `end()`.
   * Never throws at once: a problem (an unsupported language) rejects `end()`. Neither admits nor meters.
   */
  recognizeLive(model: ChatModel, sampleRate: number, language: string | undefined, signal: AbortSignal): LiveTranscription {
    let live: LiveTranscription | undefined;
    let failure: unknown;
    try {
      live = model.transcribeLive?.({ language }, signal);
    } catch (error) {
      failure = error;
    }
    if (live !== undefined) {
      const stream = live;
      return { write: (samples) => stream.write(resample({ samples, sampleRate }, RECOGNIZER_RATE).samples), end: () => stream.end(), cancel: () => stream.cancel() };
    }
    const chunks: Int16Array[] = [];
    return {
      write: (samples) => void chunks.push(samples),
      end: async () => {
        if (failure !== undefined) throw failure;
        return this.recognize(model, { samples: concatSamples(chunks), sampleRate }, language, signal);
      },
      cancel: () => void chunks.splice(0),
    };
  }

  /**
   * Transcribes (or, for an English recognizer, translates) the uploaded file at `path`: decoded to
   * 16 kHz mono, recognised, metered by its seconds. Scratch files are removed however it ends.
   */
  async transcribe(call: EndpointCall, path: string, options: TranscriptionOptions, task: "transcription" | "translation"): Promise<TranscriptionResult> {
    const model = this.#model(options.model, "transcription", task === "translation" ? "/audio/translations" : "/audio/transcriptions");
    await call.admit(options.model, model, 0);
    call.served(model);
    const pcm = await decodeUpload(path, call.signal);
    const seconds = pcm.samples.length / pcm.sampleRate;
    if (seconds < 0.1) throw invalidRequest("The audio file contains no audio (it is shorter than 0.1 s).", "file", "invalid_value");
    call.usage({ promptTokens: Math.ceil(seconds), completionTokens: 0, cachedTokens: 0, reasoningTokens: 0, audioSeconds: seconds });
    return { transcript: await this.recognize(model, pcm, options.language, call.signal), seconds };
  }
}

/** Runs `work` in a new private directory under the system's temporary one, removed however it ends. */
async function withScratch<T>(prefix: string, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A 400 naming `param` for a format that needs FFmpeg on a server without it. */
function checkEncodable(format: SpeechFormat, param: string): void {
  if (format !== "wav" && format !== "pcm" && !ffmpegAvailable()) {
    throw invalidRequest(`Invalid '${param}': '${format}' needs FFmpeg, which is not installed on this server (Debian: apt-get install ffmpeg); 'wav' and 'pcm' work without it.`, param, "unsupported_value");
  }
}

/** WAV (whole, with exact sizes) or raw PCM (streamed) at 24 kHz, without FFmpeg. */
async function* encodePlain(chunks: AsyncIterable<Int16Array>, rate: number, wav: boolean): AsyncGenerator<Buffer> {
  if (!wav) {
    for await (const chunk of chunks) {
      const out = resample({ samples: chunk, sampleRate: rate }, SPEECH_OUTPUT_RATE).samples;
      yield Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    }
    return;
  }
  const all: Int16Array[] = [];
  let length = 0;
  for await (const chunk of chunks) {
    all.push(chunk);
    length += chunk.length;
  }
  const samples = new Int16Array(length);
  let at = 0;
  for (const chunk of all) {
    samples.set(chunk, at);
    at += chunk.length;
  }
  yield encodeWav(resample({ samples, sampleRate: rate }, SPEECH_OUTPUT_RATE));
}

/** An upload as 16 kHz mono PCM: FFmpeg for any format, else a plain PCM WAV read here. */
async function decodeUpload(path: string, signal: AbortSignal): Promise<Pcm16> {
  if (ffmpegAvailable()) return ffmpegDecode(path, RECOGNIZER_RATE, signal);
  const pcm = decodeWav(await readFile(path));
  if (pcm === undefined) {
    throw invalidRequest("The audio file is not a PCM WAV file, and decoding other formats needs FFmpeg, which is not installed on this server (Debian: apt-get install ffmpeg).", "file", "invalid_value");
  }
  return resample(pcm, RECOGNIZER_RATE);
}
