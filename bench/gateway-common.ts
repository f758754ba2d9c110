/**
 * What bench/gateway.ts (non-streamed) and bench/gateway-stream.ts (streamed) share: the fake
 * upstream, Modelport and Portkey's gateway each in their own process, the bench project with its
 * key, per-process CPU from /proc, autocannon runs, metering checks and the RESULTS.md section.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { RESULTS } from "./machine.ts";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Modelport's admin key in the bench. */
export const ADMIN_KEY = "sk-admin-bench-gateway-0123456789";
/** The model name clients ask for (routed by Modelport to the fake). */
export const MODEL = "gpt-bench";

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU of a process so far, in milliseconds (every thread of it). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** CPU of a process and every process under it (the workers of `serve --workers N`), in milliseconds. */
export function treeCpuMs(pid: number): number {
  let total = cpuMs(pid);
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const children = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
    for (const child of children === "" ? [] : children.split(" ")) total += treeCpuMs(Number(child));
  }
  return total;
}

/** A server the bench started in its own process. */
export interface Child {
  proc: ChildProcess;
  pid: number;
  /** Base URL: the fake's ends in `/v1`, Modelport's and Portkey's do not. */
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

/** The fake upstream (bench/fake-openai-upstream.ts) in its own process; `args` go to it (e.g. `--chunks 20`). */
export async function startFake(args: readonly string[] = []): Promise<Child> {
  const proc = spawn(process.execPath, [join(ROOT, "bench/fake-openai-upstream.ts"), "--port", "0", ...args], { stdio: ["ignore", "pipe", "inherit"] });
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

/** Settings of the Modelport process under test. */
export interface ModelportOptions {
  /** MODELPORT_LOG_LEVEL (its log goes to a file). */
  logLevel: string;
  /** Keep the data directory and log file after the run. */
  keep: boolean;
  /** Extra `node` arguments (e.g. `--cpu-prof`). */
  nodeArgs?: readonly string[];
  /** `serve --workers N` (default 1: one process). */
  workers?: number;
  /** `metrics.enabled` (default: the server's default, on). */
  metrics?: boolean;
  /** `usage.journal` (default: the server's default, on). */
  journal?: boolean;
}

/**
 * `modelport serve` with one gateway-only model routed to the fake; no local model (an empty models
 * directory). Its log lines go to a file, as a production log shipper would take them, so reading
 * them costs the benchmark process nothing.
 */
export async function startModelport(upstreamUrl: string, options: ModelportOptions): Promise<Child & { logFile: string; dir: string }> {
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
      ...(options.metrics === undefined ? {} : { metrics: { enabled: options.metrics } }),
      ...(options.journal === undefined ? {} : { usage: { journal: options.journal } }),
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
    MODELPORT_LOG_LEVEL: options.logLevel,
  });
  const logFile = join(dir, "modelport.log");
  const logFd = openSync(logFile, "w");
  const proc = spawn(process.execPath, [...(options.nodeArgs ?? []), join(ROOT, "src/cli/index.ts"), "serve", "--port", "0", "--config", configFile, "--workers", String(options.workers ?? 1)], {
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
      if (!options.keep) rmSync(dir, { recursive: true, force: true });
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
export async function setUpProject(url: string): Promise<{ projectId: string; key: string }> {
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

/** Usage records the meter wrote for the project (it flushes every second). */
export async function meteredRequests(url: string, projectId: string): Promise<number> {
  const page = (await admin(url, `/v1/organization/usage/completions?start_time=${Math.floor(Date.now() / 1000) - 86_400}&bucket_width=1d&project_ids[]=${projectId}`)) as {
    data: { results: { num_model_requests: number }[] }[];
  };
  return page.data.reduce((sum, b) => sum + b.results.reduce((s, r) => s + r.num_model_requests, 0), 0);
}

/** Where the built Portkey gateway is looked for when neither `--portkey` nor the environment names one. */
export const DEFAULT_PORTKEY_DIR = join(homedir(), ".cache/modelport/portkey");
/** The environment variable naming the built Portkey gateway's directory. */
export const PORTKEY_ENV = "MODELPORT_BENCH_PORTKEY_DIR";

/**
 * The directory of a built Portkey gateway (`build/start-server.js` in it), from `--portkey DIR`,
 * then $MODELPORT_BENCH_PORTKEY_DIR, then ~/.cache/modelport/portkey; or why Portkey is skipped.
 */
export function findPortkey(option: string | undefined): { dir: string; version: string } | { skipped: string } {
  const dir = option ?? process.env[PORTKEY_ENV] ?? DEFAULT_PORTKEY_DIR;
  const entry = join(dir, "build/start-server.js");
  if (!existsSync(entry)) {
    return {
      skipped:
        `Portkey skipped: no ${entry}. To run it side by side: get github.com/Portkey-AI/gateway's source into a directory outside this repository, ` +
        `\`npm install --ignore-scripts && npm run build\` there, and pass \`--portkey DIR\` (or set ${PORTKEY_ENV}=DIR; default ${DEFAULT_PORTKEY_DIR}).`,
    };
  }
  let version = "unknown version";
  try {
    version = String((JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version?: unknown }).version ?? version);
  } catch {
    // No package.json: the version stays unknown.
  }
  return { dir, version };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Portkey's gateway (`node build/start-server.js --port=N`) in its own process; its console output goes to a file. */
export async function startPortkey(dir: string): Promise<Child> {
  const port = await freePort();
  const logDir = mkdtempSync(join(tmpdir(), "modelport-bench-portkey-"));
  const logFile = join(logDir, "portkey.log");
  const logFd = openSync(logFile, "w");
  const proc = spawn(process.execPath, [join(dir, "build/start-server.js"), `--port=${port}`], { cwd: dir, stdio: ["ignore", logFd, logFd] });
  closeSync(logFd);
  const stop = stopper(proc);
  const started = performance.now();
  while (!readFileSync(logFile, "utf8").includes("Ready for connections")) {
    if (proc.exitCode !== null) throw new Error(`Portkey exited with ${proc.exitCode}:\n${readFileSync(logFile, "utf8")}`);
    if (performance.now() - started > 30_000) {
      await stop();
      throw new Error(`Portkey did not start:\n${readFileSync(logFile, "utf8")}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    proc,
    pid: proc.pid ?? 0,
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      await stop();
      rmSync(logDir, { recursive: true, force: true });
    },
  };
}

/** The headers that make Portkey send a request to the fake as an OpenAI-compatible provider. */
export function portkeyHeaders(fakeUrl: string): Record<string, string> {
  return { "x-portkey-provider": "openai", "x-portkey-custom-host": fakeUrl, authorization: "Bearer sk-bench-portkey" };
}

/** One autocannon run and the CPU each watched process used during it. */
export interface Run {
  ok: number;
  non2xx: number;
  errors: number;
  seconds: number;
  rps: number;
  /** Per-request latencies in ms (only when asked for). */
  latencies: number[];
  /** CPU ms used during the run by each watched process by name, and by this process (autocannon) as `bench`. */
  cpu: Record<string, number>;
}

/** What one autocannon run sends and watches. */
export interface CannonOptions {
  url: string;
  body: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
  /** Processes whose CPU is measured over the run, by name. */
  pids: Record<string, number>;
  /** Keep every 200's exact latency. */
  keepLatencies: boolean;
  /** How a process's CPU is read (default: that process alone). */
  cpuOf?: (pid: number) => number;
}

/** Drives `POST url` with autocannon for a while; requests/s counts 2xx answers. */
export async function cannon(o: CannonOptions): Promise<Run> {
  const latencies: number[] = [];
  const cpuOf = o.cpuOf ?? cpuMs;
  const before = Object.fromEntries(Object.entries(o.pids).map(([name, pid]) => [name, cpuOf(pid)]));
  const bench = process.cpuUsage();
  const started = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: o.url,
        method: "POST",
        headers: { "content-type": "application/json", ...o.headers },
        body: o.body,
        connections: o.connections,
        pipelining: 1,
        duration: o.seconds,
        timeout: 10,
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    // autocannon's own histogram keeps whole milliseconds; the event has the exact time.
    if (o.keepLatencies) instance.on("response", (_client, status, _bytes, ms) => void (status === 200 && latencies.push(ms)));
  });
  const elapsed = (performance.now() - started) / 1000;
  const benchCpu = process.cpuUsage(bench);
  const cpu: Record<string, number> = Object.fromEntries(Object.entries(o.pids).map(([name, pid]) => [name, cpuOf(pid) - (before[name] ?? 0)]));
  cpu.bench = (benchCpu.user + benchCpu.system) / 1000;
  return { ok: result["2xx"], non2xx: result.non2xx, errors: result.errors + result.timeouts, seconds: elapsed, rps: result["2xx"] / elapsed, latencies, cpu };
}

/** CPU per 2xx request of one process over runs, in µs. */
export function cpuPerRequest(runs: readonly Run[], who: string): number {
  return (runs.reduce((s, r) => s + (r.cpu[who] ?? 0), 0) / runs.reduce((s, r) => s + r.ok, 0)) * 1000;
}

/** Replaces the latest `## <name>:` section of RESULTS.md, or appends one. */
export function writeSection(name: string, section: string): void {
  const text = existsSync(RESULTS) ? readFileSync(RESULTS, "utf8") : "# Benchmark results\n";
  const start = text.search(new RegExp(`^## ${name}:`, "im"));
  if (start < 0) {
    writeFileSync(RESULTS, `${text.trimEnd()}\n\n${section.trim()}\n`);
    return;
  }
  const next = text.slice(start + 3).search(/^## /m);
  const end = next < 0 ? text.length : start + 3 + next;
  writeFileSync(RESULTS, `${text.slice(0, start)}${section.trim()}\n${next < 0 ? "" : `\n${text.slice(end)}`}`);
}

/** The commit measured, and whether the work tree had changes in src/ on top of it. */
export function revision(): string {
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { cwd: ROOT, encoding: "utf8" }).trim() !== "";
    return `commit ${commit}${dirty ? " with uncommitted changes in src/" : ""}`;
  } catch {
    return "an unknown commit";
  }
}

/** A number with fixed digits. */
export const fmt = (n: number, digits = 3): string => n.toFixed(digits);

/** The ways a gateway bench sends a request: to the fake directly, through Modelport, through Portkey. */
export type GatewayPath = "direct" | "through" | "portkey";

/** Everything a gateway bench measures against, started and ready. */
export interface GatewayBench {
  fake: Child;
  mp: Child & { logFile: string; dir: string };
  /** Portkey's gateway and its version, when a build was found. */
  pk: (Child & { version: string }) | undefined;
  projectId: string;
  key: string;
  /** Processes whose CPU time is read, by name. */
  pids: Record<string, number>;
  target: Record<GatewayPath, { url: string; headers: Record<string, string> }>;
  /** The paths measured: Portkey's only when it runs. */
  paths: GatewayPath[];
}

/**
 * Starts the fake upstream, Modelport and (when built) Portkey, creates the bench project, runs
 * `measure`, then stops them all, whatever happened. `measure` says whether requests failed; then
 * the process exits non-zero.
 */
export async function runGatewayBench(
  options: { portkey: string | undefined; fakeArgs?: readonly string[]; modelport: ModelportOptions },
  measure: (bench: GatewayBench) => Promise<{ failed: boolean }>,
): Promise<void> {
  const found = findPortkey(options.portkey);
  if ("skipped" in found) console.log(found.skipped);
  const fake = await startFake(options.fakeArgs);
  const mp = await startModelport(fake.url, options.modelport);
  let pk: GatewayBench["pk"];
  let failed = false;
  try {
    if ("dir" in found) pk = { ...(await startPortkey(found.dir)), version: found.version };
    const { projectId, key } = await setUpProject(mp.url);
    const bench: GatewayBench = {
      fake,
      mp,
      pk,
      projectId,
      key,
      pids: { modelport: mp.pid, fake: fake.pid, ...(pk ? { portkey: pk.pid } : {}) },
      target: {
        direct: { url: `${fake.url}/chat/completions`, headers: {} },
        through: { url: `${mp.url}/v1/chat/completions`, headers: { authorization: `Bearer ${key}` } },
        portkey: { url: `${pk?.url ?? ""}/v1/chat/completions`, headers: portkeyHeaders(fake.url) },
      },
      paths: pk ? ["direct", "through", "portkey"] : ["direct", "through"],
    };
    ({ failed } = await measure(bench));
  } finally {
    await pk?.stop();
    await mp.stop();
    await fake.stop();
  }
  if (failed) {
    console.error("some requests failed: see non-2xx and errors above");
    process.exitCode = 1;
  }
}

/** Counts kept over a bench's runs: requests Modelport answered 2xx (for the metering check), and failures. */
export interface RunTally {
  throughRequests: number;
  non2xx: number;
  errors: number;
}

/** Adds one autocannon run of `path` to the tally. */
export function tallyRun(tally: RunTally, path: GatewayPath, run: Run): void {
  if (path === "through") tally.throughRequests += run.ok;
  tally.non2xx += run.non2xx;
  tally.errors += run.errors;
}

/** Warms every path up at c=32 (JIT, connection pools, SQLite), Modelport first, and starts the tally. */
export async function warmUp(paths: readonly GatewayPath[], load: (path: GatewayPath) => Promise<Run>): Promise<RunTally> {
  // One more than autocannon counts: the sanity check's request through Modelport was metered too.
  const tally: RunTally = { throughRequests: 1, non2xx: 0, errors: 0 };
  for (const path of ["through", ...paths] as const) tallyRun(tally, path, await load(path));
  return tally;
}
