/**
 * bench/overload: waves of 64 concurrent streamed requests against one model with 4 sequences and a
 * queue of 32. Every request must complete or get 503 with Retry-After; none may hang; the server's
 * memory must stay flat from wave to wave.
 *
 *   npm run bench:overload [-- --waves 3 --concurrency 64]
 */
import { parseArgs } from "node:util";
import { appendResults, machineFacts } from "./machine.ts";
import { startBenchServer, streamCompletion } from "./server.ts";

const { values } = parseArgs({ options: { waves: { type: "string", default: "3" }, concurrency: { type: "string", default: "64" } } });
const WAVES = Number(values.waves);
const CONCURRENCY = Number(values.concurrency);

const server = await startBenchServer({ sequences: 4, queueSize: 32, threads: 1 });
const rows: string[] = [];
let failures = 0;
try {
  const before = server.rssMiB();
  for (let wave = 1; wave <= WAVES; wave++) {
    const started = performance.now();
    const settled = await Promise.allSettled(
      Array.from({ length: CONCURRENCY }, (_, i) =>
        streamCompletion(server.url, { model: "stories260K", messages: [{ role: "user", content: `Request ${wave}-${i}` }], max_tokens: 100, seed: i }, { timeoutMs: 60_000 }),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    const ok = settled.filter((s) => s.status === "fulfilled" && s.value.status === 200 && s.value.completionTokens > 0).length;
    const refused = settled.filter((s) => s.status === "fulfilled" && s.value.status === 503 && s.value.retryAfter !== undefined).length;
    const other = CONCURRENCY - ok - refused;
    failures += other;
    const rss = server.rssMiB();
    const heap = await fetch(`${server.url}/health`).then((r) => r.json() as Promise<{ memory: { heap_used_mib: number } }>);
    rows.push(`| ${wave} | ${ok} | ${refused} | ${other} | ${seconds.toFixed(1)} | ${rss.toFixed(0)} | ${heap.memory.heap_used_mib} |`);
    console.log(`wave ${wave}: ${ok} completed, ${refused} refused with 503 + Retry-After, ${other} other (hung or failed) in ${seconds.toFixed(1)} s; RSS ${rss.toFixed(0)} MiB (before: ${before.toFixed(0)}), JS heap ${heap.memory.heap_used_mib} MiB`);
  }
  const health = await fetch(`${server.url}/health`).then((r) => r.json() as Promise<{ models: Record<string, { busy: number; queued: number }> }>);
  const load = Object.values(health.models)[0];
  rows.push(`| after | busy ${load?.busy}, queued ${load?.queued} | | | | ${server.rssMiB().toFixed(0)} | |`);
} finally {
  await server.stop();
}
appendResults(`## overload: ${CONCURRENCY} concurrent requests against 4 sequences, queue 32 (${new Date().toISOString()})

- Machine: ${machineFacts()}
- Model: stories260K, 1 thread, 100 tokens per request, ${WAVES} waves; each request has a 60 s deadline (a hang would count under "other")

| wave | completed | 503 + Retry-After | other | seconds | server RSS (MiB) | JS heap used (MiB) |
|---|---|---|---|---|---|---|
${rows.join("\n")}
`);
if (failures > 0) process.exitCode = 1;
