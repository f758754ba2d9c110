import { ApiError, type ApiErrorType } from "../../core/errors.ts";

/** An upstream failure, rendered in OpenAI's envelope, that knows whether trying again may help. */
export class UpstreamError extends ApiError {
  readonly retryable: boolean;
  /** What the upstream asked us to wait (Retry-After / retry-after-ms), in milliseconds. */
  readonly retryAfterMs: number | undefined;

  constructor(status: number, message: string, options: { type: ApiErrorType; code?: string | null; param?: string | null; retryable: boolean; retryAfterMs?: number }) {
    // A 429 tells our client how long to wait, as OpenAI does.
    const wait = status === 429 && options.retryAfterMs !== undefined ? { "retry-after": String(Math.ceil(options.retryAfterMs / 1000)), "retry-after-ms": String(Math.ceil(options.retryAfterMs)) } : undefined;
    super(status, message, { type: options.type, code: options.code ?? null, param: options.param ?? null, ...(wait ? { headers: wait } : {}) });
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Reads `retry-after-ms` or `Retry-After` (seconds or an HTTP date), as OpenAI's SDK does. */
export function retryAfterMs(headers: Headers): number | undefined {
  const ms = Number(headers.get("retry-after-ms"));
  if (Number.isFinite(ms) && ms > 0) return ms;
  const raw = headers.get("retry-after");
  if (raw === null) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** The fields of an upstream's error envelope that matter to the mapping. */
export interface UpstreamErrorBody {
  message: string | null;
  code: string | null;
  param: string | null;
}

/**
 * Maps an upstream HTTP error to what our client sees. Request problems (400, 404, 413, 422) keep the
 * upstream's status and message; rate limits stay 429; the upstream's own failures become 502 (or 504
 * for its timeouts). Upstream authentication failures are our configuration's fault: 502, and the
 * message never repeats anything the upstream said about keys.
 */
export function mapUpstreamError(deployment: string, status: number, headers: Headers, e: UpstreamErrorBody): UpstreamError {
  const after = retryAfterMs(headers);
  if (status === 401 || status === 403) {
    return new UpstreamError(502, `The upstream deployment '${deployment}' refused our credentials.`, { type: "server_error", code: "upstream_auth_failed", retryable: false });
  }
  if (status === 429) {
    return new UpstreamError(429, e.message ?? "The upstream is rate limiting requests.", { type: "rate_limit_error", code: e.code ?? "rate_limit_exceeded", retryable: true, ...(after !== undefined ? { retryAfterMs: after } : {}) });
  }
  if (status === 408 || status === 409 || status >= 500) {
    return new UpstreamError(status === 504 || status === 408 ? 504 : 502, `The upstream deployment '${deployment}' failed with HTTP ${status}.`, { type: "server_error", code: "upstream_error", retryable: true, ...(after !== undefined ? { retryAfterMs: after } : {}) });
  }
  return new UpstreamError(status >= 400 && status < 500 ? status : 502, e.message ?? `The upstream rejected the request (HTTP ${status}).`, {
    type: "invalid_request_error",
    code: e.code,
    param: e.param,
    retryable: false,
  });
}

/** Reads OpenAI's `{"error":{message,code,param}}` envelope from a body, tolerating anything else. */
export function openAiErrorBody(text: string): UpstreamErrorBody {
  let envelope: { error?: { message?: unknown; code?: unknown; param?: unknown } } = {};
  try {
    envelope = JSON.parse(text) as typeof envelope;
  } catch {
    // Not JSON: the status alone decides.
  }
  const e = typeof envelope === "object" && envelope !== null && typeof envelope.error === "object" && envelope.error !== null ? envelope.error : {};
  const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
  return { message: str(e.message), code: str(e.code), param: str(e.param) };
}

/** One SSE event's JSON from an upstream; anything else is a retryable 502 (a broken stream). */
export function parseStreamEvent(deployment: string, data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    throw new UpstreamError(502, `The upstream deployment '${deployment}' sent a malformed stream.`, { type: "server_error", code: "upstream_error", retryable: true });
  }
}
