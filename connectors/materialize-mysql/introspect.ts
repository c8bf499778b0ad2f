/** What the destination already holds and how it is configured. */
import type { ExistingColumn, ExistingTable } from "../../src/sql/dialect.js";
import type { MysqlConnection } from "../../src/mysql/connect.js";
import { mysqlColumnKey } from "../../src/mysql/quote.js";

export interface ServerInfo {
  /** 0: table names compared as spelled; 1 and 2: compared in lower case. */
  lowerCaseTableNames: number;
  localInfile: boolean;
  /** Collation for string key columns (see MysqlDialectOptions). */
  keyCollation: string;
  version: string;
}

/** Binary, no-pad collations first: keys "a", "A" and "a " must be three rows. */
const KEY_COLLATIONS = ["utf8mb4_nopad_bin", "utf8mb4_0900_bin", "utf8mb4_bin"];

export async function readServerInfo(conn: MysqlConnection): Promise<ServerInfo> {
  const [vars] = await conn.query<any[]>("SELECT @@lower_case_table_names AS lctn, @@local_infile AS local_infile_on, VERSION() AS version");
  const [colls] = await conn.query<any[]>(
    `SELECT collation_name AS name FROM information_schema.collations WHERE collation_name IN (${KEY_COLLATIONS.map(() => "?").join(", ")})`,
    KEY_COLLATIONS,
  );
  const have = new Set(colls.map((r) => String(r.name)));
  return {
    lowerCaseTableNames: Number(vars[0].lctn),
    localInfile: Number(vars[0].local_infile_on) === 1,
    keyCollation: KEY_COLLATIONS.find((c) => have.has(c)) ?? "utf8mb4_bin",
    version: String(vars[0].version),
  };
}

export interface InfoSchema {
  /** The table named `name`, looked up as the server compares table names. */
  table(name: string): (ExistingTable & { comment: string }) | null;
  tableKey(name: string): string;
}

/** Reads the columns of every table of `database`. */
export async function readInfoSchema(conn: MysqlConnection, database: string, server: ServerInfo): Promise<InfoSchema> {
  const tableKey = (name: string) => (server.lowerCaseTableNames === 0 ? name : name.toLowerCase());
  const [cols] = await conn.query<any[]>(
    `SELECT c.table_name AS tname, c.column_name AS cname, c.data_type AS dtype, c.column_type AS ctype,
            c.is_nullable AS nullable, c.collation_name AS coll, t.table_comment AS tcomment
       FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE c.table_schema = ? ORDER BY c.table_name, c.ordinal_position`,
    [database],
  );
  const tables = new Map<string, ExistingTable & { comment: string }>();
  for (const r of cols) {
    const k = tableKey(String(r.tname));
    let tbl = tables.get(k);
    if (!tbl) tables.set(k, (tbl = { path: [String(r.tname)], columns: new Map(), comment: String(r.tcomment ?? "") }));
    const ctype = String(r.ctype).toLowerCase();
    const col: ExistingColumn = {
      name: String(r.cname),
      type: String(r.dtype).toLowerCase() + (/\bunsigned\b/.test(ctype) ? " unsigned" : ""),
      nullable: r.nullable === "YES",
      fullType: ctype + (r.coll ? ` COLLATE ${r.coll}` : ""),
    };
    tbl.columns.set(mysqlColumnKey(col.name), col);
  }
  return { table: (name) => tables.get(tableKey(name)) ?? null, tableKey };
}
