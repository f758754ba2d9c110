/**
 * bench/engine: tokens/s of one streamed chat completion through Modelport's HTTP API versus the
 * same generation through node-llama-cpp directly: same model, prompt tokens, seed, temperature,
 * context settings and thread count, alternating in one run. Target ratio (HTTP / direct) ≥ 0.95.
 *
 *   npm run bench:engine [-- --rounds 7 --tokens 1000 --model ../shared/models/stories260K.gguf]
 */
import { spawn } from "node:child_process";
import { Agent, request } from "node:http";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { getLlama, resolveChatWrapper, type LlamaContextSequence, type Token } from "node-llama-cpp";
import { appendResults, machineFacts, median } from "./machine.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "15" },
    tokens: { type: "string", default: "1000" },
    threads: { type: "string", default: "1" },
    model: { type: "string", default: fileURLToPath(new URL("../../shared/models/stories260K.gguf", import.meta.url)) },
  },
});
const ROUNDS = Number(values.rounds);
const MAX_TOKENS = Number(values.tokens);
const THREADS = Number(values.threads);
const MODEL = values.model;
const CONTEXT = 2048;
const SEQUENCES = 4;
const TEMPERATURE = 0.8;
const agent = new Agent({ keepAlive: true });

function prompt(round: number): string {
  return `Story number ${round}. Once upon a time`;
}

async function startServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const cli = fileURLToPath(new URL("../src/cli/index.ts", import.meta.url));
  const child = spawn(process.execPath, [cli, "serve", "--port", "0", "-m", MODEL], {
    env: {
      ...process.env,
      MODELPORT_THREADS: String(THREADS),
      MODELPORT_SEQUENCES: String(SEQUENCES),
      MODELPORT_CONTEXT_SIZE: String(CONTEXT),
      MODELPORT_GPU: "cpu",
      MODELPORT_AUTO_PULL: "false",
      MODELPORT_LOG_LEVEL: "info",
      MODELPORT_API_KEYS: "sk-bench",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((r) => child.on("close", () => r()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 60_000);
    child.stdout.on("data", (d) => {
      out += d;
      const found = /"msg":"listening","url":"(http:\/\/[^"]+)\/v1"/.exec(out);
      if (found) {
        clearTimeout(timer);
        resolve(found[1] as string);
      }
    });
  });
  return {
    url,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

interface Measurement {
  tokens: number;
  seconds: number;
}

/** One streamed completion over a plain node:http client that only keeps the stream's tail. */
function viaHttp(url: string, round: number): Promise<Measurement> {
  const body = JSON.stringify({
    model: modelId(),
    messages: [{ role: "user", content: prompt(round) }],
    max_tokens: MAX_TOKENS,
    seed: round,
    temperature: TEMPERATURE,
    stream: true,
    stream_options: { include_usage: true },
  });
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/chat/completions`, {
      method: "POST",
      agent,
      headers: { authorization: "Bearer sk-bench", "content-type": "application/json", "content-length": Buffer.byteLength(body) },
    }, (res) => {
      let tail = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        tail = (tail + d).slice(-2048);
      });
      res.on("end", () => {
        const seconds = (performance.now() - started) / 1000;
        const usage = /"completion_tokens":(\d+)/.exec(tail);
        if (!usage || !tail.endsWith("data: [DONE]\n\n")) reject(new Error(`incomplete stream: ${tail.slice(-300)}`));
        else resolve({ tokens: Number(usage[1]), seconds });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

function modelId(): string {
  return (MODEL.split("/").pop() ?? MODEL).replace(/\.gguf$/i, "");
}

async function main(): Promise<void> {
  const llama = await getLlama({ build: "never", gpu: false, maxThreads: 0 });
  const model = await llama.loadModel({ modelPath: MODEL });
  const context = await model.createContext({ sequences: SEQUENCES, contextSize: CONTEXT, threads: THREADS, flashAttention: false, batchSize: 128 });
  const sequence: LlamaContextSequence = context.getSequence();
  const wrapper = resolveChatWrapper(model);

  const direct = async (round: number): Promise<Measurement> => {
    await sequence.clearHistory();
    const started = performance.now();
    const state = wrapper.generateContextState({
      chatHistory: [{ type: "user", text: prompt(round) }, { type: "model", response: [] }],
    });
    const tokens = state.contextText.tokenize(model.tokenizer);
    const out: Token[] = [];
    for await (const token of sequence.evaluate(tokens, { temperature: TEMPERATURE, seed: round, topK: 40, minP: 0, topP: 1 })) {
      out.push(token);
      model.detokenize([token]);
      if (out.length >= MAX_TOKENS) break;
    }
    return { tokens: out.length, seconds: (performance.now() - started) / 1000 };
  };

  const server = await startServer();
  const httpRates: number[] = [];
  const directRates: number[] = [];
  const tokenCounts: string[] = [];
  try {
    await viaHttp(server.url, 0);
    await direct(0);
    for (let round = 1; round <= ROUNDS; round++) {
      const d = await direct(round);
      const h = await viaHttp(server.url, round);
      directRates.push(d.tokens / d.seconds);
      httpRates.push(h.tokens / h.seconds);
      tokenCounts.push(d.tokens === h.tokens ? String(d.tokens) : `${d.tokens}≠${h.tokens}`);
      console.log(`round ${round}: direct ${d.tokens} tok in ${d.seconds.toFixed(3)} s, http ${h.tokens} tok in ${h.seconds.toFixed(3)} s`);
    }
  } finally {
    await server.stop();
    await context.dispose();
    await model.dispose();
    await llama.dispose();
  }
  const directTps = median(directRates);
  const httpTps = median(httpRates);
  const ratio = httpTps / directTps;
  // Each round runs the two paths back to back, so the ratio within a round cancels slow drifts in
  // machine load; its median is the headline figure.
  const paired = median(httpRates.map((h, i) => h / (directRates[i] as number)));
  console.log(`direct ${directTps.toFixed(0)} tok/s, http ${httpTps.toFixed(0)} tok/s, ratio of medians ${ratio.toFixed(3)}, median paired ratio ${paired.toFixed(3)} (target >= 0.95)`);
  appendResults(`## engine: HTTP streaming vs node-llama-cpp directly (${new Date().toISOString()})

- Machine: ${machineFacts()}
- Model: ${modelId()}, context ${CONTEXT} × ${SEQUENCES} sequences, ${THREADS} thread(s), flash attention off, temperature ${TEMPERATURE} with top_p 1, top-k 40 and no min-p (the server's defaults), up to ${MAX_TOKENS} tokens, seed = round
- Tokens per round (direct, and HTTP when they differ): ${tokenCounts.join(", ")}

| path | median tokens/s over ${ROUNDS} rounds |
|---|---|
| node-llama-cpp directly | ${directTps.toFixed(0)} |
| Modelport HTTP stream (SSE) | ${httpTps.toFixed(0)} |
| ratio of the medians | ${ratio.toFixed(3)} |
| **median of per-round ratios HTTP / direct** | **${paired.toFixed(3)}** (target ≥ 0.95) |
`);
}

await main();
