import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import pg from "pg";
import { ConfigError, loadConfig } from "../../src/config/load.ts";
import { createLogger, type Logger } from "../../src/logging/logger.ts";
import { startServer } from "../../src/main.ts";
import { runCli, spawnServe, type ServeProcess } from "../helpers/cli.ts";
import { freshPostgres, PG_ADMIN_URL } from "../helpers/databases.ts";
import { STORIES } from "../helpers/server.ts";

const tmp = () => mkdtempSync(join(tmpdir(), "modelport-lifecycle-"));

describe("server lifecycle", () => {
  it("a port already in use ends the start with one line naming the address, and the process exits by itself", async () => {
    const taken: Server = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", () => r()));
    const port = (taken.address() as { port: number }).port;
    try {
      // runCli rejects if the process has not ended by itself (an open handle) within the limit.
      const res = await runCli(
        ["serve", "--port", String(port), "--host", "127.0.0.1", "--model", STORIES, "--data-dir", join(tmp(), "data")],
        { MODELPORT_THREADS: "1", MODELPORT_GPU: "cpu", MODELPORT_AUTO_PULL: "false" },
        30_000,
      );
      assert.notEqual(res.code, 0);
      assert.notEqual(res.code, null);
      const lines = res.stderr.split("\n").filter((l) => l.trim() !== "");
      assert.equal(lines.length, 1, `one line on stderr, got:\n${res.stderr}`);
      assert.match(lines[0] as string, new RegExp(`127\\.0\\.0\\.1:${port}\\b`));
      assert.match(lines[0] as string, /already in use/);
      assert.doesNotMatch(res.stderr, /\n\s+at |EADDRINUSE|Error:/, "no stack trace");
    } finally {
      await new Promise<void>((r) => taken.close(() => r()));
    }
  });

  it("a port taken while the models load still fails with that line, and everything opened is closed again", async () => {
    const probe: Server = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const db = await freshPostgres();
    const dir = tmp();
    const config = {
      ...loadConfig({ MODELPORT_PORT: String(port), MODELPORT_HOST: "127.0.0.1", MODELPORT_DATA_DIR: join(dir, "data"), MODELPORT_MODELS_DIR: join(dir, "models"), MODELPORT_DATABASE_URL: db.url, MODELPORT_THREADS: "1", MODELPORT_GPU: "cpu", MODELPORT_AUTO_PULL: "false" }),
      models: [{ id: "stories", path: STORIES, aliases: [] }],
    };
    // The port is free when the start checks it; someone takes it once the model has loaded.
    let taken: Server | undefined;
    const quiet = createLogger("silent");
    const logger: Logger = {
      ...quiet,
      info: (msg, fields) => {
        if (msg === "model loaded") taken = createServer().listen(port, "127.0.0.1");
        quiet.info(msg, fields);
      },
    };
    const before = process.getActiveResourcesInfo().filter((r) => r !== "TCPServerWrap");
    try {
      await assert.rejects(startServer(config, logger), (error: Error) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.message, `Cannot listen on 127.0.0.1:${port}: the address is already in use.`);
        return true;
      });
      assert.ok(taken !== undefined, "the port was taken after the check");
      // No timer, socket or database connection is left (a closed socket's handle goes a moment later):
      // PostgreSQL drops a database only when no one is connected.
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(process.getActiveResourcesInfo().filter((r) => r !== "TCPServerWrap").sort(), before.sort());
      const name = new URL(db.url).pathname.slice(1);
      const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE ${name}`);
      } finally {
        await admin.end();
      }
    } finally {
      await new Promise<void>((r) => (taken ? taken.close(() => r()) : r()));
      await db.drop();
    }
  });

  describe("several processes starting at once on one empty PostgreSQL database", () => {
    const dir = tmp();
    const configFile = join(dir, "upstream-only.yaml");
    // No local model: nothing to load, so a start is only storage, bootstrap and listen.
    writeFileSync(
      configFile,
      [
        "upstreams:",
        "  deployments:",
        "    - id: nowhere",
        "      provider: openai-compatible",
        "      baseUrl: http://127.0.0.1:9/v1",
        "      model: nothing",
        "  models:",
        "    - name: remote",
        "      deployments: [nowhere]",
        "",
      ].join("\n"),
    );
    const drops: (() => Promise<void>)[] = [];
    after(async () => {
      for (const drop of drops) await drop();
    });

    it("every process becomes ready, 3 times in a row, and stops cleanly", async () => {
      // 3 rounds (9 starts, about 14 s of the suite) keep the race this guards in view; 20 took 97 s.
      const ROUNDS = 3;
      const PROCESSES = 3;
      for (let round = 0; round < ROUNDS; round++) {
        const db = await freshPostgres();
        drops.push(db.drop);
        const env = {
          MODELPORT_CONFIG: configFile,
          MODELPORT_DATABASE_URL: db.url,
          MODELPORT_API_KEYS: "sk-lifecycle-one,sk-lifecycle-two",
          MODELPORT_ADMIN_KEY: "sk-admin-lifecycle",
          MODELPORT_LOG_LEVEL: "info",
        };
        const started = await Promise.allSettled(
          Array.from({ length: PROCESSES }, (_, i) => spawnServe(["--data-dir", join(dir, `r${round}-p${i}`)], env)),
        );
        const servers = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
        try {
          for (const s of started) if (s.status === "rejected") assert.fail(`round ${round}: ${(s.reason as Error).message}`);
          for (const s of servers) {
            const ready = await fetch(`${s.url}/ready`);
            assert.equal(ready.status, 200, `round ${round}`);
            const models = await fetch(`${s.url}/v1/models`, { headers: { authorization: "Bearer sk-lifecycle-two" } });
            assert.equal(models.status, 200, `round ${round}: the bootstrap key works in every process`);
          }
        } finally {
          const codes = await stopAll(servers);
          assert.deepEqual(codes, servers.map(() => 0), `round ${round}: every process exits 0 on SIGTERM`);
        }
        await db.drop();
        drops.pop();
      }
    });
  });
});

async function stopAll(servers: readonly ServeProcess[]): Promise<(number | null)[]> {
  for (const s of servers) s.child.kill("SIGTERM");
  return Promise.all(servers.map((s) => s.exited));
}
