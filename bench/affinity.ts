/**
 * bench/affinity: prefix-affinity vs least-load routing over engines with prefix caches. Three
 * `modelport serve` engine replicas (stories260K, 1 thread, 2 sequences, hot prefix cache on) sit
 * behind a Modelport gateway whose upstream model routes to them; multi-turn conversations, each
 * with its own long system prompt, each turn appending the previous answer and a new question,
 * interleaved across conversations. Reports the cached-token share (cached_tokens / prompt_tokens,
 * summed) and the median time to first token per policy. Targets: share ≥ 2× least-load's, TTFT
 * p50 lower.
 *
 * Fairness: each policy gets its own gateway and its own three fresh replicas (same settings), so
 * one policy's requests never warm the other's caches; both send the same conversations with the
 * same seeds, so the prompts are identical; rounds (one turn of every conversation) alternate which
 * policy goes first, and one policy's round ends before the other's starts, so the two never
 * compete for the CPUs. With `--concurrency N`, N clients each send their share of the
 * conversations at once, so deployments have requests in flight and the load bound comes into play.
 *
 *   npm run bench:affinity [-- --conversations 12 --turns 6 --system 800 --concurrency 1 --dry-run]
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { appendResults, machineFacts, median } from "./machine.ts";
import { BENCH_KEY, startBenchServer, STORIES, type BenchServer } from "./server.ts";

const { values } = parseArgs({
  options: {
    conversations: { type: "string", default: "12" },
    turns: { type: "string", default: "6" },
    system: { type: "string", default: "800" },
    "max-tokens": { type: "string", default: "24" },
    /** Clients sending at once, each with its share of the conversations; 1 keeps TTFT free of queueing. */
    concurrency: { type: "string", default: "1" },
    /** Print the figures without appending them to RESULTS.md. */
    "dry-run": { type: "boolean", default: false },
  },
});
const CONVERSATIONS = Number(values.conversations);
const TURNS = Number(values.turns);
const SYSTEM_TOKENS = Number(values.system);
const MAX_TOKENS = Number(values["max-tokens"]);
const CONCURRENCY = Number(values.concurrency);
const POLICIES = ["prefix-affinity", "least-load"] as const;
type Policy = (typeof POLICIES)[number];
const SENTENCE = "Every story has a cat, a dog and a little girl who like to play in the park with a red ball. ";
const THINGS = ["cat", "dog", "girl", "ball", "park", "bird", "tree", "boat"];
/** The replicas' hot prefix cache: on, and taking prefixes from 512 tokens (the default 1,024 is above these system prompts). */
const REPLICA_YAML = `models:\n  - id: stories\n    path: ${JSON.stringify(STORIES)}\nprefixCache:\n  enabled: true\n  minTokens: 512\n`;

interface Turn {
  ttftMs: number;
  text: string;
  promptTokens: number;
  cachedTokens: number;
}

type Message = { role: "system" | "user" | "assistant"; content: string };

/** One streamed chat turn: time to the first content delta, the answer's text, and the usage. */
async function chatTurn(url: string, model: string, messages: readonly Message[], seed: number): Promise<Turn> {
  const started = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${BENCH_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages, max_tokens: MAX_TOKENS, temperature: 0.8, seed, stream: true, stream_options: { include_usage: true } }),
  });
  if (!res.ok || res.body === null) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let ttftMs = Number.NaN;
  let text = "";
  let usage: { prompt_tokens: number; prompt_tokens_details?: { cached_tokens?: number } } | undefined;
  let buffer = "";
  const decoder = new TextDecoder();
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!frame.startsWith("data: ") || frame === "data: [DONE]") continue;
      const data = JSON.parse(frame.slice(6)) as { choices: { delta: { content?: string } }[]; usage?: typeof usage };
      const delta = data.choices[0]?.delta.content ?? "";
      if (delta !== "" && Number.isNaN(ttftMs)) ttftMs = performance.now() - started;
      text += delta;
      if (data.usage) usage = data.usage;
    }
  }
  if (usage === undefined) throw new Error("no usage chunk");
  return { ttftMs: Number.isNaN(ttftMs) ? performance.now() - started : ttftMs, text, promptTokens: usage.prompt_tokens, cachedTokens: usage.prompt_tokens_details?.cached_tokens ?? 0 };
}

/** A gateway routing `stories-routed` over three replicas with one policy. */
function gatewayYaml(policy: Policy, replicas: readonly BenchServer[]): string {
  // JSON is YAML.
  return JSON.stringify({
    upstreams: {
      deployments: replicas.map((r, i) => ({ id: `r${i}`, provider: "openai-compatible", baseUrl: `${r.url}/v1`, apiKeyEnv: "AFFINITY_REPLICA_KEY", model: "stories", timeoutMs: 120_000, endpoints: [] })),
      models: [{ name: "stories-routed", deployments: replicas.map((_, i) => `r${i}`), routing: policy, maxRetries: 0 }],
    },
  });
}

async function health(url: string): Promise<Record<string, Record<string, number>>> {
  const res = await fetch(`${url}/health`, { headers: { authorization: `Bearer ${BENCH_KEY}` } });
  return ((await res.json()) as { models: Record<string, Record<string, number>> }).models;
}

const started: BenchServer[] = [];
const replicas = new Map<Policy, BenchServer[]>();
const gateways = new Map<Policy, BenchServer>();
const results = new Map<Policy, Turn[][]>(POLICIES.map((p) => [p, Array.from({ length: TURNS }, () => [])]));
const spread = new Map<Policy, number[]>();
let systemTokens = 0;
try {
  for (const policy of POLICIES) {
    const set: BenchServer[] = [];
    for (let i = 0; i < 3; i++) {
      const replica = await startBenchServer({ configYaml: REPLICA_YAML, threads: 1, sequences: 2, contextSize: 2048 });
      started.push(replica);
      set.push(replica);
    }
    replicas.set(policy, set);
    const gateway = await startBenchServer({ configYaml: gatewayYaml(policy, set), env: { AFFINITY_REPLICA_KEY: BENCH_KEY } });
    started.push(gateway);
    gateways.set(policy, gateway);
  }
  // Size the system prompts, and warm every replica with a short prompt (too short to be cached),
  // the same requests on both sides.
  const sizes: number[] = [];
  for (const policy of POLICIES) {
    const [first] = replicas.get(policy) as BenchServer[];
    const probe = (n: number) => chatTurn((first as BenchServer).url, "stories", [{ role: "system", content: `Probe. ${SENTENCE.repeat(n)}` }, { role: "user", content: "probe" }], 1);
    sizes.push((await probe(2)).promptTokens, (await probe(10)).promptTokens);
    for (const r of replicas.get(policy) as BenchServer[]) await chatTurn(r.url, "stories", [{ role: "user", content: "Warm up." }], 1);
  }
  const perSentence = ((sizes[1] as number) - (sizes[0] as number)) / 8;
  const base = (sizes[0] as number) - 2 * perSentence;
  const repeats = Math.max(1, Math.round((SYSTEM_TOKENS - base) / perSentence));
  // Each conversation's system prompt differs from its first words, so conversations share no prefix.
  const systems = Array.from({ length: CONVERSATIONS }, (_, c) => `Conversation ${c}. You are storyteller number ${c}. ${SENTENCE.repeat(repeats)}`);
  const histories = new Map<Policy, Message[][]>(POLICIES.map((p) => [p, systems.map((s) => [{ role: "system", content: s }])]));

  for (let t = 0; t < TURNS; t++) {
    const order = t % 2 === 0 ? POLICIES : [...POLICIES].reverse();
    for (const policy of order) {
      const url = (gateways.get(policy) as BenchServer).url;
      const lanes = Array.from({ length: CONCURRENCY }, async (_, lane) => {
        for (let c = lane; c < CONVERSATIONS; c += CONCURRENCY) {
          const history = (histories.get(policy) as Message[][])[c] as Message[];
          history.push({ role: "user", content: `Turn ${t + 1}: what did the ${THINGS[(c + t) % THINGS.length]} do next?` });
          const turn = await chatTurn(url, "stories-routed", history, 1000 * c + t);
          history.push({ role: "assistant", content: turn.text });
          (results.get(policy) as Turn[][])[t]?.push(turn);
          if (t === 0 && c === 0) systemTokens = turn.promptTokens;
        }
      });
      await Promise.all(lanes);
      const all = (results.get(policy) as Turn[][])[t] as Turn[];
      console.log(`turn ${t + 1} ${policy}: cached ${all.reduce((s, x) => s + x.cachedTokens, 0)} of ${all.reduce((s, x) => s + x.promptTokens, 0)} prompt tokens, TTFT p50 ${median(all.map((x) => x.ttftMs)).toFixed(0)} ms`);
    }
  }
  for (const policy of POLICIES) {
    const stats = (await health((gateways.get(policy) as BenchServer).url))["stories-routed"] ?? {};
    spread.set(policy, [0, 1, 2].map((i) => stats[`r${i}.requests`] ?? 0));
    console.log(`${policy}: requests per replica ${spread.get(policy)?.join(" / ")}`);
  }
} finally {
  await Promise.all(started.map((s) => s.stop()));
}

const flat = (p: Policy) => (results.get(p) as Turn[][]).flat();
const share = (turns: readonly Turn[]) => turns.reduce((s, x) => s + x.cachedTokens, 0) / Math.max(1, turns.reduce((s, x) => s + x.promptTokens, 0));
const p50 = (turns: readonly Turn[]) => median(turns.map((x) => x.ttftMs));
const [affinity, leastLoad] = [flat("prefix-affinity"), flat("least-load")];
const shareRatio = share(affinity) / Math.max(share(leastLoad), 1e-9);
const ttftRatio = p50(affinity) / p50(leastLoad);
const verdict = `cached-token share ${share(affinity).toFixed(3)} vs ${share(leastLoad).toFixed(3)} (${shareRatio.toFixed(2)}×, target ≥ 2×); TTFT p50 ${p50(affinity).toFixed(0)} vs ${p50(leastLoad).toFixed(0)} ms (${ttftRatio.toFixed(2)}, target < 1)`;
console.log(verdict);
const rows = Array.from({ length: TURNS }, (_, t) => {
  const a = (results.get("prefix-affinity") as Turn[][])[t] as Turn[];
  const l = (results.get("least-load") as Turn[][])[t] as Turn[];
  return `| ${t + 1} | ${median(a.map((x) => x.promptTokens))} | ${share(a).toFixed(3)} | ${share(l).toFixed(3)} | ${p50(a).toFixed(0)} | ${p50(l).toFixed(0)} |`;
});
if (!values["dry-run"]) appendResults(`## affinity: prefix-affinity vs least-load routing over 3 engine replicas, concurrency ${CONCURRENCY} (${new Date().toISOString()})

- Machine: ${machineFacts()}; load average ${loadavg().map((l) => l.toFixed(1)).join(" / ")} at the end (other sessions share the CPUs)
- Replicas: 3 × \`modelport serve\` per policy (stories260K, 1 thread, 2 sequences × 2048 context, hot prefix cache on with \`minTokens: 512\`), behind one Modelport gateway per policy; each policy has its own fresh replicas, both send identical conversations (same prompts and seeds), rounds alternate which policy goes first; ${CONCURRENCY === 1 ? "requests are sequential" : `${CONCURRENCY} clients at once, each with its share of the conversations`}
- Load: ${CONVERSATIONS} conversations × ${TURNS} turns, interleaved (one turn of every conversation per round); a distinct system prompt per conversation (the first turn's prompt: ~${systemTokens} tokens); each turn appends the previous answer (up to ${MAX_TOKENS} tokens) and a new question
- Requests per replica (gateway's count): prefix-affinity ${spread.get("prefix-affinity")?.join(" / ")}, least-load ${spread.get("least-load")?.join(" / ")}

| turn | prompt tokens (median) | cached share, prefix-affinity | cached share, least-load | TTFT p50 prefix-affinity (ms) | TTFT p50 least-load (ms) |
|---|---|---|---|---|---|
${rows.join("\n")}
| **all** | | **${share(affinity).toFixed(3)}** | **${share(leastLoad).toFixed(3)}** | **${p50(affinity).toFixed(0)}** | **${p50(leastLoad).toFixed(0)}** |

**Cached-token share ${shareRatio.toFixed(2)}× least-load's** (target ≥ 2×); **TTFT p50 ${ttftRatio.toFixed(2)}× least-load's** (target < 1).
`);
