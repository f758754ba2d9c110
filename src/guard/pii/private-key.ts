/**
 * PEM private key blocks (`-----BEGIN [RSA |EC |OPENSSH |DSA |ENCRYPTED |…]PRIVATE KEY-----` …
 * `-----END … PRIVATE KEY-----`), with real or JSON-escaped (`\n`) line breaks. A block whose END line
 * is missing (a truncated paste) is still a leak: then the header and the base64 lines that follow it
 * are the finding. Either way the block is capped at about 8 KB, which is also how long a stream holds
 * back an unclosed block.
 */
import type { Matcher } from "./detector.ts";

const LABEL = String.raw`(?:[A-Z0-9]{1,10} ){0,3}PRIVATE KEY(?: BLOCK)?-----`;
/** Longest body between header and END line (an RSA-4096 key is about 3.3 KB). */
const MAX_BODY = 8192;
/** Longest header or END line: `-----BEGIN `, three 10-letter words, `PRIVATE KEY BLOCK-----`. */
const MAX_LINE = 11 + 3 * 11 + 22;

const HEADER = new RegExp(String.raw`-----BEGIN ${LABEL}`, "g");
const END_LINE = new RegExp(String.raw`-----END ${LABEL}`, "g");
/** The rest of an END line, tried where `-----END ` was found. */
const END_REST = new RegExp(LABEL, "y");
/** Without an END line: base64 lines (at most 100 of at most 76 characters, the same ~8 KB) after real or escaped line breaks. */
const TRUNCATED_BODY = /(?:(?:\r?\n|\\r?\\n)[A-Za-z0-9+/=]{1,76}){1,100}/y;
/** Key material: a description of the format ("starts with -----BEGIN PRIVATE KEY----- and …") has none. */
const KEY_MATERIAL = /[A-Za-z0-9+/=]{16}/;

/** Characters from the start of a block that decide it: header, body, END line. */
const HORIZON = MAX_LINE + MAX_BODY + MAX_LINE;

/**
 * The end of the block whose header ends at `bodyStart`: the first END line starting within
 * `MAX_BODY` characters, else the base64 lines that follow; -1 when neither holds key material.
 * `indexOf` finds END candidates far faster than a lazy regex body would.
 */
function blockEnd(text: string, bodyStart: number): number {
  // Search a bounded window, so many unclosed headers do not each scan the rest of the text.
  const window = text.slice(bodyStart, bodyStart + MAX_BODY + 9);
  for (let at = window.indexOf("-----END "); at >= 0; at = window.indexOf("-----END ", at + 1)) {
    END_REST.lastIndex = bodyStart + at + 9;
    if (END_REST.test(text)) return KEY_MATERIAL.test(window.slice(0, at)) ? END_REST.lastIndex : -1;
  }
  TRUNCATED_BODY.lastIndex = bodyStart;
  const body = TRUNCATED_BODY.exec(text);
  return body !== null && KEY_MATERIAL.test(body[0]) ? bodyStart + body[0].length : -1;
}

/** The PEM private key matcher (candidates are headers), with the number of characters that decide a block. */
export const PEM_MATCHER: Matcher & { horizon: number } = {
  re: HEADER,
  check: (m, text) => blockEnd(text, m.index + m[0].length),
  horizon: HORIZON,
};

/** A header still being typed at the very end of the text. */
const HEADER_PREFIX = /-(?:-(?:-(?:-(?:-(?:B(?:E(?:G(?:I(?:N(?: [A-Z0-9 ]*-{0,5})?)?)?)?)?)?)?)?)?)?$/g;
/** A separate header scanner, so pending checks never disturb a scan in progress. */
const PENDING_HEADER = new RegExp(HEADER.source, "g");

/**
 * Where an unfinished private key block starts: the first header (within the cap) that no END line
 * starts after, or a header still being typed at the end; `text.length` when there is none.
 */
export function pemPendingStart(text: string): number {
  const from = Math.max(0, text.length - HORIZON);
  if (text.indexOf("-----", from) >= 0) {
    // Overlapping END lines are skipped, which can only make this smaller: an error towards holding back.
    let lastEndStart = -1;
    END_LINE.lastIndex = from;
    for (let m = END_LINE.exec(text); m !== null; m = END_LINE.exec(text)) lastEndStart = m.index;
    PENDING_HEADER.lastIndex = from;
    for (let h = PENDING_HEADER.exec(text); h !== null; h = PENDING_HEADER.exec(text)) {
      if (h.index + h[0].length > lastEndStart) return h.index;
      PENDING_HEADER.lastIndex = h.index + 1; // headers may overlap ("…KEY-----BEGIN …")
    }
  }
  // A partial header is at most MAX_LINE characters long.
  HEADER_PREFIX.lastIndex = Math.max(0, text.length - MAX_LINE);
  const partial = HEADER_PREFIX.exec(text);
  return partial === null ? text.length : partial.index;
}
