import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { chown, readdir, lstat } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { PYTHON_DRIVER } from "./python-driver.ts";

/** Debian's interpreter: the one with python3-numpy, -pandas and -matplotlib beside it. */
const PYTHON = "/usr/bin/python3";
const BWRAP = "/usr/bin/bwrap";
/** Files of the host's /etc that the interpreter and its libraries read (BLAS through alternatives, fonts, matplotlib's defaults). */
const ETC = ["/etc/alternatives", "/etc/ld.so.cache", "/etc/fonts", "/etc/matplotlibrc", "/etc/mime.types"];
/** Sandboxes run as uids from here up, one per live session, when the server is root. */
const FIRST_UID = 61_000;
const UIDS = 2_000;

/** Limits on one sandboxed session (a container's Python process). */
export interface SandboxLimits {
  /** CPU seconds the process may use in all (RLIMIT_CPU); past it, the session is restarted. */
  cpuSeconds: number;
  /** Wall-clock seconds one call may run before the session is killed and restarted. */
  callSeconds: number;
  /** Address space in bytes (RLIMIT_AS). */
  memoryBytes: number;
  /** Processes and threads of the session's user (RLIMIT_NPROC). */
  processes: number;
  /** Open files (RLIMIT_NOFILE). */
  openFiles: number;
  /** Largest file the code may write, in bytes (RLIMIT_FSIZE). */
  fileSizeBytes: number;
  /** Most output (stdout and stderr) kept per call, in bytes. */
  logBytes: number;
}

/** One call's result. */
export interface SandboxRun {
  /** The code ran to its end without an exception. */
  ok: boolean;
  /** What it printed (stdout and stderr together), with a traceback if it raised. */
  logs: string;
  /** Paths under the working directory of the figures it left open, saved as PNG. */
  images: string[];
  /** Killed at `callSeconds` (or its process died): the session starts afresh on the next call. */
  restarted: boolean;
}

let support: { ok: true; privileged: boolean } | { ok: false; why: string } | undefined;

/**
 * Whether code can be sandboxed here: bubblewrap and Debian's Python must be installed, and a
 * trial sandbox must start. Checked once. Where it cannot, the code interpreter is refused, never
 * run unsandboxed.
 */
export function sandboxSupport(): { ok: true; privileged: boolean } | { ok: false; why: string } {
  if (support !== undefined) return support;
  if (!existsSync(BWRAP)) return (support = { ok: false, why: "bubblewrap is not installed (Debian: apt-get install bubblewrap)" });
  if (!existsSync(PYTHON)) return (support = { ok: false, why: `${PYTHON} is not installed` });
  const privileged = process.getuid?.() === 0;
  const trial = spawnSync(BWRAP, [...namespaceArgs(privileged), "--ro-bind", "/usr", "/usr", ...usrLinks(), "--proc", "/proc", "--dev", "/dev", PYTHON, "-I", "-c", "pass"], { stdio: "ignore", timeout: 10_000 });
  if (trial.status !== 0) return (support = { ok: false, why: "bubblewrap cannot create namespaces on this machine (unprivileged user namespaces may be disabled)" });
  return (support = { ok: true, privileged });
}

function namespaceArgs(privileged: boolean): string[] {
  // Root runs bubblewrap without a user namespace and drops to a uid of its own with setpriv, so
  // that process limits count that uid (root is exempt from RLIMIT_NPROC). Others get a user namespace.
  const shared = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent", "--new-session"];
  return privileged ? shared : ["--unshare-user", ...shared];
}

function usrLinks(): string[] {
  return ["--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin"];
}

/** Uids in use by live sessions. */
const uidsInUse = new Set<number>();

function takeUid(): number {
  for (let uid = FIRST_UID; uid < FIRST_UID + UIDS; uid++) {
    if (!uidsInUse.has(uid)) {
      uidsInUse.add(uid);
      return uid;
    }
  }
  throw new Error("no sandbox uid is free");
}

/** Gives `dir` and everything in it to `uid`, so the sandbox can change files added from outside. */
async function chownTree(dir: string, uid: number): Promise<void> {
  await chown(dir, uid, uid);
  for (const entry of await readdir(dir)) {
    const path = join(dir, entry);
    const stat = await lstat(path);
    if (stat.isSymbolicLink()) continue;
    if (stat.isDirectory()) await chownTree(path, uid);
    else await chown(path, uid, uid);
  }
}

/**
 * A persistent Python session in a bubblewrap sandbox: the working directory bound read-write at
 * `/mnt/data`, `/usr` and a few files of `/etc` read-only, a fresh tmpfs `/tmp`, its own PID,
 * network (loopback only), IPC and UTS namespaces, no environment but its own, no new privileges,
 * its own uid (when the server runs as root), and rlimits on CPU, memory, processes, files and
 * file size. Calls run one at a time; a call past its wall time kills the session, and the next
 * call starts a fresh one (its variables are lost, the files stay).
 */
export class PythonSandbox {
  readonly #workDir: string;
  readonly #limits: SandboxLimits;
  #child: ChildProcessWithoutNullStreams | undefined;
  #uid: number | undefined;
  #pending = new Map<number, (result: { ok: boolean; logs: string; images: string[] } | undefined) => void>();
  #next = 1;
  #queue: Promise<unknown> = Promise.resolve();
  #disposed = false;

  constructor(workDir: string, limits: SandboxLimits) {
    this.#workDir = workDir;
    this.#limits = limits;
  }

  /** Runs `code` in the session (started on first use). */
  run(code: string, signal?: AbortSignal): Promise<SandboxRun> {
    const result = this.#queue.then(() => this.#run(code, signal));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** Whether a Python process is up (its variables alive). */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Ends the session's process. */
  dispose(): void {
    this.#disposed = true;
    this.#kill();
  }

  async #run(code: string, signal: AbortSignal | undefined): Promise<SandboxRun> {
    if (this.#disposed) throw new Error("the sandbox is disposed");
    signal?.throwIfAborted();
    let restarted = false;
    if (this.#child === undefined) await this.#start();
    const child = this.#child;
    if (child === undefined) throw new Error("the sandbox did not start");
    const id = this.#next++;
    const answer = new Promise<{ ok: boolean; logs: string; images: string[] } | undefined>((resolve) => this.#pending.set(id, resolve));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.#kill();
    }, this.#limits.callSeconds * 1000);
    const abort = (): void => this.#kill();
    signal?.addEventListener("abort", abort, { once: true });
    child.stdin.write(JSON.stringify({ id, code }) + "\n");
    const result = await answer;
    clearTimeout(timer);
    signal?.removeEventListener("abort", abort);
    signal?.throwIfAborted();
    if (result !== undefined) return { ...result, restarted };
    restarted = true;
    const why = timedOut
      ? `Execution timed out after ${this.#limits.callSeconds} s; the Python session was restarted and its variables are lost.`
      : "The Python process ended (a limit was reached or it exited); the session was restarted and its variables are lost.";
    return { ok: false, logs: why, images: [], restarted };
  }

  async #start(): Promise<void> {
    const privileged = sandboxSupport().ok && process.getuid?.() === 0;
    const args = [...namespaceArgs(privileged), "--clearenv", "--ro-bind", "/usr", "/usr", ...usrLinks(), "--perms", "0755", "--dir", "/etc"];
    for (const path of ETC) args.push("--ro-bind-try", path, path);
    args.push("--perms", "0755", "--dir", "/mnt", "--bind", this.#workDir, "/mnt/data", "--chdir", "/mnt/data", "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp", "--hostname", "sandbox");
    const env: Record<string, string> = {
      HOME: "/tmp", PATH: "/usr/bin:/bin", LANG: "C.UTF-8", MPLBACKEND: "Agg", MPLCONFIGDIR: "/tmp", XDG_CACHE_HOME: "/tmp",
      OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "1", PYTHONDONTWRITEBYTECODE: "1", MODELPORT_MAX_LOG_BYTES: String(this.#limits.logBytes),
    };
    for (const [k, v] of Object.entries(env)) args.push("--setenv", k, v);
    if (privileged) {
      this.#uid = takeUid();
      await chownTree(this.#workDir, this.#uid);
      args.push("/usr/bin/setpriv", `--reuid=${this.#uid}`, `--regid=${this.#uid}`, "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--");
    }
    const l = this.#limits;
    args.push(
      "/usr/bin/prlimit", `--cpu=${l.cpuSeconds}`, `--as=${l.memoryBytes}`, `--nproc=${l.processes}`, `--nofile=${l.openFiles}`, `--fsize=${l.fileSizeBytes}`, "--core=0", "--",
      PYTHON, "-I", "-u", "-c", PYTHON_DRIVER,
    );
    const child = spawn(BWRAP, args, { stdio: ["pipe", "pipe", "pipe"], detached: true, env: {} });
    this.#child = child;
    child.stderr.on("data", (d: Buffer) => process.env.MODELPORT_SANDBOX_DEBUG && process.stderr.write(d));
    child.stdin.on("error", () => undefined);
    const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
    lines.on("line", (line) => {
      let parsed: { id?: unknown; ok?: unknown; logs?: unknown; images?: unknown };
      try {
        parsed = JSON.parse(line) as typeof parsed;
      } catch {
        return;
      }
      const resolve = typeof parsed.id === "number" ? this.#pending.get(parsed.id) : undefined;
      if (resolve === undefined) return;
      this.#pending.delete(parsed.id as number);
      resolve({ ok: parsed.ok === true, logs: typeof parsed.logs === "string" ? parsed.logs : "", images: Array.isArray(parsed.images) ? parsed.images.filter((p): p is string => typeof p === "string") : [] });
    });
    child.on("close", () => {
      if (this.#child === child) this.#released();
      for (const resolve of this.#pending.values()) resolve(undefined);
      this.#pending.clear();
    });
    child.on("error", () => undefined);
  }

  #kill(): void {
    const child = this.#child;
    if (child?.pid !== undefined && child.exitCode === null) {
      try {
        // The whole group: bubblewrap, and with --die-with-parent everything under it.
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    this.#released();
  }

  #released(): void {
    this.#child = undefined;
    if (this.#uid !== undefined) uidsInUse.delete(this.#uid);
    this.#uid = undefined;
  }
}
