import type { OpenAiVoice } from "../../core/audio.ts";

/** How one OpenAI voice sounds on eSpeak NG: a voice variant and a base pitch (0–99). */
interface VoiceStyle {
  variant: string;
  pitch: number;
}

/**
 * OpenAI's voices mapped to distinct eSpeak NG variants (its `!v` voice files: m1–m7 male,
 * f1–f5 female, klatt formant synthesis), with pitches that keep neighbours apart.
 */
export const VOICE_STYLES: Readonly<Record<OpenAiVoice, VoiceStyle>> = {
  alloy: { variant: "m3", pitch: 50 },
  ash: { variant: "m1", pitch: 45 },
  ballad: { variant: "m5", pitch: 55 },
  coral: { variant: "f3", pitch: 60 },
  echo: { variant: "m2", pitch: 48 },
  fable: { variant: "m7", pitch: 52 },
  onyx: { variant: "m4", pitch: 30 },
  nova: { variant: "f2", pitch: 62 },
  sage: { variant: "f4", pitch: 55 },
  shimmer: { variant: "f1", pitch: 68 },
  verse: { variant: "m6", pitch: 50 },
  marin: { variant: "f5", pitch: 58 },
  cedar: { variant: "klatt2", pitch: 42 },
};

/** Flite's built-in 16 kHz voices (US English female, US English male ×2, Scottish English male). */
export const FLITE_VOICES = ["slt", "kal16", "rms", "awb"] as const;

/**
 * OpenAI's voices on Flite, for English text: its four voices at distinct mean pitches (Hz; 0 keeps
 * the voice's own), so that no two OpenAI voices sound alike (a test checks all thirteen differ).
 */
export const FLITE_STYLES: Readonly<Record<OpenAiVoice, { voice: (typeof FLITE_VOICES)[number]; pitch: number }>> = {
  alloy: { voice: "rms", pitch: 0 },
  ash: { voice: "kal16", pitch: 0 },
  // awb speaks with its own pitch whatever is asked: it is used once.
  ballad: { voice: "awb", pitch: 0 },
  coral: { voice: "slt", pitch: 0 },
  echo: { voice: "rms", pitch: 120 },
  fable: { voice: "kal16", pitch: 140 },
  onyx: { voice: "kal16", pitch: 85 },
  nova: { voice: "slt", pitch: 215 },
  sage: { voice: "slt", pitch: 150 },
  shimmer: { voice: "slt", pitch: 250 },
  verse: { voice: "rms", pitch: 100 },
  marin: { voice: "slt", pitch: 185 },
  cedar: { voice: "rms", pitch: 80 },
};

/** Scripts whose text eSpeak must speak in a language of their own, with that language's voice. */
const SCRIPT_LANGUAGES: readonly [RegExp, string][] = [
  [/\p{Script=Hiragana}|\p{Script=Katakana}/u, "ja"],
  [/\p{Script=Hangul}/u, "ko"],
  [/\p{Script=Han}/u, "cmn"],
  [/\p{Script=Cyrillic}/u, "ru"],
  [/\p{Script=Arabic}/u, "ar"],
  [/\p{Script=Devanagari}/u, "hi"],
  [/\p{Script=Greek}/u, "el"],
  [/\p{Script=Hebrew}/u, "he"],
  [/\p{Script=Thai}/u, "th"],
];

/**
 * The eSpeak language for a text: the language of the first non-Latin script it contains (Chinese
 * text is spoken in Mandarin, `cmn`), else `fallback` (the configured language, `en-us` by default).
 */
export function languageFor(text: string, fallback: string): string {
  for (const [script, language] of SCRIPT_LANGUAGES) if (script.test(text)) return language;
  return fallback;
}

/** What `instructions` can change on this engine. */
export interface Delivery {
  /** Multiplies the speaking rate. */
  rate: number;
  /** Added to the voice's pitch. */
  pitch: number;
  /** Replaces the voice's variant (`whisper`). */
  variant: string | undefined;
}

/**
 * Reads delivery hints from free-text `instructions`: slow/fast, high/low (deep) pitch, whispering.
 * Anything else (emotion, accent, character) is beyond a formant synthesiser and has no effect.
 */
export function deliveryFrom(instructions: string | undefined): Delivery {
  const text = (instructions ?? "").toLowerCase();
  const delivery: Delivery = { rate: 1, pitch: 0, variant: undefined };
  if (/\b(slow|slowly|calm|calmly|relaxed)\b|慢/.test(text)) delivery.rate *= 0.8;
  if (/\b(fast|quick|quickly|rapid|rapidly|excited|energetic)\b|快/.test(text)) delivery.rate *= 1.25;
  if (/\b(high|higher|high-pitched|bright)\b|高/.test(text)) delivery.pitch += 15;
  if (/\b(low|lower|deep|deeper)\b|低/.test(text)) delivery.pitch -= 15;
  if (/\bwhisper/.test(text)) delivery.variant = "whisper";
  return delivery;
}

/**
 * Splits text into sentences to synthesise one at a time (the first audio leaves after the first
 * sentence), keeping each sentence's closing punctuation; very short pieces join the next.
 */
export function splitSentences(text: string): string[] {
  const pieces = text.match(/[^.!?。！？;；\n]+[.!?。！？;；\n]*|[.!?。！？;；\n]+/gu) ?? [];
  const sentences: string[] = [];
  let pending = "";
  for (const piece of pieces) {
    pending += piece;
    if (pending.trim().length >= 12) {
      sentences.push(pending.trim());
      pending = "";
    }
  }
  if (pending.trim() !== "") sentences.push(pending.trim());
  return sentences;
}
