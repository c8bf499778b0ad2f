/**
 * Reduces a projection's inferred JSON types to the one shape a SQL column
 * can hold ("flat type"). Every SQL dialect maps flat types to its own DDL.
 */
import { Inference_Exists, type Projection } from "../gen/flow/flow_pb.js";

export type FlatKind =
  | "integer"
  | "number"
  | "boolean"
  | "string"
  | "binary"
  | "string_integer"
  | "string_number"
  | "object"
  | "array"
  | "multiple"
  | "none";

export interface FlatType {
  kind: FlatKind;
  /** The string format (date, date-time, uuid ...) when kind is "string". */
  format: string;
  /** The value is always present and never null. */
  mustExist: boolean;
  /** Inferred numeric bounds, when known. */
  minimum?: number;
  maximum?: number;
}

const INT64_MIN = -(2 ** 63);
const INT64_MAX = 2 ** 63 - 1;

/** True when the projection is a collection key or a key of the materialization. */
export function flatType(p: Projection, isKey = false): FlatType {
  const inf = p.inference;
  const types = new Set((inf?.types ?? []).map((t) => (t === "fractional" ? "number" : t)));
  const nullable = types.has("null");
  types.delete("null");
  const mustExist = inf?.exists === Inference_Exists.MUST && !nullable;
  const format = inf?.string?.format ?? "";
  const base: FlatType = { kind: "none", format: "", mustExist };
  if (inf?.numeric?.hasMinimum) base.minimum = inf.numeric.minimum;
  if (inf?.numeric?.hasMaximum) base.maximum = inf.numeric.maximum;

  if (types.size === 0) return base;

  // "integer" subsumed by "number" is still a number column.
  if (types.has("integer") && types.has("number")) types.delete("integer");

  // Numeric strings: a string with an integer/number format, possibly also
  // carrying the matching JSON number type, is one numeric column.
  if (!isKey && types.has("string") && (format === "integer" || format === "number")) {
    const allowed = format === "integer" ? ["string", "integer"] : ["string", "integer", "number"];
    if ([...types].every((t) => allowed.includes(t))) {
      return { ...base, kind: format === "integer" ? "string_integer" : "string_number" };
    }
  }
  if (types.size > 1) return { ...base, kind: "multiple" };

  const [only] = types;
  switch (only) {
    case "integer":
      return { ...base, kind: "integer" };
    case "number":
      return { ...base, kind: "number" };
    case "boolean":
      return { ...base, kind: "boolean" };
    case "object":
      return { ...base, kind: "object" };
    case "array":
      return { ...base, kind: "array" };
    case "string": {
      const enc = inf?.string?.contentEncoding ?? "";
      const media = inf?.string?.contentType ?? "";
      if (enc === "base64" && (media === "" || media === "application/octet-stream")) {
        return { ...base, kind: "binary" };
      }
      return { ...base, kind: "string", format };
    }
    default:
      return { ...base, kind: "multiple" };
  }
}

/** True when an integer's inferred range may not fit in a signed 64-bit column. */
export function exceedsInt64(t: FlatType): boolean {
  return (t.minimum !== undefined && t.minimum < INT64_MIN) || (t.maximum !== undefined && t.maximum > INT64_MAX);
}

/** True for a projection of the whole document. */
export function isRootDocument(p: Projection): boolean {
  return p.ptr === "";
}
