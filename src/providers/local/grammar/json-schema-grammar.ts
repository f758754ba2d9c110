import type { JsonSchema } from "../../../core/chat.ts";
import { CharSet } from "./char-set.ts";
import { GbnfBuilder, gbnfClass, gbnfLiteral, GrammarTooLargeError, UnsatisfiableError } from "./gbnf-builder.ts";
import { numberGrammar } from "./number-range-grammar.ts";
import { anyCharRule, StringConstraintError, stringGrammar } from "./regex-grammar.ts";

/**
 * A schema the compiler cannot turn into a grammar. `path` is where, as dotted keys below the
 * schema's root (`properties.code.pattern`), so the caller can name the param in its 400.
 */
export class SchemaGrammarError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}

/** Ends every grammar: the generator stops on it (choice-generator.ts GRAMMAR_END), as node-llama-cpp's own grammars end. */
const END = '"\\n\\n\\n\\n" [\\n]*';
/** Extra member names under `additionalProperties`: a plain alphabet, so names never need escapes. */
const NAME_CHARS = "[a-zA-Z0-9_-]";
const TYPES = ["null", "boolean", "object", "array", "number", "integer", "string"] as const;
type TypeName = (typeof TYPES)[number];

function isObject(value: unknown): value is JsonSchema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function typeOfValue(value: unknown): TypeName {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value as TypeName;
}

/**
 * Compiles JSON Schema to GBNF: compact JSON (no whitespace between tokens, so a small model spends
 * its tokens on values), properties in schema order, optional properties omissible, `$ref` through
 * named rules (so recursion works), and exact grammars for string patterns, formats, lengths,
 * number bounds and `multipleOf` (see regex-grammar.ts and number-range-grammar.ts). Keywords
 * outside the supported set are not enforced; what is enforced never admits a non-conforming value.
 */
export class JsonSchemaGrammarCompiler {
  readonly #b = new GbnfBuilder();
  readonly #refs = new Map<string, string>();
  #any: string | undefined;

  /** A rule for values of `schema`, whose `$ref`s resolve against `root` (scoped by `scope`). */
  value(schema: unknown, root: unknown, path: string, scope = ""): string {
    if (schema === true || (isObject(schema) && Object.keys(schema).length === 0)) return this.#anyValue();
    if (schema === false) throw new SchemaGrammarError(path, "the schema 'false' admits no value");
    if (!isObject(schema)) throw new SchemaGrammarError(path, "a schema must be an object or a boolean");
    try {
      return this.#value(schema, root, path, scope);
    } catch (error) {
      if (error instanceof SchemaGrammarError) throw error;
      if (error instanceof StringConstraintError) throw new SchemaGrammarError(join(path, error.keyword), error.message);
      if (error instanceof UnsatisfiableError || error instanceof GrammarTooLargeError) throw new SchemaGrammarError(path, error.message);
      throw error;
    }
  }

  /** The grammar text with `rootExpr` as the value, ended as the generator expects. */
  render(rootExpr: string): string {
    return this.#b.render(`${rootExpr} ${END}`);
  }

  #value(schema: JsonSchema, root: unknown, path: string, scope: string): string {
    if (typeof schema.$ref === "string") return this.#ref(schema.$ref, root, join(path, "$ref"), scope);
    if ("const" in schema) return this.#b.rule("const", gbnfLiteral(JSON.stringify(schema.const)));
    const types = this.#types(schema, path);
    if (Array.isArray(schema.enum)) {
      const values = schema.enum.filter((v) => types === undefined || types.includes(typeOfValue(v)) || (typeOfValue(v) === "integer" && types.includes("number")));
      if (values.length === 0) throw new SchemaGrammarError(join(path, "enum"), "no 'enum' value has the schema's type");
      return this.#b.rule("enum", values.map((v) => gbnfLiteral(JSON.stringify(v))).join(" | "));
    }
    const union = Array.isArray(schema.anyOf) ? "anyOf" : Array.isArray(schema.oneOf) ? "oneOf" : undefined;
    if (union !== undefined) {
      const { [union]: branches, ...siblings } = schema;
      const shared = Object.fromEntries(Object.entries(siblings).filter(([k]) => k !== "description" && k !== "title" && k !== "$defs" && k !== "definitions"));
      const options = (branches as unknown[]).map((branch, i) => {
        const merged = isObject(branch) && Object.keys(shared).length > 0 && branch.$ref === undefined ? { ...shared, ...branch } : branch;
        return this.value(merged, root, join(path, `${union}[${i}]`), scope);
      });
      if (options.length === 0) throw new SchemaGrammarError(join(path, union), `'${union}' must list at least one schema`);
      return this.#b.rule("union", options.join(" | "));
    }
    const chosen = types ?? this.#inferredTypes(schema);
    if (chosen === undefined) return this.#anyValue();
    const options = chosen.filter((t) => !(t === "integer" && chosen.includes("number"))).map((t) => this.#typed(t, schema, root, path, scope));
    return options.length === 1 ? (options[0] as string) : this.#b.rule("types", options.join(" | "));
  }

  #types(schema: JsonSchema, path: string): TypeName[] | undefined {
    if (schema.type === undefined) return undefined;
    const list = Array.isArray(schema.type) ? schema.type : [schema.type];
    for (const t of list) {
      if (!TYPES.includes(t as TypeName)) throw new SchemaGrammarError(join(path, "type"), `unknown type ${JSON.stringify(t)}`);
    }
    const types = list as TypeName[];
    return schema.nullable === true && !types.includes("null") ? [...types, "null"] : types;
  }

  /** A type implied by the keywords present, so `{properties: …}` still yields an object. */
  #inferredTypes(schema: JsonSchema): TypeName[] | undefined {
    if (schema.properties !== undefined || schema.additionalProperties !== undefined || schema.required !== undefined) return ["object"];
    if (schema.items !== undefined || schema.prefixItems !== undefined) return ["array"];
    if (schema.pattern !== undefined || schema.format !== undefined || schema.minLength !== undefined || schema.maxLength !== undefined) return ["string"];
    if (["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"].some((k) => schema[k] !== undefined)) return ["number"];
    return undefined;
  }

  #typed(type: TypeName, schema: JsonSchema, root: unknown, path: string, scope: string): string {
    switch (type) {
      case "null":
        return this.#b.rule("null", '"null"');
      case "boolean":
        return this.#b.rule("boolean", '"true" | "false"');
      case "string":
        return stringGrammar(this.#b, {
          pattern: typeof schema.pattern === "string" ? schema.pattern : undefined,
          format: typeof schema.format === "string" ? schema.format : undefined,
          minLength: num(schema.minLength),
          maxLength: num(schema.maxLength),
        });
      case "number":
      case "integer":
        return numberGrammar(this.#b, {
          integer: type === "integer",
          minimum: num(schema.minimum),
          maximum: num(schema.maximum),
          exclusiveMinimum: num(schema.exclusiveMinimum),
          exclusiveMaximum: num(schema.exclusiveMaximum),
          multipleOf: num(schema.multipleOf),
        });
      case "array":
        return this.#array(schema, root, path, scope);
      case "object":
        return this.#object(schema, root, path, scope);
    }
  }

  #ref(ref: string, root: unknown, path: string, scope: string): string {
    const key = `${scope}${ref}`;
    const known = this.#refs.get(key);
    if (known !== undefined) return known;
    if (!ref.startsWith("#")) throw new SchemaGrammarError(path, `only local references ('#', '#/$defs/…') are supported, not ${JSON.stringify(ref)}`);
    let target: unknown = root;
    const pointer = ref.slice(1);
    if (pointer !== "") {
      if (!pointer.startsWith("/")) throw new SchemaGrammarError(path, `the reference ${JSON.stringify(ref)} is not a JSON pointer`);
      for (const raw of pointer.slice(1).split("/")) {
        const part = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
        target = isObject(target) ? target[part] : Array.isArray(target) ? target[Number(part)] : undefined;
        if (target === undefined) throw new SchemaGrammarError(path, `the reference ${JSON.stringify(ref)} points to nothing`);
      }
    }
    // Named before its body is compiled, so a recursive reference finds it.
    const name = this.#b.reserve(`ref-${ref.split("/").pop() ?? "root"}`);
    this.#refs.set(key, name);
    this.#b.define(name, this.value(target, root, path, scope));
    return name;
  }

  #array(schema: JsonSchema, root: unknown, path: string, scope: string): string {
    const prefix = Array.isArray(schema.prefixItems) ? schema.prefixItems.map((s, i) => this.value(s, root, join(path, `prefixItems[${i}]`), scope)) : [];
    const itemsAllowed = schema.items !== false;
    const item = itemsAllowed ? this.value(schema.items ?? true, root, join(path, "items"), scope) : undefined;
    const minItems = Math.max(0, Math.ceil(num(schema.minItems) ?? 0));
    let maxItems = num(schema.maxItems) === undefined ? Infinity : Math.floor(schema.maxItems as number);
    if (!itemsAllowed) maxItems = Math.min(maxItems, prefix.length);
    if (minItems > maxItems) throw new SchemaGrammarError(join(path, "minItems"), "no array satisfies 'minItems', 'maxItems' and the items allowed");
    const rest = (i: number): string => {
      if (i >= maxItems) return "";
      if (i >= prefix.length) {
        const lo = Math.max(minItems - i, 0);
        const hi = maxItems - i;
        if (i > 0) return this.#b.repeat(`"," ${item}`, lo, hi);
        const tail = hi - 1 <= 0 ? "" : ` ${this.#b.repeat(`"," ${item}`, Math.max(lo - 1, 0), hi - 1)}`;
        return lo === 0 ? `${this.#b.rule("items", `${item}${tail}`)}?` : `${item}${tail}`;
      }
      const next = rest(i + 1);
      const here = `${i === 0 ? "" : '"," '}${prefix[i]}${next === "" ? "" : ` ${next}`}`;
      return i >= minItems ? `(${here})?` : here;
    };
    const body = rest(0);
    return this.#b.rule("array", `"[" ${body === "" ? "" : `${body} `}"]"`);
  }

  #object(schema: JsonSchema, root: unknown, path: string, scope: string): string {
    const properties = isObject(schema.properties) ? schema.properties : {};
    const required = new Set(Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === "string") : []);
    const names = Object.keys(properties);
    for (const r of required) {
      if (!(r in properties)) throw new SchemaGrammarError(join(path, "required"), `'${r}' is required but not among 'properties', so its value is unknown`);
    }
    const members = names.map((name) => `${gbnfLiteral(`${JSON.stringify(name)}:`)} ${this.value(properties[name], root, join(path, `properties.${name}`), scope)}`);
    // Extra members only where the schema asks for them: a missing `additionalProperties` next to
    // declared properties emits just those (a subset of what the schema allows).
    const extra = schema.additionalProperties;
    const allowsExtra = extra === true || isObject(extra) || (extra === undefined && names.length === 0);
    const extraMember = allowsExtra ? `${this.#extraName(names)} ":" ${this.value(extra ?? true, root, join(path, "additionalProperties"), scope)}` : undefined;
    // after[i]: members from i on once something was written (each preceded by a comma);
    // first[i]: the same while nothing was written yet. Built from the last member back (no
    // recursion, so thousands of properties are fine), named where optional members branch so
    // the grammar stays linear in the number of properties.
    const allRequired = names.every((n) => required.has(n));
    const after: string[] = [];
    const first: string[] = [];
    after[names.length] = extraMember === undefined ? "" : `("," ${extraMember})*`;
    first[names.length] = extraMember === undefined ? "" : `(${extraMember} ("," ${extraMember})*)?`;
    for (let i = names.length - 1; i >= 0; i--) {
      const isRequired = required.has(names[i] as string);
      const rest = after[i + 1] as string;
      const member = isRequired ? `"," ${members[i]}` : `("," ${members[i]})?`;
      const afterExpr = rest === "" ? member : `${member} ${rest}`;
      after[i] = allRequired ? afterExpr : this.#b.rule("rest", afterExpr);
      const written = rest === "" ? (members[i] as string) : `${members[i]} ${rest}`;
      if (isRequired) first[i] = written;
      else {
        const skip = first[i + 1] as string;
        first[i] = this.#b.rule("members", skip === "" ? `(${written})?` : `(${written} | ${skip})`);
      }
    }
    const body = first[0] as string;
    return this.#b.rule("object", `"{" ${body === "" ? "" : `${body} `}"}"`);
  }

  /**
   * Names for extra members: a JSON string over a plain alphabet that is none of the declared
   * names (a trie of the declared names: a name may leave it at any point, but not end on one).
   */
  #extraName(declared: readonly string[]): string {
    const plain = /^[a-zA-Z0-9_-]+$/;
    const taken = declared.filter((n) => plain.test(n));
    if (taken.length === 0) return this.#b.rule("key", `"\\"" ${NAME_CHARS}+ "\\""`);
    const alphabet = CharSet.of([[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a], [0x5f, 0x5f], [0x2d, 0x2d]]);
    const node = (prefix: string): string => {
      const children = [...new Set(taken.filter((n) => n.length > prefix.length && n.startsWith(prefix)).map((n) => n[prefix.length] as string))].sort();
      const options: string[] = [];
      if (prefix !== "" && !taken.includes(prefix)) options.push('"\\""');
      // A character no declared name continues with: anything may follow it.
      const leave = alphabet.minus(CharSet.chars(children.join("")));
      if (!leave.isEmpty) options.push(`${gbnfClass(leave.ranges)} ${NAME_CHARS}* "\\""`);
      for (const c of children) options.push(`${gbnfLiteral(c)} ${node(prefix + c)}`);
      return this.#b.rule("key", options.join(" | "));
    };
    return `"\\"" ${node("")}`;
  }

  /** Any JSON value (compact, numbers without exponent): for `{}`, `true` and json_object mode. */
  #anyValue(): string {
    if (this.#any !== undefined) return this.#any;
    const value = this.#b.reserve("value");
    this.#any = value;
    const string = this.#b.rule("string", `"\\"" ${anyCharRule(this.#b)}* "\\""`);
    const number = numberGrammar(this.#b, { integer: false });
    const object = this.#b.rule("free-object", `"{" (${string} ":" ${value} ("," ${string} ":" ${value})*)? "}"`);
    const array = this.#b.rule("free-array", `"[" (${value} ("," ${value})*)? "]"`);
    this.#b.define(value, `${object} | ${array} | ${string} | ${number} | "true" | "false" | "null"`);
    return value;
  }
}

/** GBNF for JSON values conforming to `schema`; throws SchemaGrammarError naming where. */
export function compileJsonSchemaGrammar(schema: JsonSchema): string {
  const compiler = new JsonSchemaGrammarCompiler();
  return compiler.render(compiler.value(schema, schema, ""));
}

/** A function the call grammar offers. */
export interface ToolGrammarEntry {
  name: string;
  parameters: JsonSchema;
}

/**
 * GBNF for one call envelope `{"name": "...", "arguments": {...}}` (the shape tool-call-parser.ts
 * reads) over the offered tools, each tool's `$ref`s resolved within its own parameters. Errors
 * carry the tool's position: path `[i].<path in its parameters>`.
 */
export function compileToolCallGrammar(tools: readonly ToolGrammarEntry[]): string {
  const compiler = new JsonSchemaGrammarCompiler();
  const options = tools.map((tool, i) => {
    let args: string;
    try {
      args = compiler.value(tool.parameters, tool.parameters, "", `t${i}`);
    } catch (error) {
      if (error instanceof SchemaGrammarError) throw new SchemaGrammarError(`[${i}]${error.path === "" ? "" : `.${error.path}`}`, error.message);
      throw error;
    }
    return `${gbnfLiteral(`{"name":${JSON.stringify(tool.name)},"arguments":`)} ${args} "}"`;
  });
  return compiler.render(options.length === 1 ? (options[0] as string) : `(${options.join(" | ")})`);
}
