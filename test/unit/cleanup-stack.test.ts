import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CleanupStack } from "../../src/core/cleanup-stack.ts";

describe("CleanupStack", () => {
  it("runs steps newest first, each once, and goes on past a failing one", async () => {
    const stack = new CleanupStack();
    const ran: string[] = [];
    const failures: string[] = [];
    stack.defer("storage", () => ran.push("storage"));
    stack.defer("engine", async () => {
      ran.push("engine");
      throw new Error("dispose failed");
    });
    stack.defer("workers", async () => ran.push("workers"));
    await stack.run((name, error) => failures.push(`${name}: ${(error as Error).message}`));
    assert.deepEqual(ran, ["workers", "engine", "storage"]);
    assert.deepEqual(failures, ["engine: dispose failed"]);
    await stack.run();
    assert.deepEqual(ran, ["workers", "engine", "storage"], "a second run has nothing left to do");
  });

  it("guard unwinds what was deferred and rethrows the original error", async () => {
    const stack = new CleanupStack();
    const ran: string[] = [];
    const failure = new Error("listen failed");
    await assert.rejects(
      stack.guard(async () => {
        stack.defer("storage", () => ran.push("storage"));
        stack.defer("limiter", () => {
          ran.push("limiter");
          throw new Error("close failed");
        });
        throw failure;
      }),
      (error) => error === failure,
    );
    assert.deepEqual(ran, ["limiter", "storage"]);
  });

  it("guard leaves the stack alone when the build succeeds", async () => {
    const stack = new CleanupStack();
    const ran: string[] = [];
    assert.equal(await stack.guard(async () => (stack.defer("storage", () => ran.push("storage")), 42)), 42);
    assert.deepEqual(ran, []);
    await stack.run();
    assert.deepEqual(ran, ["storage"]);
  });
});
