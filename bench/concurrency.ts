/**
 * bench/concurrency: aggregate tokens/s with 1, 2, 4 and 8 concurrent streams on one model with 4
 * sequences (8 streams means 4 wait in the queue), as a ratio to 1 stream, with p50/p95 time to
 * first token. All levels run in one process against one server, alternating rounds.
 *
 *   npm run bench:concurrency [-- --rounds 3 --tokens 300]
 */
import { parseArgs } from "node:util";
import { appendResults, machineFacts, median } from "./machine.ts";
import { percentile, startBenchServer, streamCompletion } from "./server.ts";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "3" }, tokens: { type: "string", default: "300" } } });
const ROUNDS = Number(values.rounds);
const TOKENS = Number(values.tokens);
const LEVELS = [1, 2, 4, 8];

const server = await startBenchServer({ sequences: 4, threads: 1 });
const rates = new Map<number, number[]>(LEVELS.map((l) => [l, []]));
const ttfts = new Map<number, number[]>(LEVELS.map((l) => [l, []]));
try {
  await streamCompletion(server.url, { model: "stories260K", messages: [{ role: "user", content: "warm up" }], max_tokens: 20 });
  for (let round = 0; round < ROUNDS; round++) {
    for (const level of LEVELS) {
      const started = performance.now();
      const results = await Promise.all(
        Array.from({ length: level }, (_, i) =>
          streamCompletion(server.url, {
            model: "stories260K",
            messages: [{ role: "user", content: `Story ${round}-${level}-${i}: once upon a time` }],
            max_tokens: TOKENS,
            seed: 1000 * round + 10 * level + i,
            temperature: 0.8,
          }),
        ),
      );
      const seconds = (performance.now() - started) / 1000;
      const tokens = results.reduce((s, r) => s + r.completionTokens, 0);
      rates.get(level)!.push(tokens / seconds);
      ttfts.get(level)!.push(...results.map((r) => r.ttftMs));
      console.log(`round ${round + 1}, ${level} streams: ${tokens} tokens in ${seconds.toFixed(2)} s`);
    }
  }
} finally {
  await server.stop();
}
const base = median(rates.get(1)!);
const rows = LEVELS.map((level) => {
  const rate = median(rates.get(level)!);
  const t = ttfts.get(level)!;
  return `| ${level} | ${rate.toFixed(0)} | ${(rate / base).toFixed(2)} | ${percentile(t, 50).toFixed(0)} | ${percentile(t, 95).toFixed(0)} |`;
});
console.log(rows.join("\n"));
appendResults(`## concurrency: aggregate tokens/s by concurrent streams (${new Date().toISOString()})

- Machine: ${machineFacts()}
- Model: stories260K, 4 sequences × 2048 context, 1 thread, ${TOKENS} tokens per stream (temperature 0.8), ${ROUNDS} rounds per level, median aggregate rate; time to first token over every request of a level

| streams | aggregate tokens/s | ratio to 1 stream | TTFT p50 (ms) | TTFT p95 (ms) |
|---|---|---|---|---|
${rows.join("\n")}
`);
