/**
 * Parses and validates endpoint and resource configuration against the
 * connector's own JSON schemas, and redacts secrets for logs.
 *
 * Every violation is reported in one error, each with its JSON pointer.
 * Messages never quote the offending value, so secrets cannot leak through
 * a validation error.
 */
import { Ajv, type ValidateFunction, type ErrorObject } from "ajv";
import addFormatsModule from "ajv-formats";
import { ConnectorError } from "./errors.js";
import type { JsonSchema } from "./types.js";

// ajv-formats is published as CommonJS with a default export.
const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;

const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true, coerceTypes: false });
(addFormats as unknown as (a: Ajv) => void)(ajv);

const compiled = new WeakMap<JsonSchema, ValidateFunction>();

function validatorFor(schema: JsonSchema): ValidateFunction {
  let fn = compiled.get(schema);
  if (!fn) {
    fn = ajv.compile(schema);
    compiled.set(schema, fn);
  }
  return fn;
}

function describe(e: ErrorObject): string {
  let where = e.instancePath || "/";
  if (e.keyword === "required") {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    where = `${e.instancePath}/${missing}`;
    return `${where}: is required`;
  }
  if (e.keyword === "additionalProperties") {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    return `${e.instancePath}/${extra}: is not allowed`;
  }
  return `${where}: ${e.message ?? e.keyword}`;
}

/** Decodes JSON text carried in a protocol field (string or UTF-8 bytes). */
export function jsonText(value: string | Uint8Array | undefined): string {
  if (value === undefined) return "";
  return typeof value === "string" ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("utf8");
}

/** Parses JSON text, naming `what` on failure. An empty text yields `fallback`. */
export function parseJson<T = unknown>(text: string, what: string, fallback?: T): T {
  if (text.trim() === "") {
    if (fallback !== undefined) return fallback;
    throw new ConnectorError(`${what} is missing`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    // V8 quotes a stretch of the text around the error, which may be a secret: keep only the position.
    const why = (err as Error).message.replace(/,\s*(\.\.\.)?".*"(\.\.\.)? is not valid JSON$/s, " (not valid JSON)");
    throw new ConnectorError(`${what} is not valid JSON: ${why}`);
  }
}

/**
 * Parses `text` and validates it against `schema`, applying schema defaults.
 * `what` names the document in errors, e.g. "endpoint config".
 */
export function parseConfig<T>(schema: JsonSchema, text: string | Uint8Array, what: string): T {
  const value = parseJson<unknown>(jsonText(text), what);
  const validate = validatorFor(schema);
  if (!validate(value)) {
    const problems = (validate.errors ?? []).map(describe);
    throw new ConnectorError(`invalid ${what}: ${[...new Set(problems)].join("; ")}`);
  }
  return value as T;
}

const REDACTED = "<redacted>";

function isSecret(schema: unknown): boolean {
  const s = schema as Record<string, unknown> | undefined;
  return !!s && (s.secret === true || s.airbyte_secret === true);
}

/**
 * Returns a copy of `value` with every location that `schema` marks
 * `secret: true` replaced by "<redacted>". Follows properties, items and
 * the branches of oneOf/anyOf/allOf.
 */
export function redact(schema: JsonSchema | undefined, value: unknown): unknown {
  if (!schema || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    const items = schema.items as JsonSchema | undefined;
    return value.map((v) => (isSecret(items) ? REDACTED : redact(items, v)));
  }
  const props: Record<string, JsonSchema> = {};
  const collect = (s: JsonSchema | undefined) => {
    if (!s) return;
    Object.assign(props, (s.properties as Record<string, JsonSchema>) ?? {});
    for (const k of ["oneOf", "anyOf", "allOf"]) for (const b of (s[k] as JsonSchema[]) ?? []) collect(b);
  };
  collect(schema);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = isSecret(props[k]) ? REDACTED : redact(props[k], v);
  }
  return out;
}
