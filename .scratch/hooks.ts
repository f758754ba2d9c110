import { createHook } from "node:async_hooks";
import { writeSync } from "node:fs";
const live = new Map<number, { type: string; stack: string }>();
const ignore = new Set(["PROMISE", "TickObject", "Microtask", "Immediate"]);
createHook({
  init(id, type) { if (!ignore.has(type)) live.set(id, { type, stack: new Error().stack!.split("\n").slice(2, 14).join("\n") }); },
  destroy(id) { live.delete(id); },
}).enable();
(globalThis as any).__dumpLive = () => { for (const [id, v] of live) writeSync(2, `${id} ${v.type}\n${v.stack}\n\n`); };
