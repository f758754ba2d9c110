import { random } from "./random.ts";

type Schema = { [key: string]: unknown };

const PATTERNS = [
  "^[a-z]{2,6}$", "^[A-Z][a-z]+$", "^\\d{3}-\\d{4}$", "^(cat|dog|bird)s?$", "^[^\\s]{1,8}$", "ab+c",
  "^\\w+@\\w+\\.com$", "^#[0-9a-fA-F]{6}$", "^(?:\\+?1-)?\\d{3}$", "^[a-z]+(?:-[a-z]+)*$", "x\\.y", "^.{3}$",
];
const FORMATS = ["date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"];
const STEPS = [0.5, 0.25, 0.01, 0.1];

/**
 * Seeded random JSON Schemas within the grammar compiler's subset (OpenAI strict style: every
 * property required unless `optional`, `additionalProperties: false`), for property-based tests.
 */
export class RandomSchemas {
  readonly #rng: () => number;
  readonly optional: boolean;

  constructor(seed: number, options: { optional?: boolean } = {}) {
    this.#rng = random(seed);
    this.optional = options.optional ?? false;
  }

  #int(lo: number, hi: number): number {
    return lo + Math.floor(this.#rng() * (hi - lo + 1));
  }
  #pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#rng() * items.length)] as T;
  }
  #chance(p: number): boolean {
    return this.#rng() < p;
  }

  /** A root object schema. */
  object(depth = 0): Schema {
    const count = this.#int(1, depth === 0 ? 5 : 3);
    const properties: Schema = {};
    for (let i = 0; i < count; i++) properties[`p${i}_${this.#pick(["a", "name", "x", "value"])}`] = this.value(depth + 1);
    const names = Object.keys(properties);
    const required = this.optional ? names.filter(() => this.#chance(0.5)) : names;
    return { type: "object", properties, required, additionalProperties: false };
  }

  value(depth: number): Schema {
    const leaf = depth >= 3;
    const kind = this.#pick(leaf ? ["string", "integer", "number", "boolean", "enum"] : ["string", "integer", "number", "boolean", "enum", "array", "object", "nullable", "const", "string", "integer", "number"]);
    switch (kind) {
      case "string": return this.string();
      case "integer": return this.integer();
      case "number": return this.number();
      case "boolean": return { type: "boolean" };
      case "enum": return { type: "string", enum: ["red", "green", "blue", "x y"].slice(0, this.#int(1, 4)) };
      case "const": return { const: this.#pick(["fixed", 42, true, null]) };
      case "nullable": return { anyOf: [this.value(depth + 1), { type: "null" }] };
      case "array": {
        const min = this.#int(0, 2);
        const schema: Schema = { type: "array", items: this.value(depth + 1), minItems: min, maxItems: min + this.#int(0, 3) };
        if (this.#chance(0.3)) schema.prefixItems = [{ type: "boolean" }];
        return schema;
      }
      default: return this.object(depth);
    }
  }

  string(): Schema {
    const r = this.#rng();
    if (r < 0.35) return { type: "string", pattern: this.#pick(PATTERNS) };
    if (r < 0.65) return { type: "string", format: this.#pick(FORMATS) };
    const min = this.#int(0, 4);
    const schema: Schema = { type: "string", minLength: min, maxLength: min + this.#int(0, 12) };
    if (this.#chance(0.3)) schema.pattern = this.#pick(["^[a-z]+$", "^\\S+$", "^[0-9a-f]*$"]);
    return schema;
  }

  integer(): Schema {
    const lo = this.#int(-1000, 1000);
    const schema: Schema = { type: "integer" };
    if (this.#chance(0.8)) schema[this.#chance(0.3) ? "exclusiveMinimum" : "minimum"] = lo;
    if (this.#chance(0.8)) schema[this.#chance(0.3) ? "exclusiveMaximum" : "maximum"] = lo + this.#int(20, 5000);
    if (this.#chance(0.3)) schema.multipleOf = this.#pick([2, 3, 5, 7, 10]);
    return schema;
  }

  number(): Schema {
    const lo = this.#int(-100, 100) / this.#pick([1, 10, 100]);
    const schema: Schema = { type: "number" };
    if (this.#chance(0.8)) schema[this.#chance(0.3) ? "exclusiveMinimum" : "minimum"] = lo;
    if (this.#chance(0.8)) schema[this.#chance(0.3) ? "exclusiveMaximum" : "maximum"] = lo + this.#int(1, 200) / this.#pick([1, 10]);
    if (this.#chance(0.3)) schema.multipleOf = this.#pick(STEPS);
    return schema;
  }
}
