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
