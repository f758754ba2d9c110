import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { fileURLToPath } from "node:url";

/** Facts about the machine a benchmark ran on, for RESULTS.md. */
export function machineFacts(): string {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  return `${cpus().length} cores (${cpu.trim()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}-${process.arch}`;
}

export const RESULTS = fileURLToPath(new URL("./RESULTS.md", import.meta.url));

/** Appends one benchmark's section to bench/RESULTS.md. */
export function appendResults(section: string): void {
  if (!existsSync(RESULTS)) {
    writeFileSync(RESULTS, "# Benchmark results\n\nEach section is appended by one run of a benchmark in `bench/` (`npm run bench:<name>`). Ratios are measured side by side in the same run.\n");
  }
  appendFileSync(RESULTS, `\n${section.trim()}\n`);
}

/** The median of a list of numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
