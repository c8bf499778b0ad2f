/**
 * Validate's constraint rules for SQL destinations: what each projection of
 * a collection may or must be, for a new table and against an existing one.
 */
import type { CollectionSpec, MaterializationSpec_Binding, Projection } from "../gen/flow/flow_pb.js";
import { ConnectorError } from "../sdk/errors.js";
import { ConstraintType, type Constraint } from "../sdk/types.js";
import { isForbidden, type Dialect, type ExistingTable, type MappedType } from "./dialect.js";
import { flatType } from "./flat-type.js";
import { columnKey, foldName, limitText } from "./names.js";

export interface ValidateBindingInput {
  collection: CollectionSpec;
  deltaUpdates: boolean;
  /** The table as it exists now, or null. */
  existing: ExistingTable | null;
  /** The previous binding of the same resource path, if any. */
  last?: MaterializationSpec_Binding;
  backfill: number;
  /** Shown in error messages, e.g. "public.orders". */
  tableName: string;
}

const c = (type: ConstraintType, reason: string): Constraint => ({ type, reason });

function isKeyProjection(collection: CollectionSpec, p: Projection): boolean {
  return p.isPrimaryKey || collection.key.includes(p.ptr);
}

/** The opinion about a projection, ignoring any existing table. */
export function baseConstraint(collection: CollectionSpec, p: Projection, delta: boolean, dialect: Dialect, seenRoot: boolean): Constraint {
  const isKey = isKeyProjection(collection, p);
  if (isKey) {
    return delta
      ? c(ConstraintType.LOCATION_RECOMMENDED, "All Locations that are part of the collections key are recommended")
      : c(ConstraintType.LOCATION_REQUIRED, "All Locations that are part of the collections key are required");
  }
  if (p.ptr === "") {
    if (delta) return c(ConstraintType.LOCATION_RECOMMENDED, "The root document should usually be materialized");
    if (seenRoot) return c(ConstraintType.FIELD_FORBIDDEN, "Only a single root document projection can be materialized for standard updates");
    return c(ConstraintType.LOCATION_REQUIRED, "The root document is required for a standard updates materialization");
  }
  const types = (p.inference?.types ?? []).filter((t) => t !== "null");
  if (types.length === 0) return c(ConstraintType.FIELD_FORBIDDEN, "Cannot materialize a field with no types other than null");
  const flat = flatType(p);
  const mapped = dialect.mapType(p, flat, { isKey: false, isDocument: false });
  if (isForbidden(mapped)) return c(ConstraintType.FIELD_FORBIDDEN, mapped.forbidden);
  if (p.field === "_meta/op") return c(ConstraintType.LOCATION_RECOMMENDED, "The operation type should usually be materialized");
  if (p.field.startsWith("_meta/")) return c(ConstraintType.FIELD_OPTIONAL, "Metadata fields are able to be materialized");
  switch (flat.kind) {
    case "object":
      return c(ConstraintType.FIELD_OPTIONAL, "Object fields may be materialized");
    case "array":
    case "multiple":
      return c(ConstraintType.LOCATION_RECOMMENDED, "This location is part of the current materialization");
    default:
      return c(ConstraintType.LOCATION_RECOMMENDED, "The projection has a single scalar type");
  }
}

/** True when `existing` already holds values of `mapped` without change. */
export function isCompatible(existingType: string, mapped: MappedType): boolean {
  return mapped.compatible.includes(existingType.toLowerCase());
}

/**
 * Constraints for every projection of a binding. Throws a ConnectorError for
 * binding-level problems (nullable keys, delta → standard).
 */
export function validateBinding(input: ValidateBindingInput, dialect: Dialect): Record<string, Constraint> {
  const { collection, deltaUpdates: delta, last } = input;

  for (const p of collection.projections) {
    if (!isKeyProjection(collection, p)) continue;
    const flat = flatType(p, true);
    if (!flat.mustExist && (p.inference?.defaultJson?.length ?? 0) === 0) {
      throw new ConnectorError(
        `key field ${JSON.stringify(p.field)} of collection ${collection.name} may be null or absent and has no default value; ` +
          `table ${input.tableName} cannot use it as a key: make the location required in the collection schema, or give it a default`,
      );
    }
  }
  if (last && last.deltaUpdates && !delta) {
    throw new ConnectorError(
      `table ${input.tableName} was materialized with delta updates and cannot switch to standard updates; ` +
        `materialize into a new table, or bump the binding's backfill counter`,
    );
  }

  const backfillChanged = last !== undefined && last.backfill !== input.backfill;
  const existing = backfillChanged ? null : input.existing;
  const lastSel = last?.fieldSelection;
  const lastKeys = new Set(lastSel?.keys ?? []);
  const lastSelected = new Set([...(lastSel?.keys ?? []), ...(lastSel?.values ?? []), ...(lastSel?.document ? [lastSel.document] : [])]);

  const out: Record<string, Constraint> = {};
  let seenRoot = false;
  const foldedOwner = new Map<string, string>();
  for (const p of collection.projections) {
    const base = baseConstraint(collection, p, delta, dialect, seenRoot);
    if (p.ptr === "" && base.type !== ConstraintType.FIELD_FORBIDDEN) seenRoot = true;
    let con = base;

    if (existing && base.type !== ConstraintType.FIELD_FORBIDDEN) {
      con = againstExisting(input, existing, p, base, lastKeys, lastSelected, lastSel?.document ?? "", dialect);
    }
    const folded = foldName(dialect, p.field);
    const owner = foldedOwner.get(columnKey(dialect, folded));
    if (owner === undefined) foldedOwner.set(columnKey(dialect, folded), p.field);
    else if (con.type !== ConstraintType.FIELD_FORBIDDEN) {
      // Two fields cut to one column name: only the first may be selected.
      con = c(
        ConstraintType.FIELD_FORBIDDEN,
        `Field ${JSON.stringify(p.field)} would become column ${JSON.stringify(folded)}, the same as field ${JSON.stringify(owner)} ` +
          `(names are cut to ${limitText(dialect)}${dialect.columnKey ? " and compared without case" : ""})`,
      );
    }
    if (folded !== p.field) con = { ...con, foldedField: folded };
    out[p.field] = con;
  }
  return out;
}

function againstExisting(
  input: ValidateBindingInput,
  existing: ExistingTable,
  p: Projection,
  base: Constraint,
  lastKeys: Set<string>,
  lastSelected: Set<string>,
  lastDocument: string,
  dialect: Dialect,
): Constraint {
  const isKey = isKeyProjection(input.collection, p);
  if (p.ptr === "" && !input.deltaUpdates) {
    if (lastDocument && p.field === lastDocument) return c(ConstraintType.FIELD_REQUIRED, "This field is the document in the current materialization");
    if (lastDocument) return c(ConstraintType.FIELD_FORBIDDEN, "Only one root document projection can be materialized; another is already selected");
  }
  if (isKey && lastKeys.size > 0 && !lastKeys.has(p.field) && !lastSelected.has(p.field)) {
    return c(ConstraintType.FIELD_FORBIDDEN, "Cannot add a new key location to the field selection of an existing table; backfill the binding to change its key");
  }
  const col = existing.columns.get(columnKey(dialect, foldName(dialect, p.field)));
  if (!col) return base;

  const mapped = dialect.mapType(p, flatType(p, isKey), { isKey, isDocument: p.ptr === "" });
  if (isForbidden(mapped)) return c(ConstraintType.FIELD_FORBIDDEN, mapped.forbidden);
  if (isCompatible(col.type, mapped) || (!isKey && dialect.migration(col.type, mapped, col.name) !== undefined)) {
    if (isKey) return c(ConstraintType.FIELD_REQUIRED, "This field is a key in the current materialization");
    if (p.ptr === "" && !input.deltaUpdates) return c(ConstraintType.FIELD_REQUIRED, "This field is the document in the current materialization");
    // The column fits: keep recommending what would be recommended for a new
    // table, so a re-validation selects the same fields again.
    return base.type === ConstraintType.LOCATION_RECOMMENDED
      ? c(ConstraintType.LOCATION_RECOMMENDED, "This field is part of the current materialization")
      : c(ConstraintType.FIELD_OPTIONAL, "This field is part of the current materialization");
  }
  const types = (p.inference?.types ?? []).join(", ");
  return c(
    ConstraintType.INCOMPATIBLE,
    `Field ${JSON.stringify(p.field)} is already being materialized as column type ${JSON.stringify(col.type.toUpperCase())} ` +
      `but would now need type ${JSON.stringify(mapped.ddl)} (inferred types: ${types}); it cannot be changed in place. ` +
      `Backfill the binding to re-create the table, or exclude the field`,
  );
}
