import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { PythonSandbox, sandboxSupport, type SandboxLimits } from "../../src/providers/sandbox/python-sandbox.ts";

// The code interpreter's sandbox, attacked from inside: each check is code a hostile model could
// write, run in a real bubblewrap sandbox, and each would fail were that defence missing.

const support = sandboxSupport();
const skip = support.ok ? false : `no sandbox here: ${support.why}`;
const LIMITS: SandboxLimits = { cpuSeconds: 30, callSeconds: 4, memoryBytes: 512 * 2 ** 20, processes: 32, openFiles: 64, fileSizeBytes: 2 * 2 ** 20, logBytes: 16_384 };

const root = mkdtempSync(join(tmpdir(), "modelport-sandbox-"));
const sandboxes: PythonSandbox[] = [];
function sandbox(limits: Partial<SandboxLimits> = {}): { box: PythonSandbox; dir: string } {
  const dir = join(root, `c${sandboxes.length}`);
  mkdirSync(dir);
  const box = new PythonSandbox(dir, { ...LIMITS, ...limits });
  sandboxes.push(box);
  return { box, dir };
}

let listener: ReturnType<typeof createServer>;
let port = 0;
before(async () => {
  // A service on the host's loopback that code must not reach.
  listener = createServer((s) => s.end("secret\n"));
  await new Promise<void>((r) => listener.listen(0, "127.0.0.1", () => r()));
  port = (listener.address() as { port: number }).port;
  process.env.MODELPORT_TEST_SECRET = "sk-do-not-leak";
});
after(async () => {
  for (const box of sandboxes) box.dispose();
  await new Promise<void>((r) => listener.close(() => r()));
  rmSync(root, { recursive: true, force: true });
});

describe("the code interpreter's sandbox", { skip }, () => {
  it("has no network: the host's loopback services and the outside are unreachable", async () => {
    const { box } = sandbox();
    const run = await box.run(
      [
        "import socket",
        `for host, p in [("127.0.0.1", ${port}), ("1.1.1.1", 53), ("10.0.0.1", 80)]:`,
        "    try:",
        "        socket.create_connection((host, p), timeout=1)",
        "        print('REACHED', host)",
        "    except OSError as e:",
        "        print('blocked', host, type(e).__name__)",
      ].join("\n"),
    );
    assert.ok(!run.logs.includes("REACHED"), run.logs);
    assert.equal(run.logs.match(/blocked/g)?.length, 3, run.logs);
  });

  it("sees no host files, no other container, and no server data: only /usr, a few /etc files, its own /mnt/data and /tmp", async () => {
    const { box } = sandbox();
    const other = sandbox();
    writeFileSync(join(other.dir, "neighbour.txt"), "private");
    const run = await box.run(
      [
        "import os",
        "print(sorted(os.listdir('/')))",
        "print(sorted(os.listdir('/etc')))",
        `for p in ['/etc/passwd', '/etc/shadow', '/root', '/home', '/work', ${JSON.stringify(other.dir)}, ${JSON.stringify(join(other.dir, "neighbour.txt"))}, '/proc/1/environ']:`,
        "    print(p, os.path.exists(p))",
      ].join("\n"),
    );
    assert.match(run.logs, /\['bin', 'dev', 'etc', 'lib', 'lib64', 'mnt', 'proc', 'sbin', 'tmp', 'usr'\]/);
    assert.ok(!/passwd|shadow|hosts/.test(run.logs.split("\n")[1] ?? ""), run.logs);
    for (const line of run.logs.trim().split("\n").slice(2)) {
      // PID 1 in its own namespace is bubblewrap's: existing is fine, but not the host's init.
      if (line.startsWith("/proc/1/environ")) continue;
      assert.match(line, / False$/, line);
    }
    // /usr is read-only.
    const write = await box.run("open('/usr/evil', 'w')");
    assert.match(write.logs, /Read-only file system|Permission denied/);
  });

  it("gets none of the server's environment: no keys, no secrets", async () => {
    const { box } = sandbox();
    const run = await box.run("import os\nprint(sorted(os.environ))\nprint(open('/proc/self/environ','rb').read())");
    assert.ok(!run.logs.includes("sk-do-not-leak") && !run.logs.includes("MODELPORT_TEST_SECRET"), run.logs);
    assert.ok(!run.logs.includes("DATABASE") && !run.logs.includes("API_KEY"), run.logs);
  });

  it("contains a fork bomb within its process limit, and stays usable", async () => {
    const { box } = sandbox();
    const run = await box.run(
      ["import os, time", "n = 0", "try:", "    while True:", "        if os.fork() == 0:", "            time.sleep(3)", "            os._exit(0)", "        n += 1", "except OSError as e:", "    print('stopped after', n, e.errno)"].join("\n"),
    );
    const forked = Number(/stopped after (\d+)/.exec(run.logs)?.[1]);
    assert.ok(forked > 0 && forked < LIMITS.processes, run.logs);
    assert.equal((await box.run("print('alive')")).logs, "alive\n");
  });

  it("kills an infinite loop at the call's wall time, restarts the session clean, and keeps the files", async () => {
    const { box, dir } = sandbox({ callSeconds: 1 });
    await box.run("x = 1\nopen('kept.txt', 'w').write('kept')");
    const started = performance.now();
    const loop = await box.run("while True:\n    pass");
    assert.ok(performance.now() - started < 3000, "stopped near its wall time");
    assert.equal(loop.restarted, true);
    assert.match(loop.logs, /timed out/);
    const after = await box.run("print(open('kept.txt').read())\nprint('x' in globals())");
    assert.equal(after.logs, "kept\nFalse\n");
    assert.deepEqual(readdirSync(dir), ["kept.txt"]);
  });

  it("enforces memory, CPU-time, file-size and open-file limits", async () => {
    const { box } = sandbox({ cpuSeconds: 2, callSeconds: 20 });
    assert.match((await box.run("b = bytearray(1024 * 2**20)")).logs, /MemoryError/);
    assert.match((await box.run("open('big', 'wb').write(b'x' * (3 * 2**20))")).logs, /File too large|OSError|Errno 27/);
    assert.match((await box.run("fs = [open('/dev/null') for _ in range(200)]")).logs, /Too many open files/);
    // Past its CPU time the process is killed (SIGXCPU) and the session restarted.
    const spin = await box.run("while True:\n    pass");
    assert.equal(spin.restarted, true);
    assert.match(spin.logs, /process ended/);
  });

  it("runs as an unprivileged user with no capabilities, and cannot gain any (no_new_privs)", async () => {
    const { box } = sandbox();
    const run = await box.run(
      ["import os", "print(os.getuid(), os.geteuid())", "print([l for l in open('/proc/self/status') if l.startswith(('CapEff', 'NoNewPrivs'))])"].join("\n"),
    );
    assert.ok(!/^0 /.test(run.logs), `runs as root: ${run.logs}`);
    assert.match(run.logs, /CapEff:\\t0000000000000000/);
    assert.match(run.logs, /NoNewPrivs:\\t1/);
  });
});
