/**
 * Fails on an import that runs from a lower layer up (docs/architecture.md):
 *   core, config, logging, version ← providers, retrieval, storage, models, guard ← protocol ← services ← jobs ← http ← main, cli
 * A module may import its own layer and any layer below it. Run: `npm run check:layers` (part of `npm test`).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** Each top-level entry of src/ (folder, or file without extension) and its layer; higher may import lower. */
export const LAYERS: Readonly<Record<string, number>> = {
  core: 0,
  config: 0,
  logging: 0,
  version: 0,
  providers: 1,
  retrieval: 1,
  storage: 1,
  models: 1,
  guard: 1,
  protocol: 2,
  services: 3,
  jobs: 4,
  http: 5,
  main: 6,
  cli: 6,
};

/** One forbidden import. */
export interface LayerViolation {
  file: string;
  line: number;
  specifier: string;
  message: string;
}

/** Static `import … from`, `export … from`, side-effect `import "…"` and dynamic `import("…")`. */
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g;

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith(".ts") ? [path] : [];
  });
}

/** The layer key of a path inside `srcDir`: its first segment, without `.ts` for a top-level file. */
function layerOf(srcDir: string, path: string): string {
  const first = relative(srcDir, path).split(sep)[0] ?? "";
  return first.replace(/\.ts$/, "");
}

/** Every forbidden import under `srcDir`; also flags files in folders the table does not know. */
export function findLayerViolations(srcDir: string): LayerViolation[] {
  const violations: LayerViolation[] = [];
  for (const file of tsFiles(srcDir)) {
    const from = layerOf(srcDir, file);
    const fromLayer = LAYERS[from];
    const shown = relative(srcDir, file);
    if (fromLayer === undefined) {
      violations.push({ file: shown, line: 1, specifier: "", message: `'${from}' has no layer: add it to LAYERS in scripts/check-layers.ts and to docs/architecture.md` });
      continue;
    }
    const lines = readFileSync(file, "utf8").split("\n");
    lines.forEach((text, i) => {
      for (const match of text.matchAll(IMPORT)) {
        const specifier = match[1] as string;
        if (!specifier.startsWith(".")) continue;
        const target = resolve(dirname(file), specifier);
        if (!target.startsWith(srcDir + sep)) {
          violations.push({ file: shown, line: i + 1, specifier, message: "imports from outside src/" });
          continue;
        }
        const to = layerOf(srcDir, target);
        const toLayer = LAYERS[to];
        if (toLayer === undefined || toLayer > fromLayer) {
          violations.push({ file: shown, line: i + 1, specifier, message: `${from} (layer ${fromLayer}) may not import ${to} (layer ${toLayer ?? "unknown"})` });
        }
      }
    });
  }
  return violations;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const srcDir = resolve(dirname(fileURLToPath(import.meta.url)), "..", "src");
  const violations = findLayerViolations(srcDir);
  for (const v of violations) console.error(`src/${v.file}:${v.line}: ${v.specifier ? `'${v.specifier}': ` : ""}${v.message}`);
  if (violations.length > 0) {
    console.error(`check-layers: ${violations.length} forbidden import(s); see docs/architecture.md`);
    process.exit(1);
  }
  console.log("check-layers: no import runs from a lower layer up");
}
