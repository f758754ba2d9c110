/** What redacted values read as. */
export const REDACTED = "[redacted]";

/** Keys whose values are secrets whatever they hold (`api_key`, `apiKey`, `Authorization`, `client_secret`, `access_token`…). */
// `headers` objects (an MCP tool's) are taken whole: any of their values may be a credential.
const SECRET_KEY = /(?:api[-_]?key|authorization|password|passwd|secret|token|^headers)$/i;
/** OpenAI-style secret keys inside any string. */
const SECRET_VALUE = /sk-[A-Za-z0-9_-]{16,}/g;
/** Characters read past a string's cut before redacting it, so a key the cut splits is still seen whole. */
const LOOKAHEAD = 256;
/** Deeper values are not copied. */
const MAX_DEPTH = 64;

interface Budget {
  /** Characters still allowed. */
  left: number;
  cut: boolean;
}

/** Replaces secret-looking substrings of a string, cut to the budget. */
function copyString(value: string, budget: Budget): string {
  const window = value.length > budget.left + LOOKAHEAD ? value.slice(0, budget.left + LOOKAHEAD) : value;
  let text = window.replace(SECRET_VALUE, REDACTED);
  if (text.length > budget.left) {
    text = `${text.slice(0, Math.max(0, budget.left))}…`;
    budget.cut = true;
  }
  budget.left -= text.length + 2;
  return text;
}

/** A redacted copy of a JSON value, cut (long strings shortened, trailing items left out) once the budget is spent. */
function copy(value: unknown, budget: Budget, depth: number): unknown {
  if (typeof value === "string") return copyString(value, budget);
  if (value === null || typeof value === "number" || typeof value === "boolean") {
    budget.left -= 6;
    return value;
  }
  if (typeof value !== "object") return null;
  if (depth >= MAX_DEPTH) {
    budget.cut = true;
    return "…";
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    budget.left -= 2;
    for (const item of value) {
      if (budget.left <= 0) {
        budget.cut = true;
        break;
      }
      out.push(copy(item, budget, depth + 1));
      budget.left -= 1;
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  budget.left -= 2;
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (budget.left <= 0) {
      budget.cut = true;
      break;
    }
    budget.left -= key.length + 4;
    out[key.replace(SECRET_VALUE, REDACTED)] = SECRET_KEY.test(key) && item !== null && item !== undefined ? REDACTED : copy(item, budget, depth + 1);
  }
  return out;
}

/**
 * A JSON value made safe to keep: values of secret-named keys and `sk-…` strings become
 * `[redacted]`, and the whole is cut to at most `maxBytes` of UTF-8 JSON (long strings end in `…`,
 * trailing items are left out). `truncated` says whether anything was cut.
 */
export function redactJson(value: unknown, maxBytes: number): { value: unknown; truncated: boolean } {
  // Characters are counted while copying; escapes and multi-byte characters may take more bytes, so
  // the budget shrinks until the JSON fits.
  for (let budgetChars = maxBytes; ; budgetChars = Math.floor(budgetChars / 2)) {
    const budget: Budget = { left: budgetChars, cut: false };
    const copied = copy(value, budget, 0);
    if (Buffer.byteLength(JSON.stringify(copied) ?? "null") <= maxBytes || budgetChars < 64) return { value: copied, truncated: budget.cut };
  }
}

/**
 * The `body` column of a request log row: the request's JSON and the answer's, each redacted and
 * cut to `maxBytes`, as JSON text; null when there is neither.
 */
export function captureBodies(request: unknown, response: unknown, maxBytes: number): string | null {
  if (request === undefined && response === undefined) return null;
  const out: Record<string, unknown> = {};
  let truncated = false;
  if (request !== undefined) {
    const r = redactJson(request, maxBytes);
    out.request = r.value;
    truncated ||= r.truncated;
  }
  if (response !== undefined) {
    const r = redactJson(response, maxBytes);
    out.response = r.value;
    truncated ||= r.truncated;
  }
  out.truncated = truncated;
  return JSON.stringify(out);
}
