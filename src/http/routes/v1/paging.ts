import { invalidRequest } from "../../../core/errors.ts";
import { INCLUDE_VALUES, type IncludeValue } from "../../../protocol/openai/responses-types.ts";
import { invalidValue } from "../../../protocol/openai/validate.ts";
import type { PageQuery } from "../../../storage/object-store.ts";

/** The default and largest page sizes of OpenAI's cursor-paged lists. */
const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 100;

/** Reads `limit` alone (1–100, default 20, unless the endpoint says otherwise), for lists that take no `order`. */
export function readLimit(query: URLSearchParams, limits: { default: number; max: number } = { default: DEFAULT_LIMIT, max: MAX_LIMIT }): number {
  const rawLimit = query.get("limit");
  if (rawLimit === null) return limits.default;
  if (!/^-?\d+$/.test(rawLimit)) {
    throw invalidRequest(`Invalid type for 'limit': expected an integer, but got '${rawLimit}' instead.`, "limit", "invalid_type");
  }
  const limit = Number(rawLimit);
  if (limit < 1) throw invalidRequest(`Invalid 'limit': integer below minimum value. Expected a value >= 1, but got ${limit} instead.`, "limit", "integer_below_min_value");
  if (limit > limits.max) throw invalidRequest(`Invalid 'limit': integer above maximum value. Expected a value <= ${limits.max}, but got ${limit} instead.`, "limit", "integer_above_max_value");
  return limit;
}

/**
 * Reads `after`, `limit` (1–100, default 20, unless the endpoint says otherwise) and `order` (asc or
 * desc, default as the endpoint says).
 */
export function readPageQuery(query: URLSearchParams, defaultOrder: "asc" | "desc", limits: { default: number; max: number } = { default: DEFAULT_LIMIT, max: MAX_LIMIT }): PageQuery {
  const limit = readLimit(query, limits);
  const rawOrder = query.get("order");
  if (rawOrder !== null && rawOrder !== "asc" && rawOrder !== "desc") throw invalidValue("order", rawOrder, ["asc", "desc"]);
  const after = query.get("after");
  return { after: after === null || after === "" ? undefined : after, limit, order: rawOrder ?? defaultOrder };
}

/** Reads the `include` query parameter (`include=a&include=b` or `include[]=a`), each value checked. */
export function readInclude(query: URLSearchParams): IncludeValue[] {
  const values = [...query.getAll("include"), ...query.getAll("include[]")];
  return values.map((value) => {
    if (!(INCLUDE_VALUES as readonly string[]).includes(value)) throw invalidValue("include", value, INCLUDE_VALUES);
    return value as IncludeValue;
  });
}

/** The `metadata[key]=value` filters of a query. */
export function readMetadataFilters(query: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of query) {
    const match = /^metadata\[(.+)\]$/.exec(key);
    if (match?.[1] !== undefined) out[match[1]] = value;
  }
  return out;
}
