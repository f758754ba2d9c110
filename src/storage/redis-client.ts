import { Redis } from "ioredis";

/**
 * A Redis client for state shared across processes, which must never hold a request while Redis
 * is away: no offline queue (a call made while disconnected fails at once), one retry, and
 * `commandTimeoutMs` per command, so the caller falls back to this process's own state instead.
 * `onError` hears connection errors (ioredis reports them as 'error' events, unhandled without a listener).
 */
export function failFastRedis(url: string, commandTimeoutMs: number, onError: (error: Error) => void): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: commandTimeoutMs });
  redis.on("error", onError);
  return redis;
}

/** Closes a client without waiting for a connection that may never come: `quit()` would. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === "ready") await redis.quit().catch(() => redis.disconnect());
  else redis.disconnect();
}
