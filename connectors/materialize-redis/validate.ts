/**
 * Field constraints of a Redis binding.
 *
 * Key fields form the Redis key, so they are required. The value of a key is
 * either the whole document (json format) or a hash of selected fields (hash
 * format). Standard updates must be able to answer Loads with the full
 * document, so the document is required in both formats; delta updates only
 * need it in json format, where it is the entry's payload.
 */
import type { CollectionSpec } from "../../src/gen/flow/flow_pb.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { documentValueConstraints } from "../../src/sdk/document-value.js";
import { ConstraintType, type Constraint } from "../../src/sdk/types.js";
import type { ResourceConfig } from "./config.js";

/** Field names the connector itself writes into stream entries. */
const RESERVED_ENTRY_FIELDS = new Set(["key", "op"]);

export function bindingConstraints(collection: CollectionSpec, r: ResourceConfig, delta: boolean): Record<string, Constraint> {
  const { out, rest } = documentValueConstraints(collection.projections, {
    wholeDocument: (r.format ?? "json") === "json",
    delta,
    keyReason: "Key fields form the Redis key",
    keptReason: "The document is kept in the hash to answer loads",
    optionalReason: "The document may be included in each stream entry",
    fieldsFormat: "hash",
  });
  for (const p of rest) {
    if (delta && RESERVED_ENTRY_FIELDS.has(p.field)) {
      out[p.field] = { type: ConstraintType.FIELD_FORBIDDEN, reason: `Stream entries use ${JSON.stringify(p.field)} for the document's key and action` };
      continue;
    }
    const topLevel = p.ptr.split("/").length === 2;
    const types = p.inference?.types ?? [];
    const scalar = types.length > 0 && types.every((t) => t !== "object" && t !== "array");
    out[p.field] =
      topLevel && scalar
        ? { type: ConstraintType.LOCATION_RECOMMENDED, reason: "Top-level scalar fields are stored as hash fields" }
        : { type: ConstraintType.FIELD_OPTIONAL, reason: "Stored as a hash field holding JSON text" };
  }
  return out;
}

/** Checks resource configs against each other and the binding mode. */
export function checkResources(bindings: Array<{ resourceConfig: ResourceConfig; delta: boolean }>): void {
  const seen = new Map<string, number>();
  bindings.forEach(({ resourceConfig: r, delta }, i) => {
    if (r.ttl_seconds !== undefined && delta) {
      throw new ConnectorError(`binding ${i} (prefix ${JSON.stringify(r.prefix)}): ttl_seconds applies to standard updates only, not to delta updates`);
    }
    if (r.soft_delete && delta) {
      throw new ConnectorError(`binding ${i} (prefix ${JSON.stringify(r.prefix)}): soft_delete applies to standard updates only; delta updates record deletions as entries with op "d"`);
    }
    const prior = seen.get(r.prefix);
    if (prior !== undefined) {
      throw new ConnectorError(`bindings ${prior} and ${i} both use prefix ${JSON.stringify(r.prefix)}; each binding needs its own`);
    }
    seen.set(r.prefix, i);
  });
  // Apply deletes `<prefix>:*` when a binding is backfilled, which must not
  // reach into another binding's keys.
  for (const [a, i] of seen) {
    for (const [b, j] of seen) {
      if (i !== j && b.startsWith(`${a}:`)) {
        throw new ConnectorError(`prefix ${JSON.stringify(b)} of binding ${j} lies inside prefix ${JSON.stringify(a)} of binding ${i}; bindings' prefixes must not nest`);
      }
    }
  }
}
