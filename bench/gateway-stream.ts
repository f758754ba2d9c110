/**
 * bench/gateway-stream: the streamed variant of bench/gateway. `POST /v1/chat/completions` with
 * `stream: true` goes to the fake upstream (bench/fake-openai-upstream.ts `--chunks N`: role chunk,
 * N content chunks, finish, usage, [DONE], written at once) directly, through Modelport (auth, rate
 * limit, budget, metering, routing, log at info to a file), and through Portkey's gateway when a
 * build is found (`--portkey DIR`, $MODELPORT_BENCH_PORTKEY_DIR or ~/.cache/modelport/portkey;
 * skipped with a message otherwise), in rounds whose order rotates:
 *
 * - c=1: a sequential node:http client (keep-alive, one socket) times each request's first body
 *   byte, first content delta and last byte; Modelport's added time is against direct.
 * - c=32: autocannon, requests/s (complete streams) and CPU per streamed request of each process
 *   from /proc.
 *
 *   npm run bench:gateway-stream [-- --rounds 5 --seconds 4 --warmup 3 --chunks 20 --portkey DIR]
 */
import { Agent, request } from "node:http";
import { parseArgs } from "node:util";
import { contentPieces } from "./fake-openai-upstream.ts";
import {
  cannon,
  cpuMs,
  cpuPerRequest,
  fmt,
  type GatewayPath,
  MODEL,
  meteredRequests,
  revision,
  type Run,
  runGatewayBench,
  tallyRun,
  warmUp,
  writeSection,
} from "./gateway-common.ts";
import { machineFacts, median } from "./machine.ts";
import { percentile } from "./server.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    seconds: { type: "string", default: "4" },
    warmup: { type: "string", default: "3" },
    chunks: { type: "string", default: "20" },
    "log-level": { type: "string", default: "info" },
    /** Keep Modelport's data directory and log file (in the temp directory) after the run. */
    keep: { type: "boolean", default: false },
    /** Directory of a built Portkey gateway (build/start-server.js). */
    portkey: { type: "string" },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const CHUNKS = Number(values.chunks);
const LOG_LEVEL = values["log-level"];
const TARGET_VS_PORTKEY = 5;

const BODY = JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "Say hello." }], max_tokens: 16, stream: true });
const EXPECTED = contentPieces(CHUNKS).join("");

type Path = GatewayPath;
const NAMES: Record<Path, string> = { direct: "direct", through: "Modelport", portkey: "Portkey" };

/** The content deltas of an SSE answer, joined, and whether it ended with [DONE]. */
function readStream(text: string): { content: string; done: boolean } {
  let content = "";
  let done = false;
  for (const line of text.split("\n")) {
    if (!line.startsWith("data: ")) continue;
    const data = line.slice(6);
    if (data === "[DONE]") {
      done = true;
      continue;
    }
    const chunk = JSON.parse(data) as { choices?: { delta?: { content?: string | null } }[] };
    content += chunk.choices?.[0]?.delta?.content ?? "";
  }
  return { content, done };
}

/** One streamed request each way, checked whole, and a wrong key refused. */
async function sanityCheck(targets: readonly (readonly [Path, string, Record<string, string>])[], through: string): Promise<void> {
  for (const [path, url, headers] of targets) {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: BODY });
    const text = await res.text();
    const { content, done } = readStream(text);
    if (res.status !== 200 || !res.headers.get("content-type")?.startsWith("text/event-stream") || content !== EXPECTED || !done) {
      throw new Error(`${NAMES[path]}: unexpected streamed answer ${res.status} ${res.headers.get("content-type")}: ${text.slice(0, 500)}`);
    }
    if (url === through && res.headers.get("x-ratelimit-limit-requests") === null) throw new Error("no x-ratelimit-* headers: rate limits are off");
  }
  const unauthorised = await fetch(through, { method: "POST", headers: { authorization: "Bearer sk-proj-wrong", "content-type": "application/json" }, body: BODY });
  await unauthorised.arrayBuffer();
  if (unauthorised.status !== 401) throw new Error(`a wrong key got ${unauthorised.status}: auth is off`);
}

/** Times of one streamed request, in ms from the moment it was sent. */
interface Timing {
  /** First byte of the body. */
  firstByte: number;
  /** First chunk with non-empty content. */
  firstContent: number;
  /** The end of the body. */
  last: number;
}

/** A sequential run at c=1 (keep-alive, one socket): each request's timings, and CPU per process. */
interface SequentialRun {
  timings: Timing[];
  failures: number;
  rps: number;
  cpu: Record<string, number>;
}

const CONTENT_STARTED = /"content":"[^"]/;

function timedRequest(agent: Agent, url: URL, headers: Record<string, string>): Promise<Timing | undefined> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let firstByte = -1;
    let firstContent = -1;
    let text = "";
    const req = request(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(BODY)), ...headers } }, (res) => {
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        const now = performance.now() - started;
        if (firstByte < 0) firstByte = now;
        if (firstContent < 0) {
          text += d;
          if (CONTENT_STARTED.test(text)) firstContent = now;
        }
      });
      res.on("end", () => resolve(res.statusCode === 200 && firstContent >= 0 ? { firstByte, firstContent, last: performance.now() - started } : undefined));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(BODY);
  });
}

async function sequential(url: string, headers: Record<string, string>, seconds: number, pids: Record<string, number>): Promise<SequentialRun> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const target = new URL(url);
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuMs(pid)]));
  const timings: Timing[] = [];
  let failures = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  while (performance.now() < end) {
    const t = await timedRequest(agent, target, headers);
    if (t === undefined) failures++;
    else timings.push(t);
  }
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  const cpu = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuMs(pid) - (before[name] ?? 0)]));
  return { timings, failures, rps: timings.length / elapsed, cpu };
}

async function benchmark(): Promise<void> {
  await runGatewayBench({ portkey: values.portkey, fakeArgs: ["--chunks", String(CHUNKS)], modelport: { logLevel: LOG_LEVEL, keep: values.keep } }, async ({ fake, mp, pk, projectId, pids, target, paths }) => {
    const through = target.through.url;
    await sanityCheck(
      paths.map((p) => [p, target[p].url, target[p].headers] as const),
      through,
    );
    console.log(`fake upstream ${fake.url} (pid ${fake.pid}, ${CHUNKS} content chunks); Modelport ${mp.url} (pid ${mp.pid})${pk ? `; Portkey ${pk.url} (pid ${pk.pid})` : ""}`);
    const load = (path: Path, seconds: number) => cannon({ url: target[path].url, headers: target[path].headers, body: BODY, connections: 32, seconds, pids, keepLatencies: false });
    const tally = await warmUp(paths, (path) => load(path, WARMUP));
    const c1: Record<Path, SequentialRun[]> = { direct: [], through: [], portkey: [] };
    const c32: Record<Path, Run[]> = { direct: [], through: [], portkey: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const order = paths.map((_, i) => paths[(i + round) % paths.length] as Path);
      for (const path of order) {
        const r = await sequential(target[path].url, target[path].headers, SECONDS, pids);
        c1[path].push(r);
        if (path === "through") tally.throughRequests += r.timings.length;
        tally.errors += r.failures;
        const first = r.timings.map((t) => t.firstContent);
        console.log(`round ${round + 1} c=1  ${path.padEnd(7)}: ${r.rps.toFixed(0)} req/s, first content p50 ${fmt(percentile(first, 50))} ms, p99 ${fmt(percentile(first, 99))} ms, failures ${r.failures}`);
      }
      for (const path of order) {
        const r = await load(path, SECONDS);
        c32[path].push(r);
        tallyRun(tally, path, r);
        console.log(`round ${round + 1} c=32 ${path.padEnd(7)}: ${r.rps.toFixed(0)} req/s, non-2xx ${r.non2xx}, errors ${r.errors}`);
      }
    }
    await new Promise((r) => setTimeout(r, 1500));
    const metered = await meteredRequests(mp.url, projectId);
    const meteringOk = metered >= tally.throughRequests;

    const timing = (path: Path, field: keyof Timing, q: number) => percentile(c1[path].flatMap((r) => r.timings.map((t) => t[field])), q);
    const perRound = (path: Path, field: keyof Timing) => c1[path].map((r) => percentile(r.timings.map((t) => t[field]), 50));
    const addedRounds = (path: Path, field: keyof Timing) => perRound(path, field).map((v, i) => v - (perRound("direct", field)[i] ?? Number.NaN));
    const rps = (path: Path) => median(c32[path].map((r) => r.rps));
    const gatewayCpu = (path: Path) => (path === "through" ? cpuPerRequest(c32.through, "modelport") : path === "portkey" ? cpuPerRequest(c32.portkey, "portkey") : Number.NaN);
    const cols: Path[] = paths;
    const cell = (path: Path, f: (p: Path) => string) => (cols.includes(path) ? f(path) : "");
    const row = (label: string, f: (p: Path) => string, note = "") => `| ${label} | ${cols.map((p) => cell(p, f)).join(" | ")} | ${note} |`;
    const added = (field: keyof Timing, q: number) => timing("through", field, q) - timing("direct", field, q);
    const ratios = c32.through.map((r, i) => r.rps / (c32.direct[i] as Run).rps);
    const lines = [
      `| measure | ${cols.map((p) => NAMES[p]).join(" | ")} | Modelport added / ratio |`,
      `|---|${cols.map(() => "---|").join("")}---|`,
      row("c=1 first body byte p50 (ms)", (p) => fmt(timing(p, "firstByte", 50)), `+${fmt(added("firstByte", 50))}`),
      row("c=1 first body byte p99 (ms)", (p) => fmt(timing(p, "firstByte", 99)), `+${fmt(added("firstByte", 99))}`),
      row("c=1 first content chunk p50 (ms)", (p) => fmt(timing(p, "firstContent", 50)), `**+${fmt(added("firstContent", 50))}** (median of per-round differences +${fmt(median(addedRounds("through", "firstContent")))})`),
      row("c=1 first content chunk p99 (ms)", (p) => fmt(timing(p, "firstContent", 99)), `+${fmt(added("firstContent", 99))}`),
      row("c=1 last byte p50 (ms)", (p) => fmt(timing(p, "last", 50)), `+${fmt(added("last", 50))}`),
      row("c=1 streams/s (median of rounds)", (p) => median(c1[p].map((r) => r.rps)).toFixed(0)),
      row("c=32 streams/s (median of rounds)", (p) => (p === "through" ? `**${rps(p).toFixed(0)}**` : rps(p).toFixed(0)), `${fmt(rps("through") / rps("direct"), 2)} (median of per-round ratios ${fmt(median(ratios), 2)})`),
      row("c=32 gateway process CPU per stream (µs)", (p) => (p === "direct" ? "" : gatewayCpu(p).toFixed(0))),
      row("c=32 fake upstream CPU per stream (µs)", (p) => cpuPerRequest(c32[p], "fake").toFixed(0)),
      row("c=32 autocannon CPU per stream (µs)", (p) => cpuPerRequest(c32[p], "bench").toFixed(0)),
    ];
    let vsLine = "";
    if (pk) {
      const vs = c32.through.map((r, i) => r.rps / (c32.portkey[i] as Run).rps);
      const pass = median(vs) >= TARGET_VS_PORTKEY;
      lines.push(`| **c=32 Modelport / Portkey streams/s** | ${cols.map(() => "").join(" | ")} | **${fmt(median(vs), 2)}×** (median of per-round ratios; target ≥ ${TARGET_VS_PORTKEY}×: ${pass ? "pass" : "FAIL"}) |`);
      vsLine = `- Target (issue 16): Modelport ≥ ${TARGET_VS_PORTKEY}× Portkey's requests/s at c=32, streamed: **${pass ? "pass" : "FAIL"}** (${fmt(median(vs), 2)}×). Issue 16 sets no other streamed target; the non-streamed ones (CPU ≤ 100 µs per request, added p50 ≤ 0.2 ms, through/direct ≥ 0.2) are in the gateway section.`;
    }
    const table = lines.join("\n");
    console.log(`\n${table}\n`);
    const meteringLine = `usage records written: ${metered} for ${tally.throughRequests} complete streams through Modelport that the clients counted (${meteringOk ? "none lost; the rest were in flight when a run stopped" : "RECORDS LOST"})`;
    console.log(`non-2xx ${tally.non2xx}, errors ${tally.errors}; ${meteringLine}`);

    writeSection(
      "gateway-stream",
      `## gateway-stream: streamed chat completions through Modelport vs the fake directly${pk ? " and vs Portkey's gateway" : ""} (${new Date().toISOString()})

- Machine: ${machineFacts()}
- Streamed \`POST /v1/chat/completions\` (\`stream: true\`, ${BODY.length}-byte body); the fake upstream answers with a role chunk, ${CHUNKS} content chunks, a finish chunk, a usage chunk and [DONE], all in one write. The fake, Modelport and ${pk ? "Portkey" : "the benchmark"} each in their own process. Modelport: project key, per-model rate limit (10^9 a minute) and budget, usage metering to SQLite, log level ${LOG_LEVEL} to a file, routing; it parses the upstream's chunks and writes its own.
- ${
        pk
          ? `Portkey's gateway ${pk.version} (\`node build/start-server.js --port=N\`, \`x-portkey-provider: openai\`, \`x-portkey-custom-host\` to the fake): it relays the stream with no auth, limits, budgets or metering of its own. Its stream handler waits 25 ms (a \`setTimeout\`) before relaying the first chunk, which sets its c=1 times and caps its c=32 streams/s near 32 / 25 ms; its CPU per stream is the fairer comparison there.`
          : "Portkey: skipped (no build found)."
      }
- c=1: a sequential node:http client in the benchmark process (keep-alive, one socket); per request the time to the first body byte, to the first chunk with non-empty content, and to the last byte; percentiles pool every request of every round. c=32: autocannon (a request counts when its stream is complete); CPU per stream from /proc over each run.
- ${ROUNDS} rounds of ${SECONDS} s per path and concurrency, the paths' order rotating every round (after ${WARMUP} s warm-ups at c=32); requests/s the median over rounds.
- Modelport at ${revision()}
- Non-2xx: ${tally.non2xx}, errors, timeouts and failed streams: ${tally.errors}; ${meteringLine}.
${vsLine}

${table}
`,
    );
    return { failed: tally.non2xx > 0 || tally.errors > 0 || !meteringOk };
  });
}

await benchmark();
