import { randomFillSync } from "node:crypto";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * Random bytes drawn from the CSPRNG a few KiB at a time, as crypto.randomUUID does: one call per
 * id would cost more than the id's other work on the request path. Each byte is used once.
 */
const pool = Buffer.alloc(4096);
let offset = pool.length;

/** Makes sure `count` unused bytes (at most the pool's size) are waiting at `offset`. */
function reserve(count: number): void {
  if (offset + count > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
}

/** A random alphanumeric string of the given length (uniform: 62 symbols from rejection sampling). */
export function randomId(length: number): string {
  let out = "";
  while (out.length < length) {
    reserve(1);
    const byte = pool[offset++] as number;
    if (byte < 248) out += ALPHABET[byte % 62];
  }
  return out;
}

/**
 * A random alphanumeric id that sorts by creation time: the milliseconds since the epoch in 9
 * base-36 digits (good until the year 5138), then `length - 9` random characters. Rows keyed by such
 * ids are appended at the end of the primary-key index instead of all over it, which keeps inserts
 * cheap as a table grows (a random key costs SQLite several times more per row). It shows when the
 * id was made, so use it only for ids that may say so.
 */
export function sortableId(length: number): string {
  return `${Date.now().toString(36).padStart(9, "0")}${randomId(length - 9)}`;
}

/** `bytes` random bytes (at most 4096) as lowercase hex. */
export function randomHex(bytes: number): string {
  reserve(bytes);
  const hex = pool.toString("hex", offset, offset + bytes);
  offset += bytes;
  return hex;
}

/** An id with OpenAI's prefix style, such as `chatcmpl-…` or `req_…`. */
export function prefixedId(prefix: string, length = 29): string {
  return `${prefix}${randomId(length)}`;
}

/** Seconds since the epoch, as OpenAI's `created` fields carry. */
export function unixSeconds(date: Date = new Date()): number {
  return Math.floor(date.getTime() / 1000);
}
