/**
 * bench/code-interpreter: the code interpreter's sandbox (`PythonSandbox`: bubblewrap, Debian's
 * Python, rlimits), measured directly, in one run:
 *   container start — the first `run("print(1)")` on a new sandbox (bubblewrap, Python and the
 *     driver start), median over fresh sandboxes started one after another;
 *   warm call       — `run("print(1)")` on a started sandbox, median and p95;
 *   heavy import    — `import numpy, pandas, matplotlib.pyplot` as the first call after start;
 *   8 in parallel   — 8 started sandboxes each doing warm calls at once: calls/s in all and median
 *     latency, beside one sandbox alone doing the same calls (ratio in the same run); and the wall
 *     time of starting 8 sandboxes at once.
 * Targets (issue 19): warm call ≤ 50 ms for `print(1)`, container start ≤ 300 ms; 8 containers in parallel.
 * Not through the server: the numbers are the sandbox's own.
 *
 *   npm run bench:code-interpreter [-- --starts 10 --calls 200 --parallel-calls 50]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PythonSandbox, sandboxSupport, type SandboxLimits } from "../src/providers/sandbox/python-sandbox.ts";
import { appendResults, machineFacts, median } from "./machine.ts";

const { values } = parseArgs({
  options: {
    starts: { type: "string", default: "10" },
    calls: { type: "string", default: "200" },
    "parallel-calls": { type: "string", default: "50" },
    imports: { type: "string", default: "3" },
  },
});
const STARTS = Number(values.starts);
const CALLS = Number(values.calls);
const PARALLEL_CALLS = Number(values["parallel-calls"]);
const IMPORTS = Number(values.imports);
const PARALLEL = 8;
const HEAVY = "import numpy, pandas, matplotlib.pyplot";

const LIMITS: SandboxLimits = { cpuSeconds: 600, callSeconds: 60, memoryBytes: 2 ** 31, processes: 64, openFiles: 256, fileSizeBytes: 256 * 2 ** 20, logBytes: 65536 };

/** The p-th percentile by nearest rank. */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const sandboxes: PythonSandbox[] = [];
const dirs: string[] = [];

function fresh(): PythonSandbox {
  const dir = mkdtempSync(join(tmpdir(), "modelport-bench-sandbox-"));
  dirs.push(dir);
  const sandbox = new PythonSandbox(dir, LIMITS);
  sandboxes.push(sandbox);
  return sandbox;
}

/** Runs `code` and returns its wall time in ms; throws if it failed. */
async function timed(sandbox: PythonSandbox, code: string): Promise<number> {
  const started = performance.now();
  const result = await sandbox.run(code);
  const ms = performance.now() - started;
  if (!result.ok) throw new Error(`${code}: ${result.logs}`);
  return ms;
}

/** `calls` warm `print(1)` calls one after another; latencies in ms. */
async function warmCalls(sandbox: PythonSandbox, calls: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < calls; i++) out.push(await timed(sandbox, "print(1)"));
  return out;
}

async function main(): Promise<void> {
  const support = sandboxSupport();
  if (!support.ok) {
    console.log(`code-interpreter bench skipped: the sandbox does not work here (${support.why}).`);
    return;
  }
  try {
    // Container start, fresh sandboxes one after another (each disposed before the next).
    const starts: number[] = [];
    for (let i = 0; i < STARTS; i++) {
      const sandbox = fresh();
      starts.push(await timed(sandbox, "print(1)"));
      sandbox.dispose();
    }

    // Warm calls on one started sandbox.
    const warm = fresh();
    await timed(warm, "print(1)");
    for (let i = 0; i < 10; i++) await timed(warm, "print(1)");
    const warmLatencies = await warmCalls(warm, CALLS);

    // One sandbox alone, the parallel case's shape: PARALLEL_CALLS calls.
    const aloneStarted = performance.now();
    const alone = await warmCalls(warm, PARALLEL_CALLS);
    const aloneRate = PARALLEL_CALLS / ((performance.now() - aloneStarted) / 1000);
    warm.dispose();

    // First heavy import, on a started sandbox (the start itself not counted).
    const imports: number[] = [];
    for (let i = 0; i < IMPORTS; i++) {
      const sandbox = fresh();
      await timed(sandbox, "print(1)");
      imports.push(await timed(sandbox, HEAVY));
      sandbox.dispose();
    }

    // 8 sandboxes started at once, then PARALLEL_CALLS warm calls each, all at once.
    const group = Array.from({ length: PARALLEL }, () => fresh());
    const groupStarted = performance.now();
    const groupStarts = await Promise.all(group.map((s) => timed(s, "print(1)")));
    const groupStartWall = performance.now() - groupStarted;
    for (const s of group) await warmCalls(s, 5);
    const parallelStarted = performance.now();
    const perSandbox = await Promise.all(group.map((s) => warmCalls(s, PARALLEL_CALLS)));
    const parallelWall = performance.now() - parallelStarted;
    const parallel = perSandbox.flat();
    const parallelRate = parallel.length / (parallelWall / 1000);
    for (const s of group) s.dispose();

    const startMs = median(starts);
    const warmMs = median(warmLatencies);
    const warmP95 = percentile(warmLatencies, 95);
    const section = `## code-interpreter: the Python sandbox, directly (${new Date().toISOString()})

${machineFacts()}; PythonSandbox (bubblewrap + /usr/bin/python3, ${support.privileged ? "run as root: a uid of its own per sandbox via setpriv" : "unprivileged: a user namespace"}), limits ${LIMITS.memoryBytes / 2 ** 30} GiB address space, ${LIMITS.processes} processes, ${LIMITS.openFiles} files. Not through the server.

| measure | result |
|---|---|
| container start: first \`print(1)\` on a new sandbox, ${STARTS} sandboxes one after another | median ${startMs.toFixed(0)} ms (min ${Math.min(...starts).toFixed(0)}, max ${Math.max(...starts).toFixed(0)}) |
| warm call \`print(1)\`, ${CALLS} calls on one sandbox | median ${warmMs.toFixed(2)} ms, p95 ${warmP95.toFixed(2)} ms |
| first \`${HEAVY}\` after start, ${IMPORTS} fresh sandboxes | median ${median(imports).toFixed(0)} ms |
| ${PARALLEL} sandboxes started at once | wall ${groupStartWall.toFixed(0)} ms, median start ${median(groupStarts).toFixed(0)} ms, slowest ${Math.max(...groupStarts).toFixed(0)} ms |
| ${PARALLEL} sandboxes × ${PARALLEL_CALLS} warm calls at once | ${parallelRate.toFixed(0)} calls/s in all, median ${median(parallel).toFixed(2)} ms, p95 ${percentile(parallel, 95).toFixed(2)} ms |
| one sandbox alone × ${PARALLEL_CALLS} warm calls | ${aloneRate.toFixed(0)} calls/s, median ${median(alone).toFixed(2)} ms; ${PARALLEL} at once / alone: ${(parallelRate / aloneRate).toFixed(2)}× the calls/s, ${(median(parallel) / median(alone)).toFixed(2)}× the median latency |

- warm call ${warmMs.toFixed(2)} ms median, p95 ${warmP95.toFixed(2)} ms (target ≤ 50 ms: ${warmP95 <= 50 ? "met" : warmMs <= 50 ? "met at the median, **not met** at p95" : "**not met**"})
- container start ${startMs.toFixed(0)} ms (target ≤ 300 ms: ${startMs <= 300 ? "met" : "**not met**"})
- ${PARALLEL} containers in parallel: ${parallel.length} calls, all ok; median warm call ${median(parallel).toFixed(2)} ms (target ≤ 50 ms: ${median(parallel) <= 50 ? "met" : "**not met**"}), ${PARALLEL} started at once in ${groupStartWall.toFixed(0)} ms
`;
    console.log(section);
    appendResults(section);
  } finally {
    for (const s of sandboxes) s.dispose();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
