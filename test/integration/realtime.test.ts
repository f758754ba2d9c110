import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { OpenAIRealtimeWS } from "openai/realtime/ws";
import { Agent, fetch as undiciFetch } from "undici";
import { WebSocket } from "ws";
import { decodeWav, resample } from "../../src/providers/audio/pcm.ts";
import { assertSchema, SPEC_PATH } from "../helpers/openapi.ts";
import { MODELS_DIR, startTestServer, type TestServer } from "../helpers/server.ts";

// The Realtime API over WebSocket, on the real server with the tiny local model, the built-in
// speech models and a self-signed certificate made here with openssl: a raw `ws` client as a
// browser speaks it, and the official SDK's OpenAIRealtimeWS (which only connects over wss:).

const KEY = "sk-realtime-test-key";
const ADMIN = "sk-admin-realtime-0123456789abcdef";
const dir = mkdtempSync(join(tmpdir(), "modelport-tls-"));
execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
const CA = readFileSync(join(dir, "cert.pem"));

let server: TestServer;
const clients: Client[] = [];
before(async () => {
  server = await startTestServer({ env: { MODELPORT_API_KEYS: KEY, MODELPORT_ADMIN_KEY: ADMIN, MODELPORT_TLS_CERT: join(dir, "cert.pem"), MODELPORT_TLS_KEY: join(dir, "key.pem") } });
});
after(async () => {
  for (const c of clients) c.ws.terminate();
  await server.close();
});

type Event = Record<string, unknown> & { type: string };

/** Each GA server event type's own schema, from the spec's RealtimeServerEvent union. */
const EVENT_SCHEMAS: ReadonlyMap<string, string> = (() => {
  const schemas = (JSON.parse(readFileSync(SPEC_PATH, "utf8")) as { components: { schemas: Record<string, { anyOf?: { $ref: string }[]; properties?: { type?: { enum?: string[] } } }> } }).components.schemas;
  const map = new Map<string, string>();
  for (const ref of schemas.RealtimeServerEvent?.anyOf ?? []) {
    const name = ref.$ref.split("/").pop() ?? "";
    for (const type of schemas[name]?.properties?.type?.enum ?? []) map.set(type, name);
  }
  return map;
})();

/** Beta event types renamed from the GA names the spec's RealtimeBeta* schemas carry. */
const BETA_RENAMED: Readonly<Record<string, string>> = {
  "response.text.delta": "response.output_text.delta",
  "response.text.done": "response.output_text.done",
  "response.audio.delta": "response.output_audio.delta",
  "response.audio.done": "response.output_audio.done",
  "response.audio_transcript.delta": "response.output_audio_transcript.delta",
  "response.audio_transcript.done": "response.output_audio_transcript.done",
};
const BETA_SCHEMAS: ReadonlyMap<string, string> = (() => {
  const schemas = (JSON.parse(readFileSync(SPEC_PATH, "utf8")) as { components: { schemas: Record<string, { properties?: { type?: { enum?: string[] } } }> } }).components.schemas;
  const map = new Map<string, string>();
  for (const [name, schema] of Object.entries(schemas)) {
    if (name.startsWith("RealtimeBetaServerEvent")) for (const type of schema.properties?.type?.enum ?? []) map.set(type, name);
  }
  return map;
})();

function assertBetaEvent(event: Event): void {
  const type = BETA_RENAMED[event.type] ?? event.type;
  const schema = BETA_SCHEMAS.get(type);
  assert.ok(schema !== undefined, `'${event.type}' is not a beta server event`);
  assertSchema(schema, { ...event, type });
}

function assertEvent(event: Event): void {
  const schema = EVENT_SCHEMAS.get(event.type);
  assert.ok(schema !== undefined, `'${event.type}' is not a GA server event`);
  assertSchema(schema, event);
}

/** A raw WebSocket client that keeps every server event, checked against the spec as it arrives. */
class Client {
  readonly events: Event[] = [];
  /** Events that did not match their schema (checked when the client closes, so a mismatch fails the test rather than the socket). */
  readonly invalid: Error[] = [];
  readonly ws: WebSocket;
  #waiters: { test: (e: Event) => boolean; resolve: (e: Event) => void }[] = [];

  constructor(query = "model=stories", options: { protocols?: string[]; headers?: Record<string, string>; beta?: boolean } = {}) {
    const url = `${server.url.replace(/^https/, "wss")}/v1/realtime?${query}`;
    clients.push(this);
    this.ws = new WebSocket(url, options.protocols ?? [], { ca: CA, headers: options.headers ?? { authorization: `Bearer ${KEY}` } });
    this.ws.on("message", (data) => {
      const event = JSON.parse(data.toString()) as Event;
      this.events.push(event);
      try {
        if (options.beta) assertBetaEvent(event);
        else assertEvent(event);
      } catch (error) {
        this.invalid.push(error as Error);
      }
      for (const w of [...this.#waiters]) {
        if (w.test(event)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(event);
        }
      }
    });
  }

  async open(): Promise<void> {
    await new Promise((resolve, reject) => this.ws.once("open", resolve).once("error", reject));
  }

  send(event: Record<string, unknown> | string): void {
    this.ws.send(typeof event === "string" ? event : JSON.stringify(event));
  }

  /** The first event received from index `since` on (already, or when it comes) matching `test`. */
  next(test: (e: Event) => boolean, since = 0, timeoutMs = 30_000): Promise<Event> {
    const seen = this.events.slice(since).find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching event; last: ${this.events.slice(-3).map((e) => e.type).join(", ")}`)), timeoutMs);
      this.#waiters.push({ test, resolve: (e) => (clearTimeout(timer), resolve(e)) });
    });
  }

  type(type: string, since?: number): Promise<Event> {
    return this.next((e) => e.type === type, since);
  }

  close(): void {
    this.ws.close();
    if (this.invalid.length > 0) throw this.invalid[0];
  }
}

/** jfk.wav at 24 kHz, then a second of silence, as 20 ms frames of base64 PCM. */
function speechFrames(): string[] {
  const jfk = decodeWav(readFileSync(join(MODELS_DIR, "jfk.wav")))!;
  const speech = resample(jfk, 24_000).samples;
  const all = new Int16Array(speech.length + 24_000);
  all.set(speech);
  const frames: string[] = [];
  for (let at = 0; at < all.length; at += 480) {
    const chunk = all.subarray(at, at + 480);
    frames.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("base64"));
  }
  return frames;
}

/** Sends frames at `pace` times real time. */
async function stream(client: Client, frames: readonly string[], pace = 8): Promise<void> {
  for (let i = 0; i < frames.length; i++) {
    client.send({ type: "input_audio_buffer.append", audio: frames[i] });
    if (i % 25 === 24) await new Promise((r) => setTimeout(r, (500 / pace) | 0));
  }
}

describe("Realtime API over WebSocket (GA events)", () => {
  it("runs a text session: session.created, session.update, an item, a response with text deltas and usage", async () => {
    const client = new Client();
    await client.open();
    const created = await client.type("session.created");
    assertSchema("RealtimeServerEventSessionCreated", created);
    client.send({ type: "session.update", session: { type: "realtime", output_modalities: ["text"], instructions: "Tell a story.", max_output_tokens: 24 } });
    const updated = await client.type("session.updated");
    assert.deepEqual((updated.session as { output_modalities: string[] }).output_modalities, ["text"]);
    client.send({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text: "Once upon a time" }] } });
    await client.type("conversation.item.done");
    const since = client.events.length;
    client.send({ type: "response.create" });
    const done = await client.type("response.done", since);
    const response = done.response as { status: string; usage: { output_tokens: number; input_tokens: number } };
    assert.equal(response.status, "completed");
    assert.ok(response.usage.output_tokens > 0 && response.usage.input_tokens > 0);
    const deltas = client.events.slice(since).filter((e) => e.type === "response.output_text.delta").map((e) => e.delta as string);
    const text = await client.type("response.output_text.done", since);
    assert.equal(deltas.join(""), text.text);
    assert.deepEqual(
      [...new Set(client.events.slice(since).map((e) => e.type))],
      ["response.created", "rate_limits.updated", "response.output_item.added", "conversation.item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.done", "response.content_part.done", "response.output_item.done", "conversation.item.done", "response.done"],
    );
    client.close();
  });

  it("hears speech with server VAD: speech_started/stopped, committed, transcription, then a spoken answer with its transcript and audio tokens", async () => {
    const client = new Client();
    await client.open();
    await client.type("session.created");
    client.send({
      type: "session.update",
      session: { output_modalities: ["audio"], max_output_tokens: 40, audio: { input: { transcription: { model: "whisper-1" }, turn_detection: { type: "server_vad", silence_duration_ms: 800 } }, output: { voice: "coral" } } },
    });
    await client.type("session.updated");
    await stream(client, speechFrames());
    const started = await client.type("input_audio_buffer.speech_started");
    const stopped = await client.type("input_audio_buffer.speech_stopped");
    assert.equal(started.item_id, stopped.item_id);
    assert.ok((stopped.audio_end_ms as number) > 9000 && (stopped.audio_end_ms as number) < 12_500, `speech ended at ${stopped.audio_end_ms} ms`);
    const heard = await client.type("conversation.item.input_audio_transcription.completed");
    assert.match(heard.transcript as string, /country/);
    const done = await client.type("response.done");
    const response = done.response as { status: string; usage: { input_token_details: { audio_tokens: number }; output_token_details: { audio_tokens: number } } };
    assert.equal(response.status, "completed");
    const audio = client.events.filter((e) => e.type === "response.output_audio.delta").map((e) => Buffer.from(e.delta as string, "base64"));
    const seconds = Buffer.concat(audio).length / 2 / 24_000;
    assert.ok(seconds > 0.3, `${seconds} s spoken`);
    const transcript = client.events.filter((e) => e.type === "response.output_audio_transcript.delta").map((e) => e.delta as string).join("");
    assert.equal(transcript, (await client.type("response.output_audio_transcript.done")).transcript);
    assert.ok(response.usage.input_token_details.audio_tokens >= 100, "about 11 s heard");
    assert.ok(Math.abs(response.usage.output_token_details.audio_tokens - Math.ceil(seconds * 20)) <= 2);
    client.close();
  });

  it("round-trips a function call: the call as an item with its arguments, then function_call_output and response.create", async () => {
    const client = new Client();
    await client.open();
    await client.type("session.created");
    const tool = { type: "function", name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string", maxLength: 30 } }, required: ["city"] } };
    client.send({ type: "session.update", session: { output_modalities: ["text"], tools: [tool], tool_choice: "required", max_output_tokens: 400 } });
    await client.type("session.updated");
    client.send({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text: "Weather in Paris?" }] } });
    client.send({ type: "response.create" });
    const args = await client.type("response.function_call_arguments.done");
    assert.equal(args.name, "get_weather");
    assert.equal(typeof (JSON.parse(args.arguments as string) as { city: unknown }).city, "string");
    await client.type("response.done");
    const since = client.events.length;
    client.send({ type: "session.update", session: { tool_choice: "none" } });
    client.send({ type: "conversation.item.create", item: { type: "function_call_output", call_id: args.call_id, output: JSON.stringify({ temperature: 21 }) } });
    client.send({ type: "response.create" });
    const done = await client.type("response.done", since);
    assert.equal((done.response as { status: string }).status, "completed");
    client.close();
  });

  it("answers bad events with an error event naming the problem and the client's event_id, and stays usable", async () => {
    const client = new Client();
    await client.open();
    await client.type("session.created");
    client.send("{not json");
    assert.equal(((await client.type("error")).error as { code: string }).code, "invalid_json");
    let since = client.events.length;
    client.send({ type: "no.such.event", event_id: "evt_1" });
    const unknown = (await client.type("error", since)).error as { param: string; event_id: string };
    assert.deepEqual([unknown.param, unknown.event_id], ["type", "evt_1"]);
    since = client.events.length;
    client.send({ type: "input_audio_buffer.append", audio: "@@@", event_id: "evt_2" });
    assert.deepEqual(Object.values((await client.type("error", since)).error as object).slice(0, 0), []);
    assert.equal(((client.events.at(-1) as Event).error as { param: string }).param, "audio");
    since = client.events.length;
    client.send({ type: "input_audio_buffer.commit", event_id: "evt_3" });
    assert.equal(((await client.type("error", since)).error as { code: string }).code, "input_audio_buffer_commit_empty");
    since = client.events.length;
    client.send({ type: "session.update", session: { audio: { output: { speed: 9 } } }, event_id: "evt_4" });
    assert.equal(((await client.type("error", since)).error as { param: string }).param, "session.audio.output.speed");
    since = client.events.length;
    client.send({ type: "session.update", session: { output_modalities: ["text"], max_output_tokens: 8 } });
    client.send({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text: "Hi" }] } });
    client.send({ type: "response.create" });
    assert.equal(((await client.type("response.done", since)).response as { status: string }).status, "completed");
    client.close();
  });

  it("takes manual turns when turn detection is off: append, commit, transcription, response.create; items can be retrieved and deleted", async () => {
    const client = new Client();
    await client.open();
    await client.type("session.created");
    client.send({ type: "session.update", session: { output_modalities: ["text"], max_output_tokens: 12, audio: { input: { turn_detection: null, transcription: { model: "whisper-1" } } } } });
    const updated = await client.type("session.updated");
    assert.equal(((updated.session as { audio: { input: { turn_detection: unknown } } }).audio.input.turn_detection), null);
    await stream(client, speechFrames(), 50);
    client.send({ type: "input_audio_buffer.commit" });
    const committed = await client.type("input_audio_buffer.committed");
    assert.ok(!client.events.some((e) => e.type === "input_audio_buffer.speech_started"), "no VAD events with turn detection off");
    assert.match((await client.type("conversation.item.input_audio_transcription.completed")).transcript as string, /country/);
    client.send({ type: "response.create" });
    assert.equal(((await client.type("response.done")).response as { status: string }).status, "completed");
    client.send({ type: "conversation.item.retrieve", item_id: committed.item_id });
    const retrieved = await client.type("conversation.item.retrieved");
    assert.match(((retrieved.item as { content: { transcript: string }[] }).content[0]!.transcript), /country/);
    client.send({ type: "conversation.item.delete", item_id: committed.item_id });
    assert.equal((await client.type("conversation.item.deleted")).item_id, committed.item_id);
    const since = client.events.length;
    client.send({ type: "conversation.item.retrieve", item_id: committed.item_id, event_id: "evt_gone" });
    assert.equal(((await client.type("error", since)).error as { code: string }).code, "item_not_found");
    client.close();
  });

  it("transcribes only, in a transcription session (?intent=transcription): turns heard as they are spoken, through noise reduction, no responses, metered as transcription", async () => {
    const startTime = Math.floor(Date.now() / 1000) - 1;
    const client = new Client("intent=transcription");
    await client.open();
    const created = await client.type("session.created");
    const session = created.session as { type: string; object: string; audio: { input: { transcription: { model: string } } } };
    assert.deepEqual([session.type, session.object, session.audio.input.transcription.model], ["transcription", "realtime.transcription_session", "whisper-1"]);
    client.send({ type: "session.update", session: { type: "transcription", audio: { input: { noise_reduction: { type: "near_field" }, turn_detection: { type: "server_vad", silence_duration_ms: 800 } } } } });
    const updated = await client.type("session.updated");
    assert.deepEqual((updated.session as { audio: { input: { noise_reduction: unknown } } }).audio.input.noise_reduction, { type: "near_field" });
    // Fields of a realtime session are not a transcription session's.
    let since = client.events.length;
    client.send({ type: "session.update", session: { type: "transcription", instructions: "Be brief." } });
    assert.equal(((await client.type("error", since)).error as { param: string }).param, "session.instructions");
    since = client.events.length;
    await stream(client, speechFrames(), 4);
    const stopped = await client.type("input_audio_buffer.speech_stopped", since);
    const heard = await client.type("conversation.item.input_audio_transcription.completed", since);
    assert.equal(heard.item_id, stopped.item_id);
    assert.match(heard.transcript as string, /country/);
    client.send({ type: "response.create", event_id: "evt_no_response" });
    const refused = (await client.type("error", since)).error as { param: string; event_id: string };
    assert.deepEqual([refused.param, refused.event_id], ["type", "evt_no_response"]);
    assert.ok(!client.events.some((e) => e.type.startsWith("response.")), "a transcription session never answers");
    client.close();
    // Each turn is metered as /v1/audio/transcriptions meters a recording: its seconds, to the transcription model.
    await server.meter.flush();
    const usage = await undiciFetch(`${server.baseURL}/organization/usage/audio_transcriptions?start_time=${startTime}&group_by[]=model`, { headers: { authorization: `Bearer ${ADMIN}` }, dispatcher: new Agent({ connect: { ca: CA } }) });
    const results = ((await usage.json()) as { data: { results: { model: string; seconds: number; num_model_requests: number }[] }[] }).data.flatMap((b) => b.results);
    assert.deepEqual(results.map((r) => [r.model, r.num_model_requests]), [["stt-local", 1]]);
    assert.ok(results[0]!.seconds >= 10, `${results[0]!.seconds} s metered`);
  });

  it("prompts the listener after idle_timeout_ms of silence following an answer: timeout_triggered, the silence committed, a response", async () => {
    const client = new Client();
    await client.open();
    await client.type("session.created");
    client.send({ type: "session.update", session: { output_modalities: ["text"], max_output_tokens: 8, audio: { input: { turn_detection: { type: "server_vad", idle_timeout_ms: 5000 } } } } });
    await client.type("session.updated");
    client.send({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text: "Hi" }] } });
    client.send({ type: "response.create" });
    await client.type("response.done");
    const since = client.events.length;
    // Six seconds of silence, sent at 20 times real time: the timeout counts audio, not the wall clock.
    const silence = Buffer.alloc(960).toString("base64");
    await stream(client, Array.from({ length: 300 }, () => silence), 20);
    const timeout = await client.type("input_audio_buffer.timeout_triggered", since);
    assert.ok((timeout.audio_end_ms as number) - (timeout.audio_start_ms as number) >= 5000);
    assert.equal((await client.type("input_audio_buffer.committed", since)).item_id, timeout.item_id);
    assert.equal(((await client.type("response.done", since)).response as { status: string }).status, "completed");
    assert.equal(client.events.filter((e) => e.type === "input_audio_buffer.timeout_triggered").length, 1, "once per silence");
    client.close();
  });

  it("cancels an answer when the listener speaks over it (barge-in)", async () => {
    const client = new Client();
    await client.open();
    await client.type("session.created");
    client.send({ type: "session.update", session: { output_modalities: ["audio"], max_output_tokens: 400, audio: { input: { turn_detection: { type: "server_vad", silence_duration_ms: 800, create_response: false } } } } });
    await client.type("session.updated");
    client.send({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text: "Once upon a time" }] } });
    // The tiny model's answers vary in length: one may end before the speech over it is detected,
    // and then there was nothing to interrupt; a few tries give a long enough answer.
    let response: { status: string; status_details?: { reason: string } } | undefined;
    for (let attempt = 0; attempt < 4 && response?.status !== "cancelled"; attempt++) {
      const since = client.events.length;
      client.send({ type: "response.create" });
      await client.type("response.output_audio.delta", since);
      await stream(client, speechFrames().slice(0, 100), 50);
      response = (await client.type("response.done", since)).response as typeof response;
      // Let this round's turn end before the next answer starts.
      client.send({ type: "input_audio_buffer.clear" });
      await client.type("input_audio_buffer.cleared", since);
    }
    assert.deepEqual([response?.status, response?.status_details?.reason], ["cancelled", "turn_detected"]);
    client.close();
  });

  it("frees the engine when a socket closes mid-answer: sessions closed while answering, more of them than the model has sequences, leave it serving", async () => {
    for (let i = 0; i < 6; i++) {
      const client = new Client();
      await client.open();
      await client.type("session.created");
      client.send({ type: "session.update", session: { output_modalities: ["text"], max_output_tokens: 400 } });
      client.send({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text: "Once upon a time" }] } });
      client.send({ type: "response.create" });
      await client.type("response.output_text.delta");
      client.close();
    }
    const client = new Client();
    await client.open();
    await client.type("session.created");
    client.send({ type: "session.update", session: { output_modalities: ["text"], max_output_tokens: 8 } });
    client.send({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text: "Hi" }] } });
    client.send({ type: "response.create" });
    assert.equal(((await client.type("response.done")).response as { status: string }).status, "completed");
    client.close();
  });

  it("refuses a missing key at the upgrade with 401, and takes the key as a browser's subprotocol", async () => {
    const refused = new WebSocket(`${server.url.replace(/^https/, "wss")}/v1/realtime?model=stories`, { ca: CA });
    const status = await new Promise<number>((resolve) => refused.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0)));
    assert.equal(status, 401);
    const browser = new Client("model=stories", { protocols: ["realtime", `openai-insecure-api-key.${KEY}`], headers: {} });
    await browser.open();
    assert.equal(browser.ws.protocol, "realtime");
    await browser.type("session.created");
    browser.close();
  });

  it("makes ephemeral client secrets that open sessions with their configuration (as a browser would), and refuses unknown ones", async () => {
    // undici's own fetch, told to trust the self-signed certificate.
    const res = await undiciFetch(`${server.baseURL}/realtime/client_secrets`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ expires_after: { anchor: "created_at", seconds: 60 }, session: { type: "realtime", model: "stories", instructions: "Be brief.", output_modalities: ["text"] } }),
      dispatcher: new Agent({ connect: { ca: CA } }),
    });
    assert.equal(res.status, 200);
    const secret = (await res.json()) as { value: string; expires_at: number; session: Record<string, unknown> };
    assertSchema("RealtimeCreateClientSecretResponse", secret);
    assert.match(secret.value, /^ek_/);
    const browser = new Client("", { protocols: ["realtime", `openai-insecure-api-key.${secret.value}`], headers: {} });
    await browser.open();
    const created = await browser.type("session.created");
    assert.equal((created.session as { instructions: string }).instructions, "Be brief.");
    browser.close();
    const bogus = new WebSocket(`${server.url.replace(/^https/, "wss")}/v1/realtime?model=stories`, ["realtime", "openai-insecure-api-key.ek_0000"], { ca: CA });
    assert.equal(await new Promise<number>((resolve) => bogus.on("unexpected-response", (_req, r) => resolve(r.statusCode ?? 0))), 401);
  });

  it("speaks the beta protocol to clients that send OpenAI-Beta: realtime=v1: the guide's voice-agent flow, event for event", async () => {
    const client = new Client("model=stories", { headers: { authorization: `Bearer ${KEY}`, "openai-beta": "realtime=v1" }, beta: true });
    await client.open();
    const created = await client.type("session.created");
    assert.equal((created.session as { input_audio_format: string }).input_audio_format, "pcm16");
    const tool = { type: "function", name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string", maxLength: 30 } }, required: ["city"] } };
    client.send({
      type: "session.update",
      session: {
        modalities: ["text", "audio"], voice: "alloy", input_audio_format: "pcm16", output_audio_format: "pcm16",
        input_audio_transcription: { model: "whisper-1" }, turn_detection: { type: "server_vad", silence_duration_ms: 800 },
        tools: [tool], tool_choice: "none", temperature: 0.8, max_response_output_tokens: 40,
      },
    });
    const updated = await client.type("session.updated");
    assert.deepEqual((updated.session as { modalities: string[] }).modalities, ["text", "audio"]);
    await stream(client, speechFrames());
    assert.equal(((await client.type("conversation.item.created")).item as { role: string }).role, "user");
    assert.match((await client.type("conversation.item.input_audio_transcription.completed")).transcript as string, /country/);
    await client.type("response.audio_transcript.delta");
    await client.type("response.audio.delta");
    const first = await client.type("response.done");
    assert.equal((first.response as { status: string }).status, "completed");
    assert.ok(!client.events.some((e) => /^response\.output_(audio|text)|^conversation\.item\.(added|done)$/.test(e.type)), "no GA event names");
    let since = client.events.length;
    client.send({ type: "session.update", session: { tool_choice: "required", max_response_output_tokens: 400 } });
    client.send({ type: "response.create", response: { modalities: ["text"] } });
    const call = await client.type("response.function_call_arguments.done", since);
    await client.type("response.done", since);
    since = client.events.length;
    client.send({ type: "session.update", session: { tool_choice: "none", max_response_output_tokens: 20 } });
    client.send({ type: "conversation.item.create", item: { type: "function_call_output", call_id: call.call_id, output: JSON.stringify({ temperature: 21 }) } });
    client.send({ type: "response.create" });
    const answered = await client.type("response.done", since);
    assert.equal((answered.response as { status: string }).status, "completed");
    client.close();
  });

  it("works with the official SDK's OpenAIRealtimeWS over TLS", async () => {
    const openai = new OpenAI({ apiKey: KEY, baseURL: server.baseURL });
    const rt = new OpenAIRealtimeWS({ model: "stories", options: { ca: CA } }, openai);
    const types: string[] = [];
    const finished = new Promise<Record<string, unknown>>((resolve, reject) => {
      rt.on("error", reject);
      rt.on("event", (event) => {
        types.push(event.type);
        if (event.type === "response.done") resolve(event.response as unknown as Record<string, unknown>);
      });
    });
    await new Promise((resolve) => rt.socket.once("open", resolve));
    rt.send({ type: "session.update", session: { type: "realtime", output_modalities: ["text"], max_output_tokens: 12 } });
    rt.send({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text: "Once upon a time" }] } });
    rt.send({ type: "response.create" });
    const response = await finished;
    assert.equal(response.status, "completed");
    assert.ok(types.includes("session.created") && types.includes("response.output_text.delta"));
    rt.close();
  });
});
