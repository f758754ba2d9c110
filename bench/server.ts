import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "node:http";
import { fileURLToPath } from "node:url";

/** The small real model the benchmarks use unless told otherwise. */
export const STORIES = fileURLToPath(new URL("../../shared/models/stories260K.gguf", import.meta.url));
export const BENCH_KEY = "sk-bench";

/** A `modelport serve` child process for a benchmark. */
export interface BenchServer {
  url: string;
  pid: number;
  /** Resident memory of the server process, in MiB. */
  rssMiB(): number;
  stop(): Promise<void>;
}

/** Starts the real CLI on a free port with the given engine settings. */
export async function startBenchServer(options: {
  model?: string;
  threads?: number;
  sequences?: number;
  contextSize?: number;
  queueSize?: number;
  /** Extra Node options for the server process, e.g. `--cpu-prof` to profile it. */
  execArgv?: readonly string[];
  /** Extra environment variables (MODELPORT_PROMPT_LOOKUP, say). */
  env?: Record<string, string>;
  /** A YAML config file's text; its models replace `model`. */
  configYaml?: string;
}): Promise<BenchServer> {
  const cli = fileURLToPath(new URL("../src/cli/index.ts", import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), "modelport-bench-"));
  let modelArgs = ["-m", options.model ?? STORIES];
  if (options.configYaml !== undefined) {
    writeFileSync(join(dir, "config.yaml"), options.configYaml);
    mkdirSync(join(dir, "models"));
    modelArgs = ["--config", join(dir, "config.yaml"), "--models-dir", join(dir, "models")];
  }
  const child = spawn(process.execPath, [...(options.execArgv ?? []), cli, "serve", "--port", "0", ...modelArgs], {
    env: {
      ...process.env,
      ...options.env,
      MODELPORT_THREADS: String(options.threads ?? 1),
      MODELPORT_SEQUENCES: String(options.sequences ?? 4),
      MODELPORT_CONTEXT_SIZE: String(options.contextSize ?? 2048),
      MODELPORT_QUEUE_SIZE: String(options.queueSize ?? 32),
      MODELPORT_GPU: "cpu",
      MODELPORT_AUTO_PULL: "false",
      MODELPORT_LOG_LEVEL: "info",
      MODELPORT_API_KEYS: BENCH_KEY,
      MODELPORT_DATA_DIR: join(dir, "data"),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((r) => child.on("close", () => r()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 60_000);
    child.stdout.on("data", (d) => {
      if (out.length < 100_000) out += d;
      const found = /"msg":"listening","url":"(http:\/\/[^"]+)\/v1"/.exec(out);
      if (found) {
        clearTimeout(timer);
        resolve(found[1] as string);
      }
    });
  });
  child.stdout.resume();
  return {
    url,
    pid: child.pid ?? 0,
    rssMiB: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    },
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** What one streamed completion looked like from the client. */
export interface StreamResult {
  status: number;
  retryAfter: string | undefined;
  /** Milliseconds to the first content delta. */
  ttftMs: number;
  totalMs: number;
  completionTokens: number;
  cachedTokens: number;
  promptTokens: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/** One streamed chat completion over plain node:http, keeping only what the benchmarks measure. */
export function streamCompletion(
  url: string,
  body: Record<string, unknown>,
  options: { timeoutMs?: number; obfuscation?: boolean; agent?: Agent } = {},
): Promise<StreamResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const streamOptions = options.obfuscation ? { include_usage: true } : { include_usage: true, include_obfuscation: false };
  const payload = JSON.stringify({ ...body, stream: true, stream_options: streamOptions });
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/v1/chat/completions`,
      { method: "POST", agent: options.agent ?? agent, headers: { authorization: `Bearer ${BENCH_KEY}`, "content-type": "application/json", "content-length": Buffer.byteLength(payload) } },
      (res) => {
        let ttft = -1;
        let tail = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          if (ttft < 0 && d.includes('"content":"') && !/"content":""/.test(d.slice(0, d.indexOf('"content":"') + 12))) ttft = performance.now() - started;
          tail = (tail + d).slice(-4096);
        });
        res.on("end", () => {
          clearTimeout(timer);
          const totalMs = performance.now() - started;
          const num = (name: string) => Number(new RegExp(`"${name}":(\\d+)`).exec(tail)?.[1] ?? 0);
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: res.headers["retry-after"] as string | undefined,
            ttftMs: ttft < 0 ? totalMs : ttft,
            totalMs,
            completionTokens: num("completion_tokens"),
            cachedTokens: num("cached_tokens"),
            promptTokens: num("prompt_tokens"),
          });
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error("request hung"));
    }, timeoutMs);
    req.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(payload);
  });
}

/** The p-th percentile (0–100) of a list, by nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}
