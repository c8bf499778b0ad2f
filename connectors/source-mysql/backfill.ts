/**
 * Backfill queries: a table is read chunk by chunk in key order (keyset
 * pagination: each chunk starts after the last key of the previous one, so
 * the cursor kept in the checkpoint resumes a backfill after any crash).
 *
 * The "after" condition is written out as k1 > a OR (k1 = a AND k2 > b) …
 * rather than a row comparison, which MariaDB does not turn into an index
 * range. Numeric key values are written as numeric literals: MySQL compares
 * a number column with a string as doubles, which would round BIGINTs.
 */
import type mysql from "mysql2/promise";
import { qualified, quoteIdent } from "./connection.js";
import type { ColumnInfo } from "./discovery.js";
import type { Kind } from "./values.js";

export interface BackfillTable {
  schema: string;
  name: string;
  columns: ColumnInfo[];
  key: string[];
}

/** A key value as kept in the backfill cursor: text, or base64 for byte strings. */
export function cursorValue(kind: Kind, v: unknown): string {
  if (Buffer.isBuffer(v)) return v.toString("base64");
  // DOUBLEs are read as the server's text (see selectList); the cursor keeps the form it always had.
  if (kind === "double" && typeof v === "string") return String(Number(v));
  return String(v);
}

/** The labels of an ENUM or SET column type, e.g. enum('a','b,c') → ["a", "b,c"]. */
export function typeLabels(columnType: string): string[] {
  const m = /^(?:enum|set)\((.*)\)$/is.exec(columnType.trim());
  if (!m) throw new Error(`column type ${JSON.stringify(columnType)} lists no labels`);
  const labels: string[] = [];
  const re = /'((?:[^'\\]|''|\\.)*)'/gs;
  for (let x; (x = re.exec(m[1])); ) labels.push(x[1].replace(/''/g, "'").replace(/\\(.)/gs, "$1"));
  return labels;
}

/**
 * ENUM and SET keys are ordered by their stored numbers (the label's position, the members' bits), which a
 * number compares with, while a label would compare as a string: the cursor keeps the label, the query its number.
 */
function storedNumber(c: ColumnInfo, label: string): string {
  const labels = typeLabels(c.columnType);
  if (c.kind === "enum") {
    if (label === "") return "0";
    const i = labels.indexOf(label);
    if (i < 0) throw new Error("backfill cursor holds a label the ENUM key column does not have");
    return String(i + 1);
  }
  let bits = 0n;
  for (const member of label === "" ? [] : label.split(",")) {
    const i = labels.indexOf(member);
    if (i < 0) throw new Error("backfill cursor holds a member the SET key column does not have");
    bits |= 1n << BigInt(i);
  }
  return bits.toString();
}

function literal(conn: mysql.Connection, c: ColumnInfo, v: string): string {
  const kind: Kind = c.kind;
  switch (kind) {
    case "enum":
    case "set":
      return storedNumber(c, v);
    case "int":
    case "year":
      if (!/^-?\d+$/.test(v)) throw new Error("backfill cursor holds a non-integer value for an integer key");
      return v;
    case "decimal":
    case "float":
    case "double":
      if (!/^-?\d+(\.\d+)?(e[-+]?\d+)?$/i.test(v)) throw new Error("backfill cursor holds a non-numeric value for a numeric key");
      return v;
    case "binary":
    case "bit":
      return `X'${Buffer.from(v, "base64").toString("hex")}'`;
    default:
      return conn.escape(v);
  }
}

function selectList(t: BackfillTable): string {
  return t.columns
    .map((c) => {
      // FLOAT reads as 32-bit binary through CAST, since its text form is rounded to 6 digits.
      if (c.kind === "float") return `CAST(${quoteIdent(c.name)} AS DOUBLE)`;
      // DOUBLE as the server's text: the driver would parse it into a number only for values.ts to print that
      // number again, a tenth of the backfill's CPU; most texts are already what printing the number gives.
      if (c.kind === "double") return `CAST(${quoteIdent(c.name)} AS CHAR)`;
      return quoteIdent(c.name);
    })
    .join(", ");
}

export function keyedChunkSql(conn: mysql.Connection, t: BackfillTable, after: string[] | null, limit: number): string {
  const keys = t.key.map((k) => t.columns.find((c) => c.name === k)!);
  let where = "";
  if (after) {
    const lits = keys.map((c, i) => literal(conn, c, after[i]!));
    const ors: string[] = [];
    for (let i = 0; i < keys.length; i++) {
      const eqs = keys.slice(0, i).map((c, j) => `${quoteIdent(c.name)} = ${lits[j]}`);
      ors.push("(" + [...eqs, `${quoteIdent(keys[i].name)} > ${lits[i]}`].join(" AND ") + ")");
    }
    where = ` WHERE ${ors.join(" OR ")}`;
  }
  return `SELECT ${selectList(t)} FROM ${qualified(t.schema, t.name)}${where} ORDER BY ${keys.map((c) => quoteIdent(c.name)).join(", ")} LIMIT ${limit}`;
}

/**
 * The whole of a keyless table, read by one statement (streamed): without a key no later query could
 * start where an earlier one stopped, since deletes shift every offset, while one statement reads one
 * consistent snapshot.
 */
export function keylessSql(t: BackfillTable): string {
  return `SELECT ${selectList(t)} FROM ${qualified(t.schema, t.name)}`;
}
