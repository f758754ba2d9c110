import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { ApiError } from "../../src/core/errors.ts";
import { parseChatCompletionRequest } from "../../src/protocol/openai/chat-completions-parse.ts";
import { SCHEMA_LIMITS, STRICT_FORMATS, toGrammarSchema } from "../../src/protocol/openai/json-schema-subset.ts";
import { parseResponsesRequest } from "../../src/protocol/openai/responses-parse.ts";

const P = "response_format.json_schema.schema";
const SUBJECT = "response_format 'x'";
type Schema = Record<string, unknown>;

/** A closed object, as strict mode wants it: every property required, no others allowed. */
function obj(properties: Record<string, Schema>, extra: Schema = {}): Schema {
  return { type: "object", properties, required: Object.keys(properties), additionalProperties: false, ...extra };
}

function strict(schema: unknown): Schema {
  return toGrammarSchema(schema, P, true, SUBJECT);
}

/** Asserts a 400 invalid_schema whose param and message are exactly these. */
function rejects(schema: unknown, param: string, message: string | RegExp, isStrict = true): void {
  assert.throws(
    () => toGrammarSchema(schema, P, isStrict, SUBJECT),
    (e: unknown) => {
      assert.ok(e instanceof ApiError, String(e));
      assert.equal(e.status, 400);
      assert.equal(e.type, "invalid_request_error");
      assert.equal(e.code, "invalid_schema");
      assert.equal(e.param, param);
      if (typeof message === "string") assert.equal(e.message, message);
      else assert.match(e.message, message);
      return true;
    },
  );
}

describe("strict schemas: OpenAI's rules", () => {
  it("the root must be an object, not another type, a union or a reference", () => {
    rejects({ type: "array", items: { type: "string" } }, `${P}.type`, `Invalid schema for ${SUBJECT}: schema must be a JSON Schema of 'type: "object"', got 'type: "array"'.`);
    rejects({ anyOf: [obj({ a: { type: "string" } }), obj({ b: { type: "string" } })] }, P, `Invalid schema for ${SUBJECT}: schema must be a JSON Schema of 'type: "object"', got 'type: "None"'.`);
    rejects({ type: ["object", "null"], properties: {}, required: [], additionalProperties: false }, `${P}.type`, /got 'type: "\['object', 'null'\]"'/);
    rejects({ $ref: "#/$defs/a", $defs: { a: obj({}) } }, P, /got 'type: "None"'/);
  });

  it("every property must be listed in required, and nothing else", () => {
    rejects(
      obj({ a: obj({ b: { type: "string" }, c: { type: "string" } }, { required: ["b"] }) }),
      `${P}.properties.a.required`,
      `Invalid schema for ${SUBJECT}: In context=('properties', 'a'), 'required' is required to be supplied and to be an array including every key in properties. Missing 'c'.`,
    );
    rejects(
      obj({ a: { type: "string" } }, { required: ["a", "z"] }),
      `${P}.required`,
      `Invalid schema for ${SUBJECT}: In context=(), 'required' is required to be supplied and to be an array including every key in properties. Extra required key 'z' supplied.`,
    );
    const { required: _r, ...noRequired } = obj({ a: { type: "string" } });
    rejects(noRequired, `${P}.required`, /In context=\(\), 'required' is required to be supplied .* Missing 'a'\.$/);
  });

  it("additionalProperties must be false on every object, including those in arrays, unions and $defs", () => {
    const open = (s: Schema) => ({ ...s, additionalProperties: true });
    const message = (context: string) => `Invalid schema for ${SUBJECT}: In context=${context}, 'additionalProperties' is required to be supplied and to be false.`;
    rejects(open(obj({ a: { type: "string" } })), `${P}.additionalProperties`, message("()"));
    const { additionalProperties: _a, ...missing } = obj({ a: { type: "string" } });
    rejects(obj({ list: { type: "array", items: missing } }), `${P}.properties.list.items.additionalProperties`, message("('properties', 'list', 'items')"));
    rejects(obj({ u: { anyOf: [{ type: "null" }, missing] } }), `${P}.properties.u.anyOf[1].additionalProperties`, message("('properties', 'u', 'anyOf', '1')"));
    rejects(obj({ r: { $ref: "#/$defs/d" } }, { $defs: { d: missing } }), `${P}.$defs.d.additionalProperties`, message("('$defs', 'd')"));
  });

  it("an object must declare properties, and every subschema a type", () => {
    rejects(obj({ a: { type: "object", additionalProperties: false } }), `${P}.properties.a.properties`, `Invalid schema for ${SUBJECT}: In context=('properties', 'a'), object schema missing properties.`);
    rejects(obj({ a: { const: "fact" } }), `${P}.properties.a`, `Invalid schema for ${SUBJECT}: In context=('properties', 'a'), schema must have a 'type' key.`);
    rejects(obj({ a: {} }), `${P}.properties.a`, /schema must have a 'type' key/);
  });

  it("rejects each keyword outside the subset, naming it", () => {
    const rejected: Record<string, unknown> = {
      allOf: [{ type: "string" }],
      not: { type: "number" },
      if: { type: "string" },
      then: { type: "string" },
      else: { type: "string" },
      dependentRequired: { a: ["b"] },
      dependentSchemas: { a: { type: "object" } },
      patternProperties: { "^x": { type: "string" } },
      oneOf: [{ type: "string" }],
      default: "x",
      uniqueItems: true,
      contains: { type: "string" },
      minProperties: 1,
      propertyNames: { pattern: "^a" },
      unevaluatedProperties: false,
      contentEncoding: "base64",
      discriminator: { propertyName: "kind" },
    };
    for (const [keyword, value] of Object.entries(rejected)) {
      rejects(
        obj({ a: { type: "string", [keyword]: value } }),
        `${P}.properties.a.${keyword}`,
        `Invalid schema for ${SUBJECT}: In context=('properties', 'a'), '${keyword}' is not permitted.`,
      );
    }
  });

  it("rejects a format outside OpenAI's list", () => {
    rejects(obj({ a: { type: "string", format: "uri" } }), `${P}.properties.a.format`, /In context=\('properties', 'a'\), format 'uri' is not supported; the supported formats are date-time, time, date, duration, email, hostname, ipv4, ipv6, uuid\.$/);
  });

  it("names a function's schema as OpenAI does, with the param path into the request", () => {
    assert.throws(
      () => parseChatCompletionRequest({
        model: "m",
        messages: [{ role: "user", content: "hi" }],
        tools: [{ type: "function", function: { name: "lookup", strict: true, parameters: { type: "object", properties: { q: { type: "string" } }, required: ["q"] } } }],
      }),
      (e: unknown) => e instanceof ApiError && e.param === "tools[0].function.parameters.additionalProperties"
        && e.message === "Invalid schema for function 'lookup': In context=(), 'additionalProperties' is required to be supplied and to be false.",
    );
    assert.throws(
      () => parseResponsesRequest({ model: "m", input: "hi", text: { format: { type: "json_schema", name: "answer", strict: true, schema: obj({ a: { type: "string", allOf: [] } }) } } }),
      (e: unknown) => e instanceof ApiError && e.param === "text.format.schema.properties.a.allOf" && e.message.startsWith("Invalid schema for response_format 'answer': In context=('properties', 'a'), 'allOf'"),
    );
  });
});

describe("strict schemas: the keywords OpenAI added pass through", () => {
  it("accepts every string, number and array keyword and every format, and hands them to the compiler", () => {
    const schema = obj({
      code: { type: "string", pattern: "^[A-Z]{3}-\\d{3}$", minLength: 7, maxLength: 7 },
      ...Object.fromEntries(STRICT_FORMATS.map((f) => [`f_${f}`, { type: "string", format: f }])),
      ratio: { type: "number", minimum: 0, maximum: 1, multipleOf: 0.25 },
      count: { type: "integer", exclusiveMinimum: 0, exclusiveMaximum: 10 },
      pair: { type: "array", prefixItems: [{ type: "string" }, { type: "integer" }], items: false, minItems: 2, maxItems: 2 },
      list: { type: "array", items: { type: "string" }, minItems: 1, maxItems: 3 },
    });
    const out = strict(schema);
    const props = out.properties as Record<string, Schema>;
    assert.deepEqual(props.code, { type: "string", pattern: "^[A-Z]{3}-\\d{3}$", minLength: 7, maxLength: 7 });
    for (const f of STRICT_FORMATS) assert.equal(props[`f_${f}`]!.format, f);
    assert.deepEqual(props.ratio, { type: "number", minimum: 0, maximum: 1, multipleOf: 0.25 });
    assert.deepEqual(props.count, { type: "integer", exclusiveMinimum: 0, exclusiveMaximum: 10 });
    assert.deepEqual(props.pair, { type: "array", prefixItems: [{ type: "string" }, { type: "integer" }], items: false, minItems: 2, maxItems: 2 });
    assert.equal(out.additionalProperties, false);
  });

  it("accepts nested anyOf, $defs and recursion through '#' and through a definition", () => {
    const schema = obj(
      {
        value: { anyOf: [{ type: "string", maxLength: 5 }, { type: "null" }, { $ref: "#/$defs/item" }] },
        parent: { anyOf: [{ $ref: "#" }, { type: "null" }] },
      },
      { $defs: { item: obj({ name: { type: "string" }, children: { type: "array", items: { $ref: "#/$defs/item" } } }) } },
    );
    const out = strict(schema);
    const props = out.properties as Record<string, Schema>;
    assert.deepEqual((props.parent!.oneOf as Schema[])[0], { $ref: "#" });
    assert.equal((props.value!.oneOf as Schema[]).length, 3);
    assert.ok((out.$defs as Schema).item);
  });

  it("accepts the SDK's zod output: $schema, nullable as a type array, integers with bounds", () => {
    strict({
      $schema: "http://json-schema.org/draft-07/schema#",
      ...obj({ n: { type: "integer", minimum: 1, exclusiveMaximum: 10 }, s: { type: ["string", "null"] } }),
    });
  });
});

describe("schema limits", () => {
  const wide = (n: number) => obj(Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, { type: "boolean" }])));

  it(`allows ${SCHEMA_LIMITS.maxProperties} properties in total and refuses one more`, () => {
    strict(obj({ a: wide(SCHEMA_LIMITS.maxProperties - 1) }));
    rejects(obj({ a: wide(SCHEMA_LIMITS.maxProperties) }), `${P}.properties.a.properties.p4999`, /more than 5000 object properties in total/);
  });

  it(`allows ${SCHEMA_LIMITS.maxDepth} levels of nesting and refuses an eleventh, in either mode`, () => {
    const nest = (levels: number): Schema => (levels === 1 ? obj({ leaf: { type: "string" } }) : obj({ a: nest(levels - 1) }));
    strict(nest(9));
    const eleven = nest(11);
    rejects(eleven, `${P}${".properties.a".repeat(10)}`, /exceeds the limit of 10 levels of nesting/);
    rejects(eleven, `${P}${".properties.a".repeat(10)}`, /exceeds the limit of 10 levels of nesting/, false);
  });

  it(`allows ${SCHEMA_LIMITS.maxEnumValues} enum values in total and refuses one more`, () => {
    const values = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    strict(obj({ a: { type: "string", enum: values(600, "a") }, b: { type: "string", enum: values(400, "b") } }));
    rejects(obj({ a: { type: "string", enum: values(600, "a") }, b: { type: "string", enum: values(401, "b") } }), `${P}.properties.b.enum`, /more than 1000 enum values in total/);
  });

  it("refuses more than 120,000 characters of property names and enum and const values", () => {
    const long = "x".repeat(60_000);
    strict(obj({ a: { type: "string", enum: [long] }, b: { type: "string", const: "y".repeat(59_990) } }));
    rejects(obj({ a: { type: "string", enum: [long] }, b: { type: "string", const: "y".repeat(60_001) } }), `${P}.properties.b.const`, /exceeds the limit of 120000 characters/);
    rejects(obj({ a: { type: "string", enum: [long, "x".repeat(59_990)] }, [`k${"z".repeat(10)}`]: { type: "string" } }), `${P}.properties.kzzzzzzzzzz`, /exceeds the limit of 120000 characters/);
  });

  it("refuses a string enum of more than 250 values totalling more than 15,000 characters", () => {
    const values = (n: number, width: number) => Array.from({ length: n }, (_, i) => String(i).padStart(width, "0"));
    strict(obj({ a: { type: "string", enum: values(251, 59) } }));
    strict(obj({ a: { type: "string", enum: values(250, 70) } }));
    rejects(obj({ a: { type: "string", enum: values(251, 60) } }), `${P}.properties.a.enum`, /more than 250 string values may have at most 15000 characters of values in total; this one has 15060/);
  });
});

describe("both modes", () => {
  it("non-strict schemas accept any keyword and pass it on to the compiler", () => {
    const schema = {
      type: "object",
      properties: { a: { type: "string", format: "uri", default: "x" }, b: { allOf: [{ type: "string" }], not: { const: "z" } } },
      patternProperties: { "^x": { type: "integer" } },
      minProperties: 1,
    };
    const out = toGrammarSchema(schema, P, false);
    assert.deepEqual(out.patternProperties, { "^x": { type: "integer" } });
    assert.equal(out.minProperties, 1);
    const props = out.properties as Record<string, Schema>;
    assert.deepEqual(props.a, { type: "string", format: "uri", default: "x" });
    assert.deepEqual(props.b, { allOf: [{ type: "string" }], not: { const: "z" } });
  });

  it("a property or keyword named __proto__ stays an ordinary property", () => {
    const schema = JSON.parse('{"type":"object","properties":{"__proto__":{"type":"string"}},"required":["__proto__"],"additionalProperties":false}') as Schema;
    const props = strict(schema).properties as Schema;
    assert.ok(Object.hasOwn(props, "__proto__"));
    assert.equal(Object.getPrototypeOf(props), Object.prototype);
    const loose = toGrammarSchema(JSON.parse('{"type":"object","__proto__":{"type":"string"}}'), P, false);
    assert.equal(Object.getPrototypeOf(loose), Object.prototype);
    assert.equal(loose.type, "object");
  });

  it("a pattern must be a valid regular expression", () => {
    rejects(obj({ a: { type: "string", pattern: "([a-z" } }), `${P}.properties.a.pattern`, /In context=\('properties', 'a'\), 'pattern' must be a valid regular expression\./);
    rejects({ type: "object", properties: { a: { type: "string", pattern: 5 } } }, `${P}.properties.a.pattern`, /'pattern' must be a valid regular expression/, false);
  });

  it("references must be local and resolve", () => {
    rejects(obj({ a: { $ref: "#/$defs/missing" } }), `${P}.properties.a.$ref`, /reference '#\/\$defs\/missing' does not point to a schema in this document/);
    rejects({ type: "object", properties: { a: { $ref: "https://example.com/s.json" } } }, `${P}.properties.a.$ref`, /must be a local reference/, false);
    const out = toGrammarSchema({ type: "object", properties: { a: { $ref: "#/definitions/d" } }, definitions: { d: { type: "string" } } }, P, false);
    assert.deepEqual(out.$defs, { d: { type: "string" } });
    assert.deepEqual((out.properties as Record<string, Schema>).a, { $ref: "#/$defs/d" });
  });

  it("bounds that nothing can meet are refused", () => {
    rejects(obj({ a: { type: "string", minLength: 5, maxLength: 2 } }), `${P}.properties.a.minLength`, /'minLength' \(5\) is greater than 'maxLength' \(2\)/);
    rejects(obj({ a: { type: "array", items: { type: "string" }, minItems: 3, maxItems: 1 } }), `${P}.properties.a.minItems`, /'minItems' \(3\) is greater than 'maxItems' \(1\)/);
    rejects(obj({ a: { type: "number", minimum: 2, maximum: 1 } }), `${P}.properties.a.minimum`, /no number between 2 and 1/);
    rejects(obj({ a: { type: "number", exclusiveMinimum: 1, maximum: 1 } }), `${P}.properties.a.exclusiveMinimum`, /no number between 1 and 1/);
    rejects(obj({ a: { type: "integer", exclusiveMinimum: 1, exclusiveMaximum: 2 } }), `${P}.properties.a.exclusiveMinimum`, /no integer between 1 and 2/);
    rejects({ type: "object", properties: { a: { type: "integer", minimum: 1.5, maximum: 1.9 } } }, `${P}.properties.a.minimum`, /no integer/, false);
    strict(obj({ a: { type: "number", minimum: 1, maximum: 1 }, b: { type: "integer", minimum: 1.5, maximum: 2 } }));
  });

  it("keyword values of the wrong kind are refused", () => {
    rejects(obj({ a: { type: "string", minLength: -1 } }), `${P}.properties.a.minLength`, /'minLength' must be a non-negative integer/);
    rejects(obj({ a: { type: "number", multipleOf: 0 } }), `${P}.properties.a.multipleOf`, /'multipleOf' must be a number greater than 0/);
    rejects(obj({ a: { type: "number", exclusiveMinimum: true } }), `${P}.properties.a.exclusiveMinimum`, /'exclusiveMinimum' must be a number/);
    rejects(obj({ a: { type: "text" } }), `${P}.properties.a.type`, /'type' must be one of/);
    rejects({ type: "object", properties: { a: { anyOf: [] } } }, `${P}.properties.a.anyOf`, /'anyOf' must be a non-empty array/, false);
  });

  it("a union nested without end is a 400, not a stack overflow", () => {
    let deep: Schema = { type: "string" };
    for (let i = 0; i < 5000; i++) deep = { anyOf: [deep] };
    rejects({ type: "object", properties: { a: deep } }, `${P}.properties.a${".anyOf[0]".repeat(100)}`, /nested more than 100 levels deep/, false);
  });
});

describe("schemas written by other libraries' helpers", () => {
  const dir = new URL("../fixtures/schemas/", import.meta.url);
  const load = (path: string) => JSON.parse(readFileSync(new URL(path, dir), "utf8")) as Schema;

  it("LangChain's withStructuredOutput schemas pass in strict mode, as LangChain sends them", () => {
    const files = readdirSync(new URL("langchain/", dir));
    assert.ok(files.length >= 2);
    for (const file of files) strict(load(`langchain/${file}`));
  });

  it("the Vercel AI SDK's zodSchema output passes in strict mode when every property is required, and otherwise only without it", () => {
    const files = readdirSync(new URL("vercel-ai/", dir)).filter((f) => f !== "optional-fields.json");
    assert.ok(files.length >= 5);
    for (const file of files) strict(load(`vercel-ai/${file}`));
    const optional = load("vercel-ai/optional-fields.json");
    toGrammarSchema(optional, P, false);
    rejects(optional, `${P}.required`, /Missing 'optional'\.$/);
  });
});
