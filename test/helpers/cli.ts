import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../../src/cli/index.ts", import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion. */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`CLI timed out: ${args.join(" ")}\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** Parsed JSON log lines so far. */
  logs: Record<string, unknown>[];
  stdout(): string;
  exited: Promise<number | null>;
}

/** Starts `modelport serve` and resolves once it logs the address it listens on. */
export function spawnServe(args: string[], env: Record<string, string>): Promise<ServeProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, "serve", "--port", "0", ...args], {
      env: { ...process.env, MODELPORT_THREADS: "1", MODELPORT_GPU: "cpu", MODELPORT_AUTO_PULL: "false", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    const logs: Record<string, unknown>[] = [];
    const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    let buffer = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      buffer += d.toString();
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === "listening") {
          clearTimeout(timer);
          resolve({ child, url: String(entry.url).replace(/\/v1$/, ""), logs, stdout: () => out, exited });
        }
      }
    });
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`serve did not log "listening" within 60 s:\n${out}\n${err}`));
    }, 60_000);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before listening:\n${out}\n${err}`));
    });
  });
}
