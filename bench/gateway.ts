/**
 * bench/gateway: what Modelport adds in front of an upstream. Non-streamed chat completions go to a
 * fast local fake upstream (bench/fake-openai-upstream.ts, its own process) either directly or
 * through Modelport (its own process) with auth (a project key), rate limits, budgets, metering
 * (SQLite) and routing all on; Modelport calls the fake with `stream: true` as it always does.
 * autocannon drives both in one run, in alternating rounds: at concurrency 1 the added p50/p99
 * latency, at concurrency 32 the requests/s and their ratio to direct.
 *
 *   npm run bench:gateway [-- --rounds 5 --seconds 4 --warmup 3]
 *   npm run bench:gateway -- --profile [--profile-seconds 20]   # CPU profile of Modelport at c=32
 *
 * --log-level sets Modelport's (default info, written to a file); --keep keeps its data directory
 * and log. The profile mode prints the hot spots and the .cpuprofile's path, and writes no results.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { machineFacts, median, RESULTS } from "./machine.ts";
import { percentile } from "./server.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    seconds: { type: "string", default: "4" },
    warmup: { type: "string", default: "3" },
    "log-level": { type: "string", default: "info" },
    profile: { type: "boolean", default: false },
    "profile-seconds": { type: "string", default: "20" },
    /** Keep Modelport's data directory and log file (in the temp directory) after the run. */
    keep: { type: "boolean", default: false },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const LOG_LEVEL = values["log-level"];
const TARGET_ADDED_P50_MS = 0.25;
const TARGET_RPS_C32 = 9000;

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const ADMIN_KEY = "sk-admin-bench-gateway-0123456789";
const MODEL = "gpt-bench";
const BODY = JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "Say hello." }], max_tokens: 16 });
const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU of a process so far, in milliseconds (every thread of it). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

interface Child {
  proc: ChildProcess;
  pid: number;
  url: string;
  stop(): Promise<void>;
}

function stopper(proc: ChildProcess): () => Promise<void> {
  const exited = new Promise<void>((r) => proc.once("close", () => r()));
  return async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
    await exited;
  };
}

/** The fake upstream in its own process. */
async function startFake(): Promise<Child> {
  const proc = spawn(process.execPath, [join(ROOT, "bench/fake-openai-upstream.ts"), "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`fake upstream did not start: ${out}`)), 10_000);
    proc.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const found = /"listening":"([^"]+)"/.exec(out);
      if (found) {
        clearTimeout(timer);
        resolve(found[1] as string);
      }
    });
  });
  proc.stdout?.resume();
  return { proc, pid: proc.pid ?? 0, url, stop: stopper(proc) };
}

/**
 * `modelport serve` with one gateway-only model routed to the fake; no local model (an empty models
 * directory). Its log lines go to a file, as a production log shipper would take them, so reading
 * them costs the benchmark process nothing.
 */
async function startModelport(upstreamUrl: string, nodeArgs: readonly string[]): Promise<Child & { logFile: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "modelport-bench-gateway-"));
  mkdirSync(join(dir, "models"));
  const configFile = join(dir, "config.yaml");
  // JSON is YAML.
  writeFileSync(
    configFile,
    JSON.stringify({
      upstreams: {
        deployments: [{ id: "fake", provider: "openai-compatible", baseUrl: upstreamUrl, model: "fake-upstream-model" }],
        models: [{ name: MODEL, deployments: ["fake"], pricing: { input: 0.15, output: 0.6 } }],
      },
    }),
  );
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("MODELPORT_")) env[k] = v;
  Object.assign(env, {
    MODELPORT_DATA_DIR: join(dir, "data"),
    MODELPORT_MODELS_DIR: join(dir, "models"),
    MODELPORT_ADMIN_KEY: ADMIN_KEY,
    MODELPORT_GPU: "cpu",
    MODELPORT_AUTO_PULL: "false",
    MODELPORT_LOG_LEVEL: LOG_LEVEL,
  });
  const logFile = join(dir, "modelport.log");
  const logFd = openSync(logFile, "w");
  const proc = spawn(process.execPath, [...nodeArgs, join(ROOT, "src/cli/index.ts"), "serve", "--port", "0", "--config", configFile], {
    env,
    stdio: ["ignore", logFd, "inherit"],
  });
  closeSync(logFd);
  const stop = stopper(proc);
  const started = performance.now();
  let url: string | undefined;
  while (url === undefined) {
    if (proc.exitCode !== null) throw new Error(`modelport exited with ${proc.exitCode}:\n${readFileSync(logFile, "utf8")}`);
    if (performance.now() - started > 60_000) {
      await stop();
      throw new Error(`modelport did not start:\n${readFileSync(logFile, "utf8")}`);
    }
    await new Promise((r) => setTimeout(r, 50));
    url = /"msg":"listening","url":"(http:\/\/[^"]+)\/v1"/.exec(readFileSync(logFile, "utf8"))?.[1];
  }
  return {
    proc,
    pid: proc.pid ?? 0,
    url,
    stop: async () => {
      await stop();
      if (!values.keep) rmSync(dir, { recursive: true, force: true });
    },
    logFile,
    dir,
  };
}

async function admin(url: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/**
 * A project with a budget and a per-model rate limit, and a key for it. The default tier-5 limit
 * (30,000 requests a minute) would refuse most of this load, so the model gets an explicit limit
 * that is high enough never to refuse, through the same limiter code path.
 */
async function setUpProject(url: string): Promise<{ projectId: string; key: string }> {
  const project = await admin(url, "/v1/organization/projects", { name: "bench-gateway", tier: "tier-5", monthly_budget_usd: 1_000_000_000 });
  const projectId = String(project.id);
  await admin(url, `/v1/organization/projects/${projectId}/rate_limits/rl-${MODEL}`, {
    max_requests_per_1_minute: 1_000_000_000,
    max_tokens_per_1_minute: 1_000_000_000_000,
    max_concurrent_requests: 4096,
  });
  const key = await admin(url, `/v1/organization/projects/${projectId}/api_keys`, { name: "bench" });
  return { projectId, key: String(key.value) };
}

/** One request each way, to check both answer as expected before measuring. */
async function sanityCheck(direct: string, through: string, key: string): Promise<void> {
  for (const [name, url, auth] of [["direct", direct, "none"], ["through Modelport", through, key]] as const) {
    const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${auth}`, "content-type": "application/json" }, body: BODY });
    const json = (await res.json()) as { choices?: { message?: { content?: string } }[]; usage?: { total_tokens?: number } };
    const content = json.choices?.[0]?.message?.content;
    if (res.status !== 200 || content !== "Hello there!" || json.usage?.total_tokens !== 11) {
      throw new Error(`${name}: unexpected answer ${res.status} ${JSON.stringify(json)}`);
    }
    if (url === through && res.headers.get("x-ratelimit-limit-requests") === null) throw new Error("no x-ratelimit-* headers: rate limits are off");
  }
  const unauthorised = await fetch(through, { method: "POST", headers: { authorization: "Bearer sk-proj-wrong", "content-type": "application/json" }, body: BODY });
  await unauthorised.arrayBuffer();
  if (unauthorised.status !== 401) throw new Error(`a wrong key got ${unauthorised.status}: auth is off`);
}

interface Run {
  ok: number;
  non2xx: number;
  errors: number;
  seconds: number;
  rps: number;
  /** Per-request latencies in ms (only when asked for). */
  latencies: number[];
  /** CPU ms used during the run by Modelport, the fake upstream and this process (autocannon). */
  cpu: { modelport: number; fake: number; bench: number };
}

async function cannon(url: string, connections: number, seconds: number, key: string | undefined, pids: { modelport: number; fake: number }, keepLatencies: boolean): Promise<Run> {
  const latencies: number[] = [];
  const before = { modelport: cpuMs(pids.modelport), fake: cpuMs(pids.fake), bench: process.cpuUsage() };
  const started = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        method: "POST",
        headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: BODY,
        connections,
        pipelining: 1,
        duration: seconds,
        timeout: 10,
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    // autocannon's own histogram keeps whole milliseconds; the event has the exact time.
    if (keepLatencies) instance.on("response", (_client, status, _bytes, ms) => void (status === 200 && latencies.push(ms)));
  });
  const elapsed = (performance.now() - started) / 1000;
  const bench = process.cpuUsage(before.bench);
  return {
    ok: result["2xx"],
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    seconds: elapsed,
    rps: result["2xx"] / elapsed,
    latencies,
    cpu: { modelport: cpuMs(pids.modelport) - before.modelport, fake: cpuMs(pids.fake) - before.fake, bench: (bench.user + bench.system) / 1000 },
  };
}

/** Usage records the meter wrote for the project (it flushes every second). */
async function meteredRequests(url: string, projectId: string): Promise<number> {
  const page = (await admin(url, `/v1/organization/usage/completions?start_time=${Math.floor(Date.now() / 1000) - 86_400}&bucket_width=1d&project_ids[]=${projectId}`)) as {
    data: { results: { num_model_requests: number }[] }[];
  };
  return page.data.reduce((sum, b) => sum + b.results.reduce((s, r) => s + r.num_model_requests, 0), 0);
}

/** Replaces the latest `## gateway` section of RESULTS.md, or appends one. */
function writeSection(section: string): void {
  const text = existsSync(RESULTS) ? readFileSync(RESULTS, "utf8") : "# Benchmark results\n";
  const start = text.search(/^## gateway\b/im);
  if (start < 0) {
    writeFileSync(RESULTS, `${text.trimEnd()}\n\n${section.trim()}\n`);
    return;
  }
  const next = text.slice(start + 3).search(/^## /m);
  const end = next < 0 ? text.length : start + 3 + next;
  writeFileSync(RESULTS, `${text.slice(0, start)}${section.trim()}\n${next < 0 ? "" : `\n${text.slice(end)}`}`);
}

const fmt = (n: number, digits = 3): string => n.toFixed(digits);

/** The commit measured, and whether the work tree had changes on top of it. */
function revision(): string {
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { cwd: ROOT, encoding: "utf8" }).trim() !== "";
    return `commit ${commit}${dirty ? " with uncommitted changes in src/" : ""}`;
  } catch {
    return "an unknown commit";
  }
}

async function benchmark(): Promise<void> {
  const fake = await startFake();
  const mp = await startModelport(fake.url, []);
  const direct = `${fake.url}/chat/completions`;
  const through = `${mp.url}/v1/chat/completions`;
  const pids = { modelport: mp.pid, fake: fake.pid };
  let failed = false;
  try {
    const { projectId, key } = await setUpProject(mp.url);
    await sanityCheck(direct, through, key);
    console.log(`fake upstream ${fake.url} (pid ${fake.pid}); Modelport ${mp.url} (pid ${mp.pid})${values.keep ? `, log ${mp.logFile}` : ""}`);
    let throughRequests = 1;
    let non2xx = 0;
    let errors = 0;
    // Warm-up: JIT, connection pools, SQLite.
    for (const [url, k] of [[through, key], [direct, undefined], [through, key]] as const) {
      const w = await cannon(url, 32, WARMUP, k, pids, false);
      if (url === through) throughRequests += w.ok;
      non2xx += w.non2xx;
      errors += w.errors;
    }
    const c1 = { direct: [] as Run[], through: [] as Run[] };
    const c32 = { direct: [] as Run[], through: [] as Run[] };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? (["direct", "through"] as const) : (["through", "direct"] as const);
      for (const [connections, store] of [[1, c1], [32, c32]] as const) {
        for (const path of order) {
          const run = await cannon(path === "direct" ? direct : through, connections, SECONDS, path === "through" ? key : undefined, pids, connections === 1);
          store[path].push(run);
          if (path === "through") throughRequests += run.ok;
          non2xx += run.non2xx;
          errors += run.errors;
          const lat = connections === 1 ? `, p50 ${fmt(percentile(run.latencies, 50))} ms, p99 ${fmt(percentile(run.latencies, 99))} ms` : "";
          console.log(`round ${round + 1} c=${connections} ${path.padEnd(7)}: ${run.rps.toFixed(0)} req/s${lat}, non-2xx ${run.non2xx}, errors ${run.errors}`);
        }
      }
    }
    await new Promise((r) => setTimeout(r, 1500));
    const metered = await meteredRequests(mp.url, projectId);

    const all = (runs: Run[]) => runs.flatMap((r) => r.latencies);
    const p = (runs: Run[], q: number) => percentile(all(runs), q);
    const added50 = p(c1.through, 50) - p(c1.direct, 50);
    const added99 = p(c1.through, 99) - p(c1.direct, 99);
    const roundAdded50 = c1.through.map((r, i) => percentile(r.latencies, 50) - percentile((c1.direct[i] as Run).latencies, 50));
    const rpsDirect = median(c32.direct.map((r) => r.rps));
    const rpsThrough = median(c32.through.map((r) => r.rps));
    const ratios = c32.through.map((r, i) => r.rps / (c32.direct[i] as Run).rps);
    const perReq = (runs: Run[], who: keyof Run["cpu"]) => (runs.reduce((s, r) => s + r.cpu[who], 0) / runs.reduce((s, r) => s + r.ok, 0)) * 1000;
    const pass50 = added50 <= TARGET_ADDED_P50_MS;
    const passRps = rpsThrough >= TARGET_RPS_C32;
    // Requests in flight when autocannon stops a run are served and metered, but not counted by it.
    const meteringOk = metered >= throughRequests;
    failed = non2xx > 0 || errors > 0 || !meteringOk;

    const table = [
      "| measure | direct to fake | through Modelport | added / ratio |",
      "|---|---|---|---|",
      `| c=1 p50 latency (ms) | ${fmt(p(c1.direct, 50))} | ${fmt(p(c1.through, 50))} | **+${fmt(added50)}** (target ≤ ${TARGET_ADDED_P50_MS}: ${pass50 ? "pass" : "FAIL"}); median of per-round differences +${fmt(median(roundAdded50))} |`,
      `| c=1 p99 latency (ms) | ${fmt(p(c1.direct, 99))} | ${fmt(p(c1.through, 99))} | +${fmt(added99)} |`,
      `| c=1 requests/s (median of rounds) | ${median(c1.direct.map((r) => r.rps)).toFixed(0)} | ${median(c1.through.map((r) => r.rps)).toFixed(0)} | |`,
      `| c=32 requests/s (median of rounds) | ${rpsDirect.toFixed(0)} | **${rpsThrough.toFixed(0)}** | ${fmt(rpsThrough / rpsDirect, 2)} (median of per-round ratios ${fmt(median(ratios), 2)}); target ≥ ${TARGET_RPS_C32} req/s: ${passRps ? "pass" : "FAIL"} |`,
      `| c=32 CPU per request, Modelport process (µs) | | ${perReq(c32.through, "modelport").toFixed(0)} | |`,
      `| c=32 CPU per request, fake upstream (µs) | ${perReq(c32.direct, "fake").toFixed(0)} | ${perReq(c32.through, "fake").toFixed(0)} | |`,
      `| c=32 CPU per request, autocannon (µs) | ${perReq(c32.direct, "bench").toFixed(0)} | ${perReq(c32.through, "bench").toFixed(0)} | |`,
    ].join("\n");
    console.log(`\n${table}\n`);
    const meteringLine = `usage records written: ${metered} for ${throughRequests} 2xx answers through Modelport that autocannon counted (${meteringOk ? "none lost; the rest were in flight when a run stopped" : "RECORDS LOST"})`;
    console.log(`non-2xx ${non2xx}, errors ${errors}; ${meteringLine}`);

    writeSection(`## gateway: Modelport in front of a fake upstream vs the fake directly (${new Date().toISOString()})

- Machine: ${machineFacts()}
- Non-streamed \`POST /v1/chat/completions\` (${BODY.length}-byte body), autocannon in the benchmark's process; the fake upstream (\`bench/fake-openai-upstream.ts\`) and Modelport each in their own process. Modelport calls the fake with \`stream: true\` and answers with JSON, with a project key (auth), a per-model rate limit and budget (checked on every request), usage metering to SQLite, log level ${LOG_LEVEL} (to a file) and routing on.
- The rate limit is an explicit per-model limit of 10^9 requests and 10^12 tokens a minute with 4,096 concurrent (the default tier-5, 30,000 requests a minute, would refuse most of this load); it runs through the same limiter as a tier. The direct path is bounded by autocannon and the fake (about 10 µs of CPU each per request), so the ratio mostly shows Modelport's own cost: at c=32 Modelport's main thread is the bottleneck.
- ${ROUNDS} rounds of ${SECONDS} s per path and concurrency, direct and through alternating in order (after ${WARMUP} s warm-ups at c=32); latencies are every request's exact time pooled over the rounds, requests/s the median over rounds.
- Modelport at ${revision()}
- Non-2xx: ${non2xx}, errors and timeouts: ${errors}; ${meteringLine}.
- Targets: added p50 ≤ ${TARGET_ADDED_P50_MS} ms at c=1 (**${pass50 ? "pass" : "FAIL"}**), ≥ ${TARGET_RPS_C32.toLocaleString("en-US")} req/s through Modelport at c=32 (**${passRps ? "pass" : "FAIL"}**).

${table}
`);
  } finally {
    await mp.stop();
    await fake.stop();
  }
  if (failed) {
    console.error("some requests failed: see non-2xx and errors above");
    process.exitCode = 1;
  }
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Top self and inclusive times of a .cpuprofile, by function and by where the code lives. */
function summariseProfile(file: string): string {
  const profile = JSON.parse(readFileSync(file, "utf8")) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const where = (url: string): string => {
    if (url === "") return "";
    if (url.startsWith("file://")) return relative(ROOT, fileURLToPath(url));
    return url;
  };
  const label = (n: ProfileNode) => `${n.callFrame.functionName || "(anonymous)"} ${where(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ""}`;
  const category = (n: ProfileNode): string => {
    const url = n.callFrame.url;
    if (url === "") return n.callFrame.functionName.startsWith("(") ? n.callFrame.functionName : "native / builtins";
    if (url.includes("/src/")) return `src/${url.split("/src/")[1]?.split("/")[0] ?? ""}`;
    if (url.includes("node_modules/")) return `node_modules/${url.split("node_modules/")[1]?.split("/")[0] ?? ""}`;
    if (url.includes("internal/deps/undici")) return "undici (fetch)";
    if (url.startsWith("node:internal/http") || url.startsWith("node:_http")) return "node:http";
    if (url.startsWith("node:")) return `node:${url.slice(5).split("/").slice(0, 2).join("/")}`;
    return url;
  };
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const bySelf = new Map<string, number>();
  const byCategory = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of self) {
    const n = nodes.get(id);
    if (n === undefined) continue;
    bySelf.set(label(n), (bySelf.get(label(n)) ?? 0) + us);
    byCategory.set(category(n), (byCategory.get(category(n)) ?? 0) + us);
    // Inclusive time of each of our own functions on the stack (once per stack).
    const seen = new Set<string>();
    for (let cur: ProfileNode | undefined = n; cur !== undefined; cur = nodes.get(parent.get(cur.id) ?? -1)) {
      if (!cur.callFrame.url.includes("/src/")) continue;
      const l = label(cur);
      if (seen.has(l)) continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + us);
    }
  }
  const busy = total - (byCategory.get("(idle)") ?? 0);
  const top = (m: Map<string, number>, count: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([k, us]) => `| ${(us / 1000).toFixed(0)} | ${((us / total) * 100).toFixed(1)} % | ${((us / busy) * 100).toFixed(1)} % | ${k.replaceAll("|", "\\|")} |`)
      .join("\n");
  const head = "| ms | of all | of busy | |\n|---|---|---|---|";
  return [
    `Profile: ${file}; ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy`,
    `\nSelf time by area:\n${head}\n${top(byCategory, 25)}`,
    `\nSelf time by function:\n${head}\n${top(bySelf, 40)}`,
    `\nInclusive time of src/ functions:\n${head}\n${top(inclusive, 40)}`,
  ].join("\n");
}

/** Runs Modelport with --cpu-prof under c=32 load and prints where its time goes. */
async function profile(): Promise<void> {
  const seconds = Number(values["profile-seconds"]);
  const fake = await startFake();
  const profDir = mkdtempSync(join(tmpdir(), "modelport-gateway-prof-"));
  const mp = await startModelport(fake.url, ["--cpu-prof", "--cpu-prof-dir", profDir, "--cpu-prof-interval", "250"]);
  const through = `${mp.url}/v1/chat/completions`;
  const pids = { modelport: mp.pid, fake: fake.pid };
  try {
    const { key } = await setUpProject(mp.url);
    await sanityCheck(`${fake.url}/chat/completions`, through, key);
    await cannon(through, 32, WARMUP, key, pids, false);
    const run = await cannon(through, 32, seconds, key, pids, false);
    console.log(`profiled c=32 through Modelport: ${run.rps.toFixed(0)} req/s (with the profiler on), non-2xx ${run.non2xx}, errors ${run.errors}, Modelport CPU ${((run.cpu.modelport / run.ok) * 1000).toFixed(0)} µs per request`);
  } finally {
    await mp.stop();
    await fake.stop();
  }
  const file = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"));
  if (file === undefined) throw new Error(`no profile written in ${profDir}`);
  console.log(summariseProfile(join(profDir, file)));
}

await (values.profile ? profile() : benchmark());
