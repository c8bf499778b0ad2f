/**
 * Column values as document JSON, for both the backfill and the binlog.
 *
 * The backfill reads rows over the text protocol (every value a string,
 * binary ones a Buffer); the binlog reader decodes row images into numbers,
 * strings and Buffers. Each column has a kind, and one converter per kind
 * accepts either form and writes the same JSON text, so that a row reads
 * the same whichever way it reached us. Integers and decimals are never
 * passed through a double: BIGINT UNSIGNED reaches 2^64−1 exactly.
 */
import type { JsonSchema } from "../../src/sdk/types.js";
import { localToUtc, type Zone } from "./timezone.js";

export type Kind =
  | "int"
  | "decimal"
  | "float"
  | "double"
  | "date"
  | "datetime"
  | "timestamp"
  | "time"
  | "year"
  | "bit"
  | "enum"
  | "set"
  | "json"
  | "text"
  | "binary"
  | "uuid"
  | "inet4"
  | "inet6"
  | "geometry";

/** The kind of an information_schema.COLUMNS row (DATA_TYPE, lower case). */
export function kindOfDataType(dataType: string, isJson: boolean): Kind {
  switch (dataType) {
    case "tinyint":
    case "smallint":
    case "mediumint":
    case "int":
    case "integer":
    case "bigint":
      return "int";
    case "decimal":
    case "numeric":
      return "decimal";
    case "float":
      return "float";
    case "double":
    case "real":
      return "double";
    case "date":
      return "date";
    case "datetime":
      return "datetime";
    case "timestamp":
      return "timestamp";
    case "time":
      return "time";
    case "year":
      return "year";
    case "bit":
      return "bit";
    case "enum":
      return "enum";
    case "set":
      return "set";
    case "json":
      return "json";
    case "binary":
    case "varbinary":
    case "tinyblob":
    case "blob":
    case "mediumblob":
    case "longblob":
      return "binary";
    case "geometry":
    case "point":
    case "linestring":
    case "polygon":
    case "multipoint":
    case "multilinestring":
    case "multipolygon":
    case "geometrycollection":
      return "geometry";
    case "longtext":
      return isJson ? "json" : "text";
    case "uuid":
      return "uuid";
    case "inet4":
      return "inet4";
    case "inet6":
      return "inet6";
    default:
      // char, varchar, *text.
      return "text";
  }
}

/** Binlog column type codes (the protocol's MYSQL_TYPE_*), as the binlog reader reports them. */
const T = {
  DECIMAL: 0, TINY: 1, SHORT: 2, LONG: 3, FLOAT: 4, DOUBLE: 5, TIMESTAMP: 7, LONGLONG: 8, INT24: 9, DATE: 10, TIME: 11, DATETIME: 12,
  YEAR: 13, NEWDATE: 14, VARCHAR: 15, BIT: 16, TIMESTAMP2: 17, DATETIME2: 18, TIME2: 19, BLOB_COMPRESSED: 140, VARCHAR_COMPRESSED: 141,
  JSON: 245, NEWDECIMAL: 246, ENUM: 247, SET: 248, TINY_BLOB: 249, MEDIUM_BLOB: 250, LONG_BLOB: 251, BLOB: 252, VAR_STRING: 253, STRING: 254, GEOMETRY: 255,
} as const;

/**
 * The kind of a binlog column, from its type code and character set (null
 * for binary strings). `catalog` is the kind the catalog gives a column of
 * that name, used only to tell what the binlog cannot (MariaDB's JSON is a
 * LONGTEXT) and only when it agrees with the binlog's own type.
 */
export function kindOfBinlogType(type: number, charset: string | null, catalog?: Kind): Kind {
  switch (type) {
    case T.TINY:
    case T.SHORT:
    case T.INT24:
    case T.LONG:
    case T.LONGLONG:
      return "int";
    case T.DECIMAL:
    case T.NEWDECIMAL:
      return "decimal";
    case T.FLOAT:
      return "float";
    case T.DOUBLE:
      return "double";
    case T.DATE:
    case T.NEWDATE:
      return "date";
    case T.DATETIME:
    case T.DATETIME2:
      return "datetime";
    case T.TIMESTAMP:
    case T.TIMESTAMP2:
      return "timestamp";
    case T.TIME:
    case T.TIME2:
      return "time";
    case T.YEAR:
      return "year";
    case T.BIT:
      return "bit";
    case T.ENUM:
      return "enum";
    case T.SET:
      return "set";
    case T.JSON:
      return "json";
    case T.GEOMETRY:
      return "geometry";
    default:
      // MariaDB's UUID, INET4 and INET6 ride on binary strings in the binlog.
      if (charset === null) return catalog === "uuid" || catalog === "inet4" || catalog === "inet6" ? catalog : "binary";
      return catalog === "json" ? "json" : "text";
  }
}

/** The JSON schema of a kind's values, as toJson writes them. */
export function kindSchema(kind: Kind): JsonSchema {
  switch (kind) {
    case "int":
    case "year":
    case "bit":
      return { type: "integer" };
    case "decimal":
      return { type: "string", format: "number" };
    case "float":
    case "double":
      return { type: "number" };
    case "date":
      return { type: "string", format: "date" };
    case "datetime":
    case "timestamp":
      return { type: "string", format: "date-time" };
    case "json":
    case "geometry":
      return {};
    case "binary":
      return { type: "string", contentEncoding: "base64" };
    case "uuid":
      return { type: "string", format: "uuid" };
    default:
      return { type: "string" };
  }
}

/** What converters need to know besides the value. */
export interface ValueContext {
  /** The zone DATETIME values are read in (TIMESTAMPs always arrive in UTC). */
  zone: Zone;
}

const ZERO_DATE = "0001-01-01";

/** Whether a DATE text (or a DATETIME's first ten characters) is a zero or partial-zero date, as dateText tells. */
function zeroDate(s: string): boolean {
  const z = 48; /* "0" */
  return (
    (s.charCodeAt(0) === z && s.charCodeAt(1) === z && s.charCodeAt(2) === z && s.charCodeAt(3) === z) ||
    (s.charCodeAt(5) === z && s.charCodeAt(6) === z) ||
    (s.charCodeAt(8) === z && s.charCodeAt(9) === z)
  );
}

/** A DATE text, with MySQL's zero and partial-zero dates replaced by 0001-01-01 (no valid date has them). */
function dateText(s: string): string {
  return zeroDate(s) ? ZERO_DATE : s;
}

/** "YYYY-MM-DD HH:MM:SS[.ffffff]" read in UTC, as RFC 3339. */
function utcDateTime(s: string): string {
  const date = s.slice(0, 10);
  if (dateText(date) === ZERO_DATE && date !== ZERO_DATE) return `${ZERO_DATE}T00:00:00Z`;
  return `${date}T${s.slice(11)}Z`;
}

function text(v: unknown): string {
  if (typeof v === "string") return v;
  if (Buffer.isBuffer(v)) return v.toString("utf8");
  return String(v);
}

/**
 * An INET4/INET6 value's bytes (network order; the binlog drops trailing zero bytes) in the server's text form:
 * dotted quads, or RFC 5952 IPv6 (lowercase, the longest run of two or more zero groups as "::", the first on a
 * tie) with IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d, but not :: and ::1) addresses dotted.
 */
function inetText(raw: Buffer, width: 4 | 16): string {
  const b = Buffer.alloc(width);
  raw.copy(b);
  const quad = (o: number) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
  if (width === 4) return quad(0);
  if (b.subarray(0, 10).every((x) => x === 0)) {
    if (b[10] === 0xff && b[11] === 0xff) return `::ffff:${quad(12)}`;
    if (b[10] === 0 && b[11] === 0 && b.readUInt32BE(12) > 1) return `::${quad(12)}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  let start = -1;
  let len = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > len) [start, len] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  return start < 0 ? hex.join(":") : `${hex.slice(0, start).join(":")}::${hex.slice(start + len).join(":")}`;
}

/** The shortest decimal that reads back as the same 32-bit float. */
export function float32Text(x: number): string {
  const f = Math.fround(x);
  if (!Number.isFinite(f)) throw new Error("FLOAT value is not finite");
  for (let p = 1; p <= 9; p++) {
    const s = Number(f.toPrecision(p));
    if (Math.fround(s) === f) return String(s);
  }
  return String(f);
}

/**
 * The JSON text of a non-null value.
 */
export function toJson(kind: Kind, v: unknown, ctx: ValueContext): string {
  switch (kind) {
    case "int": {
      if (typeof v === "number" && Number.isSafeInteger(v)) return String(v);
      const s = typeof v === "bigint" ? v.toString() : text(v);
      if (!/^-?\d+$/.test(s)) throw new Error("integer column holds a value that is not an integer");
      return s;
    }
    case "decimal":
      return JSON.stringify(text(v));
    case "float":
      return float32Text(Number(text(v)));
    case "double": {
      const x = typeof v === "number" ? v : Number(text(v));
      if (!Number.isFinite(x)) throw new Error("DOUBLE value is not finite");
      return String(x);
    }
    case "date":
      return JSON.stringify(dateText(text(v)));
    case "datetime": {
      const s = text(v);
      const date = s.slice(0, 10);
      if (dateText(date) !== date) return JSON.stringify(`${ZERO_DATE}T00:00:00Z`);
      return JSON.stringify(localToUtc(s, ctx.zone));
    }
    case "timestamp":
      return JSON.stringify(utcDateTime(text(v)));
    case "time":
    case "set":
    case "text":
      return JSON.stringify(text(v));
    case "enum":
      // The binlog reader gives no label for the empty "error" value (index 0).
      return JSON.stringify(v === undefined ? "" : text(v));
    case "year": {
      const n = Number(v);
      // A two-byte binlog YEAR decodes 0000 as 1900, which no YEAR column can hold.
      return String(n === 1900 ? 0 : n);
    }
    case "bit": {
      const b = Buffer.isBuffer(v) ? v : Buffer.from(text(v), "latin1");
      return b.length === 0 ? "0" : BigInt("0x" + b.toString("hex")).toString();
    }
    case "json":
      // Passed as it is, not parsed again (that cost a tenth of the backfill's CPU): MariaDB admits only json_valid
      // text to these columns and MySQL stores JSON in binary, and the runtime parses every document it receives.
      return text(v);
    case "binary":
      return JSON.stringify((Buffer.isBuffer(v) ? v : Buffer.from(text(v), "latin1")).toString("base64"));
    case "inet4":
    case "inet6":
      return JSON.stringify(Buffer.isBuffer(v) ? inetText(v, kind === "inet4" ? 4 : 16) : text(v));
    case "uuid": {
      if (!Buffer.isBuffer(v)) return JSON.stringify(text(v));
      const h = Buffer.concat([v, Buffer.alloc(Math.max(0, 16 - v.length))]).toString("hex");
      return JSON.stringify(`${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`);
    }
    case "geometry":
      // Both the driver and the binlog reader parse the stored WKB (after its SRID) into the same shape:
      // a point is {x, y}, a line an array of points, a polygon an array of rings, collections arrays of those.
      if (Buffer.isBuffer(v)) throw new Error("GEOMETRY value arrived unparsed");
      return JSON.stringify(v);
  }
}

/** Characters a JSON string must escape, and lone surrogates (which JSON.stringify writes as \u escapes). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A string as JSON text: quoted as it is when nothing in it needs escaping (most values), else by JSON.stringify. */
export function jsonQuote(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

const INTEGER = /^-?\d+$/;

/**
 * DOUBLE text that String(Number(text)) gives back unchanged: at most 15 characters (so at most 15 significant
 * digits, which a double always holds exactly: no shorter text reads as the same double), plain notation, no
 * leading or trailing zeros, not -0, and below 1 at most five zeros after the point (JavaScript writes 1e-7 and
 * smaller with an exponent). The backfill reads DOUBLEs as the server's text (see backfill.ts); text of any
 * other form goes through a number, as the binlog's doubles do.
 */
export const PLAIN_DOUBLE = /^(?:0|-?[1-9]\d*(?:\.\d*[1-9])?|-?0\.0{0,5}[1-9](?:\d*[1-9])?)$/;
const ZERO_DATETIME_JSON = `"${ZERO_DATE}T00:00:00Z"`;

/** Whether "YYYY-MM-DD HH:MM:SS[.f+]" has, from position 16, ":" two digits and an optional "." with digits. */
function secondsTail(s: string): boolean {
  const n = s.length;
  if (n < 19 || s.charCodeAt(16) !== 58 || !digit(s.charCodeAt(17)) || !digit(s.charCodeAt(18))) return false;
  if (n === 19) return true;
  if (n === 20 || s.charCodeAt(19) !== 46) return false;
  for (let i = 20; i < n; i++) if (!digit(s.charCodeAt(i))) return false;
  return true;
}

function digit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Whether two DATETIME texts share their first 16 characters (date, hour and minute). */
function sameMinute(a: string, b: string): boolean {
  if (b.length < 16) return false;
  for (let i = 15; i >= 0; i--) if (a.charCodeAt(i) !== b.charCodeAt(i)) return false;
  return true;
}

export type Converter = (v: unknown) => string;

/**
 * toJson for one kind, made once per column: the forms the drivers give most
 * often (strings, safe numbers) take a short path written for that kind, and
 * anything else goes through toJson, so the text is the same either way.
 */
export function converterFor(kind: Kind, ctx: ValueContext): Converter {
  switch (kind) {
    case "int":
      return (v) => {
        if (typeof v === "number" && Number.isSafeInteger(v)) return "" + v;
        if (typeof v === "string" && INTEGER.test(v)) return v;
        return toJson(kind, v, ctx);
      };
    case "double":
      return (v) => {
        if (typeof v === "number" && Number.isFinite(v)) return "" + v;
        if (typeof v === "string" && v.length <= 15 && PLAIN_DOUBLE.test(v)) return v;
        return toJson(kind, v, ctx);
      };
    case "text":
    case "time":
    case "set":
    case "decimal":
      return (v) => (typeof v === "string" ? jsonQuote(v) : toJson(kind, v, ctx));
    case "json":
      return (v) => (typeof v === "string" ? v : toJson(kind, v, ctx));
    case "date":
      return (v) => (typeof v === "string" ? (zeroDate(v) ? `"${ZERO_DATE}"` : jsonQuote(v)) : toJson(kind, v, ctx));
    case "datetime": {
      const zone = ctx.zone;
      // Rows come in runs from the same minute (a table's rows in key order, a transaction's rows): the last
      // minute converted is kept, and a value in it only has its seconds (and fraction) appended.
      let lastValue = "";
      let lastHead = "";
      return (v) => {
        if (typeof v !== "string") return toJson(kind, v, ctx);
        if (zeroDate(v)) return ZERO_DATETIME_JSON;
        if (!secondsTail(v)) return '"' + localToUtc(v, zone) + '"';
        if (!sameMinute(v, lastValue)) {
          lastHead = localToUtc(v, zone).slice(0, 16);
          lastValue = v;
        }
        // localToUtc writes only digits, "-", ":", ".", "T" and "Z": nothing to escape.
        return '"' + lastHead + v.slice(16) + 'Z"';
      };
    }
    case "timestamp":
      return (v) => (typeof v === "string" ? jsonQuote(utcDateTime(v)) : toJson(kind, v, ctx));
    default:
      return (v) => toJson(kind, v, ctx);
  }
}
