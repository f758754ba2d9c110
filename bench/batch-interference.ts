/**
 * bench/batch-interference: interactive time to first token while a batch runs vs idle, in one run.
 * Interactive requests (streamed chat, ~100-token prompt, 8 tokens) are sent one after another; the
 * idle and busy phases alternate (a batch is started, measured under, then cancelled) so drift on
 * this noisy machine hits both alike. Target: busy p50 ≤ 2 × idle p50.
 *
 *   npm run bench:batch-interference [-- --rounds 3 --samples 20]
 */
import { parseArgs } from "node:util";
import { appendResults, machineFacts, median } from "./machine.ts";
import { BENCH_KEY, startBenchServer, streamCompletion } from "./server.ts";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "3" }, samples: { type: "string", default: "20" }, lines: { type: "string", default: "2000" } } });
const ROUNDS = Number(values.rounds);
const SAMPLES = Number(values.samples);
const LINES = Number(values.lines);
const PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play outside in the sunshine with her red ball. ".repeat(4);

const server = await startBenchServer({ sequences: 4, threads: 1, contextSize: 2048 });
const api = async (path: string, init: RequestInit = {}): Promise<Record<string, unknown>> => {
  const res = await fetch(`${server.url}/v1${path}`, { ...init, headers: { authorization: `Bearer ${BENCH_KEY}`, ...(init.headers ?? {}) } });
  return (await res.json()) as Record<string, unknown>;
};
const interactive = async (): Promise<number[]> => {
  const out: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const r = await streamCompletion(server.url, { model: "stories260K", messages: [{ role: "user", content: `${i} ${PROMPT}` }], max_tokens: 8 });
    out.push(r.ttftMs);
  }
  return out;
};
const idle: number[] = [];
const busy: number[] = [];
let batchDone = 0;
try {
  const lines = Array.from({ length: LINES }, (_, i) => JSON.stringify({ custom_id: `r${i}`, method: "POST", url: "/v1/chat/completions", body: { model: "stories260K", messages: [{ role: "user", content: `${i} ${PROMPT}` }], max_tokens: 64 } }));
  const form = new FormData();
  form.append("purpose", "batch");
  form.append("file", new Blob([`${lines.join("\n")}\n`]), "bench.jsonl");
  const file = await api("/files", { method: "POST", body: form });
  await interactive(); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    idle.push(...(await interactive()));
    const batch = await api("/batches", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" }) });
    for (let i = 0; i < 200; i++) {
      const b = await api(`/batches/${String(batch.id)}`);
      if ((b.request_counts as { completed: number }).completed >= 4) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    busy.push(...(await interactive()));
    const b = await api(`/batches/${String(batch.id)}/cancel`, { method: "POST" });
    batchDone += (b.request_counts as { completed: number }).completed;
    for (let i = 0; i < 400; i++) {
      const c = await api(`/batches/${String(batch.id)}`);
      if (c.status === "cancelled") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    console.log(`round ${round + 1}: idle p50 ${median(idle).toFixed(1)} ms, busy p50 ${median(busy).toFixed(1)} ms`);
  }
} finally {
  await server.stop();
}
const ratio = median(busy) / median(idle);
console.log(`interactive TTFT p50 busy/idle: ${ratio.toFixed(2)} (target <= 2)`);
appendResults(`## batch-interference: interactive TTFT while a batch runs vs idle (${new Date().toISOString()})

- Machine: ${machineFacts()}
- Model: stories260K, 4 sequences × 2048 context, 1 thread; batch concurrency 2 (default), batch requests 64 tokens each at background priority
- ${ROUNDS} rounds × ${SAMPLES} interactive streamed requests per phase (idle, then with a running batch that is cancelled afterwards); ${batchDone} batch requests finished while measuring

| phase | p50 TTFT (ms) |
|---|---|
| idle | ${median(idle).toFixed(1)} |
| batch running | ${median(busy).toFixed(1)} |
| **ratio** | **${ratio.toFixed(2)}** (target ≤ 2) |
`);
