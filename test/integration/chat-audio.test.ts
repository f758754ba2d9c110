import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { toFile } from "openai";
import { decodeWav } from "../../src/providers/audio/pcm.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { MODELS_DIR, raw, sseData, startTestServer, type TestServer } from "../helpers/server.ts";

// Audio in and out of Chat Completions for a text model (stories260K): its text is spoken by the
// built-in speech model, and recordings in messages are transcribed by PocketSphinx first.
let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server.close();
});

const JFK = readFileSync(join(MODELS_DIR, "jfk.wav"));
const ASK = { model: "stories", messages: [{ role: "user" as const, content: "Once upon a time" }], max_tokens: 24, temperature: 0 };

describe("Chat Completions with audio", () => {
  let firstAudioId = "";

  it("speaks the answer: message.audio with the text as its transcript, content null, audio tokens in usage", async () => {
    const plain = await server.client.chat.completions.create(ASK);
    const spoken = await server.client.chat.completions.create({ ...ASK, modalities: ["text", "audio"], audio: { voice: "alloy", format: "wav" } });
    assertSchema("CreateChatCompletionResponse", spoken);
    const message = spoken.choices[0]!.message;
    assert.equal(message.content, null);
    assert.ok(message.audio);
    assert.match(message.audio.id, /^audio_/);
    assert.equal(message.audio.transcript, plain.choices[0]!.message.content);
    assert.ok(message.audio.expires_at > Date.now() / 1000 + 3000);
    const wav = decodeWav(Buffer.from(message.audio.data, "base64"));
    assert.equal(wav?.sampleRate, 24_000);
    const seconds = wav!.samples.length / 24_000;
    assert.ok(seconds > 0.5, `${seconds} s of speech`);
    const audioTokens = spoken.usage!.completion_tokens_details!.audio_tokens!;
    // One output audio token per 50 ms, as OpenAI counts them.
    assert.ok(Math.abs(audioTokens - Math.ceil(seconds * 20)) <= 1, `${audioTokens} tokens for ${seconds} s`);
    assert.equal(spoken.usage!.completion_tokens, plain.usage!.completion_tokens + audioTokens);
    assert.equal(spoken.usage!.prompt_tokens, plain.usage!.prompt_tokens);
    firstAudioId = message.audio.id;
  });

  it("speaks in mp3 too (decoded back by the same FFmpeg)", async () => {
    const spoken = await server.client.chat.completions.create({ ...ASK, modalities: ["text", "audio"], audio: { voice: "onyx", format: "mp3" } });
    const data = Buffer.from(spoken.choices[0]!.message.audio!.data, "base64");
    // An MPEG audio frame sync or an ID3 tag opens the file.
    assert.ok(data.subarray(0, 3).toString("latin1") === "ID3" || (data[0] === 0xff && (data[1]! & 0xe0) === 0xe0), "mp3 bytes");
  });

  it("streams the transcript, then pcm16 audio, then the answer's id and expiry, with audio tokens in the usage chunk", async () => {
    const plain = await server.client.chat.completions.create(ASK);
    const res = await raw(server, "/v1/chat/completions", {
      body: JSON.stringify({ ...ASK, modalities: ["text", "audio"], audio: { voice: "coral", format: "pcm16" }, stream: true, stream_options: { include_usage: true } }),
    });
    assert.equal(res.status, 200);
    const frames = sseData(res.text);
    assert.equal(frames.at(-1), "[DONE]");
    let transcript = "";
    const audio: Buffer[] = [];
    let done: { id?: string; expires_at?: number } | undefined;
    let usage: { completion_tokens_details: { audio_tokens: number } } | undefined;
    let opened: { id?: string } | undefined;
    for (const frame of frames.slice(0, -1)) {
      const chunk = JSON.parse(frame) as { choices: { delta: { content?: string | null; audio?: { id?: string; transcript?: string; data?: string; expires_at?: number } } }[]; usage?: typeof usage };
      assertSchema("CreateChatCompletionStreamResponse", chunk);
      if (chunk.usage) usage = chunk.usage;
      const delta = chunk.choices[0]?.delta;
      if (delta === undefined) continue;
      assert.ok(delta.content === undefined || delta.content === null, "no text content beside the audio");
      if (delta.audio?.transcript !== undefined) {
        opened ??= delta.audio;
        transcript += delta.audio.transcript;
      }
      if (delta.audio?.data !== undefined) {
        assert.equal(done, undefined, "audio data before the answer is done");
        audio.push(Buffer.from(delta.audio.data, "base64"));
      }
      if (delta.audio?.expires_at !== undefined) done = delta.audio;
    }
    assert.equal(transcript, plain.choices[0]!.message.content);
    assert.ok(opened?.id?.startsWith("audio_"));
    assert.equal(done?.id, opened?.id);
    const seconds = Buffer.concat(audio).length / 2 / 24_000;
    assert.ok(seconds > 0.5, `${seconds} s streamed`);
    assert.ok(Math.abs(usage!.completion_tokens_details.audio_tokens - Math.ceil(seconds * 20)) <= 1);
  });

  it("transcribes input_audio for the text model: it reads what /audio/transcriptions hears, and audio tokens are counted", async () => {
    // At once: the server recognises one recording per core.
    const [heard, withAudio] = await Promise.all([
      server.client.audio.transcriptions.create({ model: "whisper-1", file: await toFile(JFK, "jfk.wav") }),
      server.client.chat.completions.create({
        ...ASK,
        messages: [{ role: "user", content: [{ type: "text", text: "Listen:" }, { type: "input_audio", input_audio: { data: JFK.toString("base64"), format: "wav" } }] }],
      }),
    ]);
    assert.match(heard.text, /country/);
    const asText = await server.client.chat.completions.create({ ...ASK, messages: [{ role: "user", content: `Listen:\n${heard.text}` }] });
    assert.equal(withAudio.choices[0]!.message.content, asText.choices[0]!.message.content);
    const audioTokens = withAudio.usage!.prompt_tokens_details!.audio_tokens!;
    assert.equal(audioTokens, 110, "11 s at one token per 100 ms");
    assert.equal(withAudio.usage!.prompt_tokens, asText.usage!.prompt_tokens + audioTokens);
  });

  it("lets a later request refer to a spoken answer by its audio id, for this project only", async () => {
    assert.notEqual(firstAudioId, "");
    const first = await server.client.chat.completions.create({ ...ASK, modalities: ["text", "audio"], audio: { voice: "alloy", format: "wav" } });
    const followUp = await server.client.chat.completions.create({
      ...ASK,
      messages: [...ASK.messages, { role: "assistant", audio: { id: first.choices[0]!.message.audio!.id } }, { role: "user", content: "And then?" }],
    });
    const asText = await server.client.chat.completions.create({
      ...ASK,
      messages: [...ASK.messages, { role: "assistant", content: first.choices[0]!.message.audio!.transcript }, { role: "user", content: "And then?" }],
    });
    assert.equal(followUp.usage!.prompt_tokens, asText.usage!.prompt_tokens);
    assert.equal(followUp.choices[0]!.message.content, asText.choices[0]!.message.content);
    const unknown = await raw(server, "/v1/chat/completions", {
      body: JSON.stringify({ ...ASK, messages: [...ASK.messages, { role: "assistant", audio: { id: "audio_nope" } }, { role: "user", content: "x" }] }),
    });
    assert.equal(unknown.status, 400);
    assert.equal((unknown.body as { error: { param: string } }).error.param, "messages[1].audio.id");
  });

  it("answers bad audio with a 400 naming the part, and keeps serving", async () => {
    const notAudio = await raw(server, "/v1/chat/completions", {
      body: JSON.stringify({ ...ASK, messages: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: Buffer.from("this is not a recording at all").toString("base64"), format: "mp3" } }] }] }),
    });
    assert.equal(notAudio.status, 400, notAudio.text);
    assert.equal((notAudio.body as { error: { param: string } }).error.param, "messages[0].content[0]");
    const truncated = await raw(server, "/v1/chat/completions", {
      body: JSON.stringify({ ...ASK, messages: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: JFK.subarray(0, 60).toString("base64"), format: "wav" } }] }] }),
    });
    assert.equal(truncated.status, 400, truncated.text);
    const voice = await raw(server, "/v1/chat/completions", { body: JSON.stringify({ ...ASK, modalities: ["text", "audio"], audio: { voice: { id: "no-such-voice" }, format: "wav" } }) });
    assert.equal(voice.status, 400, voice.text);
    assert.equal((voice.body as { error: { param: string } }).error.param, "audio.voice");
    const ok = await server.client.chat.completions.create(ASK);
    assert.ok(ok.choices[0]!.message.content);
  });
});
