/**
 * Chooses a materialization binding's fields from the connector's Validated
 * constraints and the binding's `fields` stanza, the way Flow's control plane
 * does. The rules are written down in SPECS.md ("Field selection").
 */
import { create } from "@bufbuild/protobuf";
import { FieldSelectionSchema, type CollectionSpec, type FieldSelection, type Projection } from "../gen/flow/flow_pb.js";
import { Response_Validated_Constraint_Type as CT, type Response_Validated_Constraint } from "../gen/materialize/materialize_pb.js";
import { HarnessError } from "./errors.js";

export interface FieldsDef {
  /** Select the connector's LOCATION_RECOMMENDED fields (default true). */
  recommended?: boolean;
  /** Fields to select in addition, optionally with a per-field config. Flow calls this `require`. */
  include?: Record<string, unknown> | string[];
  require?: Record<string, unknown> | string[];
  exclude?: string[];
  /** Fields forming the destination key, instead of the collection key. */
  groupBy?: string[];
}

const CONSTRAINT_NAME: Record<number, string> = {
  [CT.INVALID]: "INVALID",
  [CT.FIELD_REQUIRED]: "FIELD_REQUIRED",
  [CT.LOCATION_REQUIRED]: "LOCATION_REQUIRED",
  [CT.LOCATION_RECOMMENDED]: "LOCATION_RECOMMENDED",
  [CT.FIELD_OPTIONAL]: "FIELD_OPTIONAL",
  [CT.FIELD_FORBIDDEN]: "FIELD_FORBIDDEN",
  [CT.INCOMPATIBLE]: "INCOMPATIBLE",
  [CT.UNSATISFIABLE]: "UNSATISFIABLE",
};

function asMap(v: Record<string, unknown> | string[] | undefined): Map<string, unknown> {
  const m = new Map<string, unknown>();
  if (Array.isArray(v)) for (const f of v) m.set(f, {});
  else if (v) for (const [f, c] of Object.entries(v)) m.set(f, c ?? {});
  return m;
}

function canonicalKeyFields(collection: CollectionSpec): string[] {
  return collection.key.map((ptr) => {
    const p = collection.projections.find((x) => x.ptr === ptr && x.field === ptr.slice(1)) ?? collection.projections.find((x) => x.ptr === ptr);
    if (!p) throw new HarnessError(`collection ${collection.name}: no projection of key ${ptr}`);
    return p.field;
  });
}

/**
 * Returns the FieldSelection of one binding. `at` names the binding in errors.
 */
export function selectFields(
  at: string,
  collection: CollectionSpec,
  constraints: Record<string, Response_Validated_Constraint>,
  fields: FieldsDef = {},
  /** The binding's selection in the last applied spec, when its backfill counter is unchanged. */
  live?: FieldSelection,
): FieldSelection {
  const byField = new Map<string, Projection>(collection.projections.map((p) => [p.field, p]));
  const include = asMap(fields.include ?? fields.require);
  const exclude = new Set(fields.exclude ?? []);
  const recommended = fields.recommended !== false;
  const describe = (f: string) => {
    const c = constraints[f];
    return c ? `${CONSTRAINT_NAME[c.type] ?? c.type}${c.reason ? ` (${c.reason})` : ""}` : "no constraint (implicitly forbidden)";
  };
  const usable = (f: string) => {
    const c = constraints[f];
    return !!c && c.type !== CT.FIELD_FORBIDDEN && c.type !== CT.INCOMPATIBLE && c.type !== CT.UNSATISFIABLE && c.type !== CT.INVALID;
  };

  for (const f of [...include.keys(), ...exclude, ...(fields.groupBy ?? [])]) {
    if (!byField.has(f)) throw new HarnessError(`${at}: field ${JSON.stringify(f)} is not a projection of collection ${collection.name}`);
  }
  for (const f of include.keys()) {
    if (exclude.has(f)) throw new HarnessError(`${at}: field ${JSON.stringify(f)} is both included and excluded`);
  }
  for (const f of Object.keys(constraints)) {
    if (constraints[f]!.type === CT.INVALID) throw new HarnessError(`${at}: the connector returned an INVALID constraint for field ${JSON.stringify(f)}`);
  }

  // 1. Keys: the group-by fields, else the canonical fields of the collection key.
  const keys = fields.groupBy && fields.groupBy.length > 0 ? [...fields.groupBy] : canonicalKeyFields(collection);
  for (const f of keys) {
    if (exclude.has(f)) throw new HarnessError(`${at}: key field ${JSON.stringify(f)} cannot be excluded`);
    if (!usable(f)) throw new HarnessError(`${at}: key field ${JSON.stringify(f)} cannot be materialized: the connector says ${describe(f)}`);
  }
  const selectedPtrs = new Set(keys.map((f) => byField.get(f)!.ptr));

  // Fields materialized today stay selected: changing them needs a backfill.
  const current = new Set(live?.values ?? []);
  if (live?.document) current.add(live.document);
  for (const f of current) {
    if (!byField.has(f) || exclude.has(f)) continue;
    const c = constraints[f];
    if (c && (c.type === CT.INCOMPATIBLE || c.type === CT.UNSATISFIABLE)) {
      throw new HarnessError(`${at}: field ${JSON.stringify(f)} is materialized today but the connector now says ${describe(f)}; increment the binding's backfill counter to re-create it`);
    }
  }

  // 2. The document field: the current one if still allowed, else the root projection the connector requires or recommends.
  let document = "";
  const roots = collection.projections.filter((p) => p.ptr === "").map((p) => p.field);
  if (live?.document && roots.includes(live.document) && !exclude.has(live.document) && usable(live.document)) roots.unshift(live.document);
  for (const f of roots) {
    const c = constraints[f];
    if (include.has(f)) {
      if (!usable(f)) throw new HarnessError(`${at}: field ${JSON.stringify(f)} is included but the connector says ${describe(f)}`);
      document = f;
      break;
    }
    if (!c || exclude.has(f)) {
      if (c && (c.type === CT.FIELD_REQUIRED || c.type === CT.LOCATION_REQUIRED) && exclude.has(f) && roots.every((r) => r === f || exclude.has(r))) {
        throw new HarnessError(`${at}: field ${JSON.stringify(f)} is excluded but the connector says ${describe(f)}`);
      }
      continue;
    }
    if (c.type === CT.FIELD_REQUIRED || c.type === CT.LOCATION_REQUIRED || c.type === CT.LOCATION_RECOMMENDED || (f === live?.document && usable(f))) {
      document = f;
      break;
    }
  }

  // 3. Values.
  const values: string[] = [];
  const candidates = collection.projections
    .map((p) => p.field)
    .filter((f) => !keys.includes(f) && f !== document && byField.get(f)!.ptr !== "")
    .sort();
  const select = (f: string) => {
    values.push(f);
    selectedPtrs.add(byField.get(f)!.ptr);
  };
  // Pass a: what the user includes, what is materialized today, and what the connector requires by name.
  for (const f of candidates) {
    const c = constraints[f];
    if (current.has(f) && !exclude.has(f) && usable(f)) {
      select(f);
    } else if (include.has(f)) {
      if (!usable(f)) throw new HarnessError(`${at}: field ${JSON.stringify(f)} is included but the connector says ${describe(f)}`);
      select(f);
    } else if (c?.type === CT.FIELD_REQUIRED) {
      if (exclude.has(f)) throw new HarnessError(`${at}: field ${JSON.stringify(f)} is excluded but the connector says ${describe(f)}`);
      select(f);
    }
  }
  // Pass b: locations the connector requires, unless another selected field covers them.
  for (const f of candidates) {
    if (values.includes(f) || constraints[f]?.type !== CT.LOCATION_REQUIRED) continue;
    const ptr = byField.get(f)!.ptr;
    if (selectedPtrs.has(ptr)) continue;
    if (exclude.has(f)) {
      const alt = candidates.find((o) => o !== f && byField.get(o)!.ptr === ptr && !exclude.has(o) && usable(o));
      if (!alt) throw new HarnessError(`${at}: field ${JSON.stringify(f)} is excluded but the connector says ${describe(f)}`);
      select(alt);
      continue;
    }
    select(f);
  }
  // Pass c: recommended locations, once each, unless `recommended: false`.
  if (recommended) {
    for (const f of candidates) {
      if (values.includes(f) || exclude.has(f) || constraints[f]?.type !== CT.LOCATION_RECOMMENDED) continue;
      if (selectedPtrs.has(byField.get(f)!.ptr)) continue;
      select(f);
    }
  }
  values.sort();

  const enc = new TextEncoder();
  const fieldConfigJsonMap: Record<string, Uint8Array> = {};
  for (const [f, cfg] of include) {
    if (cfg && typeof cfg === "object" && Object.keys(cfg as object).length === 0) continue;
    fieldConfigJsonMap[f] = enc.encode(JSON.stringify(cfg));
  }
  return create(FieldSelectionSchema, { keys, values, document, fieldConfigJsonMap });
}
