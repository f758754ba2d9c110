import type { AttributeFilter, Attributes, AttributeValue } from "./types.ts";

function compare(a: AttributeValue, b: string | number | boolean): number | undefined {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  return undefined;
}

/**
 * Whether a file's attributes pass a filter. A comparison on a missing key fails (also `ne`/`nin`),
 * and ordering comparisons between a number and a string fail, as a typed store would.
 */
export function matchesFilter(filter: AttributeFilter, attributes: Attributes): boolean {
  if ("filters" in filter) {
    return filter.type === "and" ? filter.filters.every((f) => matchesFilter(f, attributes)) : filter.filters.some((f) => matchesFilter(f, attributes));
  }
  const actual = attributes[filter.key];
  if (actual === undefined) return false;
  const value = filter.value;
  switch (filter.type) {
    case "eq":
      return actual === value;
    case "ne":
      return actual !== value;
    case "in":
      return Array.isArray(value) && value.includes(actual as string | number);
    case "nin":
      return Array.isArray(value) && !value.includes(actual as string | number);
    default: {
      if (Array.isArray(value)) return false;
      const order = compare(actual, value as string | number | boolean);
      if (order === undefined) return false;
      if (filter.type === "gt") return order > 0;
      if (filter.type === "gte") return order >= 0;
      if (filter.type === "lt") return order < 0;
      return order <= 0;
    }
  }
}
