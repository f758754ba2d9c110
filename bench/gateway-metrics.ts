/**
 * bench:gateway's `--metrics-compare` mode: what Prometheus metrics cost Modelport per request,
 * through the whole gateway. Four Modelport processes in front of the same fake upstream, two with
 * `metrics.enabled` and two without (traces off in all, as by default), driven one at a time in
 * rotating rounds at c=32 with the same non-streamed chat completion; each side's CPU per request
 * is read from /proc over its own runs. The issue's target: metrics on costs at most 10 % more CPU
 * per request than metrics off.
 */
import { loadavg } from "node:os";
import { cannon, fmt, type ModelportOptions, MODEL, revision, type Run, setUpProject, startFake, startModelport, writeSection } from "./gateway-common.ts";
import { machineFacts, median } from "./machine.ts";

/** How the comparison runs. */
export interface MetricsCompareOptions {
  rounds: number;
  seconds: number;
  warmup: number;
  modelport: ModelportOptions;
}

const TARGET_CPU_GROWTH = 0.1;
const CONNECTIONS = 32;
const BODY = JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "Say hello." }], max_tokens: 16 });

type Side = "on" | "off";

/** The chat completions answered 200 that a scrape counted. */
function countedChats(text: string): number {
  const line = /^modelport_http_requests_total\{[^}]*route="\/v1\/chat\/completions"[^}]*status="200"[^}]*\} (\S+)$/m.exec(text);
  return Number(line?.[1] ?? 0);
}

/** One Modelport process under test. */
interface Instance {
  name: string;
  side: Side;
  server: Awaited<ReturnType<typeof startModelport>>;
  key: string;
}

/** CPU per 2xx request over runs that each watched several processes: `names[i]` is the one `runs[i]` drove, in µs. */
function cpuPerRequestOf(runs: readonly { run: Run; name: string }[]): number {
  return (runs.reduce((s, r) => s + (r.run.cpu[r.name] ?? 0), 0) / runs.reduce((s, r) => s + r.run.ok, 0)) * 1000;
}

/** Runs the comparison, prints it, and writes its RESULTS.md section; resolves to whether any request failed. */
export async function metricsCompare(o: MetricsCompareOptions): Promise<{ failed: boolean }> {
  const load = loadavg()[0] ?? 0;
  const fake = await startFake();
  const instances: Instance[] = [];
  try {
    // Two of each, started on, off, off, on: a process started earlier or later than the other side's
    // (which moves CPU per request by several per cent on a busy machine) is on both sides.
    for (const [name, side] of [["on-1", "on"], ["off-1", "off"], ["off-2", "off"], ["on-2", "on"]] as const) {
      const server = await startModelport(fake.url, { ...o.modelport, metrics: side === "on" });
      instances.push({ name, side, server, key: "" });
    }
    for (const i of instances) i.key = (await setUpProject(i.server.url)).key;
    const pids: Record<string, number> = { fake: fake.pid };
    for (const i of instances) pids[i.name] = i.server.pid;
    // Each answers, and only those with metrics on serve /metrics.
    for (const i of instances) {
      const res = await fetch(`${i.server.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${i.key}`, "content-type": "application/json" }, body: BODY });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${i.name}: a chat completion got ${res.status}`);
      const scrape = await fetch(`${i.server.url}/metrics`);
      await scrape.arrayBuffer();
      if (scrape.status !== (i.side === "on" ? 200 : 404)) throw new Error(`${i.name}: GET /metrics got ${scrape.status}`);
    }
    console.log(`fake upstream ${fake.url} (pid ${fake.pid}); Modelport ${instances.map((i) => `${i.name} ${i.server.url} (pid ${i.server.pid})`).join(", ")}; load average ${load.toFixed(2)}`);
    const run = (i: Instance, seconds: number) =>
      cannon({ url: `${i.server.url}/v1/chat/completions`, headers: { authorization: `Bearer ${i.key}` }, body: BODY, connections: CONNECTIONS, seconds, pids, keepLatencies: false });
    for (const i of instances) await run(i, o.warmup);
    const runs: { run: Run; name: string; side: Side; round: number }[] = [];
    let counted = 0;
    let answered = 0;
    let non2xx = 0;
    let errors = 0;
    for (let round = 0; round < o.rounds; round++) {
      // The order rotates every round: no process always runs after the same one.
      for (let k = 0; k < instances.length; k++) {
        const i = instances[(k + round) % instances.length] as Instance;
        const before = i.side === "on" ? countedChats(await (await fetch(`${i.server.url}/metrics`)).text()) : 0;
        const r = await run(i, o.seconds);
        runs.push({ run: r, name: i.name, side: i.side, round });
        non2xx += r.non2xx;
        errors += r.errors;
        if (i.side === "on") {
          // Scraped between runs, outside the CPU window, once the last answers' requests have finished.
          await new Promise((resolve) => setTimeout(resolve, 100));
          counted += countedChats(await (await fetch(`${i.server.url}/metrics`)).text()) - before;
          answered += r.ok;
        }
        console.log(`round ${round + 1} ${i.name.padEnd(5)}: ${r.rps.toFixed(0)} req/s, Modelport CPU ${cpuPerRequestOf([{ run: r, name: i.name }]).toFixed(1)} µs/request, non-2xx ${r.non2xx}, errors ${r.errors}`);
      }
    }
    const of = (side: Side, round?: number) => runs.filter((r) => r.side === side && (round === undefined || r.round === round));
    const cpuOn = cpuPerRequestOf(of("on"));
    const cpuOff = cpuPerRequestOf(of("off"));
    const perRound = Array.from({ length: o.rounds }, (_, round) => cpuPerRequestOf(of("on", round)) / cpuPerRequestOf(of("off", round)));
    const rps = (side: Side) => median(of(side).map((r) => r.run.rps));
    const fakeCpu = (side: Side) => cpuPerRequestOf(of(side).map((r) => ({ run: r.run, name: "fake" })));
    const byProcess = (side: Side) => instances.filter((i) => i.side === side).map((i) => `${i.name} ${cpuPerRequestOf(runs.filter((r) => r.name === i.name)).toFixed(0)}`).join(", ");
    const growth = cpuOn / cpuOff - 1;
    const pass = growth <= TARGET_CPU_GROWTH;
    const countedOk = counted >= answered;
    const table = [
      "| c=32 | metrics on | metrics off | on / off |",
      "|---|---|---|---|",
      `| requests/s (median of runs) | ${rps("on").toFixed(0)} | ${rps("off").toFixed(0)} | ${fmt(rps("on") / rps("off"), 2)} |`,
      `| Modelport CPU per request (µs), all runs | **${cpuOn.toFixed(1)}** | **${cpuOff.toFixed(1)}** | **${fmt(cpuOn / cpuOff, 3)}** (${growth >= 0 ? "+" : ""}${(growth * 100).toFixed(1)} %; target ≤ +${TARGET_CPU_GROWTH * 100} %: ${pass ? "pass" : "FAIL"}) |`,
      `| per-round CPU ratio on/off (median; min–max) | | | ${fmt(median(perRound), 3)} (${fmt(Math.min(...perRound), 3)}–${fmt(Math.max(...perRound), 3)}) |`,
      `| CPU per request by process (µs): the spread between identical processes is the noise | ${byProcess("on")} | ${byProcess("off")} | |`,
      `| fake upstream CPU per request (µs) | ${fakeCpu("on").toFixed(1)} | ${fakeCpu("off").toFixed(1)} | |`,
    ].join("\n");
    const countLine = `the metrics-on servers' \`modelport_http_requests_total\` counted ${counted} chat completions answered 200 over their measured runs, for ${answered} autocannon counted (${countedOk ? "none missed; the rest were in flight when a run stopped" : "SOME MISSED"})`;
    console.log(`\n${table}\n\nnon-2xx ${non2xx}, errors ${errors}; ${countLine}`);
    writeSection(
      "gateway-metrics",
      `## gateway-metrics: Modelport's CPU per request with Prometheus metrics on vs off, side by side (${new Date().toISOString()})

- Machine: ${machineFacts()}; 1-minute load average ${load.toFixed(2)} as the run began (the machine is shared: other work ran beside it).
- \`npm run bench:gateway -- --metrics-compare --rounds ${o.rounds} --seconds ${o.seconds} --warmup ${o.warmup}\`: four Modelport processes, two with \`metrics.enabled: true\` and two with \`false\` (traces off in all), started on, off, off, on, in front of the same fake upstream (\`bench/fake-openai-upstream.ts\`, its own process), each with its own SQLite database, project key, rate limit, budget and metering, log level ${o.modelport.logLevel} (to a file). Non-streamed \`POST /v1/chat/completions\` at c=${CONNECTIONS} from autocannon in the benchmark's process, one process at a time.
- ${o.rounds} rounds of ${o.seconds} s per process, their order rotating every round (after ${o.warmup} s warm-ups); CPU per request is a side's Modelport processes' user + system CPU (/proc) over their runs divided by their 2xx answers. \`/metrics\` was scraped between runs, outside the measured windows.
- Modelport at ${revision()}
- Non-2xx: ${non2xx}, errors and timeouts: ${errors}; ${countLine}.
- Target (issue 21): CPU per request with metrics on at most ${TARGET_CPU_GROWTH * 100} % above metrics off (**${pass ? "pass" : "FAIL"}**).

${table}
`,
    );
    return { failed: non2xx > 0 || errors > 0 || !countedOk };
  } finally {
    for (const i of instances) await i.server.stop();
    await fake.stop();
  }
}
