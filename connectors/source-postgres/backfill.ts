/**
 * Backfill queries: a table is read chunk by chunk in key order (keyset
 * pagination: each chunk starts after the last key of the previous one, so
 * the cursor kept in the checkpoint resumes a backfill after any crash), or,
 * for tables without a key, by ranges of physical pages.
 *
 * Chunks are read with COPY (SELECT ...) TO STDOUT: the rows stream in text
 * form straight to the document encoder, never materialised as a result set.
 */
import type pg from "pg";
import { copyOut } from "./copy-out.js";
import { parseCopyLine, readCopyBlocks, readCopyRows, type ReadWork } from "./copy-text.js";
import type { DocumentWriter } from "./document-bytes.js";
import type { RawJsonBytes } from "../../src/sdk/types.js";
import { qualified, quoteIdent, quoteLiteral } from "./connection.js";
import type { ColumnInfo } from "./discovery.js";

export interface BackfillTable {
  schema: string;
  name: string;
  columns: ColumnInfo[];
  key: string[];
}

export function keyedChunkSql(t: BackfillTable, after: (string | null)[] | null, limit: number): string {
  const cols = t.columns.map((c) => quoteIdent(c.name)).join(", ");
  const keys = t.key.map(quoteIdent);
  let where = "";
  if (after) {
    const lits = t.key.map((k, i) => {
      const col = t.columns.find((c) => c.name === k)!;
      if (after[i] === null) throw new Error(`backfill cursor of ${t.schema}.${t.name} has a null key value`);
      // The declared type, modifiers included: a bare `character` is char(1), `bit` is bit(1).
      return `${quoteLiteral(after[i]!)}::${col.declaredType}`;
    });
    where = ` WHERE (${keys.join(", ")}) > (${lits.join(", ")})`;
  }
  return `SELECT ${cols} FROM ${qualified(t.schema, t.name)}${where} ORDER BY ${keys.join(", ")} LIMIT ${limit}`;
}

/**
 * Rows of pages [page, page + pages) of a keyless table, or of one leaf
 * partition of a keyless partitioned table (`relation`: the leaf as
 * Postgres prints a regclass, which is already quoted where needed).
 */
export function keylessChunkSql(t: BackfillTable, page: number, pages: number, relation = qualified(t.schema, t.name)): string {
  const cols = t.columns.map((c) => quoteIdent(c.name)).join(", ");
  return `SELECT ctid::text, ${cols} FROM ${relation} WHERE ctid >= '(${page},0)'::tid AND ctid < '(${page + pages},0)'::tid`;
}

/**
 * The leaf partitions of a partitioned table, as regclass text, in the
 * order a keyless backfill reads them (by name, so that a cursor naming a
 * partition stays meaningful when partitions are added or dropped).
 */
export async function leafPartitions(client: pg.Client, t: BackfillTable): Promise<string[]> {
  const res = await client.query(
    `SELECT p.relid::regclass::text AS leaf FROM pg_partition_tree($1::regclass) p WHERE p.isleaf AND p.relid <> $1::regclass`,
    [qualified(t.schema, t.name)],
  );
  return res.rows.map((r) => r.leaf as string).sort();
}

/** Streams the rows of one query to `onRow` as text values; returns the row count. */
export async function copyQuery(
  client: pg.Client,
  sql: string,
  onRow: (values: (string | null)[]) => void | Promise<void>,
  work?: ReadWork,
): Promise<number> {
  const stream = client.query(copyOut(sql));
  return readCopyRows(stream, onRow, work);
}

/**
 * Streams the rows of one query as documents (DocumentWriter's bytes) to
 * `onDoc`, awaiting it when it returns a promise. Returns the row count and
 * the values of the last row (null if none), from which a backfill takes
 * its cursor.
 */
export async function copyDocuments(
  client: pg.Client,
  sql: string,
  writer: DocumentWriter,
  onDoc: (doc: RawJsonBytes) => void | Promise<void>,
): Promise<{ rows: number; last: (string | null)[] | null }> {
  const stream = client.query(copyOut(sql));
  let rows = 0;
  let last: (string | null)[] | null = null;
  await readCopyBlocks(stream, async (buf, end) => {
    let s = 0;
    for (;;) {
      const nl = buf.indexOf(10, s);
      const e = nl < 0 || nl > end ? end : nl;
      rows++;
      const p = onDoc(writer.row(buf, s, e));
      if (p) await p;
      if (e >= end) {
        last = parseCopyLine(buf.toString("utf8", s, e), []);
        return;
      }
      s = e + 1;
    }
  });
  return { rows, last };
}

/** Pages in the table (or leaf partition) now, and an estimate of rows per page, for keyless chunking. */
export async function tablePages(client: pg.Client, t: BackfillTable, relation = qualified(t.schema, t.name)): Promise<{ pages: number; rowsPerPage: number }> {
  const res = await client.query(
    `SELECT (pg_relation_size(c.oid) / current_setting('block_size')::int)::int AS pages, c.reltuples::float8 AS tuples, c.relpages::int AS relpages
       FROM pg_catalog.pg_class c WHERE c.oid = $1::regclass`,
    [relation],
  );
  const r = res.rows[0];
  const rowsPerPage = r.relpages > 0 && r.tuples > 0 ? Math.max(1, r.tuples / r.relpages) : 100;
  return { pages: Number(r.pages), rowsPerPage };
}
