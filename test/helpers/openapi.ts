import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

/** The shared OpenAPI document beside the checkout: `../shared/openai-openapi.json`. */
export const SPEC_PATH = fileURLToPath(new URL("../../../shared/openai-openapi.json", import.meta.url));

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Rewrites OpenAPI 3.0 `nullable: true` into JSON Schema (`anyOf` with null), everywhere. */
function convertNullable(node: Json): Json {
  if (Array.isArray(node)) return node.map(convertNullable);
  if (node === null || typeof node !== "object") return node;
  const out: { [key: string]: Json } = {};
  for (const [k, v] of Object.entries(node)) out[k] = convertNullable(v);
  if (out.nullable === true) {
    delete out.nullable;
    const { description, ...rest } = out;
    return { ...(description !== undefined ? { description } : {}), anyOf: [rest, { type: "null" }] };
  }
  delete out.nullable;
  return out;
}

let ajv: Ajv2020 | undefined;
const cache = new Map<string, ValidateFunction>();

function instance(): Ajv2020 {
  if (ajv) return ajv;
  const doc = JSON.parse(readFileSync(SPEC_PATH, "utf8")) as Json;
  const schemas = (doc as { components: { schemas: Json } }).components.schemas;
  ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  const addFormats = addFormatsModule as unknown as (a: Ajv2020) => void;
  addFormats(ajv);
  ajv.addFormat("unixtime", { type: "number", validate: (n: number) => Number.isInteger(n) && n >= 0 });
  ajv.addSchema({ $id: "openapi", components: { schemas: convertNullable(schemas) } } as object);
  return ajv;
}

/** Asserts that `value` conforms to `components.schemas[name]`; throws with every violation. */
export function assertSchema(name: string, value: unknown): void {
  let validate = cache.get(name);
  if (!validate) {
    validate = instance().compile({ $ref: `openapi#/components/schemas/${name}` });
    cache.set(name, validate);
  }
  if (!validate(value)) {
    const errors = (validate.errors ?? []).slice(0, 8).map((e) => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);
    throw new Error(`Response does not match ${name}:\n${errors.join("\n")}\n${JSON.stringify(value).slice(0, 600)}`);
  }
}
