import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createLogger } from "../../src/logging/logger.ts";

const LOGGER = fileURLToPath(new URL("../../src/logging/logger.ts", import.meta.url));

describe("logger", () => {
  it("writes info lines together after a short wait, in order", async () => {
    const writes: string[] = [];
    const logger = createLogger("info", (text) => writes.push(text));
    logger.info("one", { n: 1 });
    logger.debug("below the level");
    logger.info("two", { n: 2 });
    assert.deepEqual(writes, [], "buffered");
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(writes.length, 1, "one write for both lines");
    const lines = (writes[0] ?? "").trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.map((l) => [l.level, l.msg, l.n]), [["info", "one", 1], ["info", "two", 2]]);
  });

  it("writes a warning or an error at once, after the lines before it", () => {
    const writes: string[] = [];
    const logger = createLogger("debug", (text) => writes.push(text));
    logger.info("before");
    logger.error("failed", { code: "x" });
    assert.equal(writes.length, 1);
    assert.deepEqual((writes[0] ?? "").trimEnd().split("\n").map((l) => (JSON.parse(l) as { msg: string }).msg), ["before", "failed"]);
    logger.warn("warned");
    assert.equal(writes.length, 2);
  });

  it("loses no line when the process exits right after logging (exit, process.exit, an uncaught exception)", () => {
    for (const [ending, code] of [["", 0], ["process.exit(3);", 3], ["throw new Error('boom');", 1]] as const) {
      const script = `import { createLogger } from ${JSON.stringify(LOGGER)};
const logger = createLogger("info");
for (let i = 0; i < 1000; i++) logger.info("line", { i });
${ending}`;
      const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
      assert.equal(child.status, code, child.stderr);
      const lines = child.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as { i: number });
      assert.deepEqual(lines.map((l) => l.i), Array.from({ length: 1000 }, (_, i) => i), `ending ${ending || "normally"}`);
    }
  });
});
