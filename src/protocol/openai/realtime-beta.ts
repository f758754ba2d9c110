/**
 * The Realtime API's beta protocol (clients that send `OpenAI-Beta: realtime=v1`: the Python SDK's
 * `client.beta.realtime.connect`, and the guide's voice-agent example), translated to and from the
 * GA events the session speaks: a flat session (`modalities`, `voice`, `input_audio_format`,
 * `input_audio_transcription`, `turn_detection`…), `conversation.item.created`, `response.audio.*`,
 * `response.audio_transcript.*`, `response.text.*`; beta clients may type assistant content `text` /
 * `audio`. Items go out with GA content types, as the spec's RealtimeBeta* event schemas have them.
 */

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

const BETA_FORMATS: Record<string, Json> = { pcm16: { type: "audio/pcm", rate: 24_000 }, g711_ulaw: { type: "audio/pcmu" }, g711_alaw: { type: "audio/pcma" } };

function gaFormat(beta: unknown): unknown {
  return typeof beta === "string" ? (BETA_FORMATS[beta] ?? { type: beta }) : beta;
}

function betaFormat(ga: unknown): string {
  const type = isObject(ga) ? ga.type : undefined;
  return type === "audio/pcmu" ? "g711_ulaw" : type === "audio/pcma" ? "g711_alaw" : "pcm16";
}

/** Beta modalities to GA's single output modality: audio always comes with its transcript. */
function gaModalities(modalities: unknown): unknown {
  return Array.isArray(modalities) ? (modalities.includes("audio") ? ["audio"] : ["text"]) : modalities;
}

function betaModalities(modalities: unknown): string[] {
  return Array.isArray(modalities) && modalities.includes("audio") ? ["text", "audio"] : ["text"];
}

/** A beta session object (`session.update`) as GA's. Unknown fields pass through, to be rejected by name. */
function gaSession(beta: Json): Json {
  const { modalities, voice, input_audio_format, output_audio_format, input_audio_transcription, turn_detection, speed, max_response_output_tokens, input_audio_noise_reduction, ...rest } = beta;
  const session: Json = { ...rest, type: "realtime" };
  if (modalities !== undefined) session.output_modalities = gaModalities(modalities);
  if (max_response_output_tokens !== undefined) session.max_output_tokens = max_response_output_tokens;
  const input: Json = {};
  if (input_audio_format !== undefined) input.format = gaFormat(input_audio_format);
  if (input_audio_transcription !== undefined) input.transcription = input_audio_transcription;
  if (turn_detection !== undefined) input.turn_detection = turn_detection;
  if (input_audio_noise_reduction !== undefined) input.noise_reduction = input_audio_noise_reduction;
  const output: Json = {};
  if (output_audio_format !== undefined) output.format = gaFormat(output_audio_format);
  if (voice !== undefined) output.voice = voice;
  if (speed !== undefined) output.speed = speed;
  if (Object.keys(input).length > 0 || Object.keys(output).length > 0) {
    session.audio = { ...(Object.keys(input).length > 0 ? { input } : {}), ...(Object.keys(output).length > 0 ? { output } : {}) };
  }
  return session;
}

function gaItem(item: unknown): unknown {
  if (!isObject(item) || !Array.isArray(item.content) || item.role !== "assistant") return item;
  return { ...item, content: item.content.map((c: unknown) => (isObject(c) && c.type === "text" ? { ...c, type: "output_text" } : isObject(c) && c.type === "audio" ? { ...c, type: "output_audio" } : c)) };
}

/** A beta client event as GA's (a parsed JSON message; anything malformed passes through to be reported). */
export function betaClientToGa(raw: unknown): unknown {
  if (!isObject(raw)) return raw;
  switch (raw.type) {
    case "session.update":
      return isObject(raw.session) ? { ...raw, session: gaSession(raw.session) } : raw;
    case "conversation.item.create":
      return { ...raw, item: gaItem(raw.item) };
    case "response.create": {
      if (!isObject(raw.response)) return raw;
      const { modalities, max_response_output_tokens, ...rest } = raw.response;
      const response: Json = { ...rest };
      if (modalities !== undefined) response.output_modalities = gaModalities(modalities);
      if (max_response_output_tokens !== undefined) response.max_output_tokens = max_response_output_tokens;
      return { ...raw, response };
    }
    default:
      return raw;
  }
}

function betaSession(ga: Json): Json {
  const audio = isObject(ga.audio) ? ga.audio : {};
  const input = isObject(audio.input) ? audio.input : {};
  const output = isObject(audio.output) ? audio.output : {};
  return {
    id: ga.id,
    object: "realtime.session",
    model: ga.model,
    expires_at: ga.expires_at,
    modalities: betaModalities(ga.output_modalities),
    instructions: ga.instructions,
    voice: output.voice,
    input_audio_format: betaFormat(input.format),
    output_audio_format: betaFormat(output.format),
    ...(input.transcription !== undefined ? { input_audio_transcription: input.transcription } : {}),
    turn_detection: input.turn_detection ?? null,
    speed: output.speed,
    tools: ga.tools,
    tool_choice: ga.tool_choice,
    temperature: ga.temperature ?? 0.8,
    max_response_output_tokens: ga.max_output_tokens,
  };
}

function betaResponse(ga: Json): Json {
  const { output_modalities, audio, output, ...rest } = ga;
  const format = isObject(audio) && isObject(audio.output) ? audio.output : {};
  return {
    ...rest,
    output,
    modalities: betaModalities(output_modalities),
    voice: format.voice,
    output_audio_format: betaFormat(format.format),
  };
}

const RENAMED: Readonly<Record<string, string>> = {
  "response.output_text.delta": "response.text.delta",
  "response.output_text.done": "response.text.done",
  "response.output_audio.delta": "response.audio.delta",
  "response.output_audio.done": "response.audio.done",
  "response.output_audio_transcript.delta": "response.audio_transcript.delta",
  "response.output_audio_transcript.done": "response.audio_transcript.done",
  "conversation.item.added": "conversation.item.created",
};

/** A GA server event as the beta protocol has it; `undefined` for events beta clients never get. */
export function gaServerToBeta(event: Json): Json | undefined {
  const type = String(event.type);
  // Beta announces an item once, when created.
  if (type === "conversation.item.done") return undefined;
  const out: Json = { ...event, type: RENAMED[type] ?? type };
  if ((type === "session.created" || type === "session.updated") && isObject(event.session)) out.session = betaSession(event.session);
  if ((type === "response.created" || type === "response.done") && isObject(event.response)) out.response = betaResponse(event.response);
  return out;
}
