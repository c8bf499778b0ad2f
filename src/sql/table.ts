/**
 * The resolved shape of one binding's table: every selected field with its
 * destination column name (folded), quoted identifier and mapped type.
 */
import type { CollectionSpec, Projection } from "../gen/flow/flow_pb.js";
import { ConnectorError } from "../sdk/errors.js";
import { isForbidden, type Dialect, type MappedType } from "./dialect.js";
import { flatType } from "./flat-type.js";
import { foldName, foldNames, limitText, quoteName, quoteNames } from "./names.js";

export interface Column {
  field: string;
  /** The column's name in the destination (after folding). */
  name: string;
  /** `name`, quoted when needed. */
  ident: string;
  projection: Projection;
  mapped: MappedType;
  role: "key" | "value" | "document";
}

export interface Table {
  path: string[];
  ident: string;
  deltaUpdates: boolean;
  keys: Column[];
  values: Column[];
  document?: Column;
  /** keys, then values, then the document: the order of a staged row. */
  columns: Column[];
}

export interface TableSelection {
  path: string[];
  collection: CollectionSpec;
  keys: string[];
  values: string[];
  document: string;
  deltaUpdates: boolean;
}

export function projectionOf(collection: CollectionSpec, field: string): Projection {
  const p = collection.projections.find((x) => x.field === field);
  if (!p) throw new ConnectorError(`collection ${collection.name} has no projection for selected field ${JSON.stringify(field)}`);
  return p;
}

export function buildTable(sel: TableSelection, dialect: Dialect): Table {
  const path = sel.path.map((s) => foldName(dialect, s));
  const all = [...sel.keys, ...sel.values, ...(sel.document ? [sel.document] : [])];
  const { folded: names, collisions } = foldNames(dialect, all);
  if (collisions.length > 0) {
    const [a, b, name] = collisions[0]!;
    throw new ConnectorError(
      `fields ${JSON.stringify(a)} and ${JSON.stringify(b)} of table ${path.join(".")} both become column ${JSON.stringify(name)} ` +
        `(names are cut to ${limitText(dialect)}${dialect.columnKey ? " and compared without case" : ""}); deselect one of them`,
    );
  }
  const column = (field: string, role: Column["role"]): Column => {
    const projection = projectionOf(sel.collection, field);
    const mapped = dialect.mapType(projection, flatType(projection, role === "key"), {
      isKey: role === "key",
      isDocument: role === "document",
    });
    if (isForbidden(mapped)) throw new ConnectorError(`field ${JSON.stringify(field)} cannot be materialized: ${mapped.forbidden}`);
    const name = names.get(field)!;
    return { field, name, ident: quoteName(dialect, name), projection, mapped, role };
  };
  const keys = sel.keys.map((f) => column(f, "key"));
  const values = sel.values.map((f) => column(f, "value"));
  const document = sel.document ? column(sel.document, "document") : undefined;
  return {
    path,
    ident: quoteNames(dialect, path),
    deltaUpdates: sel.deltaUpdates,
    keys,
    values,
    document,
    columns: [...keys, ...values, ...(document ? [document] : [])],
  };
}
