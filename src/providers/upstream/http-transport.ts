import { Pool, type Dispatcher } from "undici";
import type { UpstreamCall } from "./adapter.ts";
import { withTraceHeaders } from "../../core/trace-spans.ts";

/** An upstream's answer: status, headers, and a body to read (to its end, so the connection is reused). */
export type UpstreamResponse = Dispatcher.ResponseData;

/**
 * One keep-alive connection pool per upstream origin, shared by every deployment on it. undici's
 * Pool costs a fraction of global `fetch` per request (no WHATWG streams, Request/Response objects
 * or per-request signal plumbing), which matters on the gateway's hot path. Limits match fetch's
 * global dispatcher: unlimited connections, five-minute header and body timeouts (the routing
 * layer applies its own, shorter ones). Idle sockets do not keep the process alive.
 */
const pools = new Map<string, Pool>();

/** Parsed call URLs: adapters build the same few URLs over and over. */
const targets = new Map<string, { pool: Pool; path: string }>();
const MAX_TARGETS = 1024;

function target(url: string): { pool: Pool; path: string } {
  let found = targets.get(url);
  if (found === undefined) {
    const parsed = new URL(url);
    let pool = pools.get(parsed.origin);
    if (pool === undefined) {
      // HTTP/1.1 only, as fetch speaks it.
      pool = new Pool(parsed.origin, { allowH2: false });
      pools.set(parsed.origin, pool);
    }
    found = { pool, path: `${parsed.pathname}${parsed.search}` };
    // URLs carry only deployment settings, so this stays small; the bound is a safety net.
    if (targets.size >= MAX_TARGETS) targets.clear();
    targets.set(url, found);
  }
  return found;
}

/**
 * POSTs a call; aborting `signal` aborts the request, or the reading of its body. Rejects on
 * connection failures (the error's `code` names them, e.g. ECONNREFUSED). The caller must read the
 * body to its end, or destroy it, so the connection goes back to the pool.
 */
export function postUpstream(call: UpstreamCall, signal: AbortSignal): Promise<UpstreamResponse> {
  const { pool, path } = target(call.url);
  // A traced request carries its W3C trace context (the attempt's span) to the upstream.
  return pool.request({ method: "POST", path, headers: withTraceHeaders(call.headers), body: call.body, signal });
}

/** Whether a status is a success, as fetch's `Response.ok` says. */
export function isOk(status: number): boolean {
  return status >= 200 && status <= 299;
}

/** undici's raw header object as a WHATWG Headers (error paths only: adapters read Retry-After from it). */
export function toHeaders(raw: UpstreamResponse["headers"]): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.append(name, value);
  }
  return headers;
}

/** One header's value (the first, if it was sent more than once). */
export function headerValue(raw: UpstreamResponse["headers"], name: string): string | undefined {
  const value = raw[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Closes every pool (tests and shutdown; later calls open new ones). */
export async function closeUpstreamPools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  targets.clear();
  await Promise.all(all.map((p) => p.close()));
}
