/**
 * bench/gateway: what Modelport adds in front of an upstream. Non-streamed chat completions go to a
 * fast local fake upstream (bench/fake-openai-upstream.ts, its own process) either directly or
 * through Modelport (its own process) with auth (a project key), rate limits, budgets, metering
 * (SQLite) and routing all on; Modelport calls the fake with `stream: true` as it always does.
 * autocannon drives both in one run, in alternating rounds: at concurrency 1 the added p50/p99
 * latency, at concurrency 32 the requests/s and their ratio to direct. When a built Portkey gateway
 * is found (`--portkey DIR`, $MODELPORT_BENCH_PORTKEY_DIR or ~/.cache/modelport/portkey), it runs
 * side by side at c=32 in the same rounds, in front of the same fake; otherwise it is skipped with a
 * message. The streamed variant is bench/gateway-stream.ts.
 *
 *   npm run bench:gateway [-- --rounds 5 --seconds 4 --warmup 3 --portkey DIR]
 *   npm run bench:gateway -- --profile [--profile-seconds 20]   # CPU profile of Modelport at c=32
 *   npm run bench:gateway -- --metrics-compare [--rounds 5 --seconds 4]   # metrics on vs off, CPU per request (bench/gateway-metrics.ts)
 *
 * --log-level sets Modelport's (default info, written to a file); --keep keeps its data directory
 * and log. The profile mode prints the hot spots and the .cpuprofile's path, and writes no results.
 */
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { summariseProfile } from "./cpu-profile.ts";
import { metricsCompare } from "./gateway-metrics.ts";
import {
  cannon,
  cpuPerRequest,
  fmt,
  type GatewayPath,
  MODEL,
  meteredRequests,
  revision,
  type Run,
  runGatewayBench,
  setUpProject,
  startFake,
  startModelport,
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
    "log-level": { type: "string", default: "info" },
    profile: { type: "boolean", default: false },
    "profile-seconds": { type: "string", default: "20" },
    /** Two Modelport processes, metrics on and off, side by side at c=32 (CPU per request). */
    "metrics-compare": { type: "boolean", default: false },
    /** Keep Modelport's data directory and log file (in the temp directory) after the run. */
    keep: { type: "boolean", default: false },
    /** Directory of a built Portkey gateway (build/start-server.js). */
    portkey: { type: "string" },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const LOG_LEVEL = values["log-level"];
const MP_OPTIONS = { logLevel: LOG_LEVEL, keep: values.keep };
const TARGET_ADDED_P50_MS = 0.2;
const TARGET_CPU_US = 100;
const TARGET_RATIO_C32 = 0.2;
const TARGET_VS_PORTKEY = 5;

const BODY = JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "Say hello." }], max_tokens: 16 });

/** One request each way, to check each answers as expected before measuring. */
async function sanityCheck(paths: readonly (readonly [string, string, Record<string, string>])[], through: string, key: string): Promise<void> {
  for (const [name, url, headers] of paths) {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: BODY });
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

type Path = GatewayPath;

async function benchmark(): Promise<void> {
  await runGatewayBench({ portkey: values.portkey, modelport: MP_OPTIONS }, async ({ fake, mp, pk, projectId, key, pids, target, paths }) => {
    const through = target.through.url;
    await sanityCheck(
      paths.map((p) => [p, target[p].url, target[p].headers] as const),
      through,
      key,
    );
    console.log(`fake upstream ${fake.url} (pid ${fake.pid}); Modelport ${mp.url} (pid ${mp.pid})${values.keep ? `, log ${mp.logFile}` : ""}${pk ? `; Portkey ${pk.url} (pid ${pk.pid})` : ""}`);
    const run = (path: Path, connections: number, seconds: number, keepLatencies: boolean) =>
      cannon({ url: target[path].url, headers: target[path].headers, body: BODY, connections, seconds, pids, keepLatencies });
    const tally = await warmUp(paths, (path) => run(path, 32, WARMUP, false));
    const c1: Record<Path, Run[]> = { direct: [], through: [], portkey: [] };
    const c32: Record<Path, Run[]> = { direct: [], through: [], portkey: [] };
    for (let round = 0; round < ROUNDS; round++) {
      // Each round rotates the order, so no path always follows the same one.
      const order = paths.map((_, i) => paths[(i + round) % paths.length] as Path);
      for (const [connections, store] of [[1, c1], [32, c32]] as const) {
        for (const path of order) {
          // Portkey only at c=32 (requests/s).
          if (connections === 1 && path === "portkey") continue;
          const r = await run(path, connections, SECONDS, connections === 1);
          store[path].push(r);
          tallyRun(tally, path, r);
          const lat = connections === 1 ? `, p50 ${fmt(percentile(r.latencies, 50))} ms, p99 ${fmt(percentile(r.latencies, 99))} ms` : "";
          console.log(`round ${round + 1} c=${connections} ${path.padEnd(7)}: ${r.rps.toFixed(0)} req/s${lat}, non-2xx ${r.non2xx}, errors ${r.errors}`);
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
    const cpuThrough = cpuPerRequest(c32.through, "modelport");
    const pass50 = added50 <= TARGET_ADDED_P50_MS;
    const passCpu = cpuThrough <= TARGET_CPU_US;
    const passRatio = median(ratios) >= TARGET_RATIO_C32;
    // Requests in flight when autocannon stops a run are served and metered, but not counted by it.
    const meteringOk = metered >= tally.throughRequests;

    const rows = [
      "| measure | direct to fake | through Modelport | added / ratio |",
      "|---|---|---|---|",
      `| c=1 p50 latency (ms) | ${fmt(p(c1.direct, 50))} | ${fmt(p(c1.through, 50))} | **+${fmt(added50)}** (target ≤ ${TARGET_ADDED_P50_MS}: ${pass50 ? "pass" : "FAIL"}); median of per-round differences +${fmt(median(roundAdded50))} |`,
      `| c=1 p99 latency (ms) | ${fmt(p(c1.direct, 99))} | ${fmt(p(c1.through, 99))} | +${fmt(added99)} |`,
      `| c=1 requests/s (median of rounds) | ${median(c1.direct.map((r) => r.rps)).toFixed(0)} | ${median(c1.through.map((r) => r.rps)).toFixed(0)} | |`,
      `| c=32 requests/s (median of rounds) | ${rpsDirect.toFixed(0)} | **${rpsThrough.toFixed(0)}** | ${fmt(rpsThrough / rpsDirect, 2)} (median of per-round ratios **${fmt(median(ratios), 2)}**; target ≥ ${TARGET_RATIO_C32}: ${passRatio ? "pass" : "FAIL"}) |`,
      `| c=32 CPU per request, Modelport process (µs) | | **${cpuThrough.toFixed(0)}** | target ≤ ${TARGET_CPU_US}: ${passCpu ? "pass" : "FAIL"} |`,
      `| c=32 CPU per request, fake upstream (µs) | ${cpuPerRequest(c32.direct, "fake").toFixed(0)} | ${cpuPerRequest(c32.through, "fake").toFixed(0)} | |`,
      `| c=32 CPU per request, autocannon (µs) | ${cpuPerRequest(c32.direct, "bench").toFixed(0)} | ${cpuPerRequest(c32.through, "bench").toFixed(0)} | |`,
    ];
    let portkeyTable = "";
    let portkeyTarget = "";
    if (pk) {
      const rpsPortkey = median(c32.portkey.map((r) => r.rps));
      const vs = c32.through.map((r, i) => r.rps / (c32.portkey[i] as Run).rps);
      const passVs = median(vs) >= TARGET_VS_PORTKEY;
      portkeyTarget = `, Modelport/Portkey requests/s ≥ ${TARGET_VS_PORTKEY}× at c=32 (**${passVs ? "pass" : "FAIL"}**)`;
      portkeyTable = [
        "| c=32, same rounds | Modelport | Portkey | Modelport / Portkey |",
        "|---|---|---|---|",
        `| requests/s (median of rounds) | ${rpsThrough.toFixed(0)} | ${rpsPortkey.toFixed(0)} | **${fmt(median(vs), 2)}×** (median of per-round ratios; target ≥ ${TARGET_VS_PORTKEY}×: ${passVs ? "pass" : "FAIL"}) |`,
        `| gateway process CPU per request (µs) | ${cpuThrough.toFixed(0)} | ${cpuPerRequest(c32.portkey, "portkey").toFixed(0)} | ${fmt(cpuThrough / cpuPerRequest(c32.portkey, "portkey"), 2)} |`,
        `| fake upstream CPU per request (µs) | ${cpuPerRequest(c32.through, "fake").toFixed(0)} | ${cpuPerRequest(c32.portkey, "fake").toFixed(0)} | |`,
      ].join("\n");
    }
    const table = rows.join("\n");
    console.log(`\n${table}\n${portkeyTable ? `\n${portkeyTable}\n` : ""}`);
    const meteringLine = `usage records written: ${metered} for ${tally.throughRequests} 2xx answers through Modelport that autocannon counted (${meteringOk ? "none lost; the rest were in flight when a run stopped" : "RECORDS LOST"})`;
    console.log(`non-2xx ${tally.non2xx}, errors ${tally.errors}; ${meteringLine}`);

    writeSection(
      "gateway",
      `## gateway: Modelport in front of a fake upstream vs the fake directly${pk ? " and vs Portkey's gateway" : ""} (${new Date().toISOString()})

- Machine: ${machineFacts()}
- Non-streamed \`POST /v1/chat/completions\` (${BODY.length}-byte body), autocannon in the benchmark's process; the fake upstream (\`bench/fake-openai-upstream.ts\`) and Modelport each in their own process. Modelport calls the fake with \`stream: true\` and answers with JSON, with a project key (auth), a per-model rate limit and budget (checked on every request), usage metering to SQLite, log level ${LOG_LEVEL} (to a file) and routing on.
- The rate limit is an explicit per-model limit of 10^9 requests and 10^12 tokens a minute with 4,096 concurrent (the default tier-5, 30,000 requests a minute, would refuse most of this load); it runs through the same limiter as a tier. The direct path is bounded by autocannon and the fake (about 10 µs of CPU each per request), so the ratio mostly shows Modelport's own cost: at c=32 Modelport's main thread is the bottleneck.
- ${
        pk
          ? `Portkey's gateway ${pk.version} (\`node build/start-server.js --port=N\`, built with \`npm install --ignore-scripts && npm run build\`) in its own process in front of the same fake (\`x-portkey-provider: openai\`, \`x-portkey-custom-host\`); it forwards the request as sent (non-streamed), with no auth, limits, budgets or metering of its own. It runs at c=32 only, in the same rounds.`
          : "Portkey: skipped (no build found)."
      }
- ${ROUNDS} rounds of ${SECONDS} s per path and concurrency, the paths' order rotating every round (after ${WARMUP} s warm-ups at c=32); latencies are every request's exact time pooled over the rounds, requests/s the median over rounds.
- Modelport at ${revision()}
- Non-2xx: ${tally.non2xx}, errors and timeouts: ${tally.errors}; ${meteringLine}.
- Targets (issue 16): added p50 ≤ ${TARGET_ADDED_P50_MS} ms at c=1 (**${pass50 ? "pass" : "FAIL"}**), Modelport CPU ≤ ${TARGET_CPU_US} µs per request at c=32 (**${passCpu ? "pass" : "FAIL"}**), through/direct ≥ ${TARGET_RATIO_C32} at c=32 (**${passRatio ? "pass" : "FAIL"}**)${portkeyTarget}.

${table}
${portkeyTable ? `\n${portkeyTable}\n` : ""}`,
    );
    return { failed: tally.non2xx > 0 || tally.errors > 0 || !meteringOk };
  });
}

/** Runs Modelport with --cpu-prof under c=32 load and prints where its time goes. */
async function profile(): Promise<void> {
  const seconds = Number(values["profile-seconds"]);
  const fake = await startFake();
  const profDir = mkdtempSync(join(tmpdir(), "modelport-gateway-prof-"));
  const mp = await startModelport(fake.url, { ...MP_OPTIONS, nodeArgs: ["--cpu-prof", "--cpu-prof-dir", profDir, "--cpu-prof-interval", "250"] });
  const through = `${mp.url}/v1/chat/completions`;
  const pids = { modelport: mp.pid, fake: fake.pid };
  try {
    const { key } = await setUpProject(mp.url);
    await sanityCheck([["direct", `${fake.url}/chat/completions`, {}], ["through Modelport", through, { authorization: `Bearer ${key}` }]], through, key);
    const load = (s: number) => cannon({ url: through, headers: { authorization: `Bearer ${key}` }, body: BODY, connections: 32, seconds: s, pids, keepLatencies: false });
    await load(WARMUP);
    const run = await load(seconds);
    console.log(`profiled c=32 through Modelport: ${run.rps.toFixed(0)} req/s (with the profiler on), non-2xx ${run.non2xx}, errors ${run.errors}, Modelport CPU ${cpuPerRequest([run], "modelport").toFixed(0)} µs per request`);
  } finally {
    await mp.stop();
    await fake.stop();
  }
  const file = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"));
  if (file === undefined) throw new Error(`no profile written in ${profDir}`);
  console.log(summariseProfile(join(profDir, file), 40));
}

async function compareMetrics(): Promise<void> {
  const { failed } = await metricsCompare({ rounds: ROUNDS, seconds: SECONDS, warmup: WARMUP, modelport: MP_OPTIONS });
  if (failed) {
    console.error("some requests failed, or the metrics missed some: see above");
    process.exitCode = 1;
  }
}

await (values.profile ? profile() : values["metrics-compare"] ? compareMetrics() : benchmark());
