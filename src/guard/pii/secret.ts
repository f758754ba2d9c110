/**
 * Secrets: API keys with a recognisable prefix (OpenAI-style `sk-…`, AWS access key ids, GitHub,
 * Slack and Google API keys), AWS secret access keys next to a cue, and PEM private key blocks.
 * Prefixed keys must also look random (digits and letters mixed, no short dash-separated words), so
 * product names like "sk-ii" or "sk-learn-compatible-api" are not taken for keys.
 */
import { type Matcher, type PiiDetector, WHOLE_MATCH, detectorOf, prefixPattern, tailStart } from "./detector.ts";
import { PEM_MATCHER, pemPendingStart } from "./private-key.ts";

function count(text: string, re: RegExp): number {
  return text.match(re)?.length ?? 0;
}

/** True when a key body has digits and letters and a dash-free stretch of at least 12 characters. */
function looksRandom(body: string, minDigits: number): boolean {
  if (count(body, /\d/g) < minDigits || count(body, /[A-Za-z]/g) < 4) return false;
  return body.split("-").some((part) => part.length >= 12);
}

const OPENAI: Matcher = {
  re: /(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{20,256}(?![A-Za-z0-9_-])/g,
  check: (m) => (looksRandom(m[0].slice(3), 2) ? m.index + m[0].length : -1),
};

const AWS_KEY_ID: Matcher = {
  re: /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/g,
  check: WHOLE_MATCH,
};

const GITHUB: Matcher = {
  re: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,244})(?![A-Za-z0-9_])/g,
  check: (m) => (looksRandom(m[0].slice(m[0].startsWith("github_pat_") ? 11 : 4), 1) ? m.index + m[0].length : -1),
};

const SLACK: Matcher = {
  re: /(?<![A-Za-z0-9_-])xox[baprs]-[A-Za-z0-9-]{10,250}(?![A-Za-z0-9_-])/g,
  check: (m) => (count(m[0], /\d/g) >= 6 ? m.index + m[0].length : -1),
};

const GOOGLE: Matcher = {
  re: /(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])/g,
  check: WHOLE_MATCH,
};

/** A cue for an AWS secret access key ("aws_secret_access_key", "secret", 密钥) ending within 30 characters. */
const AWS_SECRET_CUE = /(?:secret|密钥)[\s\S]{0,30}$/i;
const AWS_CUE_LOOKBACK = 6 + 30;

const AWS_SECRET: Matcher = {
  re: /(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g,
  check(m, text) {
    const key = m[0];
    // Base64 of 30 random bytes mixes all three classes; a git SHA or a word run does not.
    if (!/[A-Z]/.test(key) || !/[a-z]/.test(key) || !/\d/.test(key)) return -1;
    return AWS_SECRET_CUE.test(text.slice(Math.max(0, m.index - AWS_CUE_LOOKBACK), m.index)) ? m.index + key.length : -1;
  },
};

/** Longest prefixed key: `sk-` and 256 characters, and the one character the end check reads. */
const TOKEN_WINDOW = 3 + 256 + 1;

/** A trailing run that is a key prefix still being typed, or a prefixed key that may still grow. */
const TOKEN_PENDING = new RegExp(
  "(?:" +
    [
      `(?<![A-Za-z0-9_-])${prefixPattern("sk-", "[A-Za-z0-9_-]*")}`,
      `(?<![A-Za-z0-9])${prefixPattern("AKIA", "[A-Z0-9]*")}`,
      `(?<![A-Za-z0-9])${prefixPattern("ASIA", "[A-Z0-9]*")}`,
      `(?<![A-Za-z0-9_])${prefixPattern("gh", "(?:[pousr](?:_[A-Za-z0-9]*)?)?")}`,
      `(?<![A-Za-z0-9_])${prefixPattern("github_pat_", "[A-Za-z0-9_]*")}`,
      `(?<![A-Za-z0-9_-])${prefixPattern("xox", "(?:[baprs](?:-[A-Za-z0-9-]*)?)?")}`,
      `(?<![A-Za-z0-9_-])${prefixPattern("AIza", "[0-9A-Za-z_-]*")}`,
    ].join("|") +
    ")$",
  "g",
);

const AWS_SECRET_PENDING = /(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{1,40}$/g;

function secretPendingStart(text: string): number {
  let start = Math.min(tailStart(text, TOKEN_WINDOW, TOKEN_PENDING), pemPendingStart(text));
  const run = tailStart(text, 40, AWS_SECRET_PENDING);
  if (run < start && AWS_SECRET_CUE.test(text.slice(Math.max(0, run - AWS_CUE_LOOKBACK), run))) start = run;
  return start;
}

/** Secret detector: API keys, AWS secret keys next to a cue, PEM private key blocks. */
export const SECRET_DETECTOR: PiiDetector = detectorOf(
  "secret",
  Math.max(TOKEN_WINDOW, PEM_MATCHER.horizon),
  [OPENAI, AWS_KEY_ID, GITHUB, SLACK, GOOGLE, AWS_SECRET, PEM_MATCHER],
  secretPendingStart,
);
