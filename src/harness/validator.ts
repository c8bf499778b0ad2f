/**
 * JSON-schema validation of documents, as Flow's runtime validates captured
 * documents against the write schema and read documents against the read
 * schema. Flow annotations (reduce, secret, ...) are ignored by ajv.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { ValidateFunction } from "ajv";
import { withoutBigInts } from "./lossless-json.js";

export type DocValidator = (doc: unknown) => string | undefined;

/** Compiles `schema`; `external` maps absolute $ref URLs (e.g. flow://write-schema) to schemas. */
export function compileValidator(schema: Record<string, unknown>, what: string, external: Record<string, unknown> = {}): DocValidator {
  const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: true, allowUnionTypes: true });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  // Flow's own string formats: numbers (and special floats) carried as strings.
  ajv.addFormat("integer", /^[+-]?\d+$/);
  ajv.addFormat("number", /^([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|NaN|-?Infinity)$/);
  ajv.addFormat("macaddr", /^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/);
  ajv.addFormat("macaddr8", /^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){7}$/);
  for (const [url, s] of Object.entries(external)) {
    const body = s === true ? {} : { ...(s as Record<string, unknown>) };
    delete body.$id;
    delete body.$schema;
    ajv.addSchema(body, url);
  }
  let fn: ValidateFunction;
  try {
    const s = { ...schema };
    // Draft-07 schemas declare their dialect; validate them with the same (compatible) rules.
    if (typeof s.$schema === "string" && !s.$schema.includes("2020-12")) delete s.$schema;
    fn = ajv.compile(s);
  } catch (err) {
    throw new Error(`${what}: cannot compile schema: ${(err as Error).message}`);
  }
  return (doc) => {
    if (fn(doc)) return undefined;
    // ajv knows no BigInt: judge integers beyond 2^53 by a copy holding them as numbers.
    if (hasBigInt(doc) && fn(withoutBigInts(doc))) return undefined;
    const e = fn.errors?.[0];
    return e ? `${e.instancePath || "(root)"} ${e.message ?? "is invalid"}` : "is invalid";
  };
}

function hasBigInt(v: unknown): boolean {
  if (typeof v === "bigint") return true;
  if (v !== null && typeof v === "object") return Object.values(v).some(hasBigInt);
  return false;
}
