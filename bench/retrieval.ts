// Retrieval benchmark: indexing throughput (chunks/s) and search latency (p50/p99) on a store of
// 10,000 chunks, through the real server (`modelport serve` child process) over HTTP.
//   npm run bench:retrieval [-- --chunks 10000 --queries 300]
import { chunkText } from "../src/retrieval/chunker.ts";
import { appendResults, machineFacts, median } from "./machine.ts";
import { BENCH_KEY, startBenchServer } from "./server.ts";

const args = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const CHUNKS = arg("chunks", 10_000);
const QUERIES = arg("queries", 300);
/** Sentences per file: static chunking of 100 tokens without overlap makes about 100 chunks of each. */
const SENTENCES_PER_FILE = 190;

// A deterministic pseudo-random text generator over a fixed vocabulary, so runs are comparable.
let seed = 42;
const rand = (): number => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};
const WORDS = Array.from({ length: 3000 }, (_, i) => {
  const syllables = ["ka", "lo", "mi", "ren", "tu", "sa", "vel", "dor", "pi", "qua", "zen", "bra", "mon", "li", "tor", "ex"];
  let w = "";
  for (let n = 0, x = i + 7; n < 2 + (i % 3); n++, x = Math.floor(x / 16) + n * 5) w += syllables[x % 16];
  return `${w}${i % 10}`;
});
const word = (): string => WORDS[Math.floor(rand() ** 2 * WORDS.length)] as string;
const sentence = (): string => `${Array.from({ length: 8 + Math.floor(rand() * 8) }, word).join(" ")}.`;

async function api(url: string, path: string, init: { method?: string; body?: unknown; form?: FormData } = {}): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}${path}`, {
    method: init.method ?? (init.body !== undefined || init.form !== undefined ? "POST" : "GET"),
    headers: { authorization: `Bearer ${BENCH_KEY}`, ...(init.body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : init.form !== undefined ? { body: init.form } : {}),
  });
  const body = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
};

const server = await startBenchServer({});
try {
  const ids: string[] = [];
  let chunkCount = 0;
  // About 100 tokens per chunk: ~75 words of these made-up words (several tokens each) is more than
  // enough; the chunker cuts at 100 tokens.
  // Files until the store has the wanted number of chunks.
  for (let f = 0; chunkCount < CHUNKS; f++) {
    const text = Array.from({ length: SENTENCES_PER_FILE }, sentence).join(" ");
    // The server chunks with the same code: this is the number of chunks it will index.
    chunkCount += chunkText(text, { maxTokens: 100, overlapTokens: 0 }).length;
    const form = new FormData();
    form.set("purpose", "assistants");
    form.set("file", new Blob([text]), `doc-${f}.txt`);
    ids.push(String((await api(server.url, "/v1/files", { form })).id));
  }
  const store = await api(server.url, "/v1/vector_stores", { body: { name: "bench" } });
  const storeId = String(store.id);
  const started = performance.now();
  await api(server.url, `/v1/vector_stores/${storeId}/file_batches`, { body: { file_ids: ids, chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 100, chunk_overlap_tokens: 0 } } } });
  for (;;) {
    const s = await api(server.url, `/v1/vector_stores/${storeId}`);
    const counts = s.file_counts as { in_progress: number; completed: number; failed: number };
    if (counts.in_progress === 0) {
      if (counts.failed > 0) throw new Error(`${counts.failed} files failed to index`);
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const indexSeconds = (performance.now() - started) / 1000;
  // Search latency, warm: the first search loads the index from the database (timed separately).
  const queryText = (): string => Array.from({ length: 3 + Math.floor(rand() * 5) }, word).join(" ");
  const t0 = performance.now();
  await api(server.url, `/v1/vector_stores/${storeId}/search`, { body: { query: queryText() } });
  const coldMs = performance.now() - t0;
  const search: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < QUERIES; i++) {
    // Interleaved with a cheap request on the same path, the HTTP floor of this machine right now.
    const a = performance.now();
    await api(server.url, `/v1/vector_stores/${storeId}`);
    floor.push(performance.now() - a);
    const b = performance.now();
    await api(server.url, `/v1/vector_stores/${storeId}/search`, { body: { query: queryText(), max_num_results: 10 } });
    search.push(performance.now() - b);
  }
  const p50 = percentile(search, 50);
  const p99 = percentile(search, 99);
  const lines = [
    `## retrieval (${new Date().toISOString().slice(0, 10)})`,
    "",
    `${machineFacts()}; stories260K as the embedding model (64 dimensions, mean pooling), 1 indexing worker, SQLite.`,
    "",
    "| measure | value |",
    "|---|---|",
    `| chunks indexed | ${chunkCount} (${ids.length} files, static 100-token chunks) |`,
    `| indexing time | ${indexSeconds.toFixed(1)} s |`,
    `| indexing throughput | **${(chunkCount / indexSeconds).toFixed(0)} chunks/s** (extract + chunk + embed + store) |`,
    `| first search (loads the index from the database) | ${coldMs.toFixed(1)} ms |`,
    `| search p50 / p99 over ${QUERIES} queries | **${p50.toFixed(2)} / ${p99.toFixed(2)} ms** |`,
    `| HTTP floor (GET the store) p50, interleaved | ${median(floor).toFixed(2)} ms |`,
    `| search p50 / floor p50 | ${(p50 / median(floor)).toFixed(1)}× |`,
    "",
    `Server RSS after the run: ${server.rssMiB().toFixed(0)} MiB.`,
  ];
  console.log(lines.join("\n"));
  appendResults(lines.join("\n"));
} finally {
  await server.stop();
}
