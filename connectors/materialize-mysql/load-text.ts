/**
 * The text LOAD DATA reads (FIELDS TERMINATED BY '\t' ESCAPED BY '\\'
 * LINES TERMINATED BY '\n'): NULL is `\N`; backslash, tab, newline, carriage
 * return and NUL inside a value are backslash-escaped. Values arrive as JSON
 * source text and are converted by their column's encoding without passing
 * through JS numbers.
 */
import type { ValueEncoding } from "../../src/sql/dialect.js";
import type { Column } from "../../src/sql/table.js";
import { jsonStringValue } from "../../src/sql/json-tuple.js";
import { NULL_FIELD, TsvRowEncoder } from "../../src/sql/tsv-rows.js";

const NEEDS_ESCAPE = /[\\\n\r\t\u0000]/;
const ESCAPES = /[\\\n\r\t\u0000]/g;
const ESCAPED: Record<string, string> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\u0000": "\\0" };

export function loadEscape(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPES, (c) => ESCAPED[c]!) : s;
}

export { NULL_FIELD };

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** An RFC 3339 date-time as MySQL DATETIME text in UTC, microseconds truncated. */
export function utcDatetime(s: string): string {
  const m = RFC3339.exec(s);
  if (!m) throw new Error("a date-time value is not RFC 3339 (YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM))");
  const frac = m[7] ? "." + m[7].slice(0, 6) : "";
  const offset = m[8] ? 0 : (m[9] === "-" ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  if (offset === 0) return `${m[1]}-${m[2]}-${m[3]} ${m[4]}:${m[5]}:${m[6]}${frac}`;
  const d = new Date(0);
  d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  d.setUTCHours(Number(m[4]), Number(m[5]) - offset, Number(m[6]), 0);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${frac}`;
}

/** One value's JSON text as a LOAD DATA field. */
export function encodeField(token: string, enc: ValueEncoding): string {
  if (token === "null") return NULL_FIELD;
  switch (enc) {
    case "verbatim":
      return loadEscape(token);
    case "string":
    case "text":
      return loadEscape(jsonStringValue(token) ?? token);
    case "base64":
      // Loaded into a variable and decoded by FROM_BASE64(): base64 text needs no escapes.
      return loadEscape(jsonStringValue(token) ?? "");
    case "boolean_digit":
      if (token === "true") return "1";
      if (token === "false") return "0";
      throw new Error("a boolean column got a value that is not true, false or null");
    case "datetime_utc": {
      const s = jsonStringValue(token);
      if (s === undefined) throw new Error("a date-time column got a value that is not a string");
      return utcDatetime(s);
    }
  }
}

/** Encodes stores or keys of one binding into LOAD DATA lines. */
export class RowEncoder extends TsvRowEncoder {
  constructor(keys: Column[], values: Column[]) {
    super(keys, values, { field: encodeField, escape: loadEscape });
  }
}

/**
 * The column list and SET clause of a LOAD DATA statement for `columns`
 * (followed by `extra` plain columns): base64 columns are read into user
 * variables and decoded.
 */
export function loadColumns(columns: Column[], extra: string[] = []): string {
  const targets: string[] = [];
  const sets: string[] = [];
  columns.forEach((c, i) => {
    if (c.mapped.encoding === "base64") {
      targets.push(`@b${i}`);
      sets.push(`${c.ident} = FROM_BASE64(@b${i})`);
    } else targets.push(c.ident);
  });
  targets.push(...extra);
  return `(${targets.join(", ")})${sets.length ? " SET " + sets.join(", ") : ""}`;
}

/**
 * LOAD DATA LOCAL INFILE into `tableIdent`. The file name is a placeholder:
 * the client serves the statement's own stream, never a file.
 */
export function loadDataSql(tableIdent: string, columnsClause: string): string {
  return (
    `LOAD DATA LOCAL INFILE 'stream' INTO TABLE ${tableIdent} CHARACTER SET utf8mb4 ` +
    `FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ${columnsClause}`
  );
}
