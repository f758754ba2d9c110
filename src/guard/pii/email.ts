/**
 * E-mail addresses, practical form: `local@domain.tld` with dot-separated atoms on both sides (no
 * leading, trailing or consecutive dots), labels that do not start or end with a hyphen, and a
 * TLD of at least two letters. Quoted local parts and IDN (non-ASCII) addresses are not matched.
 */
import { type PiiDetector, detectorOf, tailStart } from "./detector.ts";

/** Longest address (RFC 5321 path limit) and the two characters the end check looks at. */
const MAX_LENGTH = 254;
const HORIZON = MAX_LENGTH + 2;

// The look-behind lets a candidate start only where a local part can begin, so a scan that
// restarts anywhere sees the same candidates; each atom and label is one unambiguous run, so
// matching stays linear.
const EMAIL =
  /(?<![A-Za-z0-9._%+-])[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,63})(?![A-Za-z0-9-]|\.[A-Za-z0-9])/g;

/** File extensions that look like TLDs in names such as `icon@2x.png`: never an address. */
const FILE_EXTENSIONS = new Set([
  "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "css", "js", "mjs", "cjs", "ts", "tsx", "jsx", "json",
  "html", "htm", "txt", "pdf", "gz", "tar", "mp3", "mp4", "wav", "log", "yml", "yaml", "xml", "csv", "exe", "dll", "lock",
]);

/** A trailing run that could still grow into an address: local-part characters, maybe `@` and a partial domain. */
const PENDING = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9_%+-][A-Za-z0-9._%+-]*(?:@[A-Za-z0-9.-]*)?$/g;

/** E-mail address detector. */
export const EMAIL_DETECTOR: PiiDetector = detectorOf(
  "email",
  HORIZON,
  [
    {
      re: EMAIL,
      check(m) {
        const text = m[0];
        const at = text.indexOf("@");
        if (text.length > MAX_LENGTH || at > 64) return -1;
        if (FILE_EXTENSIONS.has((m[1] as string).toLowerCase())) return -1;
        return m.index + text.length;
      },
    },
  ],
  (text) => tailStart(text, HORIZON, PENDING),
);
