/**
 * flow.Inference for a location of a collection schema, following what
 * Flow's control plane records: types, exists, title/description/default,
 * string/numeric/array details, enum and reduce annotations.
 */
import { create } from "@bufbuild/protobuf";
import {
  InferenceSchema,
  Inference_ArraySchema,
  Inference_Exists,
  Inference_NumericSchema,
  Inference_Reduce,
  Inference_StringSchema,
  type Inference,
} from "../gen/flow/flow_pb.js";
import type { Exists, Shape, TypeName } from "./schema-shape.js";

const enc = new TextEncoder();

/** Type names in Flow's order and spelling: "number" subsumes "integer". */
export function typeNames(types: Set<TypeName>): string[] {
  const out: string[] = [];
  for (const t of ["array", "boolean", "integer", "null", "number", "object", "string"] as const) {
    if (!types.has(t)) continue;
    if (t === "integer" && types.has("number")) continue;
    out.push(t);
  }
  return out;
}

const REDUCE: Record<string, Inference_Reduce> = {
  append: Inference_Reduce.APPEND,
  firstWriteWins: Inference_Reduce.FIRST_WRITE_WINS,
  lastWriteWins: Inference_Reduce.LAST_WRITE_WINS,
  maximize: Inference_Reduce.MAXIMIZE,
  merge: Inference_Reduce.MERGE,
  minimize: Inference_Reduce.MINIMIZE,
  set: Inference_Reduce.SET,
  sum: Inference_Reduce.SUM,
  jsonSchemaMerge: Inference_Reduce.JSON_SCHEMA_MERGE,
};

const EXISTS: Record<Exists, Inference_Exists> = {
  MUST: Inference_Exists.MUST,
  MAY: Inference_Exists.MAY,
  IMPLICIT: Inference_Exists.IMPLICIT,
  CANNOT: Inference_Exists.CANNOT,
};

export function inferenceOf(shape: Shape, exists: Exists): Inference {
  const t = shape.types;
  return create(InferenceSchema, {
    types: typeNames(t),
    exists: EXISTS[exists],
    title: shape.title ?? "",
    description: shape.description ?? "",
    defaultJson: shape.hasDefault ? enc.encode(JSON.stringify(shape.default)) : new Uint8Array(),
    secret: shape.secret,
    string: t.has("string")
      ? create(Inference_StringSchema, {
          contentType: shape.contentMediaType ?? "",
          format: shape.format ?? "",
          contentEncoding: shape.contentEncoding ?? "",
          maxLength: shape.maxLength ?? 0,
        })
      : undefined,
    numeric:
      t.has("integer") || t.has("number")
        ? create(Inference_NumericSchema, {
            hasMinimum: shape.minimum !== undefined,
            minimum: shape.minimum ?? 0,
            hasMaximum: shape.maximum !== undefined,
            maximum: shape.maximum ?? 0,
          })
        : undefined,
    array: t.has("array")
      ? create(Inference_ArraySchema, {
          minItems: shape.minItems,
          hasMaxItems: shape.maxItems !== undefined,
          maxItems: shape.maxItems ?? 0,
          itemTypes: typeNames(new Set([...shape.tuple.flatMap((s) => [...s.types]), ...(shape.items ? shape.items.types : [])])),
        })
      : undefined,
    enumJsonVec: (shape.enum ?? []).map((v) => enc.encode(JSON.stringify(v))),
    reduce: shape.reduce ? (REDUCE[shape.reduce] ?? Inference_Reduce.UNSET) : Inference_Reduce.UNSET,
    contentMediaType: shape.contentMediaType ?? "",
  });
}

/** The special inference of the document publication time (from the UUID). */
export function publishedAtInference(): Inference {
  return create(InferenceSchema, {
    types: ["string"],
    string: create(Inference_StringSchema, { format: "date-time", contentEncoding: "uuid" }),
    title: "Flow Publication Time",
    description: "Flow publication date-time of this document",
    exists: Inference_Exists.MUST,
  });
}

export function truncationInference(): Inference {
  return create(InferenceSchema, {
    types: ["boolean"],
    title: "Flow truncation indicator",
    description: "Whether any materialized value of this row was truncated to fit the destination.",
    exists: Inference_Exists.MUST,
  });
}
