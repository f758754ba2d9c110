/**
 * bench/workers: `modelport serve --workers 2` against one process (`--workers 1`), both in front
 * of the same fast fake upstream (bench:gateway's setup: a project key, rate limits, a budget,
 * metering to SQLite, routing, info logs to a file), non-streamed chat completions at concurrency
 * 32 with autocannon, rounds alternating between the two. Reports requests/s, their ratio, CPU per
 * request of each server's whole process tree, and checks that every answered request was metered
 * exactly once. On a machine whose cores the load generator and the fake also need, a second worker
 * can only help as far as a core is free: the result says how far that is here.
 *
 *   npm run bench:workers [-- --rounds 5 --seconds 5 --workers 2]
 */
import { parseArgs } from "node:util";
import { cannon, cpuPerRequest, MODEL, meteredRequests, revision, type Run, setUpProject, startFake, startModelport, treeCpuMs, writeSection } from "./gateway-common.ts";
import { machineFacts, median } from "./machine.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    seconds: { type: "string", default: "5" },
    workers: { type: "string", default: "2" },
    connections: { type: "string", default: "32" },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const WORKERS = Number(values.workers);
const CONNECTIONS = Number(values.connections);

async function main(): Promise<void> {
  const fake = await startFake();
  const single = await startModelport(`${fake.url}`, { logLevel: "info", keep: false, workers: 1 });
  const multi = await startModelport(`${fake.url}`, { logLevel: "info", keep: false, workers: WORKERS });
  try {
    const servers = { single, multi } as const;
    const projects = { single: await setUpProject(single.url), multi: await setUpProject(multi.url) };
    const body = JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "Say hello" }], max_tokens: 16 });
    const runs: Record<keyof typeof servers, Run[]> = { single: [], multi: [] };
    const go = (key: keyof typeof servers, seconds: number): Promise<Run> =>
      cannon({
        url: `${servers[key].url}/v1/chat/completions`,
        body,
        headers: { authorization: `Bearer ${projects[key].key}` },
        connections: CONNECTIONS,
        seconds,
        pids: { modelport: servers[key].pid, fake: fake.pid },
        keepLatencies: false,
        cpuOf: treeCpuMs,
      });
    // Warm both (JIT, connection pools, SQLite pages) before measuring.
    const answered = { single: (await go("single", 2)).ok, multi: (await go("multi", 2)).ok };
    for (let round = 0; round < ROUNDS; round++) {
      const order: (keyof typeof servers)[] = round % 2 === 0 ? ["single", "multi"] : ["multi", "single"];
      for (const key of order) {
        const run = await go(key, SECONDS);
        runs[key].push(run);
        answered[key] += run.ok;
        console.log(`round ${round + 1} ${key}: ${run.rps.toFixed(0)} req/s (${run.non2xx} non-2xx, ${run.errors} errors)`);
      }
    }
    // Metering flushes every second; then every 2xx of every run (warm-ups included) must be counted once.
    await new Promise((r) => setTimeout(r, 2500));
    const metering: string[] = [];
    for (const key of ["single", "multi"] as const) {
      const metered = await meteredRequests(servers[key].url, projects[key].projectId);
      // autocannon stops each run with one request in flight per connection: the server answers and meters those too.
      const expected = answered[key] + (ROUNDS + 1) * CONNECTIONS;
      metering.push(`${key === "single" ? "1 process" : `${WORKERS} workers`}: ${metered} metered, expected ${expected} (${answered[key]} answered + ${CONNECTIONS} in flight at the end of each of ${ROUNDS + 1} runs)${metered === expected ? "" : " **MISMATCH**"}`);
    }
    const rps = { single: median(runs.single.map((r) => r.rps)), multi: median(runs.multi.map((r) => r.rps)) };
    const section = `## workers: serve --workers ${WORKERS} vs one process, gateway path (${new Date().toISOString()})

${machineFacts()}; ${revision()}; non-streamed chat completions through Modelport to the fake upstream at c=${CONNECTIONS}, ${ROUNDS} rounds × ${SECONDS} s alternating; the load generator, the fake and Modelport share the machine's cores.

| | req/s (median) | Modelport CPU per request (all its processes) | fake CPU per request |
|---|---|---|---|
| 1 process | ${rps.single.toFixed(0)} | ${cpuPerRequest(runs.single, "modelport").toFixed(0)} µs | ${cpuPerRequest(runs.single, "fake").toFixed(0)} µs |
| ${WORKERS} workers + engine host | ${rps.multi.toFixed(0)} | ${cpuPerRequest(runs.multi, "modelport").toFixed(0)} µs | ${cpuPerRequest(runs.multi, "fake").toFixed(0)} µs |

- ${WORKERS} workers / 1 process: **${(rps.multi / rps.single).toFixed(2)}×** requests/s
- metering (every 2xx, warm-ups included): ${metering.join("; ")}
`;
    console.log(section);
    writeSection("workers", section);
  } finally {
    await single.stop();
    await multi.stop();
    await fake.stop();
  }
}

await main();
