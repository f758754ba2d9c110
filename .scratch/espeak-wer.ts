import { toFile } from "openai";
import { startTestServer } from "../test/helpers/server.ts";
const sentences = [
  "The quick brown fox jumps over the lazy dog.", "Please call me when you get home tonight.", "I would like a cup of coffee with milk.",
  "The weather is very nice today.", "We are going to the park this afternoon.", "She opened the door and walked into the room.",
  "My brother works at the hospital downtown.", "The train leaves the station at nine.", "Can you help me carry these boxes?",
  "He reads a book before going to sleep.",
];
function wer(reference: string, hypothesis: string): number {
  const words = (t: string): string[] => t.toLowerCase().replace(/[^a-z' ]/g, " ").split(/\s+/).filter((w) => w !== "");
  const ref = words(reference), hyp = words(hypothesis);
  let prev = Array.from({ length: hyp.length + 1 }, (_, j) => j);
  for (let i = 1; i <= ref.length; i++) { const row = [i]; for (let j = 1; j <= hyp.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (ref[i - 1] === hyp[j - 1] ? 0 : 1)); prev = row; }
  return prev[hyp.length]! / ref.length;
}
const server = await startTestServer();
const voices = process.argv.slice(2);
for (const v of voices) {
  const [id, speed] = v.split("@");
  let e = 0, n = 0;
  for (const s of sentences) {
    const audio = Buffer.from(await (await server.client.audio.speech.create({ model: "tts-1", voice: { id: id! } as never, input: s, response_format: "wav", speed: Number(speed ?? 1) })).arrayBuffer());
    const heard = await server.client.audio.transcriptions.create({ model: "whisper-1", file: await toFile(audio, "s.wav") });
    const k = s.split(/\s+/).length; e += wer(s, heard.text) * k; n += k;
  }
  console.log(v, (100 * e / n).toFixed(0) + "%");
}
await server.close();
