import { readFileSync } from "node:fs";
import { join } from "node:path";
import { toFile } from "openai";
import { MODELS_DIR, startTestServer } from "../test/helpers/server.ts";
const server = await startTestServer();
const mode = process.argv[2];
if (mode === "stt") await server.client.audio.transcriptions.create({ model: "whisper-1", file: await toFile(readFileSync(join(MODELS_DIR, "jfk.wav")), "jfk.wav") });
if (mode === "tts") await (await server.client.audio.speech.create({ model: "tts-1", voice: "alloy", input: "Hello.", response_format: "mp3" })).arrayBuffer();
await server.close();
setTimeout(() => {
  const p = process as unknown as { _getActiveHandles(): { constructor: { name: string } }[]; getActiveResourcesInfo(): string[] };
  console.log("resources", p.getActiveResourcesInfo());
  for (const h of p._getActiveHandles()) console.log(h.constructor.name, (h as any).fd ?? "", (h as any).spawnfile ?? "");
}, 1500).unref();
