/**
 * How each Store becomes one write record `(op, key, payload)`: the unit the
 * connector stages, and the unit the server-side apply script executes.
 *
 *   op "S[ttl]"  SET key payload (the document JSON), with EX ttl if given
 *   op "H[ttl]"  replace the hash at key with payload's fields (a JSON array
 *                of alternating field names and string values)
 *   op "D"       DEL key
 *   op "X"       XADD to the stream at key; payload as for "H"
 *
 * A SET's payload is the document's bytes as received when the SDK has them
 * (docBytes), so the document is never made a string on its way to Redis.
 */
import type { MaterializeBinding, StoreRequest } from "../../src/sdk/types.js";
import type { ResourceConfig, ValueFormat } from "./config.js";
import { arrayElements, elementText } from "../../src/codec/json-elements.js";
import { metaOp } from "../../src/sdk/meta-op.js";
import { redisKey } from "./keys.js";
import { rangeEntry } from "../../src/sdk/staged.js";
import type { RangeSpec } from "../../src/gen/flow/flow_pb.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { docBytes } from "../../src/sdk/materialize.js";
import type { Payload } from "./chunk.js";

export interface BindingPlan {
  prefix: string;
  delta: boolean;
  format: ValueFormat;
  ttl?: number;
  softDelete: boolean;
  /** Selected value fields, in the order of a Store's values. */
  values: string[];
  /** The selected document field, or "". */
  document: string;
  /** Delta updates: the stream receiving this binding's entries. */
  stream: string;
}

export interface WriteRecord {
  op: string;
  key: string;
  payload: Payload;
}

const FULL_RANGE = "00000000-ffffffff";

/**
 * A binding's plan. A delta binding's stream is named by its prefix when the
 * session covers the whole key range; a shard owning part of the range
 * writes to `<prefix>:<range>` so that shards never interleave entry ids.
 */
export function planBinding(b: MaterializeBinding<ResourceConfig>, range: Pick<RangeSpec, "keyBegin" | "keyEnd">): BindingPlan {
  const r = b.resourceConfig;
  const entry = rangeEntry(range);
  if (!b.deltaUpdates && !b.document) {
    throw new ConnectorError(`binding with prefix ${JSON.stringify(r.prefix)} selects no document field, which standard updates need to answer Loads`);
  }
  return {
    prefix: r.prefix,
    delta: b.deltaUpdates,
    format: r.format ?? "json",
    ttl: r.ttl_seconds,
    softDelete: r.soft_delete ?? false,
    values: b.values,
    document: b.document,
    stream: entry === FULL_RANGE ? r.prefix : `${r.prefix}:${entry}`,
  };
}

/** Alternating field names and string values of a Store's selected fields. */
function fieldPairs(plan: BindingPlan, s: StoreRequest, out: string[]): string[] {
  if (plan.values.length) {
    const els = arrayElements(s.valuesJson, "store values");
    for (let i = 0; i < plan.values.length; i++) {
      const el = els[i];
      if (el === undefined || el === "null") continue; // a hash cannot hold null: leave the field out
      out.push(plan.values[i]!, elementText(el));
    }
  }
  if (plan.document && s.docJson) out.push(plan.document, s.docJson);
  return out;
}

/**
 * The entry's action: a deletion, else the operation the document's
 * `_meta/op` names (captures set c, u or d), else whether the key existed.
 */
function action(s: StoreRequest): string {
  if (s.delete) return "d";
  const op = metaOp(s.docJson);
  if (op) return op;
  return s.exists ? "u" : "c";
}

export function recordOf(plan: BindingPlan, s: StoreRequest): WriteRecord {
  const ttl = plan.ttl ? String(plan.ttl) : "";
  if (plan.delta) {
    const fields = ["key", s.keyJson, "op", action(s)];
    if (plan.format === "json") {
      if (s.docJson) fields.push("doc", s.docJson);
    } else {
      fieldPairs(plan, s, fields);
    }
    return { op: "X", key: plan.stream, payload: JSON.stringify(fields) };
  }
  const key = redisKey(plan.prefix, s.keyJson);
  if (s.delete && !plan.softDelete) return { op: "D", key, payload: "" };
  if (plan.format === "json") return { op: "S" + ttl, key, payload: docBytes(s) ?? s.docJson };
  return { op: "H" + ttl, key, payload: JSON.stringify(fieldPairs(plan, s, [])) };
}

/** load.ts reads tombstones through this module. */
export { isTombstone } from "../../src/sdk/meta-op.js";
