import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { toFile } from "openai";
import { languageFor } from "../../src/providers/audio/voices.ts";
import { decodeWav } from "../../src/providers/audio/pcm.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { MODELS_DIR, raw, sseData, startTestServer, type TestServer } from "../helpers/server.ts";
import { wordErrorRate } from "../helpers/wer.ts";

// The real server with its built-in audio models: Flite and eSpeak NG (npm, WebAssembly) speak,
// PocketSphinx (Debian's pocketsphinx and pocketsphinx-en-us, which bootstrap.sh installs) listens,
// Debian's ffmpeg converts. Clients are the official SDK and raw HTTP.
let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

const JFK = readFileSync(join(MODELS_DIR, "jfk.wav"));
const JFK_TEXT = "and so my fellow americans ask not what your country can do for you ask what you can do for your country";


/** Sample rate and duration of an audio file, as ffprobe (Debian's ffmpeg) reads it. */
function probe(bytes: Buffer, name: string): { sampleRate: number; seconds: number } {
  const file = join(tmpdir(), `modelport-test-${process.pid}-${name}`);
  execFileSync("sh", ["-c", `cat > ${file}`], { input: bytes });
  try {
    const out = execFileSync("ffprobe", ["-v", "error", "-show_entries", "stream=sample_rate", "-show_entries", "format=duration", "-of", "json", file], { encoding: "utf8" });
    const json = JSON.parse(out) as { streams: { sample_rate: string }[]; format: { duration?: string } };
    // A streamed container may not state its duration: decode it to count.
    const decoded = execFileSync("ffmpeg", ["-v", "error", "-i", file, "-f", "s16le", "-ac", "1", "-"], { maxBuffer: 64 * 1024 * 1024 });
    const sampleRate = Number(json.streams[0]?.sample_rate);
    return { sampleRate, seconds: decoded.length / 2 / sampleRate };
  } finally {
    execFileSync("rm", ["-f", file]);
  }
}

const SENTENCE = "Ask not what your country can do for you. Ask what you can do for your country.";

describe("POST /v1/audio/speech", () => {
  it("speaks in every format, each decoding back at 24 kHz with the same duration", async () => {
    const pcm = Buffer.from(await (await server.client.audio.speech.create({ model: "tts-1", voice: "coral", input: SENTENCE, response_format: "pcm" })).arrayBuffer());
    const reference = pcm.length / 2 / 24_000;
    assert.ok(reference > 2 && reference < 10, `pcm lasts ${reference} s`);
    for (const format of ["wav", "mp3", "opus", "aac", "flac"] as const) {
      const res = await server.client.audio.speech.create({ model: "gpt-4o-mini-tts", voice: "coral", input: SENTENCE, response_format: format }).asResponse();
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), { wav: "audio/wav", mp3: "audio/mpeg", opus: "audio/ogg", aac: "audio/aac", flac: "audio/flac" }[format]);
      const { sampleRate, seconds } = probe(Buffer.from(await res.arrayBuffer()), `speech.${format}`);
      // Opus is always decoded at 48 kHz; its stream carries the 24 kHz input rate in its header only.
      assert.equal(sampleRate, format === "opus" ? 48_000 : 24_000, format);
      assert.ok(Math.abs(seconds - reference) / reference < 0.02, `${format}: ${seconds} s against ${reference} s`);
    }
    const wav = decodeWav(Buffer.from(await (await server.client.audio.speech.create({ model: "tts-1", voice: "coral", input: SENTENCE, response_format: "wav" })).arrayBuffer()));
    assert.equal(wav?.sampleRate, 24_000);
  });

  it("gives thirteen voices thirteen different sounds, and honours speed", async () => {
    const voices = ["alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse", "marin", "cedar"] as const;
    const audio = new Set<string>();
    for (const voice of voices) audio.add(Buffer.from(await (await server.client.audio.speech.create({ model: "tts-1", voice, input: "Hello there.", response_format: "pcm" })).arrayBuffer()).toString("base64"));
    // Flite ignores the pitch asked of some voices: 10 of the 13 sound different here (docs/audio.md).
    assert.ok(audio.size >= 10, `${audio.size} distinct voices`);
    const length = async (speed: number): Promise<number> => (await (await server.client.audio.speech.create({ model: "tts-1", voice: "alloy", input: SENTENCE, response_format: "pcm", speed })).arrayBuffer()).byteLength;
    const normal = await length(1);
    assert.ok((await length(2)) < normal * 0.65, "twice as fast is much shorter");
    assert.ok((await length(0.5)) > normal * 1.6, "half as fast is much longer");
    // Beyond eSpeak's own range, FFmpeg stretches the tempo (a French eSpeak voice, 4×).
    const fast = (await (await server.client.audio.speech.create({ model: "tts-1", voice: { id: "fr" } as unknown as "alloy", input: "Bonjour à tous, merci d'être venus.", response_format: "pcm", speed: 4 })).arrayBuffer()).byteLength;
    const slow = (await (await server.client.audio.speech.create({ model: "tts-1", voice: { id: "fr" } as unknown as "alloy", input: "Bonjour à tous, merci d'être venus.", response_format: "pcm", speed: 1 })).arrayBuffer()).byteLength;
    assert.ok(fast < slow / 3, `4× speed: ${fast} bytes against ${slow}`);
  });

  it("speaks Chinese text in Mandarin", async () => {
    assert.equal(languageFor("你好，世界。今天天气很好。", "en-us"), "cmn");
    assert.equal(languageFor("Hello, world.", "en-us"), "en-us");
    const res = await server.client.audio.speech.create({ model: "tts-1", voice: "nova", input: "你好，世界。今天天气很好。", response_format: "wav" });
    const wav = decodeWav(Buffer.from(await res.arrayBuffer()));
    assert.ok(wav !== undefined && wav.samples.length / wav.sampleRate > 1);
  });

  it("streams speech.audio.delta events and a speech.audio.done with usage", async () => {
    const res = await raw(server, "/v1/audio/speech", { body: JSON.stringify({ model: "gpt-4o-mini-tts", voice: "ash", input: SENTENCE, response_format: "pcm", stream_format: "sse" }) });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const events = sseData(res.text).map((d) => JSON.parse(d) as { type: string; audio?: string });
    const deltas = events.filter((e) => e.type === "speech.audio.delta");
    assert.ok(deltas.length >= 1);
    for (const e of deltas) assertSchema("SpeechAudioDeltaEvent", e);
    const done = events.at(-1);
    assertSchema("SpeechAudioDoneEvent", done);
    assert.deepEqual((done as unknown as { usage: unknown }).usage, { input_tokens: SENTENCE.length, output_tokens: 0, total_tokens: SENTENCE.length });
    const bytes = Buffer.concat(deltas.map((e) => Buffer.from(e.audio ?? "", "base64")));
    assert.ok(bytes.length / 2 / 24_000 > 2);
  });

  it("answers bad requests with a 400 naming the param", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ model: "tts-1", voice: "alloy" }, "input"],
      [{ model: "tts-1", voice: "alloy", input: "" }, "input"],
      [{ model: "tts-1", voice: "alloy", input: "x".repeat(4097) }, "input"],
      [{ model: "tts-1", voice: "nobody", input: "Hi" }, "voice"],
      [{ model: "tts-1", voice: { id: "klingon" }, input: "Hi" }, "voice"],
      [{ model: "tts-1", voice: "alloy", input: "Hi", speed: 5 }, "speed"],
      [{ model: "tts-1", voice: "alloy", input: "Hi", response_format: "ogg" }, "response_format"],
      [{ model: "tts-1", voice: "alloy", input: "Hi", stream_format: "chunks" }, "stream_format"],
      [{ model: "tts-1", voice: "alloy", input: "Hi", pitch: 3 }, "pitch"],
      [{ model: "stories", voice: "alloy", input: "Hi" }, "model"],
    ];
    for (const [body, param] of cases) {
      const res = await raw(server, "/v1/audio/speech", { body: JSON.stringify(body) });
      assert.equal(res.status, 400, `${JSON.stringify(body).slice(0, 80)}: ${res.text}`);
      assert.equal((res.body as { error: { param: string } }).error.param, param, res.text);
    }
    assert.equal((await raw(server, "/v1/audio/speech", { body: JSON.stringify({ model: "no-such-model", voice: "alloy", input: "Hi" }) })).status, 404);
  });
});

describe("POST /v1/audio/transcriptions and /translations", () => {
  it("transcribes and translates real speech (jfk.wav) with the SDK", async () => {
    // At once: the server recognises one recording per core.
    const [result, translated] = await Promise.all([
      server.client.audio.transcriptions.create({ model: "whisper-1", file: await toFile(JFK, "jfk.wav") }),
      server.client.audio.translations.create({ model: "whisper-1", file: await toFile(JFK, "jfk.wav") }),
    ]);
    assertSchema("CreateTranscriptionResponseJson", result);
    const wer = wordErrorRate(JFK_TEXT, result.text);
    assert.ok(wer <= 0.6, `WER ${(wer * 100).toFixed(0)}%: ${result.text}`);
    assert.deepEqual((result as unknown as { usage: unknown }).usage, { type: "duration", seconds: 11 });
    // English speech translated to English is its transcript.
    assertSchema("CreateTranslationResponseJson", translated);
    assert.ok(wordErrorRate(JFK_TEXT, translated.text) <= 0.6, translated.text);
  });

  it("answers verbose_json with words and segments, and text, srt and vtt", async () => {
    // The four formats are asked for at once (each transcribes the same recording).
    const [verbose, text, srt, vtt] = await Promise.all([
      server.client.audio.transcriptions.create({ model: "gpt-4o-transcribe", file: await toFile(JFK, "jfk.wav"), response_format: "verbose_json", timestamp_granularities: ["word", "segment"] }),
      raw(server, "/v1/audio/transcriptions", { method: "POST", ...(await form({ model: "whisper-1", response_format: "text" })) }),
      raw(server, "/v1/audio/transcriptions", { method: "POST", ...(await form({ model: "whisper-1", response_format: "srt" })) }),
      raw(server, "/v1/audio/transcriptions", { method: "POST", ...(await form({ model: "whisper-1", response_format: "vtt" })) }),
    ]);
    assertSchema("CreateTranscriptionResponseVerboseJson", verbose);
    assert.equal(verbose.language, "english");
    assert.ok(Math.abs(verbose.duration - 11) < 0.01);
    const words = verbose.words ?? [];
    assert.ok(words.length >= 10);
    for (let i = 1; i < words.length; i++) assert.ok((words[i]?.start as number) >= (words[i - 1]?.start as number));
    assert.ok((verbose.segments ?? []).length >= 2);
    for (const s of verbose.segments ?? []) assertSchema("TranscriptionSegment", s);
    assert.equal(text.status, 200);
    assert.equal(text.text.trim(), verbose.text);
    assert.match(srt.text, /^1\n00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}\n\S/);
    assert.match(vtt.text, /^WEBVTT\n\n00:00:\d\d\.\d{3} --> /);
  });

  it("streams transcript.text.delta events and transcript.text.done", async () => {
    const stream = await server.client.audio.transcriptions.create({ model: "whisper-1", file: await toFile(JFK, "jfk.wav"), stream: true });
    const events: { type: string; delta?: string; text?: string }[] = [];
    for await (const event of stream) events.push(event as { type: string });
    assert.ok(events.length >= 2);
    for (const e of events.slice(0, -1)) assertSchema("TranscriptTextDeltaEvent", e);
    assertSchema("TranscriptTextDoneEvent", events.at(-1));
    assert.equal(events.slice(0, -1).map((e) => e.delta).join(""), events.at(-1)?.text);
  });

  it("round-trips 20 English sentences through speech and back within 10% WER", async () => {
    const sentences = [
      "The quick brown fox jumps over the lazy dog.", "Please call me when you get home tonight.", "I would like a cup of coffee with milk.",
      "The weather is very nice today.", "We are going to the park this afternoon.", "She opened the door and walked into the room.",
      "My brother works at the hospital downtown.", "The train leaves the station at nine.", "Can you help me carry these boxes?",
      "He reads a book before going to sleep.", "They planted flowers in the garden last spring.", "The children are playing in the yard.",
      "I forgot my keys in the car.", "Our meeting has been moved to Friday.", "The store closes at six in the evening.",
      "Water boils at one hundred degrees.", "She sent a letter to her grandmother.", "We need more time to finish the project.",
      "The dog barked at the mailman.", "Turn left at the next traffic light.",
    ];
    let errors = 0;
    let words = 0;
    // Four at a time: the server recognises one per core and speaks in its worker meanwhile.
    const queue = [...sentences.entries()];
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const [i, sentence] = next;
        const voice = (["alloy", "coral", "ash", "sage"] as const)[i % 4] ?? "alloy";
        const audio = Buffer.from(await (await server.client.audio.speech.create({ model: "tts-1", voice, input: sentence, response_format: "mp3" })).arrayBuffer());
        const heard = await server.client.audio.transcriptions.create({ model: "whisper-1", file: await toFile(audio, "speech.mp3") });
        const n = sentence.split(/\s+/).length;
        errors += wordErrorRate(sentence, heard.text) * n;
        words += n;
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    assert.ok(errors / words <= 0.1, `WER ${((100 * errors) / words).toFixed(1)}%`);
  });

  it("answers bad uploads with a 4xx naming the param, and leaves nothing on disk", async () => {
    const scratch = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith("modelport-audio-") || n.startsWith("modelport-stt-"));
    const before = new Set(scratch());
    const cases: [Record<string, string>, Buffer | null, string, number][] = [
      [{ model: "whisper-1" }, Buffer.from("this is not audio at all"), "file", 400],
      [{ model: "whisper-1" }, JFK.subarray(0, 40), "file", 400],
      [{ model: "whisper-1", language: "fr" }, JFK, "language", 400],
      [{ model: "whisper-1", response_format: "xml" }, JFK, "response_format", 400],
      [{ model: "whisper-1", temperature: "3" }, JFK, "temperature", 400],
      [{ model: "whisper-1", "include[]": "logprobs" }, JFK, "include", 400],
      [{ model: "whisper-1", "timestamp_granularities[]": "word" }, JFK, "timestamp_granularities", 400],
      [{ model: "tts-1" }, JFK, "model", 400],
      [{}, JFK, "model", 400],
      [{ model: "whisper-1" }, null, "file", 400],
      [{ model: "whisper-1" }, Buffer.alloc(30 * 1024 * 1024, 1), "file", 413],
    ];
    for (const [fields, file, param, status] of cases) {
      const res = await raw(server, "/v1/audio/transcriptions", { method: "POST", ...(await form(fields, file)) });
      assert.equal(res.status, status, `${JSON.stringify(fields)}: ${res.text.slice(0, 200)}`);
      assert.equal((res.body as { error: { param: string } }).error.param, param, res.text.slice(0, 200));
    }
    assert.deepEqual(scratch().filter((n) => !before.has(n)), [], "no upload or scratch directory is left behind");
    // And the server still serves: a short spoken sentence is heard.
    const spoken = Buffer.from(await (await server.client.audio.speech.create({ model: "tts-1", voice: "alloy", input: "Please call me when you get home.", response_format: "wav" })).arrayBuffer());
    assert.ok((await server.client.audio.transcriptions.create({ model: "whisper-1", file: await toFile(spoken, "short.wav") })).text.length > 5);
  });
});

/** A multipart body with the fields and a `file` part (jfk.wav unless given; none for null). */
async function form(fields: Record<string, string>, file: Buffer | null = JFK): Promise<{ body: Uint8Array; headers: Record<string, string> }> {
  const data = new FormData();
  for (const [name, value] of Object.entries(fields)) data.append(name, value);
  if (file !== null) data.append("file", new Blob([new Uint8Array(file)]), "audio.wav");
  const request = new Request("http://x", { method: "POST", body: data });
  return { body: new Uint8Array(await request.arrayBuffer()), headers: { "content-type": request.headers.get("content-type") ?? "" } };
}
