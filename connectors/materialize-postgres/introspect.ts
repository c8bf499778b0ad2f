/** What already exists in the destination: schemas and table columns. */
import type { ExistingTable } from "../../src/sql/dialect.js";
import type { PgClient } from "./client.js";

const key = (schema: string, table: string) => JSON.stringify([schema, table]);

export interface InfoSchema {
  schemas: Set<string>;
  table(path: string[]): ExistingTable | null;
}

/** Reads the columns of every table in `schemas`. */
export async function readInfoSchema(client: PgClient, schemas: string[]): Promise<InfoSchema> {
  const uniq = [...new Set(schemas)];
  // pg_namespace lists schemas the user cannot use too (information_schema hides them).
  const found = await client.query<{ schema_name: string }>("SELECT nspname AS schema_name FROM pg_namespace WHERE nspname = ANY($1)", [uniq]);
  const cols = await client.query<{ table_schema: string; table_name: string; column_name: string; data_type: string; is_nullable: string }>(
    `SELECT table_schema, table_name, column_name, data_type, is_nullable
       FROM information_schema.columns WHERE table_schema = ANY($1) ORDER BY ordinal_position`,
    [uniq],
  );
  const tables = new Map<string, ExistingTable>();
  for (const r of cols.rows) {
    const k = key(r.table_schema, r.table_name);
    let t = tables.get(k);
    if (!t) tables.set(k, (t = { path: [r.table_schema, r.table_name], columns: new Map() }));
    t.columns.set(r.column_name, { name: r.column_name, type: r.data_type.toLowerCase(), nullable: r.is_nullable === "YES" });
  }
  return {
    schemas: new Set(found.rows.map((r) => r.schema_name)),
    table: (path) => tables.get(key(path[0]!, path[1]!)) ?? null,
  };
}
