import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

/** An ajv validator (draft 2020-12, formats in ajv-formats' full mode) for one schema. */
export function schemaValidator(schema: object): (value: unknown) => boolean {
  // multipleOf on decimals: values are exact decimals, so compare with a tolerance instead of floating-point division.
  const ajv = new Ajv2020({ strict: false, allErrors: true, multipleOfPrecision: 9, logger: false });
  (addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);
  const validate = ajv.compile(schema);
  return (value) => validate(value) === true;
}
