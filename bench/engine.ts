/**
 * bench/engine: tokens/s of one streamed chat completion through Modelport's HTTP API versus the
 * same generation through node-llama-cpp directly: same model, prompt tokens, seed, temperature,
 * context settings and thread count, alternating in one run. Target ratio (HTTP / direct) ≥ 0.95.
 *
 *   npm run bench:engine [-- --rounds 7 --tokens 1000 --model ../shared/models/stories260K.gguf]
 */
import { parseArgs } from "node:util";
import { getLlama, resolveChatWrapper, type LlamaContextSequence, type Token } from "node-llama-cpp";
import { appendResults, machineFacts, median } from "./machine.ts";
import { startBenchServer, streamCompletion, STORIES } from "./server.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "15" },
    tokens: { type: "string", default: "1000" },
    threads: { type: "string", default: "1" },
    model: { type: "string", default: STORIES },
  },
});
const ROUNDS = Number(values.rounds);
const MAX_TOKENS = Number(values.tokens);
const THREADS = Number(values.threads);
const MODEL = values.model;
const CONTEXT = 2048;
const SEQUENCES = 4;
const TEMPERATURE = 0.8;

function prompt(round: number): string {
  return `Story number ${round}. Once upon a time`;
}

interface Measurement {
  tokens: number;
  seconds: number;
}

/** One streamed completion as the official SDK would ask for it (obfuscation padding included). */
async function viaHttp(url: string, round: number): Promise<Measurement> {
  const result = await streamCompletion(
    url,
    { model: modelId(), messages: [{ role: "user", content: prompt(round) }], max_tokens: MAX_TOKENS, seed: round, temperature: TEMPERATURE },
    { obfuscation: true },
  );
  return { tokens: result.completionTokens, seconds: result.totalMs / 1000 };
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

  const server = await startBenchServer({ model: MODEL, threads: THREADS, sequences: SEQUENCES, contextSize: CONTEXT });
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
