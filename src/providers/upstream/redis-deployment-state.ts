import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { closeRedis, failFastRedis } from "../../storage/redis-client.ts";
import type { Logger } from "../../logging/logger.ts";
import type { BreakerSettings, DeploymentKey, DeploymentRates, SharedBreaker, SharedDeploymentState, SharedReservation } from "./shared-deployment-state.ts";

/** Redis's clock in milliseconds, so processes whose clocks differ share one timeline. */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * A bucket's level at `now` (capacity `cap` per minute, refilled continuously, full when absent),
 * and how to store one: it expires once it would be full again, so idle deployments cost nothing.
 */
const BUCKET = `local function level(key, cap)
  if cap < 0 then return -1 end
  local b = redis.call('HMGET', key, 'level', 'at')
  local l, at = tonumber(b[1]), tonumber(b[2])
  if l == nil then return cap end
  return math.min(cap, l + math.max(0, now - at) * cap / 60000)
end
local function save(key, l, cap)
  redis.call('HSET', key, 'level', tostring(l), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.max(1000, math.ceil((cap - l) * 60000 / cap) + 1000))
end
`;

/**
 * One attempt's decision, as DeploymentSelector.pick and DeploymentLimits make it in one process:
 * refused while the circuit is open, or while the buckets cannot take one request of `want` tokens
 * (a request above the TPM waits for a full bucket); else reserved, and counted when `take` is 1.
 * KEYS: requests bucket, tokens bucket, failure count, open flag (its TTL is the cooldown left).
 * ARGV: rpm, tpm (-1: none), tokens, take.
 * Returns: verdict, wait ms, request level, token level, failures.
 */
const RESERVE = `${NOW}${BUCKET}
local rpm, tpm, want, take = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'
local failures = tonumber(redis.call('GET', KEYS[3]) or '0')
local req, tok = level(KEYS[1], rpm), level(KEYS[2], tpm)
local open = redis.call('PTTL', KEYS[4])
if open > 0 then return {'open', tostring(open), tostring(req), tostring(tok), failures} end
local wait = 0
if rpm >= 0 and req < 1 then wait = math.ceil((1 - req) * 60000 / rpm) end
if tpm >= 0 and math.min(want, tpm) > tok then wait = math.max(wait, math.ceil((math.min(want, tpm) - tok) * 60000 / tpm)) end
if wait > 0 then return {'limited', tostring(wait), tostring(req), tostring(tok), failures} end
if take then
  if rpm >= 0 then req = req - 1; save(KEYS[1], req, rpm) end
  if tpm >= 0 then tok = tok - want; save(KEYS[2], tok, tpm) end
end
return {'ok', '0', tostring(req), tostring(tok), failures}
`;

/**
 * A retryable failure. KEYS: failure count, open flag. ARGV: threshold, cooldown ms.
 * The count outlives the cooldown (a half-open deployment reopens on one failure), for an hour.
 */
const FAILED = `local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], 3600000)
local cooldown = tonumber(ARGV[2])
if n >= tonumber(ARGV[1]) and cooldown > 0 then redis.call('SET', KEYS[2], '1', 'PX', cooldown) end
return {n, redis.call('PTTL', KEYS[2])}
`;

/** Tokens used differ from the estimate. KEYS: tokens bucket. ARGV: tpm, delta (negative refunds). */
const RECONCILE = `${NOW}${BUCKET}
local cap = tonumber(ARGV[1])
save(KEYS[1], math.min(cap, level(KEYS[1], cap) - tonumber(ARGV[2])), cap)
return 1
`;

/** A script and its SHA1, run by EVALSHA so its text is sent once per connection, not per call. */
interface Script {
  text: string;
  sha: string;
}

const script = (text: string): Script => ({ text, sha: createHash("sha1").update(text).digest("hex") });
const SCRIPTS = { reserve: script(RESERVE), failed: script(FAILED), reconcile: script(RECONCILE) };

/** How long a call may take before the process decides alone: Redis answers in well under a millisecond. */
const COMMAND_TIMEOUT_MS = 500;

/**
 * Per-deployment limits and breakers in Redis, shared by every process that uses the same Redis:
 * each decision is one Lua script (one round trip), on Redis's clock. Redis being down never fails
 * a request: while it is unreachable each process decides with its own counters (logged once per
 * outage), and goes back to Redis as soon as it answers again.
 */
export class RedisDeploymentState implements SharedDeploymentState {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #logger: Logger;
  /** Settles once the first connection is made or fails (or after the command timeout). */
  readonly #connecting: Promise<void>;
  /** When Redis last stopped answering (logged then), while it has not answered since; else undefined. */
  #degradedAt: number | undefined;

  /** `prefix` starts every key (tests give each their own). */
  constructor(url: string, logger: Logger, prefix = "modelport:deployment:") {
    this.#logger = logger;
    this.#prefix = prefix;
    // While disconnected a call fails at once and the process decides alone, rather than holding
    // requests until Redis is back.
    this.#redis = failFastRedis(url, COMMAND_TIMEOUT_MS, (error) => this.#unavailable(error));
    // Calls made while the first connection is on its way wait for it (once, briefly), so a server's
    // first requests are shared too.
    this.#connecting = new Promise((resolve) => {
      const done = (): void => resolve();
      this.#redis.once("ready", done).once("error", done);
      setTimeout(done, COMMAND_TIMEOUT_MS).unref();
    });
  }

  /** The keys of one deployment of one model; the hash tag keeps them in one Redis Cluster slot. */
  #keys(key: DeploymentKey): [string, string, string, string] {
    const base = `${this.#prefix}{${encodeURIComponent(key.model)}/${encodeURIComponent(key.deployment)}}`;
    return [`${base}:rpm`, `${base}:tpm`, `${base}:failures`, `${base}:open`];
  }

  #unavailable(error: unknown): void {
    if (this.#degradedAt !== undefined) return;
    this.#degradedAt = Date.now();
    this.#logger.warn("redis unavailable: per-deployment limits and breakers are kept in this process until it is back", { error: (error as Error).message });
  }

  /** Redis answers again: said once, and not before it has been out a while, so a flapping link does not flood the log. */
  #answered(): void {
    if (this.#degradedAt === undefined || Date.now() - this.#degradedAt < 10_000) return;
    this.#degradedAt = undefined;
    this.#logger.info("redis is back: per-deployment limits and breakers are shared again");
  }

  /** Runs a script; undefined (logged once) when Redis cannot answer now. */
  async #run(which: Script, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    if (this.#redis.status !== "ready") await this.#connecting;
    if (this.#redis.status !== "ready") {
      this.#unavailable(new Error(`connection ${this.#redis.status}`));
      return undefined;
    }
    try {
      let answer: unknown;
      try {
        answer = await this.#redis.evalsha(which.sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
        answer = await this.#redis.eval(which.text, keys.length, ...keys, ...args);
      }
      this.#answered();
      return answer;
    } catch (error) {
      this.#unavailable(error);
      return undefined;
    }
  }

  async reserve(key: DeploymentKey, rates: DeploymentRates, tokens: number, take: boolean): Promise<SharedReservation | undefined> {
    const answer = (await this.#run(SCRIPTS.reserve, this.#keys(key), [rates.rpm ?? -1, rates.tpm ?? -1, tokens, take ? 1 : 0])) as [string, string, string, string, number] | undefined;
    if (answer === undefined) return undefined;
    const [verdict, wait, req, tok, failures] = answer;
    return {
      reserved: verdict === "ok",
      failures: Number(failures),
      openForMs: verdict === "open" ? Number(wait) : 0,
      limitedForMs: verdict === "limited" ? Number(wait) : 0,
      rpmLevel: rates.rpm === undefined ? undefined : Number(req),
      tpmLevel: rates.tpm === undefined ? undefined : Number(tok),
    };
  }

  async failed(key: DeploymentKey, breaker: BreakerSettings): Promise<SharedBreaker | undefined> {
    const [, , failures, open] = this.#keys(key);
    const answer = (await this.#run(SCRIPTS.failed, [failures, open], [breaker.threshold, breaker.cooldownMs])) as [number, number] | undefined;
    return answer === undefined ? undefined : { failures: answer[0], openForMs: Math.max(0, answer[1]) };
  }

  succeeded(key: DeploymentKey): void {
    const [, , failures, open] = this.#keys(key);
    if (this.#redis.status !== "ready") return;
    this.#redis.del(failures, open).catch((error: unknown) => this.#unavailable(error));
  }

  reconcile(key: DeploymentKey, tpm: number, delta: number): void {
    void this.#run(SCRIPTS.reconcile, [this.#keys(key)[1]], [tpm, delta]);
  }

  async close(): Promise<void> {
    await closeRedis(this.#redis);
  }
}
