/**
 * bench/realtime: the Realtime API's local voice pipeline through the real server (`modelport
 * serve`, the tiny stories260K model, built-in speech and recognition):
 *   turn latency — a short spoken question (made by the built-in speech model) streamed in 20 ms
 *     frames at real-time pace, then silence: time from the last frame of speech to the first
 *     `response.output_audio.delta`, split into the wait for the VAD's silence (silence_duration_ms),
 *     transcription, and the model plus the first sentence of speech;
 *   load — 16 sessions at once, each streaming audio at real-time pace for 10 s with server VAD:
 *     events received, errors, and the server's resident memory before and after.
 * Targets (issue 18): turn latency ≤ 1 s on this machine; 16 sessions held, memory flat, no dropped events.
 *
 *   npm run bench:realtime [-- --rounds 5]
 */
import { parseArgs } from "node:util";
import { WebSocket } from "ws";
import { decodeWav, resample } from "../src/providers/audio/pcm.ts";
import { appendResults, machineFacts, median } from "./machine.ts";
import { BENCH_KEY, startBenchServer } from "./server.ts";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" } } });
const ROUNDS = Number(values.rounds);
const SILENCE_MS = 500;

type Event = { type: string; [key: string]: unknown };

function frames(pcm: Int16Array): string[] {
  const out: string[] = [];
  for (let at = 0; at < pcm.length; at += 480) {
    const chunk = pcm.subarray(at, at + 480);
    out.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("base64"));
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function open(url: string, onEvent: (e: Event) => void): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace("http", "ws")}/v1/realtime?model=stories260K`, { headers: { authorization: `Bearer ${BENCH_KEY}` } });
  ws.on("message", (d) => onEvent(JSON.parse(d.toString()) as Event));
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  return ws;
}

async function main(): Promise<void> {
  const server = await startBenchServer({});
  try {
    // The question, spoken by the server's own speech model.
    const speech = await fetch(`${server.url}/v1/audio/speech`, {
      method: "POST",
      headers: { authorization: `Bearer ${BENCH_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "tts-1", voice: "alloy", input: "What is the weather like today?", response_format: "wav" }),
    });
    const question = resample(decodeWav(Buffer.from(await speech.arrayBuffer()))!, 24_000).samples;
    const speechFrames = frames(question);
    const silence = frames(new Int16Array(24_000 * 2));
    const latencies: number[] = [];
    const transcribed: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      let lastSpeech = 0;
      let stopped = 0;
      let heard = 0;
      let firstAudio = 0;
      let answer = "";
      const ws = await open(server.url, (e) => {
        if (e.type === "response.done") answer = JSON.stringify(e.response).slice(0, 600);
        if (e.type === "input_audio_buffer.speech_stopped") stopped = performance.now();
        if (e.type === "conversation.item.input_audio_transcription.completed") heard = performance.now();
        if (e.type === "response.output_audio.delta" && firstAudio === 0) firstAudio = performance.now();
      });
      ws.send(JSON.stringify({ type: "session.update", session: { output_modalities: ["audio"], max_output_tokens: 40, audio: { input: { transcription: { model: "whisper-1" }, turn_detection: { type: "server_vad", silence_duration_ms: SILENCE_MS } } } } }));
      for (const f of speechFrames) {
        ws.send(JSON.stringify({ type: "input_audio_buffer.append", audio: f }));
        await sleep(20);
      }
      lastSpeech = performance.now();
      for (const f of silence) {
        if (firstAudio !== 0) break;
        ws.send(JSON.stringify({ type: "input_audio_buffer.append", audio: f }));
        await sleep(20);
      }
      for (let i = 0; i < 200 && firstAudio === 0; i++) await sleep(20);
      ws.close();
      if (firstAudio === 0) throw new Error(`round ${r}: no audio answer (stopped ${stopped > 0}, heard ${heard > 0}): ${answer}`);
      latencies.push(firstAudio - lastSpeech);
      transcribed.push(heard - stopped);
    }

    // 16 sessions streaming audio at real-time pace for 10 s.
    const SESSIONS = 16;
    const rssBefore = server.rssMiB();
    let events = 0;
    let errors = 0;
    const sockets = await Promise.all(
      Array.from({ length: SESSIONS }, () =>
        open(server.url, (e) => {
          events++;
          if (e.type === "error") errors++;
        }),
      ),
    );
    for (const ws of sockets) ws.send(JSON.stringify({ type: "session.update", session: { output_modalities: ["text"], max_output_tokens: 16, audio: { input: { turn_detection: { type: "server_vad", create_response: false } } } } }));
    const load = [...speechFrames, ...silence];
    const started = performance.now();
    let sent = 0;
    for (let i = 0; performance.now() - started < 10_000; i++) {
      const f = load[i % load.length] ?? "";
      for (const ws of sockets) ws.send(JSON.stringify({ type: "input_audio_buffer.append", audio: f }));
      sent += SESSIONS;
      await sleep(20);
    }
    await sleep(2000);
    const rssAfter = server.rssMiB();
    const open16 = sockets.filter((ws) => ws.readyState === ws.OPEN).length;
    for (const ws of sockets) ws.close();

    const section = `## realtime: local voice pipeline through the server (${new Date().toISOString()})

${machineFacts()}; model stories260K, built-in speech and recognition, ${ROUNDS} rounds, medians; server VAD with silence_duration_ms ${SILENCE_MS}.

| measure | result |
|---|---|
| end of speech → first output_audio.delta | ${median(latencies).toFixed(0)} ms (of which the VAD's silence ${SILENCE_MS} ms; speech_stopped → transcript ${median(transcribed).toFixed(0)} ms) |
| ${SESSIONS} sessions × 10 s of audio at real-time pace | ${sent} appends, ${open16} of ${SESSIONS} sessions open after, ${errors} error events, ${events} events in all |
| server RSS | ${rssBefore.toFixed(0)} MiB before, ${rssAfter.toFixed(0)} MiB after |

- turn latency ${median(latencies).toFixed(0)} ms (target ≤ 1,000 ms: ${median(latencies) <= 1000 ? "met" : "**not met**"})
- 16 sessions: ${open16 === SESSIONS && errors === 0 ? "held, no errors" : "**not all held**"}; memory ${rssAfter - rssBefore < 100 ? "flat" : `grew ${(rssAfter - rssBefore).toFixed(0)} MiB`}
`;
    console.log(section);
    appendResults(section);
  } finally {
    await server.stop();
  }
}

await main();
