import { invalidRequest } from "../../core/errors.ts";

/** A JSON object from a request body. */
export type JsonObject = Record<string, unknown>;

/** Describes a JSON value's type the way OpenAI's error messages do. */
export function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  switch (typeof value) {
    case "string":
      return "a string";
    case "boolean":
      return "a boolean";
    case "number":
      return Number.isInteger(value) ? "an integer" : "a decimal";
    case "object":
      return "an object";
    default:
      return typeof value;
  }
}

function typeError(param: string, expected: string, value: unknown): never {
  throw invalidRequest(
    `Invalid type for '${param}': expected ${expected}, but got ${describeType(value)} instead.`,
    param,
    "invalid_type",
  );
}

/** Reads one object's fields, building OpenAI-style `param` paths such as `messages[0].content`. */
export class FieldReader {
  readonly obj: JsonObject;
  readonly #prefix: string;

  constructor(value: unknown, param: string) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) typeError(param || "body", "an object", value);
    this.obj = value as JsonObject;
    this.#prefix = param;
  }

  /** The param path of a field. */
  path(key: string): string {
    return this.#prefix === "" ? key : `${this.#prefix}.${key}`;
  }

  /** Whether the field is present and not null (null means "use the default", as in OpenAI's API). */
  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  /** Rejects fields not in `known`, as OpenAI rejects unrecognized arguments. */
  rejectUnknown(known: ReadonlySet<string>): void {
    for (const key of Object.keys(this.obj)) {
      if (!known.has(key)) {
        throw invalidRequest(`Unrecognized request argument supplied: ${this.path(key)}`, this.path(key), "unknown_parameter");
      }
    }
  }

  required(key: string): unknown {
    if (!this.has(key)) {
      throw invalidRequest(`Missing required parameter: '${this.path(key)}'.`, this.path(key), "missing_required_parameter");
    }
    return this.obj[key];
  }

  string(key: string, options: { required: true; nonEmpty?: boolean; maxLength?: number }): string;
  string(key: string, options?: { required?: false; nonEmpty?: boolean; maxLength?: number }): string | undefined;
  string(key: string, options: { required?: boolean; nonEmpty?: boolean; maxLength?: number } = {}): string | undefined {
    if (!this.has(key)) return options.required ? (this.required(key) as never) : undefined;
    const value = this.obj[key];
    const param = this.path(key);
    if (typeof value !== "string") typeError(param, "a string", value);
    if (options.nonEmpty && value.length === 0) {
      throw invalidRequest(`Invalid '${param}': empty string. Expected a string with minimum length 1, but got an empty string instead.`, param, "empty_string");
    }
    if (options.maxLength !== undefined && value.length > options.maxLength) {
      throw invalidRequest(`Invalid '${param}': string too long. Expected a string with maximum length ${options.maxLength}, but got a string with length ${value.length} instead.`, param, "string_above_max_length");
    }
    return value;
  }

  boolean(key: string): boolean | undefined {
    if (!this.has(key)) return undefined;
    const value = this.obj[key];
    if (typeof value !== "boolean") typeError(this.path(key), "a boolean", value);
    return value;
  }

  number(key: string, options: { integer?: boolean; min?: number; max?: number } = {}): number | undefined {
    if (!this.has(key)) return undefined;
    const value = this.obj[key];
    const param = this.path(key);
    const kind = options.integer ? "integer" : "decimal";
    if (typeof value !== "number" || !Number.isFinite(value) || (options.integer && !Number.isInteger(value))) {
      typeError(param, `${options.integer ? "an" : "a"} ${kind}`, value);
    }
    if (options.min !== undefined && value < options.min) {
      throw invalidRequest(`Invalid '${param}': ${kind} below minimum value. Expected a value >= ${options.min}, but got ${value} instead.`, param, `${kind}_below_min_value`);
    }
    if (options.max !== undefined && value > options.max) {
      throw invalidRequest(`Invalid '${param}': ${kind} above maximum value. Expected a value <= ${options.max}, but got ${value} instead.`, param, `${kind}_above_max_value`);
    }
    return value;
  }

  array(key: string, options: { required?: boolean; minLength?: number; maxLength?: number } = {}): unknown[] | undefined {
    if (!this.has(key)) return options.required ? (this.required(key) as never) : undefined;
    const value = this.obj[key];
    const param = this.path(key);
    if (!Array.isArray(value)) typeError(param, "an array", value);
    if (options.minLength !== undefined && value.length < options.minLength) {
      throw invalidRequest(`Invalid '${param}': empty array. Expected an array with minimum length ${options.minLength}, but got an empty array instead.`, param, "empty_array");
    }
    if (options.maxLength !== undefined && value.length > options.maxLength) {
      throw invalidRequest(`Invalid '${param}': array too long. Expected an array with maximum length ${options.maxLength}, but got an array with length ${value.length} instead.`, param, "array_above_max_length");
    }
    return value;
  }

  object(key: string): FieldReader | undefined {
    if (!this.has(key)) return undefined;
    return new FieldReader(this.obj[key], this.path(key));
  }

  /** A string that must be one of `values`. */
  enumeration<T extends string>(key: string, values: readonly T[], options: { required?: boolean } = {}): T | undefined {
    const value = options.required ? this.string(key, { required: true }) : this.string(key);
    if (value === undefined) return undefined;
    if (!(values as readonly string[]).includes(value)) throw invalidValue(this.path(key), value, values);
    return value as T;
  }
}

/** 400 for a value outside an enumeration, listing what is allowed. */
export function invalidValue(param: string, value: string, allowed: readonly string[]): Error {
  const list = allowed.map((v) => `'${v}'`);
  const supported = list.length > 1 ? `${list.slice(0, -1).join(", ")}, and ${list.at(-1)}` : (list[0] ?? "");
  return invalidRequest(`Invalid value: '${value}'. Supported values are: ${supported}.`, param, "invalid_value");
}

/** Validates OpenAI's `metadata`: up to 16 string pairs, keys ≤ 64 and values ≤ 512 characters. */
export function readMetadata(reader: FieldReader, key: string): Record<string, string> | undefined {
  const meta = reader.object(key);
  if (meta === undefined) return undefined;
  const entries = Object.entries(meta.obj);
  const param = reader.path(key);
  if (entries.length > 16) {
    throw invalidRequest(`Invalid '${param}': too many properties. Expected an object with at most 16 properties, but got ${entries.length} instead.`, param, "object_above_max_properties");
  }
  const out: Record<string, string> = {};
  for (const [k] of entries) {
    if (k.length > 64) throw invalidRequest(`Invalid '${param}': metadata keys must be at most 64 characters.`, `${param}.${k.slice(0, 64)}`, "invalid_value");
    const v = meta.string(k, { required: true, maxLength: 512 });
    out[k] = v;
  }
  return out;
}

/**
 * Reads the body of a metadata update (`POST /v1/chat/completions/{id}`, `POST /v1/conversations/{id}`):
 * `metadata` is required and replaces what was there; an explicit null clears it.
 */
export function readMetadataUpdate(body: unknown): Record<string, string> {
  const reader = new FieldReader(body, "");
  reader.rejectUnknown(new Set(["metadata"]));
  if (reader.obj.metadata === null) return {};
  reader.required("metadata");
  return readMetadata(reader, "metadata") ?? {};
}
