import type { RpcClient, RpcHandler } from "../core/rpc.ts";
import type { Decision, LimitStore, Limits } from "./rate-limits.ts";

/**
 * Rate-limit counters kept by the engine host for every worker of `serve --workers N` without
 * Redis: each acquisition is one IPC round trip to the host's single in-memory store, so limits
 * are exact across workers (as Redis makes them exact across machines).
 */
export class SharedLimitStore implements LimitStore {
  readonly #client: RpcClient;

  constructor(client: RpcClient) {
    this.#client = client;
  }

  acquire(key: string, limits: Limits, tokens: number): Promise<Decision> {
    return this.#client.call<Decision>("limits.acquire", [key, limits, tokens]);
  }

  reconcile(key: string, limits: Limits, delta: number): Promise<void> {
    return this.#client.call<void>("limits.reconcile", [key, limits, delta]);
  }

  release(key: string, limits: Limits): Promise<void> {
    return this.#client.call<void>("limits.release", [key, limits]);
  }

  /** The host owns the counters. */
  async close(): Promise<void> {}
}

/** The host's side: the one store every worker's SharedLimitStore reaches. */
export function sharedLimitHandlers(store: LimitStore): Map<string, RpcHandler> {
  return new Map<string, RpcHandler>([
    ["limits.acquire", async ([key, limits, tokens]) => store.acquire(key as string, limits as Limits, tokens as number)],
    ["limits.reconcile", async ([key, limits, delta]) => store.reconcile(key as string, limits as Limits, delta as number)],
    ["limits.release", async ([key, limits]) => store.release(key as string, limits as Limits)],
  ]);
}
