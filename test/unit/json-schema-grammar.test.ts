import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compileJsonSchemaGrammar, compileToolCallGrammar, SchemaGrammarError } from "../../src/providers/local/grammar/json-schema-grammar.ts";
import { acceptsJson, GbnfMatcher, sampleGrammar } from "../helpers/gbnf-matcher.ts";
import { random } from "../helpers/random.ts";
import { RandomSchemas } from "../helpers/random-schema.ts";
import { schemaValidator } from "../helpers/schema-validator.ts";

type Schema = { [key: string]: unknown };

/**
 * Checks a schema's grammar by its language: every `yes` text is accepted (and ajv agrees it
 * conforms), every `no` text is rejected, and random texts of the grammar all conform.
 */
function check(schema: Schema, yes: readonly string[], no: readonly string[], samples = 30): void {
  const grammar = compileJsonSchemaGrammar(schema);
  const matcher = new GbnfMatcher(grammar);
  const valid = schemaValidator(schema);
  for (const text of yes) {
    assert.ok(valid(JSON.parse(text)), `test bug: ${text} does not conform to ${JSON.stringify(schema)}`);
    assert.ok(acceptsJson(matcher, text), `grammar rejects ${text} for ${JSON.stringify(schema)}`);
  }
  for (const text of no) assert.ok(!acceptsJson(matcher, text), `grammar accepts ${text} for ${JSON.stringify(schema)}`);
  const rng = random(7);
  for (let i = 0; i < samples; i++) {
    const text = sampleGrammar(grammar, rng);
    assert.ok(text.endsWith("\n\n\n\n"), "every value ends with the four newlines the generator stops on");
    const value = text.slice(0, text.indexOf("\n\n\n\n"));
    assert.ok(valid(JSON.parse(value)), `grammar produced ${value}, which does not conform to ${JSON.stringify(schema)}`);
  }
}

function rejects(schema: Schema, path: string, message: RegExp): void {
  assert.throws(() => compileJsonSchemaGrammar(schema), (e: unknown) => {
    assert.ok(e instanceof SchemaGrammarError, `expected a SchemaGrammarError, got ${String(e)}`);
    assert.equal(e.path, path);
    assert.match(e.message, message);
    return true;
  });
}

const str = (extra: Schema): Schema => ({ type: "string", ...extra });

describe("JSON Schema grammar: types and structure", () => {
  it("ends the root with four newlines, as the generator expects", () => {
    assert.match(compileJsonSchemaGrammar({ type: "boolean" }), /^root ::= .* "\\n\\n\\n\\n" \[\\n\]\*$/m);
  });
  it("null, boolean, plain integer and number (no exponent, bounded digits)", () => {
    check({ type: "null" }, ["null"], ["0", '"null"']);
    check({ type: "boolean" }, ["true", "false"], ["1", "null"]);
    check({ type: "integer" }, ["0", "-7", "123456789012345"], ["1.5", "1e3", "01", "1234567890123456", "-"]);
    check({ type: "number" }, ["0", "-7.25", "3.141592"], ["1e3", ".5", "1.", "3.1415926"]);
  });
  it("type lists, nullable and enum (filtered by type)", () => {
    check({ type: ["string", "null"] }, ['"a"', "null"], ["1"]);
    check({ enum: ["a", 1, null, { k: [1] }] }, ['"a"', "1", "null", '{"k":[1]}'], ['"b"', "2"]);
    check({ type: "string", enum: ["a", 1] }, ['"a"'], ["1"]);
  });
  it("const", () => {
    check({ const: { a: [1, "x"] } }, ['{"a":[1,"x"]}'], ['{"a":[1]}']);
  });
  it("objects: schema order, required, optional members omissible, no extras", () => {
    const schema = { type: "object", properties: { a: { type: "integer" }, b: { type: "boolean" }, c: { type: "null" } }, required: ["b"], additionalProperties: false };
    check(schema, ['{"b":true}', '{"a":1,"b":false}', '{"b":true,"c":null}', '{"a":1,"b":true,"c":null}'], ["{}", '{"b":true,"a":1}', '{"b":true,"d":1}', '{"a":1}', '{,"b":true}']);
  });
  it("objects with no required properties may be empty", () => {
    check({ type: "object", properties: { a: { type: "integer" }, b: { type: "integer" } }, additionalProperties: false }, ["{}", '{"a":1}', '{"b":2}', '{"a":1,"b":2}'], ['{"b":2,"a":1}', "{,}"]);
  });
  it("additionalProperties true or a schema: extra members after the declared ones, never a declared name", () => {
    const schema = { type: "object", properties: { id: { type: "integer" } }, required: ["id"], additionalProperties: { type: "boolean" } };
    check(schema, ['{"id":1}', '{"id":1,"x":true}', '{"id":1,"i":false,"idx":true}'], ['{"id":1,"id":true}', '{"id":1,"x":1}']);
    check({ type: "object" }, ["{}", '{"k":[1,{"z":null}]}'], []);
    check({ type: "object", additionalProperties: true }, ['{"a":"b"}'], []);
  });
  it("arrays: items, minItems, maxItems, prefixItems, items false", () => {
    check({ type: "array", items: { type: "integer" }, minItems: 1, maxItems: 3 }, ["[1]", "[1,2,3]"], ["[]", "[1,2,3,4]", '["a"]']);
    check({ type: "array", prefixItems: [{ type: "boolean" }, { type: "null" }], items: { type: "integer" }, minItems: 1 }, ["[true]", "[true,null]", "[false,null,3,4]"], ["[]", "[1]", "[true,1]"]);
    check({ type: "array", prefixItems: [{ type: "boolean" }], items: false }, ["[]", "[true]"], ["[true,false]"]);
    check({ type: "array" }, ["[]", '[1,"a",[null]]'], []);
  });
  it("anyOf and oneOf, nested, with sibling keywords applied to each branch", () => {
    check({ anyOf: [{ type: "integer", minimum: 5 }, { type: "string", maxLength: 1 }] }, ["5", '"a"'], ["4", '"ab"']);
    check({ oneOf: [{ type: "null" }, { type: "object", properties: { v: { anyOf: [{ type: "boolean" }, { type: "null" }] } }, required: ["v"], additionalProperties: false }] }, ["null", '{"v":true}', '{"v":null}'], ['{"v":1}']);
    check({ type: "object", anyOf: [{ properties: { a: { type: "integer" } }, required: ["a"], additionalProperties: false }] }, ['{"a":1}'], ['"x"']);
  });
  it("$ref to $defs and definitions, and recursion through '#'", () => {
    const tree = { type: "object", properties: { v: { type: "integer" }, kids: { type: "array", items: { $ref: "#" }, maxItems: 2 } }, required: ["v", "kids"], additionalProperties: false };
    check(tree, ['{"v":1,"kids":[]}', '{"v":1,"kids":[{"v":2,"kids":[{"v":3,"kids":[]}]}]}'], ['{"v":1,"kids":[{"v":2}]}']);
    const list = { $defs: { node: { type: "object", properties: { next: { anyOf: [{ $ref: "#/$defs/node" }, { type: "null" }] } }, required: ["next"], additionalProperties: false } }, $ref: "#/$defs/node" };
    check(list, ['{"next":null}', '{"next":{"next":null}}'], ['{"next":{}}']);
    check({ definitions: { n: { type: "integer", maximum: 3 } }, type: "array", items: { $ref: "#/definitions/n" } }, ["[1,3]"], ["[4]"]);
  });
  it("free JSON for {} and true", () => {
    check({}, ['{"a":[1,2.5,"x",true,null]}', '"s"', "3"], ["{a:1}", "[1,]"]);
  });
  it("writes no whitespace and no raw newline, so the four-newline end cannot occur inside a value", () => {
    check({ type: "object", properties: { s: { type: "string" } }, required: ["s"], additionalProperties: false }, ['{"s":"a\\nb"}'], ['{ "s":"a"}', '{"s": "a"}', '{"s":"a\nb"}']);
  });
});

describe("JSON Schema grammar: rejections name the keyword", () => {
  it("unsupported regex features, unknown refs, impossible constraints", () => {
    rejects({ type: "object", properties: { a: str({ pattern: "(a)\\1" }) } }, "properties.a.pattern", /backreference/);
    rejects(str({ pattern: "(?=a)a" }), "pattern", /lookahead/);
    rejects(str({ pattern: "(?<=a)b" }), "pattern", /lookbehind/);
    rejects(str({ pattern: "(?<n>a)" }), "pattern", /named group/);
    rejects(str({ pattern: "\\bword" }), "pattern", /word boundary/);
    rejects(str({ pattern: "a+?" }), "pattern", /lazy/);
    rejects(str({ pattern: "a^b" }), "pattern", /anchor/);
    rejects(str({ pattern: "\\p{L}" }), "pattern", /property/);
    rejects(str({ minLength: 3, maxLength: 2 }), "minLength", /greater/);
    rejects(str({ pattern: "^a{5}$", maxLength: 3 }), "pattern", /no string/);
    rejects({ type: "integer", minimum: 5, maximum: 4 }, "", /no number/);
    rejects({ type: "integer", minimum: 1, maximum: 4, multipleOf: 5 }, "", /no number/);
    rejects({ $ref: "#/$defs/missing" }, "$ref", /points to nothing/);
    rejects({ $ref: "http://example.com/s.json" }, "$ref", /local references/);
    rejects({ type: "array", items: false, minItems: 1 }, "minItems", /no array/);
    rejects({ type: "object", properties: {}, required: ["x"] }, "required", /not among/);
  });
});

describe("JSON Schema grammar: compile work is bounded", () => {
  it("patterns whose automata explode are refused within seconds, naming the pattern, instead of stalling the server", () => {
    const cjk = Array.from({ length: 3000 }, (_, i) => String.fromCodePoint(0x4e00 + i));
    const bombs: Schema[] = [
      str({ pattern: "^(a{1,50}){1,50}$", maxLength: 100 }),
      str({ pattern: "^(a{1,70}){1,70}$", maxLength: 100 }),
      str({ pattern: `^(${cjk.join("|")})*$`, maxLength: 3 }),
    ];
    for (const bomb of bombs) {
      const started = performance.now();
      // Three such properties share one budget: the whole grammar is refused, not each in turn.
      const schema: Schema = { type: "object", properties: { a: bomb, b: bomb, c: bomb }, required: ["a", "b", "c"], additionalProperties: false };
      assert.throws(() => compileJsonSchemaGrammar(schema), (e: unknown) => e instanceof SchemaGrammarError && /properties\.a\.pattern$/.test(e.path) && /too complex/.test(e.message));
      const ms = performance.now() - started;
      // About 0.3 s alone on this machine; the bound leaves room for a loaded CI machine (one took 1.3 s).
      assert.ok(ms < 3000, `took ${ms.toFixed(0)} ms`);
    }
  });

  it("a character class of thousands of characters, and email with a long length range, still compile", () => {
    const cjk = Array.from({ length: 3000 }, (_, i) => String.fromCodePoint(0x4e00 + i)).join("");
    check(str({ pattern: `^[${cjk}]*$`, maxLength: 3 }), ['"一丁"', '""'], ['"abc"', '"一丁丂七"'], 5);
    check(str({ format: "email", minLength: 60, maxLength: 200 }), [`"${"a".repeat(30)}.${"b".repeat(30)}@example.com"`], ['"a@example.com"'], 5);
  });
});

describe("JSON Schema grammar: strings", () => {
  it("minLength and maxLength count characters, escapes and non-ASCII included", () => {
    check(str({ minLength: 2, maxLength: 3 }), ['"ab"', '"a\\"c"', '"éé"', '"\\n\\t"'], ['"a"', '"abcd"', '""']);
    check(str({ minLength: 1 }), ['"a"', '"abcdefgh"'], ['""']);
    check(str({ maxLength: 0 }), ['""'], ['"a"']);
  });
  it("pattern: literals, classes, negation, ranges, escapes, groups, alternation, quantifiers, anchors", () => {
    check(str({ pattern: "^[a-c]x\\d{2,3}$" }), ['"ax12"', '"cx123"'], ['"dx12"', '"ax1"', '"ax1234"']);
    check(str({ pattern: "^[^a-z\\s]+$" }), ['"AB1"', '"\\""'], ['"a"', '"A B"', '""']);
    check(str({ pattern: "^(?:cat|dog)s?$" }), ['"cat"', '"dogs"'], ['"cats!"', '"bird"']);
    check(str({ pattern: "^\\w\\W\\S\\D$" }), ['"a-xy"'], ['"a-x1"', '"ab x"']);
    check(str({ pattern: "^a\\.b\\*\\(c\\)\\\\$" }), ['"a.b*(c)\\\\"'], ['"axb*(c)\\\\"']);
    check(str({ pattern: "^x{3}y{2,}z?$" }), ['"xxxyy"', '"xxxyyyz"'], ['"xxyy"', '"xxxy"']);
    check(str({ pattern: "^\\x41\\u0042\\t$" }), ['"AB\\t"'], ['"AB "']);
    check(str({ pattern: "^(a|)+$" }), ['"a"', '"aaa"', '""'], ['"b"']);
  });
  it("an unanchored pattern matches anywhere in the string", () => {
    check(str({ pattern: "ab+c" }), ['"abc"', '"xxabbbcyy"'], ['"ac"', '"xyz"']);
    check(str({ pattern: "^ab" }), ['"ab"', '"abzz"'], ['"zab"']);
    check(str({ pattern: "ab$" }), ['"zzab"'], ['"abz"']);
  });
  it("pattern combined with length limits is exact", () => {
    check(str({ pattern: "^[a-z]+$", minLength: 2, maxLength: 4 }), ['"ab"', '"abcd"'], ['"a"', '"abcde"', '"AB"']);
    check(str({ pattern: "ab", maxLength: 3 }), ['"ab"', '"xab"', '"abx"'], ['"xabx"', '"a"']);
  });
  it("formats: every supported one, always valid for ajv-formats", () => {
    check(str({ format: "date" }), ['"2024-02-28"', '"1999-12-31"'], ['"2024-02-30"', '"2024-13-01"', '"24-01-01"']);
    check(str({ format: "time" }), ['"23:59:59Z"', '"08:30:00.5+02:00"'], ['"24:00:00Z"', '"08:30:00"']);
    check(str({ format: "date-time" }), ['"2024-01-31T12:00:00Z"'], ['"2024-01-31 12:00:00Z"', '"2024-04-31T12:00:00Z"']);
    check(str({ format: "duration" }), ['"P1D"', '"PT5M"', '"P1Y2M3DT4H"', '"P2W"'], ['"P"', '"PT"', '"1D"']);
    check(str({ format: "email" }), ['"a.b@example.com"', '"x_1@mail.co"'], ['"a@b"', '"@x.com"', '"a..b@x.com"']);
    check(str({ format: "hostname" }), ['"example.com"', '"a-b.c"'], ['"-a.com"', '"a_b.com"']);
    check(str({ format: "ipv4" }), ['"192.168.0.1"', '"0.0.0.0"'], ['"256.1.1.1"', '"1.2.3"']);
    check(str({ format: "ipv6" }), ['"2001:db8:0:0:0:0:2:1"'], ['"2001:db8::1:2:3:4:5:6:7"', '"1.2.3.4"']);
    check(str({ format: "uuid" }), ['"123e4567-e89b-42d3-a456-426614174000"'], ['"123e4567-e89b-02d3-a456-426614174000"', '"123e4567e89b42d3a456426614174000"']);
  });
  it("format combined with pattern and length (zod's uuid and date-time patterns)", () => {
    const uuid = "^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$";
    check(str({ format: "uuid", pattern: uuid }), ['"123e4567-e89b-42d3-a456-426614174000"'], ['"00000000-0000-0000-0000-000000000000"']);
    check(str({ format: "date-time", pattern: "Z$" }), ['"2024-01-31T12:00:00Z"'], ['"2024-01-31T12:00:00+01:00"']);
    check(str({ format: "email", maxLength: 8 }), ['"a@bc.de"'], ['"abcd@bc.de"']);
    check(str({ format: "ipv4", minLength: 15 }), ['"192.168.100.200"'], ['"1.2.3.4"']);
  });
  it("an unknown format is not enforced", () => {
    check(str({ format: "color" }), ['"anything"'], []);
  });
});

describe("JSON Schema grammar: numbers", () => {
  it("integer ranges, inclusive and exclusive, negative and across zero", () => {
    check({ type: "integer", minimum: 1, maximum: 12 }, ["1", "9", "10", "12"], ["0", "13", "-1", "01"]);
    check({ type: "integer", minimum: -90, maximum: -3 }, ["-90", "-10", "-3"], ["-2", "-91", "0", "3"]);
    check({ type: "integer", exclusiveMinimum: -5, exclusiveMaximum: 105 }, ["-4", "0", "104"], ["-5", "105", "-0"]);
    check({ type: "integer", minimum: 1000 }, ["1000", "99999"], ["999", "-1"]);
    check({ type: "integer", maximum: -1000 }, ["-1000", "-123456"], ["-999", "0"]);
    check({ type: "integer", minimum: 2.5, maximum: 4.5 }, ["3", "4"], ["2", "5"]);
  });
  it("number ranges with decimals are exact: [0, 1], [-90, 90], exclusive decimal bounds", () => {
    check({ type: "number", minimum: 0, maximum: 1 }, ["0", "1", "0.5", "0.999999", "1.0"], ["1.01", "-0.1", "2", "1.000001"]);
    check({ type: "number", minimum: -90, maximum: 90 }, ["-90", "-89.5", "90", "0.25"], ["-90.5", "90.000001", "91"]);
    check({ type: "number", exclusiveMinimum: 0.1, exclusiveMaximum: 0.3 }, ["0.2", "0.100001", "0.29"], ["0.1", "0.3", "0.05"]);
    check({ type: "number", minimum: -1.5, exclusiveMaximum: -0.25 }, ["-1.5", "-1", "-0.26"], ["-0.25", "-1.51", "0"]);
  });
  it("multipleOf: integers, negative ranges, decimals (0.01 means at most two decimals)", () => {
    check({ type: "integer", minimum: -20, maximum: 20, multipleOf: 7 }, ["-14", "0", "7", "14"], ["-20", "8", "21"]);
    check({ type: "integer", multipleOf: 3 }, ["0", "3", "-999", "123456"], ["1", "-4", "100"]);
    check({ type: "number", minimum: 0, maximum: 10, multipleOf: 0.01 }, ["0", "9.99", "0.5", "10"], ["0.001", "10.01"]);
    check({ type: "number", minimum: 0, maximum: 2, multipleOf: 0.25 }, ["0", "0.25", "1.5", "1.75", "2"], ["0.3", "2.25"]);
    check({ type: "integer", minimum: 0, maximum: 100, multipleOf: 0.5 }, ["0", "37"], ["1.5"]);
    check({ type: "integer", minimum: 1, maximum: 1e12, multipleOf: 7919 }, ["7919", "15838"], ["7918"]);
  });
  it("a huge multipleOf falls back to a list of allowed values that still conform", () => {
    check({ type: "integer", minimum: 1, multipleOf: 999_983 }, ["999983"], ["1"]);
  });
});

describe("tool call grammar", () => {
  it("wraps each tool's arguments in the envelope the parser reads, refs resolved per tool", () => {
    const grammar = compileToolCallGrammar([
      { name: "a", parameters: { type: "object", properties: { n: { type: "integer", maximum: 3 } }, required: ["n"], additionalProperties: false } },
      { name: "b", parameters: { $defs: { x: { type: "boolean" } }, type: "object", properties: { x: { $ref: "#/$defs/x" } }, required: ["x"], additionalProperties: false } },
    ]);
    const m = new GbnfMatcher(grammar);
    assert.ok(acceptsJson(m, '{"name":"a","arguments":{"n":3}}'));
    assert.ok(acceptsJson(m, '{"name":"b","arguments":{"x":true}}'));
    assert.ok(!acceptsJson(m, '{"name":"a","arguments":{"n":4}}'));
    assert.ok(!acceptsJson(m, '{"name":"b","arguments":{"n":1}}'));
  });
  it("names the tool in errors", () => {
    assert.throws(
      () => compileToolCallGrammar([{ name: "a", parameters: { type: "object" } }, { name: "b", parameters: { type: "object", properties: { s: str({ pattern: "(?!x)" }) } } }]),
      (e: unknown) => e instanceof SchemaGrammarError && e.path === "[1].properties.s.pattern",
    );
  });
});

describe("JSON Schema grammar: random schemas", () => {
  it("300 seeded random schemas: every text sampled from the grammar conforms (ajv)", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const schema = new RandomSchemas(seed, { optional: seed % 2 === 0 }).object();
      const grammar = compileJsonSchemaGrammar(schema);
      const valid = schemaValidator(schema);
      const rng = random(seed);
      for (let i = 0; i < 5; i++) {
        const text = sampleGrammar(grammar, rng);
        const value = text.slice(0, text.indexOf("\n\n\n\n"));
        assert.ok(valid(JSON.parse(value)), `seed ${seed}: ${value} does not conform to ${JSON.stringify(schema)}`);
      }
    }
  });
});
