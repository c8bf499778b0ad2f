/**
 * Field constraints of a store whose value is either the whole document (a
 * "json" format) or an object of selected fields: key fields are required
 * (they form the store's key); one projection of the document root is
 * required when it is the value or when standard updates keep it to answer
 * Loads, else optional, and any further root projection is forbidden; with
 * the whole document as the value, every other field is forbidden.
 */
import type { Projection } from "../gen/flow/flow_pb.js";
import { ConstraintType, type Constraint } from "./types.js";

export interface DocumentValueRules {
  /** The value is the whole document (the json format). */
  wholeDocument: boolean;
  delta: boolean;
  /** Why key fields are required. */
  keyReason: string;
  /** Why the fields format keeps the document under standard updates. */
  keptReason: string;
  /** Why the fields format may include the document under delta updates. */
  optionalReason: string;
  /** The name of the connector's fields format, suggested for storing fields. */
  fieldsFormat: string;
}

/**
 * Constraints for the key, root and (json format) other projections; the
 * returned `rest` are the fields-format value fields, for the connector's
 * own rule.
 */
export function documentValueConstraints(projections: Projection[], rules: DocumentValueRules): { out: Record<string, Constraint>; rest: Projection[] } {
  const out: Record<string, Constraint> = {};
  const rest: Projection[] = [];
  let seenRoot = false;
  for (const p of projections) {
    if (p.isPrimaryKey) {
      out[p.field] = { type: ConstraintType.LOCATION_REQUIRED, reason: rules.keyReason };
    } else if (p.ptr === "") {
      if (seenRoot) {
        out[p.field] = { type: ConstraintType.FIELD_FORBIDDEN, reason: "Only one projection of the document may be materialized" };
      } else if (rules.wholeDocument || !rules.delta) {
        out[p.field] = { type: ConstraintType.FIELD_REQUIRED, reason: rules.wholeDocument ? "The document is the stored value" : rules.keptReason };
      } else {
        out[p.field] = { type: ConstraintType.FIELD_OPTIONAL, reason: rules.optionalReason };
      }
      seenRoot = true;
    } else if (rules.wholeDocument) {
      out[p.field] = { type: ConstraintType.FIELD_FORBIDDEN, reason: `The json format stores the whole document; choose the ${rules.fieldsFormat} format to store fields` };
    } else {
      rest.push(p);
    }
  }
  return { out, rest };
}
