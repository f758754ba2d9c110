import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { invalidApiKey } from "../core/errors.ts";

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/**
 * Checks `Authorization: Bearer` against the configured keys. Only SHA-256 digests are kept in
 * memory and compared in constant time; the keys themselves are never stored or logged.
 * With no keys configured every request passes (the server refuses that unless bound to loopback).
 */
export function createAuthenticator(keys: readonly string[]): (req: IncomingMessage) => void {
  const digests = keys.map(digest);
  return (req) => {
    if (digests.length === 0) return;
    const header = req.headers.authorization;
    if (header === undefined || header.trim() === "") {
      throw invalidApiKey(
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
      );
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const presented = match?.[1];
    if (presented === undefined) {
      throw invalidApiKey("The Authorization header must use Bearer auth (i.e. Authorization: Bearer YOUR_KEY).");
    }
    const candidate = digest(presented);
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, candidate) || ok;
    if (!ok) throw invalidApiKey(`Incorrect API key provided: ${redactKey(presented)}.`);
  };
}

/** Shows only the start and end of a key, as OpenAI does in its error messages. */
export function redactKey(key: string): string {
  if (key.length <= 8) return "*".repeat(key.length);
  return `${key.slice(0, 3)}${"*".repeat(Math.min(key.length - 7, 20))}${key.slice(-4)}`;
}
