import { OPENAI_VOICES, SPEECH_FORMATS, transcriptText, type OpenAiVoice, type SpeechFormat, type SpeechRequest, type Transcript, type VoiceChoice } from "../../core/audio.ts";
import { invalidRequest, unsupportedParameter } from "../../core/errors.ts";
import { describeType, FieldReader } from "./validate.ts";

/** OpenAI's limit on `/v1/audio/speech` input and instructions. */
export const MAX_SPEECH_INPUT = 4096;
/** OpenAI's limit on uploads to `/v1/audio/transcriptions` and `/v1/audio/translations`. */
export const MAX_AUDIO_UPLOAD_BYTES = 25 * 1024 * 1024;

const SPEECH_FIELDS: ReadonlySet<string> = new Set(["model", "input", "voice", "instructions", "response_format", "speed", "stream_format"]);

/** Validates a `CreateSpeechRequest` body; every problem is a 400 naming the param. */
export function parseSpeechRequest(body: unknown): SpeechRequest {
  const reader = new FieldReader(body, "");
  reader.rejectUnknown(SPEECH_FIELDS);
  const model = reader.string("model", { required: true, nonEmpty: true });
  const input = reader.string("input", { required: true, maxLength: MAX_SPEECH_INPUT });
  if (input.trim() === "") throw invalidRequest("Invalid 'input': empty string. Expected text to speak.", "input", "empty_string");
  const voice = readVoice(reader.required("voice"), "voice");
  return {
    model,
    input,
    voice,
    instructions: reader.string("instructions", { maxLength: MAX_SPEECH_INPUT }),
    speed: reader.number("speed", { min: 0.25, max: 4 }) ?? 1,
    format: reader.enumeration("response_format", SPEECH_FORMATS) ?? "mp3",
    streamFormat: reader.enumeration("stream_format", ["audio", "sse"] as const) ?? "audio",
  };
}

/** Reads a voice: one of OpenAI's names, or `{ "id": … }` naming an engine voice. */
export function readVoice(raw: unknown, param: string): VoiceChoice {
  if (typeof raw === "string") {
    if (!(OPENAI_VOICES as readonly string[]).includes(raw)) {
      throw invalidRequest(`Invalid value for '${param}': '${raw.slice(0, 100)}'. Supported values are: ${OPENAI_VOICES.map((v) => `'${v}'`).join(", ")}, or an object { "id": … } naming an engine voice.`, param, "invalid_value");
    }
    return { name: raw as OpenAiVoice };
  }
  if (typeof raw === "object" && raw !== null && !Array.isArray(raw)) {
    const voiceReader = new FieldReader(raw, param);
    voiceReader.rejectUnknown(new Set(["id"]));
    return { id: voiceReader.string("id", { required: true, nonEmpty: true }) };
  }
  throw invalidRequest(`Invalid type for '${param}': expected a string or an object, but got ${describeType(raw)} instead.`, param, "invalid_type");
}

/** The Content-Type of each speech format, as OpenAI sends them. */
export const SPEECH_CONTENT_TYPES: Readonly<Record<SpeechFormat, string>> = {
  mp3: "audio/mpeg",
  opus: "audio/ogg",
  aac: "audio/aac",
  flac: "audio/flac",
  wav: "audio/wav",
  pcm: "audio/pcm",
};

/** `speech.audio.delta`: a chunk of the encoded audio, base64. */
export function renderSpeechDelta(bytes: Uint8Array): Record<string, unknown> {
  return { type: "speech.audio.delta", audio: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64") };
}

/** `speech.audio.done` with its usage: input characters, and output audio in 20 ms frames. */
export function renderSpeechDone(inputTokens: number, outputTokens: number): Record<string, unknown> {
  return { type: "speech.audio.done", usage: { input_tokens: inputTokens, output_tokens: outputTokens, total_tokens: inputTokens + outputTokens } };
}

/** Transcription output formats. */
export type TranscriptFormat = "json" | "text" | "srt" | "verbose_json" | "vtt";

/** A transcription or translation request's fields (the file itself is read separately). */
export interface TranscriptionOptions {
  model: string;
  language: string | undefined;
  prompt: string | undefined;
  format: TranscriptFormat;
  temperature: number;
  words: boolean;
  segments: boolean;
  stream: boolean;
}

/** The text fields a transcription form may carry (the `[]` forms are how SDKs send arrays). */
export const TRANSCRIPTION_FIELDS = [
  "model", "language", "prompt", "response_format", "temperature", "timestamp_granularities[]", "timestamp_granularities", "stream",
  "include[]", "include", "chunking_strategy", "languages[]", "keywords[]", "known_speaker_names[]", "known_speaker_references[]",
] as const;
export const TRANSLATION_FIELDS = ["model", "prompt", "response_format", "temperature"] as const;

const FORMATS = ["json", "text", "srt", "verbose_json", "vtt"] as const;

/**
 * Reads a multipart transcription (or translation) form's text fields. Multipart sends arrays as
 * repeated `name[]` fields; this server's form reader keeps one value per name, so
 * `timestamp_granularities[]` takes one value or a comma-separated list.
 */
export function parseTranscriptionFields(fields: ReadonlyMap<string, string>, task: "transcription" | "translation"): TranscriptionOptions {
  const model = fields.get("model") ?? "";
  if (model === "") throw invalidRequest("Missing required parameter: 'model'.", "model", "missing_required_parameter");
  const format = fields.get("response_format") ?? "json";
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw invalidRequest(`Invalid value for 'response_format': '${format}'. Supported values are: ${FORMATS.map((f) => `'${f}'`).join(", ")}.`, "response_format", "invalid_value");
  }
  const temperatureText = fields.get("temperature");
  const temperature = temperatureText === undefined ? 0 : Number(temperatureText);
  if (!Number.isFinite(temperature) || temperature < 0 || temperature > 1) {
    throw invalidRequest(`Invalid 'temperature': expected a number from 0 to 1, but got '${temperatureText}'.`, "temperature", "invalid_value");
  }
  const granularities = (fields.get("timestamp_granularities[]") ?? fields.get("timestamp_granularities") ?? "segment").split(",").map((g) => g.trim());
  for (const g of granularities) {
    if (g !== "word" && g !== "segment") throw invalidRequest(`Invalid value for 'timestamp_granularities': '${g}'. Supported values are: 'word', 'segment'.`, "timestamp_granularities", "invalid_value");
  }
  if (fields.has("timestamp_granularities[]") || fields.has("timestamp_granularities")) {
    if (format !== "verbose_json") throw invalidRequest("'timestamp_granularities' needs 'response_format' set to 'verbose_json'.", "timestamp_granularities", "invalid_value");
  }
  const streamText = fields.get("stream");
  if (streamText !== undefined && streamText !== "true" && streamText !== "false") {
    throw invalidRequest(`Invalid 'stream': expected a boolean, but got '${streamText}'.`, "stream", "invalid_type");
  }
  const stream = streamText === "true";
  if (stream && format !== "json" && format !== "text") {
    throw invalidRequest(`'stream' is not supported with 'response_format' '${format}': use 'json' or 'text'.`, "stream", "unsupported_value");
  }
  if (fields.has("include[]") || fields.has("include")) {
    throw unsupportedParameter("include", "is not supported by this server's speech recognizers: PocketSphinx gives word confidences, not token logprobs");
  }
  for (const name of ["languages[]", "keywords[]", "known_speaker_names[]", "known_speaker_references[]"]) {
    if (fields.has(name)) throw unsupportedParameter(name.replace("[]", ""), "is not supported by this server's speech recognizers");
  }
  const chunking = fields.get("chunking_strategy");
  if (chunking !== undefined && chunking !== "auto") {
    throw invalidRequest(`Invalid value for 'chunking_strategy': '${chunking.slice(0, 100)}'. This server accepts 'auto' (pauses split the audio into segments) or no value.`, "chunking_strategy", "unsupported_value");
  }
  return {
    model,
    language: task === "translation" ? undefined : fields.get("language"),
    prompt: fields.get("prompt"),
    format: format as TranscriptFormat,
    temperature,
    words: granularities.includes("word"),
    segments: granularities.includes("segment"),
    stream,
  };
}

function clock(seconds: number, separator: "," | "."): string {
  const ms = Math.round(seconds * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, w = 2): string => String(n).padStart(w, "0");
  return `${pad(h)}:${pad(m)}:${pad(s)}${separator}${pad(ms % 1000, 3)}`;
}

/**
 * A transcript in the requested format: the JSON bodies (`CreateTranscriptionResponseJson`,
 * `…VerboseJson`, or the translation shapes), or the text of `text`, `srt` and `vtt`.
 */
export function renderTranscript(transcript: Transcript, options: TranscriptionOptions, task: "transcription" | "translation"): { json: Record<string, unknown> } | { text: string; contentType: string } {
  const text = transcriptText(transcript);
  const seconds = Number(transcript.duration.toFixed(3));
  switch (options.format) {
    case "text":
      return { text: `${text}\n`, contentType: "text/plain; charset=utf-8" };
    case "srt":
      return {
        text: transcript.segments.map((s, i) => `${i + 1}\n${clock(s.start, ",")} --> ${clock(s.end, ",")}\n${s.text}\n`).join("\n"),
        contentType: "text/plain; charset=utf-8",
      };
    case "vtt":
      return { text: `WEBVTT\n\n${transcript.segments.map((s) => `${clock(s.start, ".")} --> ${clock(s.end, ".")}\n${s.text}\n`).join("\n")}`, contentType: "text/vtt; charset=utf-8" };
    case "json":
      return { json: task === "translation" ? { text } : { text, usage: { type: "duration", seconds } } };
    case "verbose_json": {
      const body: Record<string, unknown> = { task: task === "translation" ? "translate" : "transcribe", language: transcript.language, duration: seconds, text };
      if (options.segments || task === "translation") {
        body.segments = transcript.segments.map((s, id) => {
          const confidence = s.words.reduce((sum, w) => sum + w.confidence, 0) / Math.max(1, s.words.length);
          return {
            id,
            seek: 0,
            start: s.start,
            end: s.end,
            text: ` ${s.text}`,
            // PocketSphinx has no subword tokens; its word posteriors stand in for the log probability.
            tokens: [],
            temperature: options.temperature,
            avg_logprob: Math.log(Math.max(confidence, 1e-6)),
            compression_ratio: 1,
            no_speech_prob: 0,
          };
        });
      }
      if (options.words && task === "transcription") body.words = transcript.segments.flatMap((s) => s.words.map((w) => ({ word: w.word, start: w.start, end: w.end })));
      if (task === "transcription") body.usage = { type: "duration", seconds };
      return { json: body };
    }
  }
}

/**
 * The streamed events of a transcription: one delta per recognised segment, then the whole text.
 * `usage` is left out of `transcript.text.done` (optional there): its only shape counts tokens, and
 * this recognizer bills by duration, which the JSON answer reports.
 */
export function renderTranscriptEvents(transcript: Transcript): Record<string, unknown>[] {
  const events: Record<string, unknown>[] = transcript.segments.map((s, i) => ({ type: "transcript.text.delta", delta: i === 0 ? s.text : ` ${s.text}` }));
  events.push({ type: "transcript.text.done", text: transcriptText(transcript) });
  return events;
}
