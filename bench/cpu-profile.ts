import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** A V8 `.cpuprofile` as `node --cpu-prof` writes it (the fields read here). */
interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * Top self and inclusive times of a `.cpuprofile` (from `node --cpu-prof`), by area (src/ folder,
 * package, Node internals), by function, and inclusive for our own src/ functions, as Markdown
 * tables. Native code a JS function calls synchronously counts as that function's self time; work
 * on libuv's thread pool (node-llama-cpp's decode) is not on the main thread and shows as idle.
 * `window` keeps only the samples taken within [from, to], in microseconds of the monotonic clock
 * (`process.hrtime.bigint() / 1000n` in any process on the machine: V8 stamps samples with it), so
 * start-up and shutdown can be left out.
 */
export function summariseProfile(file: string, rows = 30, window?: { from: number; to: number }): string {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const self = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (window === undefined || (at >= window.from && at <= window.to)) self.set(id, (self.get(id) ?? 0) + delta);
  });
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const where = (url: string): string => (url.startsWith("file://") ? relative(ROOT, fileURLToPath(url)) : url);
  const label = (n: ProfileNode) => `${n.callFrame.functionName || "(anonymous)"} ${where(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ""}`;
  const category = (n: ProfileNode): string => {
    const url = n.callFrame.url;
    if (url === "") return n.callFrame.functionName.startsWith("(") ? n.callFrame.functionName : "native / builtins";
    if (url.includes("node_modules/")) return `node_modules/${url.split("node_modules/").pop()?.split("/")[0] ?? ""}`;
    if (url.includes("/src/")) return `src/${url.split("/src/")[1]?.split("/")[0] ?? ""}`;
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
    // Inclusive time of each of our own functions on the stack, counted once per stack (recursion).
    const seen = new Set<string>();
    for (let cur: ProfileNode | undefined = n; cur !== undefined; cur = nodes.get(parent.get(cur.id) ?? -1)) {
      if (!cur.callFrame.url.includes("/src/") || cur.callFrame.url.includes("node_modules/")) continue;
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
      .map(([k, us]) => `| ${(us / 1000).toFixed(0)} | ${((us / total) * 100).toFixed(1)} % | ${k.startsWith("(idle)") ? "" : `${((us / busy) * 100).toFixed(1)} %`} | ${k.replaceAll("|", "\\|")} |`)
      .join("\n");
  const head = "| ms | of all | of busy | |\n|---|---|---|---|";
  return [
    `Profile: ${file}; ${(total / 1e6).toFixed(2)} s sampled on the main thread, ${(busy / 1e6).toFixed(2)} s busy`,
    `\nSelf time by area:\n${head}\n${top(byCategory, rows)}`,
    `\nSelf time by function:\n${head}\n${top(bySelf, rows)}`,
    `\nInclusive time of src/ functions:\n${head}\n${top(inclusive, rows)}`,
  ].join("\n");
}
