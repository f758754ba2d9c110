import type { JsonSchema } from "../../core/chat.ts";
import { invalidRequest } from "../../core/errors.ts";

/**
 * The JSON Schema subset that grammar-constrained generation enforces. Strict schemas may use only
 * these keywords; a non-strict schema may use others, which are then not enforced (as OpenAI does
 * not guarantee non-strict schemas either).
 */
export const SUPPORTED_KEYWORDS: readonly string[] = [
  "type", "properties", "required", "additionalProperties", "items", "prefixItems", "enum", "const",
  "anyOf", "oneOf", "$ref", "$defs", "definitions", "description", "title", "minItems", "maxItems",
  "minLength", "maxLength", "format", "default", "examples", "$schema", "$id",
];

/** `format` values the grammar can enforce. */
export const SUPPORTED_FORMATS: readonly string[] = ["date", "time", "date-time"];

/** OpenAI's limits on structured-output schemas. */
export const SCHEMA_LIMITS = { maxDepth: 10, maxProperties: 5000, maxEnumValues: 1000 } as const;

const TYPES = new Set(["string", "number", "integer", "boolean", "null", "object", "array"]);
const ANNOTATIONS = new Set(["description", "title", "default", "examples", "$schema", "$id"]);

interface Walk {
  strict: boolean;
  properties: number;
  enumValues: number;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Checks a JSON Schema against the supported subset and OpenAI's limits, and returns it in the
 * form node-llama-cpp's grammar builder takes (`anyOf` as `oneOf`, `definitions` as `$defs`,
 * free-form objects marked as such). Errors name the offending keyword as the `param`.
 */
export function toGrammarSchema(schema: unknown, param: string, strict: boolean): JsonSchema {
  const walk: Walk = { strict, properties: 0, enumValues: 0 };
  if (!isObject(schema)) {
    throw invalidRequest(`Invalid schema for '${param}': a JSON Schema must be an object.`, param, "invalid_schema");
  }
  const converted = convert(schema, param, 1, walk);
  return converted;
}

function convert(schema: Record<string, unknown>, param: string, depth: number, walk: Walk): JsonSchema {
  if (depth > SCHEMA_LIMITS.maxDepth) {
    throw invalidRequest(`Invalid schema for '${param}': nesting is deeper than ${SCHEMA_LIMITS.maxDepth} levels.`, param, "invalid_schema");
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    const here = `${param}.${key}`;
    if (!SUPPORTED_KEYWORDS.includes(key)) {
      if (walk.strict) {
        throw invalidRequest(
          `Invalid schema for '${param}': the '${key}' keyword is not supported in strict mode (supported: ${SUPPORTED_KEYWORDS.join(", ")}).`,
          here,
          "invalid_schema",
        );
      }
      continue;
    }
    if (ANNOTATIONS.has(key)) {
      if (key === "description" || key === "title") out[key] = value;
      continue;
    }
    switch (key) {
      case "type": {
        const types = Array.isArray(value) ? value : [value];
        if (types.length === 0 || types.some((t) => typeof t !== "string" || !TYPES.has(t))) {
          throw invalidRequest(`Invalid schema for '${param}': 'type' must be one of ${[...TYPES].join(", ")}.`, here, "invalid_schema");
        }
        out.type = value;
        break;
      }
      case "properties": {
        if (!isObject(value)) throw invalidRequest(`Invalid schema for '${param}': 'properties' must be an object.`, here, "invalid_schema");
        const props: JsonSchema = {};
        for (const [name, sub] of Object.entries(value)) {
          walk.properties++;
          if (walk.properties > SCHEMA_LIMITS.maxProperties) {
            throw invalidRequest(`Invalid schema for '${param}': more than ${SCHEMA_LIMITS.maxProperties} properties in total.`, here, "invalid_schema");
          }
          if (!isObject(sub)) throw invalidRequest(`Invalid schema for '${here}.${name}': a property schema must be an object.`, `${here}.${name}`, "invalid_schema");
          props[name] = convert(sub, `${here}.${name}`, depth + 1, walk);
        }
        out.properties = props;
        break;
      }
      case "items":
      case "additionalProperties": {
        if (typeof value === "boolean") out[key] = value;
        else if (isObject(value)) out[key] = convert(value, here, depth + 1, walk);
        else throw invalidRequest(`Invalid schema for '${param}': '${key}' must be a schema or a boolean.`, here, "invalid_schema");
        break;
      }
      case "prefixItems":
      case "anyOf":
      case "oneOf": {
        if (!Array.isArray(value) || value.length === 0 || !value.every(isObject)) {
          throw invalidRequest(`Invalid schema for '${param}': '${key}' must be a non-empty array of schemas.`, here, "invalid_schema");
        }
        out[key === "anyOf" ? "oneOf" : key] = value.map((s, i) => convert(s as Record<string, unknown>, `${here}[${i}]`, depth + 1, walk));
        break;
      }
      case "$defs":
      case "definitions": {
        if (!isObject(value)) throw invalidRequest(`Invalid schema for '${param}': '${key}' must be an object.`, here, "invalid_schema");
        const defs: JsonSchema = {};
        for (const [name, sub] of Object.entries(value)) {
          if (!isObject(sub)) throw invalidRequest(`Invalid schema for '${here}.${name}': must be an object.`, `${here}.${name}`, "invalid_schema");
          defs[name] = convert(sub, `${here}.${name}`, depth + 1, walk);
        }
        out.$defs = { ...(out.$defs as JsonSchema | undefined), ...defs };
        break;
      }
      case "$ref": {
        if (typeof value !== "string" || !/^#\/(\$defs|definitions)\/[^/]+$/.test(value)) {
          throw invalidRequest(`Invalid schema for '${param}': only local references such as '#/$defs/name' are supported.`, here, "invalid_schema");
        }
        out.$ref = value.replace("#/definitions/", "#/$defs/");
        break;
      }
      case "enum": {
        if (!Array.isArray(value) || value.length === 0) throw invalidRequest(`Invalid schema for '${param}': 'enum' must be a non-empty array.`, here, "invalid_schema");
        walk.enumValues += value.length;
        if (walk.enumValues > SCHEMA_LIMITS.maxEnumValues) {
          throw invalidRequest(`Invalid schema for '${param}': more than ${SCHEMA_LIMITS.maxEnumValues} enum values in total.`, here, "invalid_schema");
        }
        out.enum = value;
        break;
      }
      case "format": {
        if (typeof value !== "string") throw invalidRequest(`Invalid schema for '${param}': 'format' must be a string.`, here, "invalid_schema");
        if (SUPPORTED_FORMATS.includes(value)) out.format = value;
        else if (walk.strict) {
          throw invalidRequest(`Invalid schema for '${param}': format '${value}' is not supported in strict mode (supported: ${SUPPORTED_FORMATS.join(", ")}).`, here, "invalid_schema");
        }
        break;
      }
      case "required": {
        if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
          throw invalidRequest(`Invalid schema for '${param}': 'required' must be an array of strings.`, here, "invalid_schema");
        }
        // The grammar compiler lets properties not listed here be omitted.
        out.required = value;
        break;
      }
      default:
        out[key] = value;
    }
  }
  // A bare object schema is free-form; node-llama-cpp's default would allow only `{}`.
  const isObjectType = out.type === "object" || (Array.isArray(out.type) && out.type.includes("object"));
  if (isObjectType && out.properties === undefined && out.additionalProperties === undefined) out.additionalProperties = true;
  return out;
}
