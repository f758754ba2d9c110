/**
 * The string formats the grammar enforces, each as a pattern in the regex subset (`regex-parser.ts`)
 * so that it combines with `pattern` and the length limits through the same automata. Each is a
 * subset of what ajv-formats' "full" mode accepts, chosen so generated values are valid however a
 * validator reads the format: every date exists (February stops at 28, so no leap-year rule is
 * needed), times carry a time zone, numbers of digits are bounded, hostnames stay far below 253
 * characters, IPv6 is written in full (eight groups), UUIDs have an RFC 4122 version and variant.
 */
const DIGITS = "\\d{1,4}";
const DATE =
  "\\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|30)|02-(?:0[1-9]|1\\d|2[0-8]))";
const TIME = "(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d{1,6})?(?:Z|[+-](?:[01]\\d|2[0-3]):[0-5]\\d)";
const DATE_PART = `(?:${DIGITS}Y(?:${DIGITS}M)?(?:${DIGITS}D)?|${DIGITS}M(?:${DIGITS}D)?|${DIGITS}D)`;
const TIME_PART = `T(?:${DIGITS}H(?:${DIGITS}M)?(?:${DIGITS}S)?|${DIGITS}M(?:${DIGITS}S)?|${DIGITS}S)`;
const LABEL = "[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?";
const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const HEX4 = "[0-9a-f]{1,4}";

/** Anchored patterns for each supported `format`. */
export const FORMAT_PATTERNS: Readonly<Record<string, string>> = {
  date: `^${DATE}$`,
  time: `^${TIME}$`,
  "date-time": `^${DATE}T${TIME}$`,
  duration: `^P(?:${DATE_PART}(?:${TIME_PART})?|${TIME_PART}|${DIGITS}W)$`,
  email: `^[a-zA-Z0-9_+-]{1,32}(?:\\.[a-zA-Z0-9_+-]{1,32}){0,2}@(?:${LABEL}\\.){1,2}[a-z]{2,12}$`,
  hostname: `^${LABEL}(?:\\.${LABEL}){0,3}$`,
  ipv4: `^(?:${OCTET}\\.){3}${OCTET}$`,
  ipv6: `^${HEX4}(?::${HEX4}){7}$`,
  uuid: "^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
};

/** The formats the grammar enforces. */
export const GRAMMAR_FORMATS: readonly string[] = Object.keys(FORMAT_PATTERNS);
