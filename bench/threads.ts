/**
 * bench/threads: generation speed and prompt-evaluation time for each thread count and batch size,
 * on each test model, measured side by side in one run. The figures choose the engine's defaults
 * (docs/performance.md).
 *
 *   npm run bench:threads [-- --rounds 3]
 */
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { getLlama, type Token } from "node-llama-cpp";
import { appendResults, machineFacts, median } from "./machine.ts";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "3" } } });
const ROUNDS = Number(values.rounds);
const MODELS = ["stories260K.gguf", "llama-2-tiny-random.gguf"].map((f) => fileURLToPath(new URL(`../../shared/models/${f}`, import.meta.url)));
const THREADS = [...new Set([1, 2, availableParallelism()])];
const BATCHES = [128, 512];

const llama = await getLlama({ build: "never", gpu: false, maxThreads: 0 });
const rows: string[] = [];
for (const path of MODELS) {
  const model = await llama.loadModel({ modelPath: path });
  const prompt = model.tokenize("Once upon a time, there was a little girl who liked to play in the park with her dog. ".repeat(80)).slice(0, 1500) as Token[];
  for (const threads of THREADS) {
    for (const batchSize of BATCHES) {
      const context = await model.createContext({ sequences: 1, contextSize: 2048, threads, batchSize, flashAttention: false });
      const sequence = context.getSequence();
      const gen: number[] = [];
      const evalMs: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        await sequence.clearHistory();
        let started = performance.now();
        let n = 0;
        for await (const _ of sequence.evaluate(model.tokenize("Once upon a time"), { temperature: 0.8, seed: round, topK: 40, minP: 0, topP: 1 })) {
          if (++n >= 200) break;
        }
        gen.push(n / ((performance.now() - started) / 1000));
        await sequence.clearHistory();
        started = performance.now();
        for await (const _ of sequence.evaluate(prompt, { temperature: 0 })) break;
        evalMs.push(performance.now() - started);
      }
      const name = path.split("/").pop();
      rows.push(`| ${name} | ${threads} | ${batchSize} | ${median(gen).toFixed(0)} | ${median(evalMs).toFixed(0)} |`);
      console.log(rows.at(-1));
      await context.dispose();
    }
  }
  await model.dispose();
}
await llama.dispose();
appendResults(`## threads: engine settings (${new Date().toISOString()})

- Machine: ${machineFacts()}
- node-llama-cpp directly, one sequence of 2048, flash attention off; generation of 200 tokens, and evaluation of a 1,500-token prompt; median of ${ROUNDS}

| model | threads | batch size | generation tokens/s | 1,500-token prompt (ms) |
|---|---|---|---|---|
${rows.join("\n")}
`);
