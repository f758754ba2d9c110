import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { getLlama, type Llama, type LlamaModel } from "node-llama-cpp";
import OpenAI from "openai";
import { loadConfig } from "../../src/config/load.ts";
import { configSchema, type Config, type ConfigInput } from "../../src/config/schema.ts";
import { createLogger } from "../../src/logging/logger.ts";
import { startServer, type RunningServer } from "../../src/main.ts";

/** `../shared/models/` beside the checkout. */
export const MODELS_DIR = fileURLToPath(new URL("../../../shared/models/", import.meta.url));
export const STORIES = join(MODELS_DIR, "stories260K.gguf");
export const TINY_RANDOM = join(MODELS_DIR, "llama-2-tiny-random.gguf");

export interface TestServer extends RunningServer {
  client: OpenAI;
  baseURL: string;
  apiKey: string;
}

/**
 * Starts the real server on a free loopback port with the test models, one thread each (the tiny
 * models run about 15 times faster on one thread than on two), and no auto-pull.
 */
export async function startTestServer(
  overrides: Partial<Omit<Config, "upstreams">> & { upstreams?: ConfigInput["upstreams"]; env?: Record<string, string> } = {},
): Promise<TestServer> {
  const { env, upstreams, ...rest } = overrides;
  const dir = mkdtempSync(join(tmpdir(), "modelport-test-"));
  const base = loadConfig({
    MODELPORT_PORT: "0",
    MODELPORT_DATA_DIR: join(dir, "data"),
    MODELPORT_MODELS_DIR: join(dir, "models"),
    MODELPORT_THREADS: "1",
    MODELPORT_GPU: "cpu",
    MODELPORT_AUTO_PULL: "false",
    MODELPORT_LOG_LEVEL: "silent",
    MODELPORT_CONTEXT_SIZE: "2048",
    ...env,
  });
  const config: Config = {
    ...base,
    models: [
      { id: "stories", path: STORIES, aliases: ["gpt-5.4-mini", "中文模型"] },
      { id: "tiny-random", path: TINY_RANDOM, aliases: [] },
    ],
    ...rest,
    // Upstreams are given as in a config file, defaults filled in.
    ...(upstreams !== undefined ? { upstreams: configSchema.shape.upstreams.parse(upstreams) } : {}),
  };
  const server = await startServer(config, createLogger(config.logLevel));
  const apiKey = config.apiKeys[0] ?? "unused";
  const baseURL = `${server.url}/v1`;
  return { ...server, baseURL, apiKey, client: new OpenAI({ baseURL, apiKey, maxRetries: 0 }) };
}

/** Raw HTTP against the server, returning status, headers and the parsed body (or the text). */
export async function raw(
  server: { url: string },
  path: string,
  init: { method?: string; body?: string | Uint8Array; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; body: unknown; text: string }> {
  const res = await fetch(`${server.url}${path}`, {
    method: init.method ?? (init.body !== undefined ? "POST" : "GET"),
    headers: { "content-type": "application/json", ...init.headers },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (an SSE stream, say): the text is the body.
  }
  return { status: res.status, headers: res.headers, body, text };
}

/** Parses an SSE body into its data payloads. */
export function sseData(text: string): string[] {
  return text
    .split("\n\n")
    .filter((frame) => frame.trim() !== "")
    .map((frame) =>
      frame
        .split("\n")
        .filter((l) => l.startsWith("data: "))
        .map((l) => l.slice(6))
        .join("\n"),
    );
}

/** Polls until `check` holds or the timeout passes. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The stories model loaded straight into node-llama-cpp, for tests that need its tokenizer. */
export async function loadStoriesModel(): Promise<{ llama: Llama; model: LlamaModel; dispose(): Promise<void> }> {
  const llama = await getLlama({ build: "never", gpu: false });
  const model = await llama.loadModel({ modelPath: STORIES });
  return {
    llama,
    model,
    dispose: async () => {
      await model.dispose();
      await llama.dispose();
    },
  };
}
