import type { PullProgress } from "../models/pull.ts";

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

/** A download progress bar on stderr: redrawn in place on a terminal, every 10% otherwise. */
export function createProgressBar(label: string, stream: NodeJS.WriteStream = process.stderr): (p: PullProgress) => void {
  const started = Date.now();
  let lastDraw = 0;
  let lastDecile = -1;
  return ({ received, total }) => {
    const now = Date.now();
    const rate = received / Math.max(0.001, (now - started) / 1000);
    const fraction = total ? Math.min(1, received / total) : undefined;
    if (stream.isTTY) {
      if (now - lastDraw < 100 && received !== total) return;
      lastDraw = now;
      const width = 30;
      const filled = fraction === undefined ? 0 : Math.round(fraction * width);
      const bar = fraction === undefined ? "?".repeat(width) : `${"#".repeat(filled)}${".".repeat(width - filled)}`;
      const pct = fraction === undefined ? "  ?%" : `${Math.floor(fraction * 100).toString().padStart(3)}%`;
      stream.write(`\r${label} [${bar}] ${pct} ${mb(received)}/${total ? mb(total) : "?"} MB ${mb(rate)} MB/s`);
      if (total !== undefined && received >= total) stream.write("\n");
      return;
    }
    const decile = fraction === undefined ? -1 : Math.floor(fraction * 10);
    if (decile > lastDecile) {
      lastDecile = decile;
      stream.write(`${label}: ${decile * 10}% (${mb(received)}/${total ? mb(total) : "?"} MB)\n`);
    }
  };
}
