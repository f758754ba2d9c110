import type { Redis } from "ioredis";
import { closeRedis, failFastRedis } from "../storage/redis-client.ts";
import { ApiError } from "../core/errors.ts";

/** The limits that apply to one project and model; null fields are unlimited. */
export interface Limits {
  rpm: number | null;
  tpm: number | null;
  rpd: number | null;
  maxConcurrent: number | null;
}

/** The state of a project's limits after a decision, for the `x-ratelimit-*` headers. */
export interface LimitState {
  limitRequests: number | null;
  limitTokens: number | null;
  remainingRequests: number;
  remainingTokens: number;
  /** Milliseconds until the request and token allowances are full again. */
  resetRequestsMs: number;
  resetTokensMs: number;
}

/** A decision on one request. */
export type Decision =
  | { allowed: true; state: LimitState }
  | { allowed: false; state: LimitState; retryAfterMs: number; reason: "requests" | "tokens" | "requests_per_day" | "concurrency" };

/**
 * Where counters live. Requests and tokens are token buckets (capacity = the per-minute limit,
 * refilled continuously), so a burst gets exactly the limit; requests per day count a UTC day;
 * concurrency counts requests in flight. Every acquisition is atomic.
 */
export interface LimitStore {
  acquire(key: string, limits: Limits, tokens: number): Promise<Decision>;
  /** Adds `delta` tokens to the spent tally (negative refunds), once actual usage is known. */
  reconcile(key: string, limits: Limits, delta: number): Promise<void>;
  /** Ends one in-flight request. */
  release(key: string, limits: Limits): Promise<void>;
  close(): Promise<void>;
}

/** Formats a duration as OpenAI's headers do: `1s`, `6m0s`, `17ms`. */
export function formatReset(ms: number): string {
  if (ms <= 0) return "0s";
  if (ms < 1000) return `${Math.ceil(ms)}ms`;
  const seconds = Math.ceil(ms / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h > 0 ? `${h}h` : ""}${h > 0 || m > 0 ? `${m}m` : ""}${s}s`;
}

/** The headers OpenAI's clients read. */
export function rateLimitHeaders(state: LimitState): Record<string, string> {
  const headers: Record<string, string> = {};
  if (state.limitRequests !== null) {
    headers["x-ratelimit-limit-requests"] = String(state.limitRequests);
    headers["x-ratelimit-remaining-requests"] = String(Math.max(0, Math.floor(state.remainingRequests)));
    headers["x-ratelimit-reset-requests"] = formatReset(state.resetRequestsMs);
  }
  if (state.limitTokens !== null) {
    headers["x-ratelimit-limit-tokens"] = String(state.limitTokens);
    headers["x-ratelimit-remaining-tokens"] = String(Math.max(0, Math.floor(state.remainingTokens)));
    headers["x-ratelimit-reset-tokens"] = formatReset(state.resetTokensMs);
  }
  return headers;
}

/** 429 `rate_limit_exceeded` with Retry-After, worded as OpenAI words it. */
export function rateLimited(model: string, decision: Extract<Decision, { allowed: false }>, limits: Limits, requestedTokens: number): ApiError {
  const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
  const what =
    decision.reason === "requests"
      ? `requests per min (RPM): Limit ${limits.rpm}, Requested 1`
      : decision.reason === "tokens"
        ? `tokens per min (TPM): Limit ${limits.tpm}, Requested ${requestedTokens}`
        : decision.reason === "requests_per_day"
          ? `requests per day (RPD): Limit ${limits.rpd}, Requested 1`
          : `concurrent requests: Limit ${limits.maxConcurrent}`;
  return new ApiError(429, `Rate limit reached for ${model} on ${what}. Please try again in ${formatReset(decision.retryAfterMs)}.`, {
    type: "rate_limit_error",
    code: "rate_limit_exceeded",
    headers: { "retry-after": String(seconds), "retry-after-ms": String(Math.ceil(decision.retryAfterMs)), ...rateLimitHeaders(decision.state) },
  });
}

interface Bucket {
  level: number;
  at: number;
}

/** Refills a bucket of `capacity` per minute to `now`. */
function refill(bucket: Bucket, capacity: number, now: number): number {
  return Math.min(capacity, bucket.level + ((now - bucket.at) * capacity) / 60_000);
}

const dayOf = (now: number): number => Math.floor(now / 86_400_000);

/** Limits in this process's memory: exact for one process. */
export class MemoryLimitStore implements LimitStore {
  readonly #requests = new Map<string, Bucket>();
  readonly #tokens = new Map<string, Bucket>();
  readonly #days = new Map<string, { day: number; count: number }>();
  readonly #inFlight = new Map<string, number>();

  async acquire(key: string, limits: Limits, tokens: number): Promise<Decision> {
    const now = Date.now();
    const req = limits.rpm === null ? Infinity : refill(this.#requests.get(key) ?? { level: limits.rpm, at: now }, limits.rpm, now);
    const tok = limits.tpm === null ? Infinity : refill(this.#tokens.get(key) ?? { level: limits.tpm, at: now }, limits.tpm, now);
    const day = this.#days.get(key);
    const usedToday = day && day.day === dayOf(now) ? day.count : 0;
    const inFlight = this.#inFlight.get(key) ?? 0;
    const state = (r: number, t: number): LimitState => ({
      limitRequests: limits.rpm,
      limitTokens: limits.tpm,
      remainingRequests: r,
      remainingTokens: t,
      resetRequestsMs: limits.rpm === null ? 0 : ((limits.rpm - r) * 60_000) / limits.rpm,
      resetTokensMs: limits.tpm === null ? 0 : ((limits.tpm - t) * 60_000) / limits.tpm,
    });
    const deny = (reason: Extract<Decision, { allowed: false }>["reason"], retryAfterMs: number): Decision => ({ allowed: false, state: state(req, tok), retryAfterMs, reason });
    if (limits.rpm !== null && req < 1) return deny("requests", ((1 - req) * 60_000) / limits.rpm);
    if (limits.tpm !== null && tok < tokens) return deny("tokens", tokens > limits.tpm ? 60_000 : ((tokens - tok) * 60_000) / limits.tpm);
    if (limits.rpd !== null && usedToday >= limits.rpd) return deny("requests_per_day", (dayOf(now) + 1) * 86_400_000 - now);
    if (limits.maxConcurrent !== null && inFlight >= limits.maxConcurrent) return deny("concurrency", 1000);
    if (limits.rpm !== null) this.#requests.set(key, { level: req - 1, at: now });
    if (limits.tpm !== null) this.#tokens.set(key, { level: tok - tokens, at: now });
    if (limits.rpd !== null) this.#days.set(key, { day: dayOf(now), count: usedToday + 1 });
    if (limits.maxConcurrent !== null) this.#inFlight.set(key, inFlight + 1);
    return { allowed: true, state: state(req - 1, tok === Infinity ? Infinity : tok - tokens) };
  }

  async reconcile(key: string, limits: Limits, delta: number): Promise<void> {
    if (limits.tpm === null || delta === 0) return;
    const now = Date.now();
    const current = refill(this.#tokens.get(key) ?? { level: limits.tpm, at: now }, limits.tpm, now);
    this.#tokens.set(key, { level: Math.min(limits.tpm, current - delta), at: now });
  }

  async release(key: string, limits: Limits): Promise<void> {
    if (limits.maxConcurrent === null) return;
    this.#inFlight.set(key, Math.max(0, (this.#inFlight.get(key) ?? 1) - 1));
  }

  async close(): Promise<void> {}
}

/**
 * One Lua script makes each decision atomic in Redis, with Redis's own clock, so every server
 * process sharing it enforces one combined limit.
 * KEYS: requests bucket, tokens bucket, day counter, in-flight counter.
 * ARGV: rpm, tpm, rpd, maxConcurrent (-1 = unlimited), tokens requested.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rpm, tpm, rpd, conc, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local function level(key, cap)
  if cap < 0 then return -1 end
  local b = redis.call('HMGET', key, 'level', 'at')
  local l, at = tonumber(b[1]), tonumber(b[2])
  if l == nil then return cap end
  return math.min(cap, l + (now - at) * cap / 60000)
end
local req, tok = level(KEYS[1], rpm), level(KEYS[2], tpm)
local day = math.floor(now / 86400000)
local used = 0
if rpd >= 0 then
  local d = redis.call('HMGET', KEYS[3], 'day', 'count')
  if tonumber(d[1]) == day then used = tonumber(d[2]) end
end
local inflight = tonumber(redis.call('GET', KEYS[4]) or '0')
local reason, retry = '', 0
if rpm >= 0 and req < 1 then reason, retry = 'requests', (1 - req) * 60000 / rpm
elseif tpm >= 0 and tok < want then
  reason = 'tokens'
  if want > tpm then retry = 60000 else retry = (want - tok) * 60000 / tpm end
elseif rpd >= 0 and used >= rpd then reason, retry = 'requests_per_day', (day + 1) * 86400000 - now
elseif conc >= 0 and inflight >= conc then reason, retry = 'concurrency', 1000 end
if reason == '' then
  if rpm >= 0 then req = req - 1; redis.call('HSET', KEYS[1], 'level', tostring(req), 'at', tostring(now)); redis.call('PEXPIRE', KEYS[1], 120000) end
  if tpm >= 0 then tok = tok - want; redis.call('HSET', KEYS[2], 'level', tostring(tok), 'at', tostring(now)); redis.call('PEXPIRE', KEYS[2], 120000) end
  if rpd >= 0 then redis.call('HSET', KEYS[3], 'day', tostring(day), 'count', tostring(used + 1)); redis.call('PEXPIRE', KEYS[3], 172800000) end
  if conc >= 0 then redis.call('INCR', KEYS[4]); redis.call('PEXPIRE', KEYS[4], 3600000) end
end
return {reason, tostring(retry), tostring(req), tostring(tok)}
`;

const RECONCILE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap, delta = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'level', 'at')
local l, at = tonumber(b[1]), tonumber(b[2])
if l == nil then l, at = cap, now end
l = math.min(cap, math.min(cap, l + (now - at) * cap / 60000) - delta)
redis.call('HSET', KEYS[1], 'level', tostring(l), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], 120000)
return 1
`;

/** Limits in Redis: exact across every process that shares it. */
export class RedisLimitStore implements LimitStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(url: string, prefix = "modelport:rl:") {
    // Half a second per command; FallbackLimitStore decides with local counters while Redis is away (and logs it).
    this.#redis = failFastRedis(url, 500, () => undefined);
    this.#prefix = prefix;
  }

  #keys(key: string): string[] {
    return ["req", "tok", "day", "conc"].map((k) => `${this.#prefix}{${key}}:${k}`);
  }

  async acquire(key: string, limits: Limits, tokens: number): Promise<Decision> {
    const arg = (v: number | null) => String(v ?? -1);
    const [reason, retry, req, tok] = (await this.#redis.eval(ACQUIRE, 4, ...this.#keys(key), arg(limits.rpm), arg(limits.tpm), arg(limits.rpd), arg(limits.maxConcurrent), String(tokens))) as string[];
    const r = Number(req);
    const t = Number(tok);
    const state: LimitState = {
      limitRequests: limits.rpm,
      limitTokens: limits.tpm,
      remainingRequests: limits.rpm === null ? Infinity : r,
      remainingTokens: limits.tpm === null ? Infinity : t,
      resetRequestsMs: limits.rpm === null ? 0 : ((limits.rpm - r) * 60_000) / limits.rpm,
      resetTokensMs: limits.tpm === null ? 0 : ((limits.tpm - t) * 60_000) / limits.tpm,
    };
    if (reason === "" || reason === undefined) return { allowed: true, state };
    return { allowed: false, state, retryAfterMs: Number(retry), reason: reason as Extract<Decision, { allowed: false }>["reason"] };
  }

  async reconcile(key: string, limits: Limits, delta: number): Promise<void> {
    if (limits.tpm === null || delta === 0) return;
    const [tokKey] = this.#keys(key).slice(1, 2);
    await this.#redis.eval(RECONCILE, 1, tokKey as string, String(limits.tpm), String(delta));
  }

  async release(key: string, limits: Limits): Promise<void> {
    if (limits.maxConcurrent === null) return;
    const conc = this.#keys(key)[3] as string;
    await this.#redis.eval("local v = redis.call('DECR', KEYS[1]); if v < 0 then redis.call('SET', KEYS[1], '0') end; return 1", 1, conc);
  }

  async close(): Promise<void> {
    await closeRedis(this.#redis);
  }
}
