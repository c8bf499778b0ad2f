/**
 * Discovery: the captured tables, their columns and keys, read from
 * information_schema, and the collection schemas derived from them.
 *
 * A table is captured by its primary key, else by its first (by name)
 * unique index over NOT NULL whole columns, which becomes a fallback key,
 * else (keyless) by a row locator the capture makes up for each document
 * (`/_meta/source/loc`), also a fallback key.
 */
import type mysql from "mysql2/promise";
import type { JsonSchema } from "../../src/sdk/types.js";
import { closedTableSchema, describedColumn, nullable, pointer, recommendedName, tableCollectionSchema } from "../../src/sql/capture-schema.js";
import { qualified } from "./connection.js";
import { kindOfDataType, kindSchema, type Kind } from "./values.js";

export interface ColumnInfo {
  name: string;
  kind: Kind;
  /** information_schema COLUMN_TYPE, e.g. "bigint(20) unsigned", for descriptions. */
  columnType: string;
  notNull: boolean;
}

export interface TableInfo {
  schema: string;
  name: string;
  columns: ColumnInfo[];
  key: string[];
  keySource: "primary key" | "unique index" | "none";
  comment: string;
}

const SYSTEM_DBS = ["mysql", "sys", "information_schema", "performance_schema"];

export interface TableName {
  schema: string;
  table: string;
}

/**
 * The tables of `databases` (or the `only` ones), with their columns and keys.
 *
 * information_schema reads each table as it reaches it, and its views (TABLES, COLUMNS, STATISTICS) are read
 * by separate statements, so a table that an ALTER TABLE is swapping in (the old copy renamed away, the new
 * one renamed in) can be missing from one view and present in the next: listed with no columns, or without
 * its key, which would make it look keyless. The views are consistent for a table on which the reading
 * transaction holds a metadata lock, since an ALTER waits for that lock before it swaps. So the `only` tables
 * are read under their locks; a listing of whole databases is read without, and its tables that look
 * keyless or columnless are read again under theirs. (A table missing from a whole-database listing because
 * it was caught mid-swap is left out, as if it had been renamed.)
 */
export async function listTables(conn: mysql.Connection, databases: string[], only?: TableName[]): Promise<TableInfo[]> {
  if (only) return readLocked(conn, databases, only);
  const tables = await readCatalog(conn, databases);
  const unsure = tables.filter((t) => t.columns.length === 0 || t.keySource === "none");
  if (unsure.length === 0) return tables;
  const again = new Map((await readLocked(conn, databases, unsure.map((t) => ({ schema: t.schema, table: t.name })))).map((t) => [nameKey(t.schema, t.name), t]));
  return tables.flatMap((t) => {
    if (!unsure.includes(t)) return [t];
    const read = again.get(nameKey(t.schema, t.name));
    return read ? [read] : [];
  });
}

const nameKey = (schema: string, table: string) => `${schema}\u0000${table}`;

/** The `only` tables read while this connection's transaction holds their metadata locks (those it may read); tables that do not exist are left out. */
async function readLocked(conn: mysql.Connection, databases: string[], only: TableName[]): Promise<TableInfo[]> {
  await conn.query("START TRANSACTION");
  try {
    const present: TableName[] = [];
    for (const t of only) {
      try {
        // Opening the table takes its shared metadata lock, held until the transaction ends.
        await conn.query(`SELECT 1 FROM ${qualified(t.schema, t.table)} LIMIT 0`);
        present.push(t);
      } catch (err) {
        const errno = (err as { errno?: number }).errno;
        // No such table: left out. No SELECT on it (1142): listed as information_schema shows it, unlocked.
        if (errno === 1142) present.push(t);
        else if (errno !== 1146) throw err;
      }
    }
    return present.length > 0 ? await readCatalog(conn, databases, present) : [];
  } finally {
    await conn.query("COMMIT");
  }
}

async function readCatalog(conn: mysql.Connection, databases: string[], only?: TableName[]): Promise<TableInfo[]> {
  const dbFilter = databases.length > 0 ? databases : null;
  const where = (col: string) =>
    dbFilter ? `${col} IN (${dbFilter.map(() => "?").join(", ")})` : `${col} NOT IN (${SYSTEM_DBS.map(() => "?").join(", ")})`;
  const dbParams = dbFilter ?? SYSTEM_DBS;
  const [tables] = (await conn.query(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, TABLE_COMMENT AS c FROM information_schema.TABLES
      WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') AND ${where("TABLE_SCHEMA")} ORDER BY TABLE_SCHEMA, TABLE_NAME`,
    dbParams,
  )) as any;
  const want = only ? new Set(only.map((t) => `${t.schema}\u0000${t.table}`)) : null;
  const byName = new Map<string, TableInfo>();
  for (const t of tables as any[]) {
    const k = `${t.s}\u0000${t.n}`;
    if (want && !want.has(k)) continue;
    byName.set(k, { schema: t.s, name: t.n, columns: [], key: [], keySource: "none", comment: t.c ?? "" });
  }
  if (byName.size === 0) return [];

  // MariaDB's JSON is a LONGTEXT with a json_valid() check; MySQL's has its own DATA_TYPE.
  const [checks] = (await conn.query(
    `SELECT CONSTRAINT_SCHEMA AS s, TABLE_NAME AS n, CHECK_CLAUSE AS c FROM information_schema.CHECK_CONSTRAINTS WHERE ${where("CONSTRAINT_SCHEMA")}`,
    dbParams,
  ).catch(() => [[]])) as any;
  const jsonCols = new Set<string>();
  for (const c of checks as any[]) {
    const m = /^json_valid\(`((?:[^`]|``)+)`\)$/i.exec(String(c.c).trim());
    if (m) jsonCols.add(`${c.s}\u0000${c.n}\u0000${m[1].replace(/``/g, "`")}`);
  }

  const [cols] = (await conn.query(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, COLUMN_NAME AS name, DATA_TYPE AS dt, COLUMN_TYPE AS ct, IS_NULLABLE AS nullable
       FROM information_schema.COLUMNS WHERE ${where("TABLE_SCHEMA")} ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`,
    dbParams,
  )) as any;
  for (const c of cols as any[]) {
    const t = byName.get(`${c.s}\u0000${c.n}`);
    if (!t) continue;
    const dt = String(c.dt).toLowerCase();
    t.columns.push({ name: c.name, kind: kindOfDataType(dt, jsonCols.has(`${c.s}\u0000${c.n}\u0000${c.name}`)), columnType: String(c.ct), notNull: c.nullable === "NO" });
  }

  const [idx] = (await conn.query(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, INDEX_NAME AS i, COLUMN_NAME AS col, SUB_PART AS sub
       FROM information_schema.STATISTICS WHERE NON_UNIQUE = 0 AND ${where("TABLE_SCHEMA")}
      ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX`,
    dbParams,
  )) as any;
  const indexes = new Map<string, { table: TableInfo; primary: boolean; cols: string[]; usable: boolean }>();
  for (const r of idx as any[]) {
    const t = byName.get(`${r.s}\u0000${r.n}`);
    if (!t) continue;
    const k = `${r.s}\u0000${r.n}\u0000${r.i}`;
    let e = indexes.get(k);
    if (!e) indexes.set(k, (e = { table: t, primary: r.i === "PRIMARY", cols: [], usable: true }));
    e.cols.push(r.col);
    // Prefix and expression parts do not identify a row by whole column values.
    if (r.sub !== null || r.col === null) e.usable = false;
  }
  for (const e of indexes.values()) {
    const t = e.table;
    if (t.keySource !== "none" || !e.usable) continue;
    const ok = e.cols.every((n) => {
      const c = t.columns.find((x) => x.name === n);
      return c && c.notNull && c.kind !== "geometry" && c.kind !== "json";
    });
    if (e.primary || ok) {
      t.key = e.cols;
      t.keySource = e.primary ? "primary key" : "unique index";
    }
  }
  return [...byName.values()];
}

export { pointer, recommendedName };

/** Pointer of the row locator used as the key of tables without one. */
export const LOCATOR_POINTER = "/_meta/source/loc";

/** The collection key of a table: its key columns, or the row locator of a keyless table. */
export function collectionKey(t: TableInfo): string[] {
  return t.key.length > 0 ? t.key.map(pointer) : [LOCATOR_POINTER];
}

export function columnSchema(c: ColumnInfo): JsonSchema {
  return describedColumn(kindSchema(c.kind), c.notNull, c.columnType);
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
        schema: { type: "string", description: "Database of the source table." },
        table: { type: "string" },
        ts_ms: { type: "integer", description: "Binlog event time (backfill: read time), milliseconds since the epoch." },
        snapshot: { type: "boolean", description: "True when the document was read by the backfill." },
        cursor: { type: "string", description: "Binlog file, commit position and row of the change." },
        txid: { type: "string", description: "GTID of the source transaction, when known." },
        loc: {
          type: "string",
          description: "Row locator, the key of tables without one: B<n> for the n-th row the backfill read, else the change's cursor.",
        },
      },
    },
    before: { type: "object", description: "The row before an update." },
  },
  reduce: { strategy: "merge" },
};

/** The collection schema of a discovered table. */
export function collectionSchema(t: TableInfo): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const c of t.columns) properties[c.name] = columnSchema(c);
  const meta = structuredClone(META_SCHEMA) as any;
  if (t.key.length === 0) meta.properties.source.required.push("loc");
  return tableCollectionSchema(properties, meta, t.key, t.comment);
}

/** The restrictive schema of what the source holds now (SourcedSchema): closed, exact columns. */
export function sourcedSchema(columns: { name: string; kind: Kind; notNull?: boolean }[], key: string[]): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const c of columns) {
    const s = kindSchema(c.kind);
    properties[c.name] = c.notNull ? s : nullable(s);
  }
  return closedTableSchema(properties, key);
}
