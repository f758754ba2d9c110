/**
 * bench/prefix-cache: time to first token with a shared system prompt of about 1,500 tokens, cache
 * hit (same system prompt, new question) vs miss (the system prompt starts differently), alternating
 * in one run, with the cached_tokens the server reports. Target hit/miss ≤ 0.2.
 *
 *   npm run bench:prefix-cache [-- --rounds 7]
 */
import { parseArgs } from "node:util";
import { appendResults, machineFacts, median } from "./machine.ts";
import { startBenchServer, streamCompletion } from "./server.ts";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "7" }, target: { type: "string", default: "1500" } } });
const ROUNDS = Number(values.rounds);
const TARGET = Number(values.target);
const SENTENCE = "Every story has a cat, a dog and a little girl who like to play in the park with a red ball. ";

const server = await startBenchServer({ sequences: 4, threads: 1, contextSize: 2048 });
const ask = (system: string, question: string) =>
  streamCompletion(server.url, {
    model: "stories260K",
    messages: [{ role: "system", content: system }, { role: "user", content: question }],
    max_tokens: 8,
    seed: 1,
  });
const hits: number[] = [];
const misses: number[] = [];
const cached: number[] = [];
let promptTokens = 0;
try {
  // Calibrate the number of sentences to land near the target prompt length.
  const probe = await ask(SENTENCE.repeat(10), "probe");
  const perSentence = (probe.promptTokens - 20) / 10;
  const repeats = Math.max(1, Math.round((TARGET - 30) / perSentence));
  const shared = `You are a storyteller. ${SENTENCE.repeat(repeats)}`;
  await ask(shared, "Warm the cache.");
  for (let round = 0; round < ROUNDS; round++) {
    const miss = await ask(`Round ${round} ${Math.random()}: ${shared}`, `Question ${round}?`);
    const hit = await ask(shared, `Question ${round}?`);
    misses.push(miss.ttftMs);
    hits.push(hit.ttftMs);
    cached.push(hit.cachedTokens);
    promptTokens = hit.promptTokens;
    console.log(`round ${round + 1}: miss ${miss.ttftMs.toFixed(0)} ms (cached ${miss.cachedTokens}), hit ${hit.ttftMs.toFixed(0)} ms (cached ${hit.cachedTokens} of ${hit.promptTokens})`);
  }
} finally {
  await server.stop();
}
const ratio = median(hits) / median(misses);
console.log(`TTFT hit ${median(hits).toFixed(0)} ms, miss ${median(misses).toFixed(0)} ms, ratio ${ratio.toFixed(3)} (target <= 0.2)`);
appendResults(`## prefix-cache: time to first token, shared ${promptTokens}-token prompt, hit vs miss (${new Date().toISOString()})

- Machine: ${machineFacts()}
- Model: stories260K, 4 sequences × 2048 context, 1 thread; ${ROUNDS} alternating rounds; a miss changes the first words of the system prompt
- cached_tokens reported on hits: ${[...new Set(cached)].join(", ")} of ${promptTokens} prompt tokens

| case | median TTFT (ms) |
|---|---|
| miss (prompt evaluated in full) | ${median(misses).toFixed(0)} |
| hit (shared prefix reused) | ${median(hits).toFixed(0)} |
| **ratio hit / miss** | **${ratio.toFixed(3)}** (target ≤ 0.2) |
`);
