/**
 * bench/gateway-journal: what the usage journal (`usage.journal`, one synchronous append per usage
 * record, so a killed process loses none) costs Modelport per request. Two measures:
 *
 * - In one process: `UsageMeter.record` with and without a journal in a temporary directory, over
 *   synthetic requests (the database write is a stub: it is the same with or without the journal).
 * - Through the whole gateway, as `npm run bench:gateway -- --metrics-compare` does it: four Modelport
 *   processes in front of the same fake upstream, two with the journal and two without, driven one
 *   at a time in rotating rounds at c=32 with the same non-streamed chat completion; each side's CPU
 *   per request is read from /proc over its own runs. Every answer's usage record is then checked
 *   in the usage API, and each journal directory is checked empty (all of it written and deleted).
 *
 * The issue's target: the gateway's CPU per request with the journal within 5 % of without.
 *
 *   node bench/gateway-journal.ts [--rounds 5 --seconds 4 --warmup 2 --records 200000 --keep]
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createLogger } from "../src/logging/logger.ts";
import { UsageMeter, type MeteredRequest } from "../src/services/usage-meter.ts";
import type { Storage } from "../src/storage/storage.ts";
import { UsageJournal } from "../src/storage/usage-journal.ts";
import { cannon, fmt, meteredRequests, MODEL, revision, type Run, setUpProject, startFake, startModelport, writeSection } from "./gateway-common.ts";
import { machineFacts, median } from "./machine.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    seconds: { type: "string", default: "4" },
    warmup: { type: "string", default: "2" },
    records: { type: "string", default: "200000" },
    keep: { type: "boolean", default: false },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const RECORDS = Number(values.records);
const TARGET_CPU_GROWTH = 0.05;
const CONNECTIONS = 32;
const BODY = JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "Say hello." }], max_tokens: 16 });

type Side = "on" | "off";

/** µs of CPU per `record()` over `RECORDS` synthetic requests, flushed every 500 as the meter does. */
async function recordCost(journal: UsageJournal | undefined): Promise<number> {
  const storage = { insertUsage: async () => undefined } as unknown as Storage;
  const meter = new UsageMeter(storage, createLogger("silent"), { intervalMs: 60_000, maxBuffer: 500, journal });
  const request: MeteredRequest = {
    principal: { projectId: "proj_bench", keyId: "key_bench", admin: false, models: null },
    model: MODEL,
    endpoint: "/v1/chat/completions",
    usage: { promptTokens: 9, completionTokens: 2, cachedTokens: 0, reasoningTokens: 0 },
    latencyMs: 1,
    status: 200,
    batch: false,
    pricing: { input: 0.15, cachedInput: 0.075, output: 0.6 },
  };
  const before = process.cpuUsage();
  for (let i = 0; i < RECORDS; i++) {
    meter.record(request);
    // The meter flushes (and seals a segment) at every 500th record; its writes run between requests.
    if (i % 500 === 499) await meter.flush();
  }
  await meter.close();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / RECORDS;
}

/** `modelport serve` routed to the fake exactly as bench:gateway starts it, with `usage.journal` set. */
function startJournaled(upstreamUrl: string, journal: boolean): ReturnType<typeof startModelport> {
  return startModelport(upstreamUrl, { logLevel: "info", keep: values.keep === true, journal });
}

interface Instance {
  name: string;
  side: Side;
  server: Awaited<ReturnType<typeof startJournaled>>;
  projectId: string;
  key: string;
  answered: number;
}

/** CPU per 2xx request over runs of the named processes, in µs. */
function cpuPerRequestOf(runs: readonly { run: Run; name: string }[]): number {
  return (runs.reduce((s, r) => s + (r.run.cpu[r.name] ?? 0), 0) / runs.reduce((s, r) => s + r.run.ok, 0)) * 1000;
}

const load = loadavg()[0] ?? 0;
const recordOff = await recordCost(undefined);
const journalDir = mkdtempSync(join(tmpdir(), "modelport-bench-journal-micro-"));
const recordOn = await recordCost(new UsageJournal(journalDir));
rmSync(journalDir, { recursive: true, force: true });
console.log(`UsageMeter.record: ${recordOn.toFixed(2)} µs with the journal, ${recordOff.toFixed(2)} µs without (${RECORDS} records)`);

const fake = await startFake();
const instances: Instance[] = [];
let failed = false;
try {
  // Two of each, started on, off, off, on: a process's start order moves its CPU per request on a busy machine.
  for (const [name, side] of [["on-1", "on"], ["off-1", "off"], ["off-2", "off"], ["on-2", "on"]] as const) {
    instances.push({ name, side, server: await startJournaled(fake.url, side === "on"), projectId: "", key: "", answered: 0 });
  }
  for (const i of instances) Object.assign(i, await setUpProject(i.server.url));
  const pids: Record<string, number> = { fake: fake.pid };
  for (const i of instances) pids[i.name] = i.server.pid;
  const run = (i: Instance, seconds: number) =>
    cannon({ url: `${i.server.url}/v1/chat/completions`, headers: { authorization: `Bearer ${i.key}` }, body: BODY, connections: CONNECTIONS, seconds, pids, keepLatencies: false });
  for (const i of instances) i.answered += (await run(i, WARMUP)).ok;
  const runs: { run: Run; name: string; side: Side; round: number }[] = [];
  let non2xx = 0;
  let errors = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < instances.length; k++) {
      const i = instances[(k + round) % instances.length] as Instance;
      const r = await run(i, SECONDS);
      runs.push({ run: r, name: i.name, side: i.side, round });
      i.answered += r.ok;
      non2xx += r.non2xx;
      errors += r.errors;
      console.log(`round ${round + 1} ${i.name.padEnd(5)}: ${r.rps.toFixed(0)} req/s, Modelport CPU ${cpuPerRequestOf([{ run: r, name: i.name }]).toFixed(1)} µs/request`);
    }
  }
  // Every answer metered, once; the journals written and deleted (the meter flushes every second).
  await new Promise((r) => setTimeout(r, 2500));
  const metered: string[] = [];
  let meteringOk = true;
  for (const i of instances) {
    const n = await meteredRequests(i.server.url, i.projectId);
    const left = i.side === "on" ? readdirSync(join(i.server.dir, "data", "usage-journal")).length : 0;
    // Each autocannon run stops with up to 32 requests in flight, which the server still answers and meters.
    if (n < i.answered || n > i.answered + (ROUNDS + 1) * CONNECTIONS || left > 0) meteringOk = false;
    metered.push(`${i.name} ${n} metered / ${i.answered} answered${i.side === "on" ? `, ${left} journal files left` : ""}`);
  }
  const of = (side: Side, round?: number) => runs.filter((r) => r.side === side && (round === undefined || r.round === round));
  const cpuOn = cpuPerRequestOf(of("on"));
  const cpuOff = cpuPerRequestOf(of("off"));
  const perRound = Array.from({ length: ROUNDS }, (_, round) => cpuPerRequestOf(of("on", round)) / cpuPerRequestOf(of("off", round)));
  const rps = (side: Side) => median(of(side).map((r) => r.run.rps));
  const byProcess = (side: Side) => instances.filter((i) => i.side === side).map((i) => `${i.name} ${cpuPerRequestOf(runs.filter((r) => r.name === i.name)).toFixed(0)}`).join(", ");
  const growth = cpuOn / cpuOff - 1;
  const pass = growth <= TARGET_CPU_GROWTH;
  const table = [
    "| c=32 | journal on | journal off | on / off |",
    "|---|---|---|---|",
    `| requests/s (median of runs) | ${rps("on").toFixed(0)} | ${rps("off").toFixed(0)} | ${fmt(rps("on") / rps("off"), 2)} |`,
    `| Modelport CPU per request (µs), all runs | **${cpuOn.toFixed(1)}** | **${cpuOff.toFixed(1)}** | **${fmt(cpuOn / cpuOff, 3)}** (${growth >= 0 ? "+" : ""}${(growth * 100).toFixed(1)} %; target ≤ +${TARGET_CPU_GROWTH * 100} %: ${pass ? "pass" : "FAIL"}) |`,
    `| per-round CPU ratio on/off (median; min–max) | | | ${fmt(median(perRound), 3)} (${fmt(Math.min(...perRound), 3)}–${fmt(Math.max(...perRound), 3)}) |`,
    `| CPU per request by process (µs): the spread between identical processes is the noise | ${byProcess("on")} | ${byProcess("off")} | |`,
    `| \`UsageMeter.record\` alone, in one process (µs per record, ${RECORDS} records) | ${recordOn.toFixed(2)} | ${recordOff.toFixed(2)} | +${(recordOn - recordOff).toFixed(2)} µs, ${(((recordOn - recordOff) / cpuOff) * 100).toFixed(1)} % of the gateway's CPU per request |`,
  ].join("\n");
  console.log(`\n${table}\n\nnon-2xx ${non2xx}, errors ${errors}; ${metered.join("; ")}`);
  failed = non2xx > 0 || errors > 0 || !meteringOk;
  writeSection(
    "gateway-journal",
    `## gateway-journal: Modelport's CPU per request with the usage journal on vs off, side by side (${new Date().toISOString()})

- Machine: ${machineFacts()}; 1-minute load average ${load.toFixed(2)} as the run began (the machine is shared: other work ran beside it).
- \`node bench/gateway-journal.ts --rounds ${ROUNDS} --seconds ${SECONDS} --warmup ${WARMUP}\`: four Modelport processes, two with \`usage.journal: true\` (the default) and two with \`false\`, started on, off, off, on, in front of the same fake upstream (\`bench/fake-openai-upstream.ts\`, its own process), each with its own SQLite database, project key, rate limit, budget and metering, log level info (to a file). Non-streamed \`POST /v1/chat/completions\` at c=${CONNECTIONS} from autocannon in the benchmark's process, one process at a time, ${ROUNDS} rounds of ${SECONDS} s per process in rotating order (after ${WARMUP} s warm-ups); CPU per request is a side's processes' user + system CPU (/proc) over their runs divided by their 2xx answers.
- Modelport at ${revision()}
- Non-2xx: ${non2xx}, errors and timeouts: ${errors}. Usage API afterwards: ${metered.join("; ")} (${meteringOk ? "every answer metered, journals emptied; the surplus is the requests in flight when each autocannon run stopped, answered after it" : "MISMATCH"}).
- Target (issue 23): CPU per request with the journal within ${TARGET_CPU_GROWTH * 100} % of without (**${pass ? "pass" : "FAIL"}**).

${table}
`,
  );
} finally {
  for (const i of instances) await i.server.stop();
  await fake.stop();
}
if (failed) process.exitCode = 1;
