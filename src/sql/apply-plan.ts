/**
 * Apply planning for SQL destinations: the DDL that brings an existing
 * table (or none) to a binding's resolved shape. Pure: it returns statements
 * and never runs them, so a plan can be tested and shown as the action
 * description.
 */
import type { MaterializationSpec_Binding } from "../gen/flow/flow_pb.js";
import { ConnectorError } from "../sdk/errors.js";
import type { Dialect, ExistingColumn, ExistingTable } from "./dialect.js";
import { columnKey, quoteName } from "./names.js";
import type { Column, Table } from "./table.js";
import { isCompatible } from "./validate.js";

/** How a destination spells each kind of DDL. */
export interface DdlRenderer {
  createTable(table: Table): string[];
  addColumn(table: Table, column: Column): string;
  /** `existing` is the column as it is now (some dialects restate its type). */
  dropNotNull(table: Table, columnIdent: string, existing: ExistingColumn): string;
  /** `existing` is the column as it is now; `using` the dialect's migration() expression. */
  alterType(table: Table, column: Column, using: string, existing: ExistingColumn): string;
  /** alterType also leaves the column nullable unless `column.mapped.notNull` (MySQL's MODIFY COLUMN). */
  alterTypeSetsNullability?: boolean;
  truncate(table: Table): string;
  dropTable(table: Table): string;
}

export interface ApplyTableInput {
  table: Table;
  existing: ExistingTable | null;
  /** The previous binding of the same resource path, if any. */
  last?: MaterializationSpec_Binding;
  backfill: number;
}

export function planTable(input: ApplyTableInput, dialect: Dialect, ddl: DdlRenderer): string[] {
  const { table, existing, last } = input;
  if (!existing) return ddl.createTable(table);

  if (last && last.backfill !== input.backfill) {
    // A backfill rewrites every row: keep the table (truncate) when it can
    // hold the new shape as-is, otherwise start over.
    const sameKeys = sameList(last.fieldSelection?.keys ?? [], table.keys.map((k) => k.field));
    const fits = table.columns.every((col) => {
      const ex = existing.columns.get(columnKey(dialect, col.name));
      return !ex || isCompatible(ex.type, col.mapped);
    });
    if (sameKeys && fits && table.deltaUpdates === last.deltaUpdates) {
      return [ddl.truncate(table), ...alterations(table, existing, dialect, ddl)];
    }
    return [ddl.dropTable(table), ...ddl.createTable(table)];
  }
  return alterations(table, existing, dialect, ddl);
}

function alterations(table: Table, existing: ExistingTable, dialect: Dialect, ddl: DdlRenderer): string[] {
  const out: string[] = [];
  const selected = new Set<string>();
  for (const col of table.columns) {
    selected.add(columnKey(dialect, col.name));
    const ex = existing.columns.get(columnKey(dialect, col.name));
    if (!ex) {
      out.push(ddl.addColumn(table, col));
      continue;
    }
    if (!isCompatible(ex.type, col.mapped)) {
      const using = col.role === "key" ? undefined : dialect.migration(ex.type, col.mapped, col.ident);
      if (using === undefined) {
        throw new ConnectorError(
          `column ${col.ident} of table ${table.ident} has type ${ex.type.toUpperCase()}, which cannot be changed to ${col.mapped.ddl} in place; ` +
            `backfill the binding to re-create the table`,
        );
      }
      out.push(ddl.alterType(table, col, using, ex));
      // Where one statement restates type and nullability, it already made the column nullable.
      if (ddl.alterTypeSetsNullability) continue;
    }
    if (!ex.nullable && !col.mapped.notNull && col.role !== "key") out.push(ddl.dropNotNull(table, col.ident, ex));
  }
  // Columns no longer selected are kept, but must accept the rows written without them.
  for (const ex of existing.columns.values()) {
    if (!selected.has(columnKey(dialect, ex.name)) && !ex.nullable) {
      out.push(ddl.dropNotNull(table, quoteName(dialect, ex.name), ex));
    }
  }
  return out;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
