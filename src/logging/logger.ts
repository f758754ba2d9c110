/** Log levels in increasing severity; `silent` turns logging off. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Structured fields of one log line. Never put API keys or prompt text here. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** A structured logger writing one JSON object per line. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/**
 * Lines wait at most this long. Standard output to a file or a pipe is a synchronous write(2) in
 * Node, one per call: a line per request was a system call per request on the gateway path, and
 * one write per batch costs the same as one line.
 */
const FLUSH_MS = 10;
/** A batch this large is written at once. */
const FLUSH_BYTES = 64 * 1024;

/** Flushers of loggers holding lines, all written when the process exits, however it exits. */
const holding = new Set<() => void>();
let exitHook = false;
function holdUntilExit(flush: () => void): void {
  holding.add(flush);
  if (exitHook) return;
  exitHook = true;
  // 'exit' runs for a normal end, process.exit and an uncaught exception; writes there are
  // synchronous, so nothing buffered is lost. Only SIGKILL (or a native crash) loses the last
  // FLUSH_MS of lines.
  process.on("exit", () => {
    for (const f of [...holding]) f();
  });
}

/**
 * A JSON-lines logger to the given stream (stdout by default). Debug and info lines are buffered
 * and written together within FLUSH_MS; a warning or an error writes itself and everything before
 * it at once, in order, so nothing that explains a failure waits on a timer.
 */
export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  const min = RANK[level];
  let pending = "";
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    holding.delete(flush);
    if (pending === "") return;
    const text = pending;
    pending = "";
    write(text);
  };
  const log = (lvl: Exclude<LogLevel, "silent">, msg: string, fields?: LogFields): void => {
    if (RANK[lvl] < min) return;
    pending += `${JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields })}\n`;
    if (RANK[lvl] >= RANK.warn || pending.length >= FLUSH_BYTES) {
      flush();
      return;
    }
    if (timer === undefined) {
      timer = setTimeout(flush, FLUSH_MS);
      // The timer keeps no process alive: the exit hook writes what it would have.
      timer.unref();
      holdUntilExit(flush);
    }
  };
  return {
    debug: (m, f) => log("debug", m, f),
    info: (m, f) => log("info", m, f),
    warn: (m, f) => log("warn", m, f),
    error: (m, f) => log("error", m, f),
  };
}
