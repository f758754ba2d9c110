/**
 * bench/llama-server: Modelport against llama.cpp's own `llama-server`, the engine's yardstick.
 * Both serve the same GGUF with the same shape (4 slots × 2,048 context, 1 thread, batch 128, flash
 * attention off, top-k 40, temperature 0.8, seeded, the same chat prompt), side by side in one run;
 * each measure alternates between the two servers round by round (the order flips every round).
 * llama-server is built from the llama.cpp source node-llama-cpp ships (its git bundle), once, into
 * a cache outside the repository; without cmake or a C++ compiler the benchmark says "skipped".
 *
 *   npm run bench:llama-server [-- --rounds 7 --tokens 1000 --stream-tokens 300 --prompt-tokens 1460]
 *   npm run bench:llama-server -- --profile [--profile-requests 10]   # CPU profile of Modelport, one stream
 *   npm run bench:llama-server -- --build-only                        # build llama-server and stop
 *
 * The profile mode prints where Modelport's time goes (main-thread JS by function, CPU by thread)
 * and writes no results.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { Agent } from "node:http";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { summariseProfile } from "./cpu-profile.ts";
import { appendResults, machineFacts, median } from "./machine.ts";
import { percentile, startBenchServer, STORIES, streamCompletion, type BenchServer, type StreamResult } from "./server.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "7" },
    /** Tokens asked for in the one-stream case. */
    tokens: { type: "string", default: "1000" },
    /** Tokens asked for by each stream of the 4- and 16-stream cases. */
    "stream-tokens": { type: "string", default: "300" },
    "prompt-tokens": { type: "string", default: "1460" },
    model: { type: "string", default: STORIES },
    profile: { type: "boolean", default: false },
    "profile-requests": { type: "string", default: "10" },
    "build-only": { type: "boolean", default: false },
  },
});
const ROUNDS = Number(values.rounds);
const TOKENS = Number(values.tokens);
const STREAM_TOKENS = Number(values["stream-tokens"]);
const PROMPT_TOKENS = Number(values["prompt-tokens"]);
const MODEL = values.model;
const MODEL_ID = basename(MODEL).replace(/\.gguf$/i, "");

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const LLAMA_DIR = join(ROOT, "node_modules/node-llama-cpp/llama");
const SLOTS = 4;
const CONTEXT_PER_SLOT = 2048;
const BATCH = 128;
const TEMPERATURE = 0.8;
const TOP_K = 40;
const SHORT_TTFT_REQUESTS = 5;
const SENTENCE = "Every story has a cat, a dog and a little girl who like to play in the park with a red ball. ";

/**
 * Llama2Chat exactly as node-llama-cpp's `Llama2ChatWrapper` renders a system + user turn (the
 * format Modelport falls back to for a GGUF without a template, as stories260K is), so both
 * servers evaluate the same prompt tokens. Every piece is a string expression with whitespace
 * trimmed around the tags, so the template's own layout adds nothing.
 */
const LLAMA2_CHAT_JINJA = `{{- bos_token -}}
{%- for m in messages -%}
{%- if m['role'] == 'system' -%}
{{- '[INST] <<SYS>>\\n' + m['content'] + '\\n<</SYS>>\\n\\n' -}}
{%- elif m['role'] == 'user' -%}
{%- if loop.first or messages[loop.index0 - 1]['role'] != 'system' -%}{{- '[INST] ' -}}{%- endif -%}
{{- m['content'] + ' [/INST] ' -}}
{%- else -%}
{{- m['content'] + eos_token -}}
{%- endif -%}
{%- endfor -%}
`;

// ---------------------------------------------------------------------------------------------
// Building llama-server from node-llama-cpp's bundled source
// ---------------------------------------------------------------------------------------------

interface LlamaServerBuild {
  binary: string;
  /** The commit the bundle's HEAD names (what node-llama-cpp's prebuilt binaries are built from). */
  commit: string;
  /** The release tag node-llama-cpp's llama.cpp.info.json records. */
  tag: string;
  /** First line of `llama-server --version`. */
  version: string;
}

function hasTool(command: string, args: readonly string[] = ["--version"]): boolean {
  return spawnSync(command, args, { stdio: "ignore" }).status === 0;
}

function run(command: string, args: readonly string[], cwd?: string): void {
  const result = spawnSync(command, args, { cwd, stdio: "inherit" });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (exit ${result.status ?? result.signal})`);
}

/**
 * The cached llama-server binary, built first when missing; a sentence saying why not where the
 * bundle or a toolchain is missing (or, with `build: false`, where it is not built yet). The build goes to `~/.cache/modelport/llama-server/<commit>`,
 * outside the repository, so nothing built is ever committed and `npm ci` does not delete it.
 */
function ensureLlamaServer(options: { build: boolean } = { build: true }): LlamaServerBuild | string {
  const bundle = join(LLAMA_DIR, "gitRelease.bundle");
  if (!existsSync(bundle)) return `node-llama-cpp ships no llama.cpp source bundle at ${bundle}`;
  if (!hasTool("git")) return "git is not installed";
  const tag = (JSON.parse(readFileSync(join(LLAMA_DIR, "llama.cpp.info.json"), "utf8")) as { tag: string }).tag;
  // The bundle holds one squashed commit under HEAD; its hash names the cache directory, so an
  // upgrade of node-llama-cpp builds afresh beside the old one.
  const heads = execFileSync("git", ["bundle", "list-heads", bundle], { encoding: "utf8" });
  const commit = /^([0-9a-f]{40}) HEAD$/m.exec(heads)?.[1] ?? heads.split(/\s/)[0] ?? "";
  if (!/^[0-9a-f]{40}$/.test(commit)) throw new Error(`cannot read the bundle's commit: ${heads}`);
  const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "modelport", "llama-server");
  const dir = join(cache, commit);
  const binary = join(dir, "build", "bin", "llama-server");
  if (!existsSync(binary) && !options.build) return `llama-server is not built yet (${binary})`;
  if (!existsSync(binary)) {
    if (!hasTool("cmake")) return "cmake is not installed (it is needed to build llama-server)";
    if (!["c++", "g++", "clang++"].some((cxx) => hasTool(cxx))) return "no C++ compiler (c++, g++ or clang++) is installed";
    if (!existsSync(join(dir, ".git"))) {
      // Clone beside the final place and rename, so an interrupted clone never looks complete.
      mkdirSync(cache, { recursive: true });
      const partial = `${dir}.partial-${process.pid}`;
      rmSync(partial, { recursive: true, force: true });
      run("git", ["clone", "--quiet", "--no-checkout", bundle, partial]);
      run("git", ["-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit], partial);
      renameSync(partial, dir);
    }
    console.log(`building llama-server ${commit.slice(0, 7)} in ${dir} (several minutes on 2 cores)`);
    // nice: the build runs on a machine others share; it is a one-off, not the measurement.
    const nice = hasTool("nice", ["true"]) ? ["nice", "-n", "10"] : [];
    const cmake = (args: string[]) => run(nice[0] ?? "cmake", nice.length ? [...nice.slice(1), "cmake", ...args] : args, dir);
    cmake(["-B", "build", "-DGGML_NATIVE=ON", "-DLLAMA_OPENSSL=OFF", "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DCMAKE_BUILD_TYPE=Release"]);
    cmake(["--build", "build", "--target", "llama-server", "-j", "2"]);
    if (!existsSync(binary)) throw new Error(`the build finished without ${binary}`);
  }
  const probe = spawnSync(binary, ["--version"], { encoding: "utf8" });
  const version = `${probe.stdout}${probe.stderr}`.split("\n").find((l) => l.startsWith("version:"))?.trim() ?? "unknown version";
  return { binary, commit, tag, version };
}

// ---------------------------------------------------------------------------------------------
// The two servers
// ---------------------------------------------------------------------------------------------

/** One server under test and what its requests add to the OpenAI body. */
interface Side {
  name: "Modelport" | "llama-server";
  server: BenchServer;
  /** Sampling fields for the request body (the rest of the body is shared). */
  sampling: Record<string, unknown>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU of a process so far, in milliseconds (all its threads). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** CPU milliseconds so far of each thread of a process, summed by thread name. */
function threadCpuMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ms = ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
      // The main thread is named after the executable; label it so it reads as the JS thread.
      const label = tid === String(pid) ? `${name} (main thread)` : name;
      out.set(label, (out.get(label) ?? 0) + ms);
    } catch {
      // The thread ended between listing and reading.
    }
  }
  return out;
}

/** Starts llama-server with the same shape Modelport gets, and waits for /health. */
async function startLlamaServer(binary: string, templateFile: string, logFile: string): Promise<BenchServer> {
  const port = await freePort();
  // -c is the total KV size; with an explicit --parallel (not auto) the KV cache is not unified
  // and each slot gets c / parallel cells, so 8,192 / 4 = 2,048 per slot as Modelport's sequences.
  const args = [
    "-m", MODEL,
    "--host", "127.0.0.1", "--port", String(port),
    "-c", String(SLOTS * CONTEXT_PER_SLOT), "--parallel", String(SLOTS), "--no-kv-unified",
    "-t", "1", "-tb", "1",
    "-b", String(BATCH), "-ub", String(BATCH),
    "-fa", "off",
    "--jinja", "--chat-template-file", templateFile,
    "--no-webui",
  ];
  const log = openSync(logFile, "w");
  const child = spawn(binary, args, { stdio: ["ignore", log, log] });
  closeSync(log);
  const exited = new Promise<void>((r) => child.once("close", () => r()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`llama-server exited (${child.exitCode}); see ${logFile}`);
    const status = await fetch(`${url}/health`).then((r) => r.status, () => 0);
    if (status === 200) break;
    if (Date.now() > deadline) throw new Error(`llama-server did not become healthy; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const pid = child.pid ?? 0;
  return {
    url,
    pid,
    rssMiB: () => rssMiB(pid),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Measures
// ---------------------------------------------------------------------------------------------

type Message = { role: "system" | "user"; content: string };

/**
 * A new connection per request, for both servers alike: llama-server's HTTP library closes some
 * kept-alive connections after a streamed response without saying so, and a client that reuses one
 * gets "socket hang up" (seen with node:http's keep-alive agent when 4 streams start together).
 */
const freshConnections = new Agent({ keepAlive: false, maxSockets: 256 });

function ask(side: Side, messages: Message[], maxTokens: number, seed: number): Promise<StreamResult> {
  return streamCompletion(side.server.url, { model: MODEL_ID, messages, max_tokens: maxTokens, seed, temperature: TEMPERATURE, ...side.sampling }, { agent: freshConnections });
}

/** Tokens/s after the first token: the decode rate, with prompt evaluation and TTFT left out. */
function decodeRate(r: StreamResult): number {
  return (r.completionTokens - 1) / ((r.totalMs - r.ttftMs) / 1000);
}

/** Everything one round records for one server. */
interface RoundResult {
  oneStreamTps: number;
  oneStreamTokens: number;
  oneStreamPromptTokens: number;
  /** Process CPU (all threads) per generated token in the one-stream case, in ms. */
  oneStreamCpuMsPerToken: number;
  shortTtftMs: number;
  fourStreamTps: number;
  fourStreamTokens: number;
  cacheMissTtftMs: number;
  cacheHitTtftMs: number;
  cacheHitCached: number;
  cachePromptTokens: number;
  sixteenTps: number;
  sixteenTokens: number;
  sixteenP95TtftMs: number;
}

async function concurrent(side: Side, count: number, round: number): Promise<{ tps: number; tokens: number; ttfts: number[] }> {
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: count }, (_, i) => ask(side, [{ role: "user", content: `Story ${round}-${count}-${i}: once upon a time` }], STREAM_TOKENS, 1000 * round + 10 * count + i)),
  );
  const seconds = (performance.now() - started) / 1000;
  const tokens = results.reduce((s, r) => s + r.completionTokens, 0);
  return { tps: tokens / seconds, tokens, ttfts: results.map((r) => r.ttftMs) };
}

function longSystemPrompt(round: number, repeats: number): string {
  // The round number leads, so the first request of a round misses every cache.
  return `Round ${round}. You are a storyteller. ${SENTENCE.repeat(repeats)}`;
}

/**
 * The measures of one round, each run on both servers back to back before the next measure, in the
 * given order (flipped every round), so slow drifts in machine load hit both alike.
 */
async function runRound(sides: readonly Side[], round: number, repeats: number): Promise<Map<Side["name"], RoundResult>> {
  const partial = new Map<Side["name"], Partial<RoundResult>>(sides.map((s) => [s.name, {}]));
  const each = async (fn: (side: Side, out: Partial<RoundResult>) => Promise<void>) => {
    for (const side of sides) await fn(side, partial.get(side.name) as Partial<RoundResult>);
  };
  await each(async (side, out) => {
    const before = cpuMs(side.server.pid);
    const r = await ask(side, [{ role: "user", content: `Story number ${round}. Once upon a time` }], TOKENS, round);
    out.oneStreamCpuMsPerToken = (cpuMs(side.server.pid) - before) / r.completionTokens;
    out.oneStreamTps = decodeRate(r);
    out.oneStreamTokens = r.completionTokens;
    out.oneStreamPromptTokens = r.promptTokens;
  });
  await each(async (side, out) => {
    const ttfts: number[] = [];
    for (let i = 0; i < SHORT_TTFT_REQUESTS; i++) ttfts.push((await ask(side, [{ role: "user", content: `Hello ${round}-${i}.` }], 4, round)).ttftMs);
    out.shortTtftMs = median(ttfts);
  });
  await each(async (side, out) => {
    const r = await concurrent(side, 4, round);
    out.fourStreamTps = r.tps;
    out.fourStreamTokens = r.tokens;
  });
  await each(async (side, out) => {
    const messages: Message[] = [{ role: "system", content: longSystemPrompt(round, repeats) }, { role: "user", content: "Tell me a story." }];
    const miss = await ask(side, messages, 8, round);
    const hit = await ask(side, messages, 8, round);
    out.cacheMissTtftMs = miss.ttftMs;
    out.cacheHitTtftMs = hit.ttftMs;
    out.cacheHitCached = hit.cachedTokens;
    out.cachePromptTokens = hit.promptTokens;
  });
  await each(async (side, out) => {
    const r = await concurrent(side, 16, round);
    out.sixteenTps = r.tps;
    out.sixteenTokens = r.tokens;
    out.sixteenP95TtftMs = percentile(r.ttfts, 95);
  });
  return new Map([...partial].map(([name, r]) => [name, r as RoundResult]));
}

/** How many repeats of SENTENCE bring the cache case's prompt to about PROMPT_TOKENS tokens. */
async function calibrate(side: Side): Promise<number> {
  const probe = (repeats: number) => ask(side, [{ role: "system", content: longSystemPrompt(0, repeats) }, { role: "user", content: "Tell me a story." }], 1, 0);
  const base = (await probe(0)).promptTokens;
  const twenty = (await probe(20)).promptTokens;
  return Math.max(1, Math.round((PROMPT_TOKENS - base) / ((twenty - base) / 20)));
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

interface Row {
  measure: string;
  modelport: number;
  llama: number;
  unit: string;
  digits: number;
  /** The comparison written in the table, and the target with pass or FAIL. */
  compare: (mp: number, ls: number) => { ratio: string; target: string };
}

const higherIsBetter = (min: number) => (mp: number, ls: number) => ({ ratio: `${(mp / ls).toFixed(2)}×`, target: `≥ ${min.toFixed(2)}× ${mp / ls >= min ? "pass" : "**FAIL**"}` });
const lowerIsBetter = (max: number) => (mp: number, ls: number) => ({ ratio: `${(mp / ls).toFixed(2)}×`, target: `≤ ${max.toFixed(1)}× ${mp / ls <= max ? "pass" : "**FAIL**"}` });

function table(rows: readonly Row[]): string {
  const lines = rows.map((r) => {
    const { ratio, target } = r.compare(r.modelport, r.llama);
    return `| ${r.measure} | ${fmt(r.modelport, r.digits)}${r.unit} | ${fmt(r.llama, r.digits)}${r.unit} | ${ratio} | ${target} |`;
  });
  return `| measure (median over rounds) | Modelport | llama-server | Modelport / llama-server | target |\n|---|---|---|---|---|\n${lines.join("\n")}`;
}

function gitCommit(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    // Only src/ is what the figures measure; an edit to a benchmark's wording does not change them.
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { cwd: ROOT, encoding: "utf8" }).trim() !== "";
    return dirty ? `${head} with uncommitted changes in src/` : head;
  } catch {
    return "unknown commit";
  }
}

function packageVersion(path: string): string {
  return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
}

async function benchmark(build: LlamaServerBuild): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "modelport-llama-server-"));
  const templateFile = join(work, "llama2-chat.jinja");
  writeFileSync(templateFile, LLAMA2_CHAT_JINJA);
  const logFile = join(work, "llama-server.log");
  console.log(`llama-server's log: ${logFile} (removed after a successful run)`);
  const modelport = await startBenchServer({ model: MODEL, threads: 1, sequences: SLOTS, contextSize: CONTEXT_PER_SLOT, queueSize: 64 });
  let llama: BenchServer | undefined;
  const results = new Map<Side["name"], RoundResult[]>([["Modelport", []], ["llama-server", []]]);
  let rssMp = 0;
  let rssLs = 0;
  let repeats = 0;
  try {
    llama = await startLlamaServer(build.binary, templateFile, logFile);
    // Modelport's defaults already are top-k 40, top-p 1 and no min-p; llama-server's are top-p
    // 0.95 and min-p 0.05, so its requests set the same chain explicitly.
    const mp: Side = { name: "Modelport", server: modelport, sampling: { top_p: 1 } };
    const ls: Side = { name: "llama-server", server: llama, sampling: { top_k: TOP_K, top_p: 1, min_p: 0 } };
    repeats = await calibrate(mp);
    for (const side of [mp, ls]) {
      await ask(side, [{ role: "user", content: "warm up" }], 20, 0);
      await concurrent(side, 4, 0);
    }
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? [mp, ls] : [ls, mp];
      const r = await runRound(order, round, repeats);
      for (const [name, result] of r) results.get(name)?.push(result);
      const m = r.get("Modelport") as RoundResult;
      const l = r.get("llama-server") as RoundResult;
      console.log(
        `round ${round} (${order[0]?.name} first): 1 stream ${fmt(m.oneStreamTps)} vs ${fmt(l.oneStreamTps)} tok/s (${m.oneStreamTokens}/${l.oneStreamTokens} tok); ` +
          `short TTFT ${m.shortTtftMs.toFixed(1)} vs ${l.shortTtftMs.toFixed(1)} ms; 4 streams ${fmt(m.fourStreamTps)} vs ${fmt(l.fourStreamTps)}; ` +
          `cache hit ${m.cacheHitTtftMs.toFixed(1)} vs ${l.cacheHitTtftMs.toFixed(1)} ms (miss ${m.cacheMissTtftMs.toFixed(0)} vs ${l.cacheMissTtftMs.toFixed(0)}); ` +
          `16 streams ${fmt(m.sixteenTps)} vs ${fmt(l.sixteenTps)} tok/s, p95 TTFT ${fmt(m.sixteenP95TtftMs)} vs ${fmt(l.sixteenP95TtftMs)} ms`,
      );
    }
    rssMp = modelport.rssMiB();
    rssLs = llama.rssMiB();
  } finally {
    await modelport.stop();
    await llama?.stop();
  }
  const mpRounds = results.get("Modelport") ?? [];
  const lsRounds = results.get("llama-server") ?? [];
  const med = (rounds: readonly RoundResult[], key: keyof RoundResult) => median(rounds.map((r) => r[key]));
  const row = (measure: string, key: keyof RoundResult, unit: string, digits: number, compare: Row["compare"]): Row => ({
    measure,
    modelport: med(mpRounds, key),
    llama: med(lsRounds, key),
    unit,
    digits,
    compare,
  });
  const promptLabel = `${fmt(med(mpRounds, "cachePromptTokens"))}-token`;
  const rows: Row[] = [
    row("one stream, decode tokens/s", "oneStreamTps", "", 0, higherIsBetter(1.0)),
    row("one stream, TTFT, short prompt", "shortTtftMs", " ms", 1, (mp, ls) => ({ ratio: `${(mp / ls).toFixed(2)}× (${mp - ls >= 0 ? "+" : ""}${(mp - ls).toFixed(1)} ms)`, target: `≤ +2 ms ${mp - ls <= 2 ? "pass" : "**FAIL**"}` })),
    row("4 streams, aggregate tokens/s", "fourStreamTps", "", 0, higherIsBetter(0.95)),
    row(`${promptLabel} prompt, cache-hit TTFT`, "cacheHitTtftMs", " ms", 1, lowerIsBetter(1.1)),
    row("16 streams on 4 slots, aggregate tokens/s", "sixteenTps", "", 0, higherIsBetter(0.9)),
    row("16 streams, p95 TTFT", "sixteenP95TtftMs", " ms", 0, lowerIsBetter(1.2)),
    { measure: "server RSS after the run", modelport: rssMp, llama: rssLs, unit: " MiB", digits: 0, compare: (mp, ls) => ({ ratio: `${(mp / ls).toFixed(2)}×`, target: `Modelport ≤ 150 MiB ${mp <= 150 ? "pass" : "**FAIL**"}` }) },
  ];
  const extra: Row[] = [
    row("one stream, process CPU per token (all threads)", "oneStreamCpuMsPerToken", " ms", 3, (mp, ls) => ({ ratio: `${(mp / ls).toFixed(2)}×`, target: "(information)" })),
    row(`${promptLabel} prompt, cache-miss TTFT (first request)`, "cacheMissTtftMs", " ms", 0, (mp, ls) => ({ ratio: `${(mp / ls).toFixed(2)}×`, target: "(information)" })),
  ];
  const rendered = table([...rows, ...extra]);
  console.log(rendered);
  const tokens = (rounds: readonly RoundResult[], key: keyof RoundResult) => rounds.map((r) => r[key]).join(", ");
  const uniq = (rounds: readonly RoundResult[], key: keyof RoundResult) => [...new Set(rounds.map((r) => r[key]))].join(", ");
  appendResults(`## llama-server: Modelport against llama.cpp's own server, side by side (${new Date().toISOString()})

- Machine: ${machineFacts()}
- Modelport ${packageVersion(join(ROOT, "package.json"))} at ${gitCommit()}, node-llama-cpp ${packageVersion(join(ROOT, "node_modules/node-llama-cpp/package.json"))} (its prebuilt CPU binary); llama-server built here with \`-DGGML_NATIVE=ON\` from node-llama-cpp's bundled llama.cpp source, commit ${build.commit.slice(0, 10)} (node-llama-cpp's release tag ${build.tag}), \`${build.version}\`
- Shape, both servers: ${MODEL_ID}, ${SLOTS} slots × ${fmt(CONTEXT_PER_SLOT)} context (llama-server \`-c ${SLOTS * CONTEXT_PER_SLOT} --parallel ${SLOTS} --no-kv-unified\`: each slot gets c / parallel; Modelport \`MODELPORT_SEQUENCES=${SLOTS}\`, \`MODELPORT_CONTEXT_SIZE=${CONTEXT_PER_SLOT}\`), 1 thread (\`-t 1 -tb 1\`, \`MODELPORT_THREADS=1\`), batch ${BATCH} (\`-b ${BATCH} -ub ${BATCH}\`, Modelport's default \`batchSize\`), flash attention off (\`-fa off\`), temperature ${TEMPERATURE}, top-k ${TOP_K}, top-p 1, no min-p, seeded; Modelport logs at info to a pipe, llama-server at its default to a file
- Prompt: stories260K has no chat template; llama-server gets a Jinja template (\`--jinja --chat-template-file\`) that renders node-llama-cpp's Llama2Chat format, which Modelport falls back to, so both evaluate nearly the same prompt (node-llama-cpp tokenizes the format's pieces apart, llama-server the whole text, hence a token or two of difference; prompt tokens reported, Modelport / llama-server, one stream: ${uniq(mpRounds, "oneStreamPromptTokens")} / ${uniq(lsRounds, "oneStreamPromptTokens")}; cache case ${uniq(mpRounds, "cachePromptTokens")} / ${uniq(lsRounds, "cachePromptTokens")})
- Streamed \`/v1/chat/completions\` over node:http, a new connection per request for both (llama-server drops some kept-alive connections after a stream), no obfuscation padding; ${ROUNDS} rounds; in each round every measure runs on both servers back to back, the order flipping every round. One stream: up to ${fmt(TOKENS)} tokens, decode rate = (tokens − 1) / (time after the first token). Short-prompt TTFT: median of ${SHORT_TTFT_REQUESTS} sequential requests of 4 tokens. 4 and 16 streams: up to ${STREAM_TOKENS} tokens each, started together; aggregate = all tokens / wall time; p95 TTFT by nearest rank over the round's 16 requests. Cache hit: the same long prompt sent twice (llama-server's \`cache_prompt\` default), TTFT of the second; cached tokens reported on the hit, Modelport / llama-server: ${uniq(mpRounds, "cacheHitCached")} / ${uniq(lsRounds, "cacheHitCached")}. RSS from /proc/<pid>/status after the last round.
- Tokens generated (the model may stop at its end-of-sequence token before the limit, and the two engines draw different tokens from one seed): one stream, per round, Modelport ${tokens(mpRounds, "oneStreamTokens")}; llama-server ${tokens(lsRounds, "oneStreamTokens")}. 16-stream tokens per round, Modelport ${tokens(mpRounds, "sixteenTokens")}; llama-server ${tokens(lsRounds, "sixteenTokens")}.

${rendered}
`);
  rmSync(work, { recursive: true, force: true });
}

/** Microseconds on the monotonic clock V8 stamps profile samples with. */
function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** What a series of one-stream requests cost one server, thread by thread. */
interface OneStreamRun {
  tokens: number;
  seconds: number;
  medianDecodeTps: number;
  /** CPU ms per 1,000 generated tokens, by thread name, largest first. */
  threads: (readonly [string, number])[];
  /** The requests' span on the monotonic clock, in µs (see summariseProfile). */
  window: { from: number; to: number };
}

async function oneStreamRun(side: Side, requests: number): Promise<OneStreamRun> {
  await ask(side, [{ role: "user", content: "warm up" }], 200, 0);
  let tokens = 0;
  let seconds = 0;
  const rates: number[] = [];
  const before = threadCpuMs(side.server.pid);
  const from = monotonicUs();
  for (let round = 1; round <= requests; round++) {
    const r = await ask(side, [{ role: "user", content: `Story number ${round}. Once upon a time` }], TOKENS, round);
    tokens += r.completionTokens;
    seconds += r.totalMs / 1000;
    rates.push(decodeRate(r));
  }
  const to = monotonicUs();
  const threads = [...threadCpuMs(side.server.pid).entries()]
    .map(([name, ms]) => [name, ((ms - (before.get(name) ?? 0)) * 1000) / tokens] as const)
    .filter(([, ms]) => ms > 0)
    .sort((a, b) => b[1] - a[1]);
  return { tokens, seconds, medianDecodeTps: median(rates), threads, window: { from, to } };
}

function describeRun(name: string, run: OneStreamRun): string {
  const threads = run.threads.map(([thread, ms]) => `  ${thread}: ${ms.toFixed(0)}`).join("\n");
  const total = run.threads.reduce((sum, [, ms]) => sum + ms, 0);
  return `${name}: ${run.tokens} tokens in ${run.seconds.toFixed(2)} s, median decode ${fmt(run.medianDecodeTps)} tok/s; wall ${((run.seconds * 1e6) / run.tokens).toFixed(0)} ms and CPU ${total.toFixed(0)} ms per 1,000 tokens, by thread:\n${threads}`;
}

/**
 * Where Modelport's time goes in the one-stream case: CPU by thread without a profiler (and the
 * same for llama-server when it is already built, for comparison), then the main thread's JS by
 * function under `--cpu-prof`, counting only the requests.
 */
async function profile(): Promise<void> {
  const requests = Number(values["profile-requests"]);
  const plain = await startBenchServer({ model: MODEL, threads: 1, sequences: SLOTS, contextSize: CONTEXT_PER_SLOT });
  try {
    console.log(describeRun("Modelport, no profiler", await oneStreamRun({ name: "Modelport", server: plain, sampling: { top_p: 1 } }, requests)));
  } finally {
    await plain.stop();
  }
  const build = ensureLlamaServer({ build: false });
  if (typeof build === "string") console.log(`(no llama-server comparison: ${build})`);
  else {
    const work = mkdtempSync(join(tmpdir(), "modelport-llama-server-"));
    const templateFile = join(work, "llama2-chat.jinja");
    writeFileSync(templateFile, LLAMA2_CHAT_JINJA);
    const llama = await startLlamaServer(build.binary, templateFile, join(work, "llama-server.log"));
    try {
      console.log(describeRun("\nllama-server", await oneStreamRun({ name: "llama-server", server: llama, sampling: { top_k: TOP_K, top_p: 1, min_p: 0 } }, requests)));
    } finally {
      await llama.stop();
      rmSync(work, { recursive: true, force: true });
    }
  }
  const profDir = mkdtempSync(join(tmpdir(), "modelport-llama-server-prof-"));
  const profiled = await startBenchServer({ model: MODEL, threads: 1, sequences: SLOTS, contextSize: CONTEXT_PER_SLOT, execArgv: ["--cpu-prof", "--cpu-prof-dir", profDir, "--cpu-prof-interval", "250"] });
  let run: OneStreamRun;
  try {
    run = await oneStreamRun({ name: "Modelport", server: profiled, sampling: { top_p: 1 } }, requests);
  } finally {
    await profiled.stop();
  }
  console.log(`\nModelport under --cpu-prof (250 µs): median decode ${fmt(run.medianDecodeTps)} tok/s`);
  // node-llama-cpp tests its binary in a child process that inherits --cpu-prof: pick the server's
  // own profile by the pid in its name.
  const file = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile") && f.includes(`.${profiled.pid}.`));
  if (file === undefined) throw new Error(`no profile of pid ${profiled.pid} written in ${profDir}`);
  console.log(`Main thread during the requests only (start-up and shutdown left out):\n${summariseProfile(join(profDir, file), 30, run.window)}`);
}

if (values.profile) {
  // Profiles Modelport alone: no llama-server needed.
  await profile();
} else {
  const build = ensureLlamaServer();
  if (typeof build === "string") console.log(`bench:llama-server skipped: ${build}`);
  else if (values["build-only"]) console.log(`llama-server ready: ${build.binary} (${build.version})`);
  else {
    console.log(`llama-server: ${build.binary} (${build.version})`);
    await benchmark(build);
  }
}
