import type { ModelRegistry } from "../../services/model-registry.ts";
import { sendJson } from "../respond.ts";
import type { Handler } from "../router.ts";

/** `GET /health`: the process is up; also shows each model's sequence and queue use, and memory. */
export function healthHandler(registry: ModelRegistry): Handler {
  return async (ctx) => {
    const models = Object.fromEntries(registry.list().map((m) => [m.descriptor.id, m.stats()]));
    const memory = process.memoryUsage();
    const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
    sendJson(ctx.res, 200, { status: "ok", models, memory: { rss_mib: mib(memory.rss), heap_used_mib: mib(memory.heapUsed), external_mib: mib(memory.external) } });
  };
}

/** `GET /ready`: 200 while serving, 503 while starting or shutting down. */
export function readyHandler(state: () => "starting" | "ready" | "shutting_down"): Handler {
  return async (ctx) => {
    const status = state();
    sendJson(ctx.res, status === "ready" ? 200 : 503, { status });
  };
}
