import { invalidRequest } from "../../core/errors.ts";
import type { AttributeFilter, AttributeValue, ComparisonFilter } from "../../retrieval/types.ts";
import { FieldReader, invalidValue } from "./validate.ts";

const COMPARISONS = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"] as const;
const COMPOUNDS = ["and", "or"] as const;
/** Deeper nesting is refused rather than recursed into, so a hostile body cannot exhaust the stack. */
const MAX_DEPTH = 16;

/** Validates a `filters` value (ComparisonFilter or CompoundFilter), with 400s naming the param path. */
export function parseAttributeFilter(value: unknown, param: string, depth = 0): AttributeFilter {
  const reader = new FieldReader(value, param);
  if (depth > MAX_DEPTH) throw invalidRequest(`Invalid '${param}': filters are nested more than ${MAX_DEPTH} levels deep.`, param, "invalid_value");
  const type = reader.string("type", { required: true });
  if ((COMPOUNDS as readonly string[]).includes(type)) {
    reader.rejectUnknown(new Set(["type", "filters"]));
    const filters = reader.array("filters", { required: true }) ?? [];
    return { type: type as "and" | "or", filters: filters.map((f, i) => parseAttributeFilter(f, `${param}.filters[${i}]`, depth + 1)) };
  }
  if (!(COMPARISONS as readonly string[]).includes(type)) throw invalidValue(reader.path("type"), type, [...COMPARISONS, ...COMPOUNDS]);
  reader.rejectUnknown(new Set(["type", "key", "value"]));
  const key = reader.string("key", { required: true });
  const raw = reader.required("value");
  const valueParam = reader.path("value");
  let parsed: ComparisonFilter["value"];
  if (Array.isArray(raw)) {
    raw.forEach((item, i) => {
      if (typeof item !== "string" && !(typeof item === "number" && Number.isFinite(item))) {
        throw invalidRequest(`Invalid type for '${valueParam}[${i}]': expected a string or a number.`, `${valueParam}[${i}]`, "invalid_type");
      }
    });
    parsed = raw as (string | number)[];
  } else if (typeof raw === "string" || typeof raw === "boolean" || (typeof raw === "number" && Number.isFinite(raw))) {
    parsed = raw;
  } else {
    throw invalidRequest(`Invalid type for '${valueParam}': expected a string, number, boolean or array.`, valueParam, "invalid_type");
  }
  const list = type === "in" || type === "nin";
  if (list !== Array.isArray(parsed)) {
    throw invalidRequest(`Invalid '${valueParam}': the '${type}' filter ${list ? "takes an array" : "does not take an array"}.`, valueParam, "invalid_value");
  }
  return { type: type as ComparisonFilter["type"], key, value: parsed };
}

/**
 * Validates `attributes` on a vector store file: up to 16 keys of at most 64 characters; values are
 * strings (≤ 512 characters), numbers or booleans. Null means none.
 */
export function parseAttributes(value: unknown, param: string): Record<string, AttributeValue> | undefined {
  if (value === undefined || value === null) return undefined;
  const reader = new FieldReader(value, param);
  const entries = Object.entries(reader.obj);
  if (entries.length > 16) {
    throw invalidRequest(`Invalid '${param}': too many properties. Expected an object with at most 16 properties, but got ${entries.length} instead.`, param, "object_above_max_properties");
  }
  const out: Record<string, AttributeValue> = {};
  for (const [k, v] of entries) {
    if (k.length > 64) throw invalidRequest(`Invalid '${param}': attribute keys must be at most 64 characters.`, `${param}.${k.slice(0, 64)}`, "invalid_value");
    if (typeof v === "string") {
      if (v.length > 512) throw invalidRequest(`Invalid '${param}.${k}': string too long. Expected at most 512 characters.`, `${param}.${k}`, "string_above_max_length");
    } else if (!(typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v)))) {
      throw invalidRequest(`Invalid type for '${param}.${k}': expected a string, number or boolean.`, `${param}.${k}`, "invalid_type");
    }
    out[k] = v as AttributeValue;
  }
  return out;
}
