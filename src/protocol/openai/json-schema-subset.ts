import type { JsonSchema } from "../../core/chat.ts";
import { invalidRequest } from "../../core/errors.ts";

/**
 * The keywords OpenAI's strict mode accepts, grouped by what they constrain. Any other keyword in a
 * strict schema is a 400 ("'allOf' is not permitted."); a non-strict schema may use any keyword.
 */
export const STRICT_KEYWORDS = {
  structure: ["type", "enum", "const", "anyOf", "$ref", "$defs", "definitions"],
  string: ["pattern", "format", "minLength", "maxLength"],
  number: ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"],
  array: ["items", "prefixItems", "minItems", "maxItems"],
  object: ["properties", "required", "additionalProperties"],
  annotation: ["title", "description", "$schema", "$id", "$comment", "examples"],
} as const;

/** The `format` values a strict schema may use. */
export const STRICT_FORMATS: readonly string[] = ["date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"];

/** OpenAI's limits on structured-output schemas, applied to strict and non-strict schemas alike. */
export const SCHEMA_LIMITS = {
  maxDepth: 10,
  maxProperties: 5000,
  maxEnumValues: 1000,
  /** Property names, definition names, enum values and const values, in characters. */
  maxTextLength: 120_000,
  /** A single string enum with more values than this… */
  largeEnumValues: 250,
  /** …may have at most this many characters of values in total. */
  maxLargeEnumTextLength: 15_000,
} as const;

const STRICT_ALLOWED: ReadonlySet<string> = new Set(Object.values(STRICT_KEYWORDS).flat());
const TYPES: ReadonlySet<string> = new Set(["string", "number", "integer", "boolean", "null", "object", "array"]);
/** Guards the walk itself: `anyOf` does not count towards OpenAI's depth, but must not overflow the stack. */
const MAX_WALK_DEPTH = 100;

/** Where a subschema sits: the request `param` naming it, and OpenAI's context tuple inside the schema. */
interface Place {
  param: string;
  context: readonly string[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/** OpenAI prints the context as a Python tuple: `()`, `('properties',)`, `('properties', 'a')`. */
function tuple(context: readonly string[]): string {
  return `(${context.map((c) => `'${c}'`).join(", ")}${context.length === 1 ? "," : ""})`;
}

/** Sets an own property even for a name such as `__proto__`, which plain assignment would not. */
function setOwn(target: JsonSchema, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function textLength(value: unknown): number {
  return typeof value === "string" ? value.length : JSON.stringify(value).length;
}

function isValidRegex(pattern: string): boolean {
  for (const flags of ["u", ""]) {
    try {
      new RegExp(pattern, flags);
      return true;
    } catch {
      // JSON Schema patterns are ECMA-262; some are valid only with, others only without, the u flag.
    }
  }
  return false;
}

/** Resolves a local JSON pointer (`#/$defs/a`, `#/properties/b`) against the schema's root. */
function resolvePointer(root: unknown, ref: string): unknown {
  if (ref === "#") return root;
  let node = root;
  for (const raw of ref.slice(2).split("/")) {
    const token = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(node) && /^\d+$/.test(token)) node = node[Number(token)];
    else if (isObject(node) && Object.hasOwn(node, token)) node = node[token];
    else return undefined;
  }
  return node;
}

/** The types a schema declares (`type` as a string or an array); empty when it declares none. */
function declaredTypes(schema: Record<string, unknown>): string[] {
  const type = schema.type;
  if (typeof type === "string") return [type];
  return Array.isArray(type) ? type.filter((t): t is string => typeof t === "string") : [];
}

/** One pass over a schema: checks it, counts towards the limits and builds the grammar's form. */
class SchemaWalk {
  #properties = 0;
  #enumValues = 0;
  #text = 0;

  private readonly root: Record<string, unknown>;
  private readonly strict: boolean;
  private readonly subject: string;

  constructor(root: Record<string, unknown>, strict: boolean, subject: string) {
    this.root = root;
    this.strict = strict;
    this.subject = subject;
  }

  fail(place: Place, detail: string, param = place.param): never {
    throw invalidRequest(`Invalid schema for ${this.subject}: In context=${tuple(place.context)}, ${detail}`, param, "invalid_schema");
  }

  /** The root of a strict schema must be an object, as OpenAI requires (not a union, not a reference). */
  checkRoot(place: Place): void {
    const type = this.root.type;
    if (type === "object") return;
    const shown = type === undefined ? "None" : Array.isArray(type) ? `[${type.map((t) => `'${String(t)}'`).join(", ")}]` : String(type);
    throw invalidRequest(
      `Invalid schema for ${this.subject}: schema must be a JSON Schema of 'type: "object"', got 'type: "${shown}"'.`,
      type === undefined ? place.param : `${place.param}.type`,
      "invalid_schema",
    );
  }

  convert(schema: Record<string, unknown>, place: Place, depth: number, walked: number): JsonSchema {
    if (walked > MAX_WALK_DEPTH) this.fail(place, `the schema is nested more than ${MAX_WALK_DEPTH} levels deep.`);
    if (depth > SCHEMA_LIMITS.maxDepth) this.fail(place, `the schema exceeds the limit of ${SCHEMA_LIMITS.maxDepth} levels of nesting.`);
    const out: JsonSchema = {};
    const child = (key: string, ...path: string[]): Place => ({
      param: `${place.param}.${key}${path.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join("")}`,
      context: [...place.context, key, ...path],
    });
    const sub = (value: unknown, at: Place, nextDepth: number): JsonSchema => {
      if (!isObject(value)) this.fail(at, "a subschema must be a JSON Schema object.");
      return this.convert(value, at, nextDepth, walked + 1);
    };
    for (const [key, value] of Object.entries(schema)) {
      const here = `${place.param}.${key}`;
      if (this.strict && !STRICT_ALLOWED.has(key)) this.fail(place, `'${key}' is not permitted.`, here);
      switch (key) {
        case "title":
        case "description":
          out[key] = value;
          break;
        case "$schema":
        case "$id":
        case "$comment":
        case "examples":
          break;
        case "type": {
          const types = Array.isArray(value) ? value : [value];
          if (types.length === 0 || types.some((t) => typeof t !== "string" || !TYPES.has(t))) {
            this.fail(place, `'type' must be one of ${[...TYPES].join(", ")}, or an array of them.`, here);
          }
          out.type = value;
          break;
        }
        case "properties": {
          if (!isObject(value)) this.fail(place, "'properties' must be an object.", here);
          const props: JsonSchema = {};
          for (const [name, propSchema] of Object.entries(value)) {
            const at = child("properties", name);
            if (++this.#properties > SCHEMA_LIMITS.maxProperties) {
              this.fail(at, `the schema has more than ${SCHEMA_LIMITS.maxProperties} object properties in total, the limit.`);
            }
            this.#countText(name.length, at);
            setOwn(props, name, sub(propSchema, at, depth + 1));
          }
          out.properties = props;
          break;
        }
        case "required":
          // Passed on: the grammar compiler lets a property that is not required be left out.
          if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) this.fail(place, "'required' must be an array of strings.", here);
          out.required = value;
          break;
        case "additionalProperties":
          if (typeof value === "boolean") out[key] = value;
          else out[key] = sub(value, child(key), depth + 1);
          break;
        case "items":
          if (Array.isArray(value) && !this.strict) {
            // Draft 4's tuple form: the same constraint as `prefixItems`.
            if (!("prefixItems" in schema)) out.prefixItems = value.map((s, i) => sub(s, child(key, String(i)), depth + 1));
          } else if (typeof value === "boolean" && !(this.strict && value)) out[key] = value;
          else out[key] = sub(value, child(key), depth + 1);
          break;
        case "prefixItems":
        case "anyOf":
        case "oneOf": {
          if (!Array.isArray(value) || value.length === 0) this.fail(place, `'${key}' must be a non-empty array of schemas.`, here);
          // A union's branches are alternatives, not nesting; prefixItems nest like items.
          const next = key === "prefixItems" ? depth + 1 : depth;
          // node-llama-cpp's builder reads unions as `oneOf` (a grammar cannot tell the two apart).
          const outKey = key === "anyOf" && !("oneOf" in schema) ? "oneOf" : key;
          out[outKey] = value.map((s, i) => sub(s, child(key, String(i)), next));
          break;
        }
        case "$defs":
        case "definitions": {
          if (!isObject(value)) this.fail(place, `'${key}' must be an object of schemas.`, here);
          const defs: JsonSchema = { ...(out.$defs as JsonSchema | undefined) };
          for (const [name, defSchema] of Object.entries(value)) {
            const at = child(key, name);
            this.#countText(name.length, at);
            setOwn(defs, name, sub(defSchema, at, depth));
          }
          out.$defs = defs;
          break;
        }
        case "$ref":
          out.$ref = this.#ref(value, place, here);
          break;
        case "enum":
          if (!Array.isArray(value) || value.length === 0) this.fail(place, "'enum' must be a non-empty array.", here);
          this.#countEnum(value, place, here);
          out.enum = value;
          break;
        case "const":
          this.#countText(textLength(value), place, here);
          out.const = value;
          break;
        case "format":
          if (typeof value !== "string") this.fail(place, "'format' must be a string.", here);
          if (this.strict && !STRICT_FORMATS.includes(value)) {
            this.fail(place, `format '${value}' is not supported; the supported formats are ${STRICT_FORMATS.join(", ")}.`, here);
          }
          out.format = value;
          break;
        case "pattern":
          if (typeof value !== "string" || !isValidRegex(value)) this.fail(place, "'pattern' must be a valid regular expression.", here);
          out.pattern = value;
          break;
        case "minLength":
        case "maxLength":
        case "minItems":
        case "maxItems":
          if (!isNonNegativeInteger(value)) this.fail(place, `'${key}' must be a non-negative integer.`, here);
          out[key] = value;
          break;
        case "minimum":
        case "maximum":
          if (!isFiniteNumber(value)) this.fail(place, `'${key}' must be a number.`, here);
          out[key] = value;
          break;
        case "exclusiveMinimum":
        case "exclusiveMaximum":
          // Draft 4 wrote these as booleans beside minimum/maximum; strict mode takes only numbers.
          if (!isFiniteNumber(value) && (this.strict || typeof value !== "boolean")) this.fail(place, `'${key}' must be a number.`, here);
          out[key] = value;
          break;
        case "multipleOf":
          if (!isFiniteNumber(value) || value <= 0) this.fail(place, "'multipleOf' must be a number greater than 0.", here);
          out[key] = value;
          break;
        default:
          // Non-strict: passed on to the grammar compiler, which enforces what it can.
          setOwn(out, key, value);
      }
    }
    if (this.strict) this.#strictRules(schema, place);
    this.#satisfiable(schema, place);
    // A bare object schema is free-form; node-llama-cpp's default would allow only `{}`.
    if (declaredTypes(out).includes("object") && out.properties === undefined && out.additionalProperties === undefined) out.additionalProperties = true;
    return out;
  }

  /** OpenAI's per-node rules for strict schemas: a type, and closed objects whose every property is required. */
  #strictRules(schema: Record<string, unknown>, place: Place): void {
    if (!("type" in schema) && !("anyOf" in schema) && !("$ref" in schema)) this.fail(place, "schema must have a 'type' key.");
    if (!declaredTypes(schema).includes("object")) return;
    const properties = schema.properties;
    if (!isObject(properties)) this.fail(place, "object schema missing properties.", `${place.param}.properties`);
    const keys = Object.keys(properties);
    const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
    const missing = keys.filter((k) => !required.includes(k));
    const extra = required.filter((k) => !keys.includes(k));
    if (!Array.isArray(schema.required) || missing.length > 0 || extra.length > 0) {
      const why = missing.length > 0 ? ` Missing '${missing[0]}'.` : extra.length > 0 ? ` Extra required key '${extra[0]}' supplied.` : "";
      this.fail(place, `'required' is required to be supplied and to be an array including every key in properties.${why}`, `${place.param}.required`);
    }
    if (schema.additionalProperties !== false) {
      this.fail(place, "'additionalProperties' is required to be supplied and to be false.", `${place.param}.additionalProperties`);
    }
  }

  /** Bounds no value can meet would leave the grammar with nothing to generate: a 400 in either mode. */
  #satisfiable(schema: Record<string, unknown>, place: Place): void {
    for (const [lo, hi] of [["minLength", "maxLength"], ["minItems", "maxItems"]] as const) {
      const min = schema[lo];
      const max = schema[hi];
      if (typeof min === "number" && typeof max === "number" && min > max) {
        this.fail(place, `'${lo}' (${min}) is greater than '${hi}' (${max}), so no value can match.`, `${place.param}.${lo}`);
      }
    }
    const bound = (inclusive: unknown, exclusive: unknown, pick: (a: number, b: number) => boolean) => {
      const candidates: { value: number; open: boolean }[] = [];
      if (isFiniteNumber(inclusive)) candidates.push({ value: inclusive, open: false });
      if (isFiniteNumber(exclusive)) candidates.push({ value: exclusive, open: true });
      else if (exclusive === true && isFiniteNumber(inclusive)) candidates[0] = { value: inclusive, open: true };
      return candidates.reduce<{ value: number; open: boolean } | undefined>(
        (best, c) => (best === undefined || pick(c.value, best.value) || (c.value === best.value && c.open) ? c : best),
        undefined,
      );
    };
    const low = bound(schema.minimum, schema.exclusiveMinimum, (a, b) => a > b);
    const high = bound(schema.maximum, schema.exclusiveMaximum, (a, b) => a < b);
    if (low === undefined || high === undefined) return;
    const types = declaredTypes(schema);
    const empty = types.length === 1 && types[0] === "integer"
      ? (low.open ? Math.floor(low.value) + 1 : Math.ceil(low.value)) > (high.open ? Math.ceil(high.value) - 1 : Math.floor(high.value))
      : low.value > high.value || (low.value === high.value && (low.open || high.open));
    if (empty) this.fail(place, `the bounds leave no ${types.length === 1 ? types[0] : "number"} between ${low.value} and ${high.value} that can match.`, `${place.param}.${low.open ? "exclusiveMinimum" : "minimum"}`);
  }

  #ref(value: unknown, place: Place, here: string): string {
    if (typeof value !== "string" || !(value === "#" || value.startsWith("#/"))) {
      this.fail(place, "'$ref' must be a local reference: '#' (the root, for recursion) or '#/$defs/name'.", here);
    }
    if (!isObject(resolvePointer(this.root, value))) this.fail(place, `reference '${value}' does not point to a schema in this document.`, here);
    return value.replace(/^#\/definitions\//, "#/$defs/");
  }

  #countEnum(values: unknown[], place: Place, here: string): void {
    this.#enumValues += values.length;
    if (this.#enumValues > SCHEMA_LIMITS.maxEnumValues) {
      this.fail(place, `the schema has more than ${SCHEMA_LIMITS.maxEnumValues} enum values in total, the limit.`, here);
    }
    let length = 0;
    for (const v of values) length += textLength(v);
    if (values.length > SCHEMA_LIMITS.largeEnumValues && values.every((v) => typeof v === "string") && length > SCHEMA_LIMITS.maxLargeEnumTextLength) {
      this.fail(
        place,
        `an enum with more than ${SCHEMA_LIMITS.largeEnumValues} string values may have at most ${SCHEMA_LIMITS.maxLargeEnumTextLength} characters of values in total; this one has ${length}.`,
        here,
      );
    }
    this.#countText(length, place, here);
  }

  #countText(length: number, place: Place, param = place.param): void {
    this.#text += length;
    if (this.#text > SCHEMA_LIMITS.maxTextLength) {
      this.fail(
        place,
        `the total length of property names, definition names, enum values and const values exceeds the limit of ${SCHEMA_LIMITS.maxTextLength} characters.`,
        param,
      );
    }
  }
}

/**
 * Checks a JSON Schema for structured outputs or function parameters and returns the form the
 * grammar compiler takes (`anyOf` as `oneOf`, `definitions` as `$defs`, annotations other than
 * `title` and `description` dropped, free-form objects marked as such).
 *
 * With `strict`, OpenAI's rules apply as OpenAI applies them: an object root, every object closed
 * (`additionalProperties: false`) with every property in `required`, a `type` on every subschema,
 * and only the keywords in {@link STRICT_KEYWORDS}. Without it any keyword is accepted and passed
 * on. Either way the limits in {@link SCHEMA_LIMITS} apply, references must resolve, and bounds
 * must leave something to generate. Errors are 400 `invalid_schema` in OpenAI's words, with the
 * `param` naming the offending place (e.g. `response_format.json_schema.schema.properties.a.not`).
 *
 * @param subject how the message names the schema, as OpenAI does: `response_format 'person'`,
 *   `function 'get_weather'`; defaults to the quoted `param`.
 */
export function toGrammarSchema(schema: unknown, param: string, strict: boolean, subject = `'${param}'`): JsonSchema {
  if (!isObject(schema)) {
    throw invalidRequest(`Invalid schema for ${subject}: a JSON Schema must be an object.`, param, "invalid_schema");
  }
  const walk = new SchemaWalk(schema, strict, subject);
  const root: Place = { param, context: [] };
  if (strict) walk.checkRoot(root);
  return walk.convert(schema, root, 1, 0);
}
