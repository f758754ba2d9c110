import { randomBytes } from "node:crypto";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A random alphanumeric string of the given length (uniform: 62 symbols from rejection sampling). */
export function randomId(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

/** An id with OpenAI's prefix style, such as `chatcmpl-…` or `req_…`. */
export function prefixedId(prefix: string, length = 29): string {
  return `${prefix}${randomId(length)}`;
}

/** Seconds since the epoch, as OpenAI's `created` fields carry. */
export function unixSeconds(date: Date = new Date()): number {
  return Math.floor(date.getTime() / 1000);
}
