/** What already exists in the destination: schemas and table columns. */
import type { ExistingTable } from "../../src/sql/dialect.js";
import type { PgClient } from "./client.js";

const key = (schema: string, table: string) => JSON.stringify([schema, table]);

export interface InfoSchema {
  schemas: Set<string>;
  table(path: string[]): ExistingTable | null;
}

/**
 * Reads the columns of every table in `schemas`. A column's type is
 * format_type()'s spelling, which keeps the modifier (`character varying(8)`,
 * `numeric(10,2)`, `timestamp(0) with time zone`): such a column holds less
 * than its unconstrained type, so it must not pass as that type.
 */
export async function readInfoSchema(client: PgClient, schemas: string[]): Promise<InfoSchema> {
  const uniq = [...new Set(schemas)];
  // pg_namespace lists schemas the user cannot use too (information_schema hides them).
  const found = await client.query<{ schema_name: string }>("SELECT nspname AS schema_name FROM pg_namespace WHERE nspname = ANY($1)", [uniq]);
  const cols = await client.query<{ table_schema: string; table_name: string; column_name: string; data_type: string; nullable: boolean }>(
    `SELECT n.nspname AS table_schema, c.relname AS table_name, a.attname AS column_name,
            format_type(a.atttypid, a.atttypmod) AS data_type, NOT a.attnotnull AS nullable
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY c.oid, a.attnum`,
    [uniq],
  );
  const tables = new Map<string, ExistingTable>();
  for (const r of cols.rows) {
    const k = key(r.table_schema, r.table_name);
    let t = tables.get(k);
    if (!t) tables.set(k, (t = { path: [r.table_schema, r.table_name], columns: new Map() }));
    t.columns.set(r.column_name, { name: r.column_name, type: r.data_type.toLowerCase(), nullable: r.nullable });
  }
  return {
    schemas: new Set(found.rows.map((r) => r.schema_name)),
    table: (path) => tables.get(key(path[0]!, path[1]!)) ?? null,
  };
}
