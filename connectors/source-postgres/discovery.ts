/**
 * Discovery: the captured tables, their columns and keys, read from the
 * catalog, and the collection schemas derived from them.
 *
 * Only ordinary and partitioned tables are listed (no views, no partitions:
 * a partitioned table is captured through its root). The key is the primary
 * key, else the first (by name) unique index over non-null plain columns,
 * else none: such tables are keyed by a row locator.
 */
import type pg from "pg";
import type { JsonSchema } from "../../src/sdk/types.js";
import { closedTableSchema, describedColumn, nullable, pointer, recommendedName, tableCollectionSchema } from "../../src/sql/capture-schema.js";
import { isFloat, OID } from "./text-values.js";
import type { TypeLookup } from "./type-catalog.js";

export interface ColumnInfo {
  name: string;
  typeOid: number;
  /** The type's name without modifiers (not for casts: a bare `character` is char(1)). */
  typeName: string;
  /** The declared type with modifiers, for descriptions and for casting values back to the column's type. */
  declaredType: string;
  notNull: boolean;
}

export interface TableInfo {
  oid: number;
  schema: string;
  name: string;
  /** r ordinary, p partitioned. */
  kind: string;
  /** pg_class.relreplident: d default, n nothing, f full, i index. */
  replicaIdentity: string;
  columns: ColumnInfo[];
  /** Key column names in key order; empty when the table has no usable key. */
  key: string[];
  keySource: "primary key" | "unique index" | "none";
  comment: string | null;
}

/**
 * The tables of `schemas` (every schema when empty), or the `only` ones, with their columns and keys.
 *
 * Tables, columns and indexes are three statements, read in one REPEATABLE READ transaction so that they share
 * one snapshot: under READ COMMITTED, a table dropped (or its key replaced) between two of them would be listed
 * with no columns, or keyless.
 */
export async function listTables(client: pg.Client, schemas: string[], only?: { schema: string; table: string }[]): Promise<TableInfo[]> {
  await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    const tables = await readCatalog(client, schemas, only);
    await client.query("COMMIT");
    return tables;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  }
}

async function readCatalog(client: pg.Client, schemas: string[], only?: { schema: string; table: string }[]): Promise<TableInfo[]> {
  const res = await client.query(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
            c.relreplident::text AS replica_identity, obj_description(c.oid, 'pg_class') AS comment
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence = 'p'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'
        AND (cardinality($1::text[]) = 0 OR n.nspname = ANY($1::text[]))
      ORDER BY n.nspname, c.relname`,
    [schemas],
  );
  let rows = res.rows as Omit<TableInfo, "columns" | "key" | "keySource">[];
  if (only) {
    const want = new Set(only.map((t) => `${t.schema}\u0000${t.table}`));
    rows = rows.filter((r) => want.has(`${r.schema}\u0000${r.name}`));
  }
  if (rows.length === 0) return [];
  const oids = rows.map((r) => r.oid);

  const cols = await client.query(
    `SELECT a.attrelid::int AS rel, a.attname AS name, a.atttypid::int AS type_oid,
            format_type(a.atttypid, NULL) AS type_name, format_type(a.atttypid, a.atttypmod) AS declared_type, a.attnotnull AS not_null
       FROM pg_catalog.pg_attribute a
      WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
      ORDER BY a.attrelid, a.attnum`,
    [oids],
  );
  const idx = await client.query(
    `SELECT i.indrelid::int AS rel, i.indisprimary AS primary, ic.relname AS index_name,
            array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[] AS columns
       FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
      WHERE i.indrelid = ANY($1::oid[]) AND i.indisunique AND i.indisvalid AND i.indexprs IS NULL AND i.indpred IS NULL
      ORDER BY i.indrelid, i.indisprimary DESC, ic.relname`,
    [oids],
  );

  const byRel = new Map<number, TableInfo>();
  for (const r of rows) byRel.set(r.oid, { ...r, columns: [], key: [], keySource: "none" });
  for (const c of cols.rows) {
    byRel.get(c.rel)?.columns.push({ name: c.name, typeOid: c.type_oid, typeName: c.type_name, declaredType: c.declared_type, notNull: c.not_null });
  }
  for (const i of idx.rows) {
    const t = byRel.get(i.rel);
    if (!t || t.keySource !== "none") continue;
    const cols = i.columns as string[];
    const allNotNull = cols.every((n) => t.columns.find((c) => c.name === n)?.notNull);
    if (i.primary || allNotNull) {
      t.key = cols;
      t.keySource = i.primary ? "primary key" : "unique index";
    }
  }
  return [...byRel.values()];
}

/** Every type OID the tables' columns use, for TypeCatalog.ensure. */
export function columnTypes(tables: TableInfo[]): number[] {
  return tables.flatMap((t) => t.columns.map((c) => c.typeOid));
}

export { pointer, recommendedName };

/** Pointer of the row locator used as the key of tables without one. */
export const LOCATOR_POINTER = "/_meta/source/loc";

export function collectionKey(t: TableInfo): string[] {
  return t.key.length > 0 ? t.key.map(pointer) : [LOCATOR_POINTER];
}

/** The JSON schema of values of a type, as text-values.ts writes them. */
export function typeSchema(oid: number, types: TypeLookup): JsonSchema {
  switch (oid) {
    case OID.bool:
      return { type: "boolean" };
    case OID.int2:
    case OID.int4:
    case OID.int8:
    case OID.oid:
    case OID.xid:
      return { type: "integer" };
    case OID.numeric:
      return { type: "string", format: "number" };
    case OID.float4:
    case OID.float8:
      return { type: ["number", "string"], format: "number" };
    case OID.json:
    case OID.jsonb:
      return {};
    case OID.bytea:
      return { type: "string", contentEncoding: "base64" };
    case OID.uuid:
      return { type: "string", format: "uuid" };
    case OID.date:
      return { type: "string", format: "date" };
    case OID.timestamp:
    case OID.timestamptz:
      return { type: "string", format: "date-time" };
    case OID.time:
    case OID.timetz:
      return { type: "string", format: "time" };
  }
  const t = types.get(oid);
  if (t?.typtype === "d" && t.base) return typeSchema(t.base, types);
  if (t?.category === "A" && t.elem) return { type: "array", items: nullable(typeSchema(t.elem, types)) };
  return { type: "string" };
}

/**
 * The JSON schema of a key column's values. Flow refuses a key location
 * whose type set holds more than one of boolean, integer, number and string
 * (null aside), so floats, which are numbers or the strings "NaN" and
 * "Infinity", are keys as strings of `format: number` (see keyConverterFor).
 */
export function keyTypeSchema(oid: number, types: TypeLookup): JsonSchema {
  return isFloat(oid, types) ? { type: "string", format: "number" } : typeSchema(oid, types);
}

export function columnSchema(c: ColumnInfo, types: TypeLookup, isKey = false): JsonSchema {
  const s = isKey ? keyTypeSchema(c.typeOid, types) : typeSchema(c.typeOid, types);
  return describedColumn(s, c.notNull, c.declaredType);
}

const META_SCHEMA: JsonSchema = {
  type: "object",
  required: ["op", "source"],
  properties: {
    op: { enum: ["c", "u", "d"], description: "Change operation: create, update or delete." },
    source: {
      type: "object",
      required: ["schema", "table"],
      properties: {
        schema: { type: "string" },
        table: { type: "string" },
        lsn: { type: "string", description: "Commit LSN of the source transaction." },
        txid: { type: "integer", description: "Source transaction id." },
        ts_ms: { type: "integer", description: "Commit time (backfill: read time), milliseconds since the epoch." },
        snapshot: { type: "boolean", description: "True when the document was read by the backfill." },
        loc: { type: "string", description: "Row locator, the key of tables without a usable key." },
      },
    },
    before: { type: "object", description: "The row before an update, when the table has REPLICA IDENTITY FULL." },
  },
  reduce: { strategy: "merge" },
};

/** The collection schema of a discovered table. */
export function collectionSchema(t: TableInfo, types: TypeLookup): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const c of t.columns) properties[c.name] = columnSchema(c, types, t.key.includes(c.name));
  const meta = structuredClone(META_SCHEMA) as any;
  if (t.key.length === 0) meta.properties.source.required.push("loc");
  return tableCollectionSchema(properties, meta, t.key, t.comment);
}

/** The restrictive schema of what the source holds now (SourcedSchema): closed, exact columns. */
export function sourcedSchema(columns: { name: string; typeOid: number; notNull?: boolean }[], key: string[], types: TypeLookup): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const c of columns) {
    const s = key.includes(c.name) ? keyTypeSchema(c.typeOid, types) : typeSchema(c.typeOid, types);
    properties[c.name] = c.notNull ? s : nullable(s);
  }
  return closedTableSchema(properties, key);
}
