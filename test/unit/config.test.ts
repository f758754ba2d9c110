import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError, loadConfig } from "../../src/config/load.ts";

describe("configuration", () => {
  it("has the documented defaults", () => {
    const c = loadConfig({});
    assert.equal(c.host, "127.0.0.1");
    assert.equal(c.port, 8080);
    assert.equal(c.dataDir, "./data");
    assert.equal(c.modelsDir, "./models");
    assert.deepEqual(c.apiKeys, []);
    assert.equal(c.defaults.sequences, 4);
    assert.equal(c.pull.endpoint, "https://huggingface.co");
  });

  it("layers the YAML file, then environment variables, then flags", () => {
    const dir = mkdtempSync(join(tmpdir(), "modelport-config-"));
    const file = join(dir, "c.yaml");
    writeFileSync(file, "host: 127.0.0.2\nport: 9000\ndefaults:\n  sequences: 2\nmodels:\n  - id: m\n    path: ./m.gguf\n    aliases: [gpt-5.4-mini]\n    contextSize: 1024\n");
    const fromFile = loadConfig({ MODELPORT_CONFIG: file });
    assert.equal(fromFile.host, "127.0.0.2");
    assert.equal(fromFile.port, 9000);
    assert.equal(fromFile.defaults.sequences, 2);
    assert.equal(fromFile.defaults.contextSize, 4096, "defaults merge key by key");
    assert.equal(fromFile.models[0]!.path, join(dir, "m.gguf"), "model paths are relative to the file");
    const fromEnv = loadConfig({ MODELPORT_CONFIG: file, MODELPORT_PORT: "9001", MODELPORT_API_KEYS: "sk-a, sk-b" });
    assert.equal(fromEnv.port, 9001);
    assert.deepEqual(fromEnv.apiKeys, ["sk-a", "sk-b"]);
    const fromFlags = loadConfig({ MODELPORT_CONFIG: file, MODELPORT_PORT: "9001" }, { port: 9002, host: "::1" });
    assert.equal(fromFlags.port, 9002);
    assert.equal(fromFlags.host, "::1");
  });

  it("names the variable or key that is wrong", () => {
    assert.throws(() => loadConfig({ MODELPORT_PORT: "eighty" }), (e: unknown) => e instanceof ConfigError && /MODELPORT_PORT/.test(e.message));
    assert.throws(() => loadConfig({ MODELPORT_LOG_LEVEL: "loud" }), /logLevel/);
    const dir = mkdtempSync(join(tmpdir(), "modelport-config-"));
    writeFileSync(join(dir, "c.yaml"), "models:\n  - id: m\n");
    assert.throws(() => loadConfig({}, { configFile: join(dir, "c.yaml") }), /models\.0\.path/);
  });
});
