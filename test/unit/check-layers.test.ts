import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { findLayerViolations } from "../../scripts/check-layers.ts";

function tree(files: Record<string, string>): string {
  const src = join(mkdtempSync(join(tmpdir(), "layers-")), "src");
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(src, path)), { recursive: true });
    writeFileSync(join(src, path), text);
  }
  return src;
}

describe("check-layers", () => {
  it("accepts imports downward and within a layer", () => {
    const src = tree({
      "core/a.ts": "export const a = 1;\n",
      "providers/p.ts": 'import { a } from "../core/a.ts";\nimport type { S } from "../storage/s.ts";\n',
      "storage/s.ts": "export type S = number;\n",
      "http/routes/r.ts": 'import { x } from "../../services/x.ts";\nimport { readFileSync } from "node:fs";\n',
      "services/x.ts": 'export { a as x } from "../core/a.ts";\n',
      "main.ts": 'import "./http/routes/r.ts";\n',
    });
    assert.deepEqual(findLayerViolations(src), []);
  });

  it("names every import that runs upward, static, re-exported or dynamic", () => {
    const src = tree({
      "core/a.ts": 'import type { H } from "../http/h.ts";\n',
      "storage/s.ts": 'export { p } from "../protocol/openai/p.ts";\n',
      "protocol/openai/p.ts": 'export const p = 1;\nconst m = await import("../../services/m.ts");\n',
      "services/m.ts": "export {};\n",
      "http/h.ts": "export type H = 1;\n",
    });
    const found = findLayerViolations(src).map((v) => `${v.file}:${v.line} ${v.specifier}`);
    assert.deepEqual(found.sort(), ["core/a.ts:1 ../http/h.ts", "protocol/openai/p.ts:2 ../../services/m.ts", "storage/s.ts:1 ../protocol/openai/p.ts"].sort());
  });

  it("flags a folder that has no layer", () => {
    const src = tree({ "widgets/w.ts": "export {};\n" });
    assert.equal(findLayerViolations(src).length, 1);
  });

  it("finds nothing to flag in this repository", () => {
    const src = fileURLToPath(new URL("../../src", import.meta.url));
    const violations = findLayerViolations(src).map((v) => `${v.file}:${v.line} ${v.message}`);
    assert.deepEqual(violations, []);
  });
});
