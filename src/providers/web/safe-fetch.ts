import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { Agent, fetch } from "undici";

/** What the server may fetch on a model's behalf (web pages, search APIs, MCP servers). */
export interface FetchPolicy {
  /**
   * Hosts (`name`, `name:port`, an IP, or a CIDR such as `10.0.0.0/8`) that may be private: a
   * self-hosted SearXNG or MCP server. Everything else must resolve to public addresses only.
   */
  allowPrivate: readonly string[];
  timeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
}

/** A fetch the policy refused, or that failed: the reason is safe to show the model and the client. */
export class FetchRefused extends Error {
  readonly reason: "scheme" | "private_address" | "too_large" | "too_many_redirects" | "content_type" | "timeout" | "http_error" | "network";
  constructor(reason: FetchRefused["reason"], message: string) {
    super(message);
    this.reason = reason;
  }
}

/** A fetched resource. */
export interface Fetched {
  /** After redirects. */
  url: string;
  status: number;
  contentType: string;
  body: Buffer;
}

/** Addresses that are not the public internet: loopback, private, link-local, CGNAT, multicast, reserved, documentation. */
const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12], ["192.0.0.0", 24],
  ["192.0.2.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["198.51.100.0", 24], ["203.0.113.0", 24], ["224.0.0.0", 4], ["240.0.0.0", 4],
] as const) PRIVATE.addSubnet(net, prefix, "ipv4");
for (const [net, prefix] of [["::", 128], ["::1", 128], ["fc00::", 7], ["fe80::", 10], ["ff00::", 8], ["2001:db8::", 32], ["64:ff9b::", 96], ["100::", 64]] as const) PRIVATE.addSubnet(net, prefix, "ipv6");

/** Whether an IP address is outside the public internet (IPv4-mapped IPv6 judged as its IPv4). */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped !== undefined) return PRIVATE.check(mapped, "ipv4");
  const family = isIP(address);
  if (family === 0) return true;
  return PRIVATE.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** Whether `url`'s host (with its port) is on the allow-list. */
function allowListed(url: URL, allow: readonly string[]): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  for (const entry of allow) {
    const e = entry.toLowerCase();
    if (e === host || e === `${host}:${port}` || e === `[${host}]:${port}`) return true;
    const cidr = /^(.+)\/(\d+)$/.exec(e);
    if (cidr !== null && isIP(host) !== 0) {
      const list = new BlockList();
      const family = isIP(cidr[1] ?? "") === 6 ? "ipv6" : "ipv4";
      try {
        list.addSubnet(cidr[1] ?? "", Number(cidr[2]), family);
        if (list.check(host, isIP(host) === 6 ? "ipv6" : "ipv4")) return true;
      } catch {
        // Not a valid CIDR: it matches nothing.
      }
    }
  }
  return false;
}

/** DNS resolution that fails for names resolving to any private address (checked at connect time, so rebinding cannot slip past). */
const publicLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error !== null) return callback(error, "", 4);
    const list = addresses as LookupAddress[];
    const bad = list.find((a) => isPrivateAddress(a.address));
    if (bad !== undefined || list.length === 0) {
      return callback(Object.assign(new Error(`${hostname} resolves to a private address (${bad?.address ?? "none"})`), { code: "EPRIVATE" }), "", 4);
    }
    if ((options as { all?: boolean }).all === true) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
    const first = list[0] as LookupAddress;
    callback(null, first.address, first.family);
  });
};

const guarded = new Agent({ connect: { lookup: publicLookup } });
const open = new Agent();

/**
 * Fetches an http(s) URL under `policy`: no other schemes; no loopback, private, link-local or
 * otherwise non-public address after DNS resolution (unless the host is allow-listed); redirects
 * followed by hand, each hop checked again; a time limit over the whole fetch and a size limit on
 * the body; only the content types given. Failures are {@link FetchRefused}.
 */
export async function safeFetch(
  raw: string,
  policy: FetchPolicy,
  init: { method?: string; headers?: Record<string, string>; body?: string; accept?: readonly string[]; signal?: AbortSignal } = {},
): Promise<Fetched> {
  const deadline = AbortSignal.timeout(policy.timeoutMs);
  const signal = init.signal === undefined ? deadline : AbortSignal.any([deadline, init.signal]);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new FetchRefused("scheme", `Not a URL: ${raw.slice(0, 200)}`);
  }
  for (let hop = 0; ; hop++) {
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new FetchRefused("scheme", `Only http and https URLs are fetched, not ${url.protocol}`);
    if (url.username !== "" || url.password !== "") throw new FetchRefused("scheme", "URLs with credentials are not fetched");
    const trusted = allowListed(url, policy.allowPrivate);
    const literal = url.hostname.replace(/^\[|\]$/g, "");
    if (!trusted && isIP(literal) !== 0 && isPrivateAddress(literal)) throw new FetchRefused("private_address", `${url.host} is a private address`);
    if (!trusted && /^localhost\.?$/i.test(literal)) throw new FetchRefused("private_address", `${url.host} is a private address`);
    let response: Awaited<ReturnType<typeof fetch>>;
    try {
      response = await fetch(url, { method: hop === 0 ? (init.method ?? "GET") : "GET", headers: init.headers, body: hop === 0 ? init.body : undefined, redirect: "manual", signal, dispatcher: trusted ? open : guarded });
    } catch (error) {
      if (deadline.aborted) throw new FetchRefused("timeout", `${url.host} did not answer within ${policy.timeoutMs} ms`);
      if (init.signal?.aborted) throw init.signal.reason;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      if (cause?.code === "EPRIVATE") throw new FetchRefused("private_address", cause.message ?? `${url.host} resolves to a private address`);
      throw new FetchRefused("network", `${url.host} could not be reached (${cause?.code ?? (error as Error).message})`);
    }
    if (response.status >= 300 && response.status < 400 && response.headers.has("location")) {
      await response.body?.cancel();
      if (hop >= policy.maxRedirects) throw new FetchRefused("too_many_redirects", `More than ${policy.maxRedirects} redirects from ${raw.slice(0, 200)}`);
      url = new URL(response.headers.get("location") ?? "", url);
      continue;
    }
    const contentType = (response.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    if (init.accept !== undefined && !init.accept.some((t) => contentType === t || (t.endsWith("/") && contentType.startsWith(t)))) {
      await response.body?.cancel();
      throw new FetchRefused("content_type", `${url.host} answered ${contentType || "no content type"}, which is not read`);
    }
    const declared = Number(response.headers.get("content-length") ?? "0");
    if (declared > policy.maxBytes) {
      await response.body?.cancel();
      throw new FetchRefused("too_large", `${url.host} answered ${declared} bytes, more than ${policy.maxBytes}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of response.body ?? []) {
        size += (chunk as Uint8Array).length;
        // Leaving the loop cancels the body.
        if (size > policy.maxBytes) throw new FetchRefused("too_large", `${url.host} answered more than ${policy.maxBytes} bytes`);
        chunks.push(Buffer.from(chunk as Uint8Array));
      }
    } catch (error) {
      if (error instanceof FetchRefused) throw error;
      if (deadline.aborted) throw new FetchRefused("timeout", `${url.host} did not finish within ${policy.timeoutMs} ms`);
      throw new FetchRefused("network", `${url.host} broke off (${(error as Error).message})`);
    }
    return { url: url.toString(), status: response.status, contentType, body: Buffer.concat(chunks) };
  }
}

/**
 * A `fetch` for clients that do their own requests (the MCP SDK's transports), under the same
 * address rules: http(s) only, private addresses only for allow-listed hosts (checked on the URL and
 * again when connecting), no redirects. Time and size limits are the caller's.
 */
export function policyFetch(policy: Pick<FetchPolicy, "allowPrivate">): (input: string | URL, init?: RequestInit) => Promise<Response> {
  return async (input, init) => {
    const url = new URL(input.toString());
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new FetchRefused("scheme", `Only http and https URLs are fetched, not ${url.protocol}`);
    const trusted = allowListed(url, policy.allowPrivate);
    const literal = url.hostname.replace(/^\[|\]$/g, "");
    if (!trusted && ((isIP(literal) !== 0 && isPrivateAddress(literal)) || /^localhost\.?$/i.test(literal))) throw new FetchRefused("private_address", `${url.host} is a private address`);
    try {
      const response = await fetch(url, { ...(init as Parameters<typeof fetch>[1]), redirect: "error", dispatcher: trusted ? open : guarded });
      return response as unknown as Response;
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      if (cause?.code === "EPRIVATE") throw new FetchRefused("private_address", cause.message ?? `${url.host} resolves to a private address`);
      throw error;
    }
  };
}
