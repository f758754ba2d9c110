const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const BOM = [0xef, 0xbb, 0xbf] as const;

function toBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * Decodes server-sent events pushed as bytes into each event's `data`, joined across `data:` lines;
 * comments and other fields are skipped. Handles events and line endings (CRLF split included)
 * across chunks, LF, CR and CRLF endings, and a leading byte-order mark. Lines are found in bytes
 * (a line break never occurs inside a UTF-8 sequence) and only `data` values are decoded, so there
 * is no per-stream TextDecoder and no per-line regular expression.
 */
export class SseDataDecoder {
  /** Bytes of a line not ended yet. */
  #pending: Buffer | undefined;
  /** The current event's data so far; undefined until it has a `data` line. */
  #data: string | undefined;
  /** The last chunk ended in CR: an LF starting the next one ends the same line. */
  #skipLf = false;
  #started = false;

  /** The data of every event completed by this chunk. */
  push(chunk: Uint8Array): string[] {
    const out: string[] = [];
    let buf = toBuffer(chunk);
    if (this.#pending !== undefined) {
      buf = Buffer.concat([this.#pending, buf]);
      this.#pending = undefined;
    }
    let start = 0;
    if (!this.#started) {
      // Wait for three bytes before deciding whether the stream starts with a byte-order mark.
      if (buf.length < 3 && buf.every((b, i) => b === BOM[i])) {
        if (buf.length > 0) this.#pending = buf;
        return out;
      }
      this.#started = true;
      if (buf[0] === BOM[0] && buf[1] === BOM[1] && buf[2] === BOM[2]) start = 3;
    }
    if (this.#skipLf && start < buf.length) {
      this.#skipLf = false;
      if (buf[start] === LF) start++;
    }
    const length = buf.length;
    // Next LF and CR at or after `start`, each searched again only once passed (CR is rare).
    let lf = buf.indexOf(LF, start);
    let cr = buf.indexOf(CR, start);
    while (start < length) {
      if (lf !== -1 && lf < start) lf = buf.indexOf(LF, start);
      if (cr !== -1 && cr < start) cr = buf.indexOf(CR, start);
      const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      if (end === -1) break;
      this.#line(buf, start, end, out);
      start = end + 1;
      if (end === cr) {
        if (start === length) this.#skipLf = true;
        else if (buf[start] === LF) start++;
      }
    }
    if (start < length) this.#pending = buf.subarray(start);
    return out;
  }

  /** The data of an event the stream ended in without its blank line, if any. */
  end(): string[] {
    const out: string[] = [];
    const rest = this.#pending;
    this.#pending = undefined;
    if (rest !== undefined) this.#line(rest, 0, rest.length, out);
    if (this.#data !== undefined) out.push(this.#data);
    this.#data = undefined;
    return out;
  }

  #line(buf: Buffer, start: number, end: number, out: string[]): void {
    if (start === end) {
      // A blank line dispatches the event.
      if (this.#data !== undefined) out.push(this.#data);
      this.#data = undefined;
      return;
    }
    // "data" exactly, then the end of the line or a colon; anything else (comments included) is skipped.
    if (end - start < 4 || buf[start] !== 0x64 || buf[start + 1] !== 0x61 || buf[start + 2] !== 0x74 || buf[start + 3] !== 0x61) return;
    let from = start + 4;
    if (from < end) {
      if (buf[from] !== COLON) return;
      from++;
      if (from < end && buf[from] === SPACE) from++;
    }
    const value = from < end ? buf.toString("utf8", from, end) : "";
    this.#data = this.#data === undefined ? value : `${this.#data}\n${value}`;
  }
}
