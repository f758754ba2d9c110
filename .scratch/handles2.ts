import "./hooks.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { toFile } from "openai";
import { MODELS_DIR, startTestServer } from "../test/helpers/server.ts";
const server = await startTestServer();
await server.client.audio.transcriptions.create({ model: "whisper-1", file: await toFile(readFileSync(join(MODELS_DIR, "jfk.wav")), "jfk.wav") });
await server.close();
setTimeout(() => (globalThis as any).__dumpLive(), 3000).unref();
