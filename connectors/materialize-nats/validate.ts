/**
 * Field constraints of a NATS binding.
 *
 * Key fields form the KV key (or the Flow-Key header), so they are
 * required. In the json format the value is the whole document; in the
 * fields format it is an object of the selected fields, which for standard
 * updates also holds the document, so that Loads can be answered.
 */
import type { CollectionSpec } from "../../src/gen/flow/flow_pb.js";
import { documentValueConstraints } from "../../src/sdk/document-value.js";
import { ConstraintType, type Constraint } from "../../src/sdk/types.js";
import type { ValueFormat } from "./config.js";

export function bindingConstraints(collection: CollectionSpec, format: ValueFormat, delta: boolean): Record<string, Constraint> {
  const { out, rest } = documentValueConstraints(collection.projections, {
    wholeDocument: format === "json",
    delta,
    keyReason: delta ? "Key fields form the Flow-Key header" : "Key fields form the KV key",
    keptReason: "The document is kept in the value to answer Loads",
    optionalReason: "The document may be included in each message",
    fieldsFormat: "fields",
  });
  for (const p of rest) {
    const topLevel = p.ptr.split("/").length === 2;
    out[p.field] = topLevel
      ? { type: ConstraintType.LOCATION_RECOMMENDED, reason: "Top-level fields are members of the stored object" }
      : { type: ConstraintType.FIELD_OPTIONAL, reason: "Stored as a member of the stored object" };
  }
  return out;
}
