/** 16-bit signed little-endian mono PCM, the form every speech engine here reads and writes. */
export interface Pcm16 {
  samples: Int16Array;
  sampleRate: number;
}

/** Output encodings of `/v1/audio/speech`. */
export const SPEECH_FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"] as const;
export type SpeechFormat = (typeof SPEECH_FORMATS)[number];

/** OpenAI's built-in voices. */
export const OPENAI_VOICES = ["alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse", "marin", "cedar"] as const;
export type OpenAiVoice = (typeof OPENAI_VOICES)[number];

/** What to say and how, once parsed. */
export interface SpeechRequest {
  model: string;
  input: string;
  /** An OpenAI voice name, or an engine voice id given as `{ "id": … }`. */
  voice: { name: OpenAiVoice } | { id: string };
  /** Free-text delivery instructions; the engine maps what it can (rate, pitch) and ignores the rest. */
  instructions: string | undefined;
  /** 0.25–4.0. */
  speed: number;
  format: SpeechFormat;
  streamFormat: "audio" | "sse";
}

/** One recognised word with its times in seconds. */
export interface TranscriptWord {
  word: string;
  start: number;
  end: number;
  /** The engine's confidence (a posterior probability, 0–1). */
  confidence: number;
}

/** A stretch of speech between pauses, with its words. */
export interface TranscriptSegment {
  start: number;
  end: number;
  text: string;
  words: TranscriptWord[];
}

/** What speech-to-text produced for one recording. */
export interface Transcript {
  language: string;
  /** The recording's length in seconds. */
  duration: number;
  segments: TranscriptSegment[];
}

/** The text of a transcript: its segments joined by single spaces. */
export function transcriptText(transcript: Transcript): string {
  return transcript.segments.map((s) => s.text).filter((t) => t !== "").join(" ");
}

/** Formats of spoken chat answers (`audio.format`); `pcm16` is the raw 24 kHz PCM that `/audio/speech` calls `pcm`. */
export const CHAT_AUDIO_FORMATS = ["wav", "aac", "mp3", "flac", "opus", "pcm16"] as const;
export type ChatAudioFormat = (typeof CHAT_AUDIO_FORMATS)[number];

/** The speech format a chat audio format is encoded as. */
export function speechFormatOf(format: ChatAudioFormat): SpeechFormat {
  return format === "pcm16" ? "pcm" : format;
}

/** A voice given as an OpenAI name or an engine voice id. */
export type VoiceChoice = SpeechRequest["voice"];

/** Spoken output asked of a chat completion (`modalities: ["text", "audio"]` with `audio`). */
export interface AudioOutputOptions {
  voice: VoiceChoice;
  format: ChatAudioFormat;
}

/** A recording in a user message (`input_audio`), transcribed before the model sees the message. */
export interface InputAudioClip {
  /** Index of the message in the request's messages. */
  message: number;
  /** Index of the part in that message's parts (a text part the transcript fills in). */
  part: number;
  data: Buffer;
  format: "wav" | "mp3";
  /** Where it was in the request, for errors. */
  param: string;
}

/** An assistant message that refers to an earlier spoken answer by id (`audio: {id}`). */
export interface AudioReference {
  message: number;
  id: string;
  param: string;
}

/**
 * The spoken form of a chat choice, streamed after its text: encoded audio as it is made, then the
 * answer's id and expiry. These travel beside the model's `ChatStreamPart`s, never from a model.
 */
export type SpokenPart =
  | { type: "audio-data"; choice: number; data: Buffer }
  | { type: "audio-done"; choice: number; id: string; expiresAt: number };

/** Audio tokens as OpenAI counts them for its audio models: input one per 100 ms, output one per 50 ms. */
export function audioInputTokens(seconds: number): number {
  return Math.ceil(seconds * 10);
}
export function audioOutputTokens(seconds: number): number {
  return Math.ceil(seconds * 20);
}
