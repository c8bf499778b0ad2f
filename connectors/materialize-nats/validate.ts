/**
 * Field constraints of a NATS binding.
 *
 * Key fields form the KV key (or the Flow-Key header), so they are
 * required. In the json format the value is the whole document; in the
 * fields format it is an object of the selected fields, which for standard
 * updates also holds the document, so that Loads can be answered.
 */
import type { CollectionSpec } from "../../src/gen/flow/flow_pb.js";
import { ConstraintType, type Constraint } from "../../src/sdk/types.js";
import type { ValueFormat } from "./config.js";

export function bindingConstraints(collection: CollectionSpec, format: ValueFormat, delta: boolean): Record<string, Constraint> {
  const out: Record<string, Constraint> = {};
  let seenRoot = false;
  for (const p of collection.projections) {
    if (p.isPrimaryKey) {
      out[p.field] = { type: ConstraintType.LOCATION_REQUIRED, reason: delta ? "Key fields form the Flow-Key header" : "Key fields form the KV key" };
      continue;
    }
    if (p.ptr === "") {
      if (seenRoot) {
        out[p.field] = { type: ConstraintType.FIELD_FORBIDDEN, reason: "Only one projection of the document may be materialized" };
      } else if (format === "json" || !delta) {
        out[p.field] = {
          type: ConstraintType.FIELD_REQUIRED,
          reason: format === "json" ? "The document is the stored value" : "The document is kept in the value to answer Loads",
        };
      } else {
        out[p.field] = { type: ConstraintType.FIELD_OPTIONAL, reason: "The document may be included in each message" };
      }
      seenRoot = true;
      continue;
    }
    if (format === "json") {
      out[p.field] = { type: ConstraintType.FIELD_FORBIDDEN, reason: "The json format stores the whole document; choose the fields format to store fields" };
      continue;
    }
    const topLevel = p.ptr.split("/").length === 2;
    out[p.field] = topLevel
      ? { type: ConstraintType.LOCATION_RECOMMENDED, reason: "Top-level fields are members of the stored object" }
      : { type: ConstraintType.FIELD_OPTIONAL, reason: "Stored as a member of the stored object" };
  }
  return out;
}
