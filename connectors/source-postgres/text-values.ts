/**
 * Column values from PostgreSQL's text representation to JSON text.
 *
 * Both paths read values as text produced by the type's output function:
 * the backfill through COPY ... TO STDOUT, the change stream through
 * pgoutput's text tuples. Both sessions set the same output settings
 * (see connection.ts), and both convert with the converters built here, so
 * a row captured by the backfill and the same row captured from the WAL give
 * the same JSON by construction.
 *
 * A converter returns JSON text, never a JS value: int8 beyond 2^53 and
 * numerics stay exact because their digits are copied, not parsed.
 */
import type { PgType, TypeLookup } from "./type-catalog.js";

export type Converter = (text: string) => string;

// Built-in type OIDs (pg_type.dat); stable across versions.
export const OID = {
  bool: 16,
  bytea: 17,
  char: 18,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  xid: 28,
  json: 114,
  xml: 142,
  float4: 700,
  float8: 701,
  money: 790,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  timetz: 1266,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
} as const;

/** Text that needs no escaping inside a JSON string (digits, hex, dates, addresses...). */
const quote = (text: string) => '"' + text + '"';
const jsonString: Converter = (text) => JSON.stringify(text);
const verbatim: Converter = (text) => text;

const bool: Converter = (text) => (text === "t" ? "true" : "false");

/** float4/float8: finite values are valid JSON numbers as PostgreSQL prints them. */
const float: Converter = (text) => {
  const c = text.charCodeAt(text.length - 1);
  // NaN, Infinity and -Infinity end in a letter; JSON has no such numbers.
  return c >= 48 && c <= 57 ? text : quote(text);
};

/** bytea in hex output ("\x0aff") to base64. */
const bytea: Converter = (text) => {
  if (text.startsWith("\\x")) return quote(Buffer.from(text.slice(2), "hex").toString("base64"));
  // Escape format (bytea_output=escape) is not what we configure; keep it readable rather than fail.
  return JSON.stringify(text);
};

/**
 * A `\uD800`-`\uDFFF` escape, with the low half that may follow a high one;
 * any other escape (`\\` above all) is matched as a whole, so the text after
 * an escaped backslash is never mistaken for an escape.
 */
const ESCAPE_RE = /\\(?:u([dD][89abAB][0-9a-fA-F]{2})(\\u[dD][c-fC-F][0-9a-fA-F]{2})?|u[dD][c-fC-F][0-9a-fA-F]{2}|[^u])/g;

/**
 * `json` keeps its text as written, so it may hold escapes of unpaired UTF-16
 * surrogates (`"\ud83d"`), which Flow's runtime rejects. Each becomes the
 * escape of U+FFFD (the replacement character); pairs are kept. (`jsonb`
 * refuses such escapes on input, so its text never has them.)
 */
export function replaceLoneSurrogates(text: string): string {
  if (text.indexOf("\\u") < 0 || !/\\u[dD][89a-fA-F]/.test(text)) return text;
  return text.replace(ESCAPE_RE, (m: string, high: string | undefined, low: string | undefined) =>
    m.charCodeAt(1) !== 117 /* u */ || (high !== undefined && low !== undefined) ? m : "\\ufffd",
  );
}

/**
 * json/jsonb text is already JSON. Tabs and newlines can only appear between
 * tokens in valid JSON (inside strings they must be escaped), so they become
 * spaces: documents stay one line for line-oriented transports.
 */
const json: Converter = (text) => replaceLoneSurrogates(/[\n\r\t]/.test(text) ? text.replace(/[\n\r\t]/g, " ") : text);

// ------------------------------------------------------------ date and time
// The sessions use DateStyle=ISO; timestamptz then prints in the session's
// TimeZone (UTC), but converters accept any offset so that a server forcing
// another zone still yields correct UTC instants.

const MAX_TIMESTAMP = "9999-12-31T23:59:59.999999Z";
const MIN_TIMESTAMP = "0000-01-01T00:00:00Z";
const MAX_TIMESTAMP_Q = quote(MAX_TIMESTAMP);
const MIN_TIMESTAMP_Q = quote(MIN_TIMESTAMP);

/** date: ISO "2024-02-29"; infinities and years outside 0000..9999 clamp to the representable range. */
const date: Converter = (text) => {
  if (text.length === 10) return quote(text);
  if (text === "infinity") return '"9999-12-31"';
  if (text === "-infinity" || text.endsWith(" BC")) return '"0000-01-01"';
  return '"9999-12-31"'; // a year past 9999
};

const TS_RE = /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(\.\d+)?([+-]\d\d(?::?\d\d){0,2})?( BC)?$/;

/** Formats an instant given as local fields plus an offset, as RFC 3339 UTC (unquoted). */
function toUtc(m: RegExpExecArray): string {
  if (m[9]) return MIN_TIMESTAMP;
  const year = Number(m[1]);
  if (year > 9999) return MAX_TIMESTAMP;
  let offsetSec = 0;
  if (m[8]) {
    const sign = m[8][0] === "-" ? -1 : 1;
    const parts = m[8].slice(1).split(":");
    const hh = Number(parts[0].slice(0, 2));
    // Offsets print as +HH, +HH:MM or +HH:MM:SS.
    const mm = parts.length > 1 ? Number(parts[1]) : 0;
    const ss = parts.length > 2 ? Number(parts[2]) : 0;
    offsetSec = sign * (hh * 3600 + mm * 60 + ss);
  }
  const frac = m[7] ?? "";
  if (offsetSec === 0) return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${frac}Z`;
  const d = new Date(0);
  d.setUTCFullYear(year, Number(m[2]) - 1, Number(m[3]));
  d.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]) - offsetSec, 0);
  const y = d.getUTCFullYear();
  if (y > 9999) return MAX_TIMESTAMP;
  if (y < 0) return MIN_TIMESTAMP;
  const p2 = (n: number) => (n < 10 ? "0" : "") + n;
  return `${String(y).padStart(4, "0")}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}T${p2(d.getUTCHours())}:${p2(
    d.getUTCMinutes(),
  )}:${p2(d.getUTCSeconds())}${frac}Z`;
}

/** timestamptz → RFC 3339 in UTC ("2024-01-02T03:04:05.123456Z"). */
const timestamptz: Converter = (text) => {
  // Fast path: the session zone is UTC, so most values end in "+00".
  if (text.length >= 22 && text.charCodeAt(10) === 32 && text.endsWith("+00") && text.charCodeAt(4) === 45) {
    return '"' + text.slice(0, 10) + "T" + text.slice(11, -3) + 'Z"';
  }
  if (text === "infinity") return MAX_TIMESTAMP_Q;
  if (text === "-infinity") return MIN_TIMESTAMP_Q;
  const m = TS_RE.exec(text);
  return m ? '"' + toUtc(m) + '"' : JSON.stringify(text);
};

/** timestamp without time zone: its wall-clock fields, written as if UTC. */
const timestamp: Converter = (text) => {
  if (text.length >= 19 && text.charCodeAt(10) === 32 && text.charCodeAt(4) === 45 && !text.endsWith("BC")) {
    return '"' + text.slice(0, 10) + "T" + text.slice(11) + 'Z"';
  }
  if (text === "infinity") return MAX_TIMESTAMP_Q;
  if (text === "-infinity") return MIN_TIMESTAMP_Q;
  const m = TS_RE.exec(text);
  return m ? '"' + toUtc(m) + '"' : JSON.stringify(text);
};


/** time without time zone: RFC 3339 partial time plus "Z". */
const time: Converter = (text) => quote(text + "Z");

/** timetz: offsets normalised to ±HH:MM as RFC 3339 requires. */
const timetz: Converter = (text) => {
  const m = /^(.*?)([+-])(\d\d)(?::(\d\d))?(?::\d\d)?$/.exec(text);
  if (!m) return JSON.stringify(text);
  return quote(`${m[1]}${m[2]}${m[3]}:${m[4] ?? "00"}`);
};

// ------------------------------------------------------------------ arrays

/**
 * PostgreSQL's array output ("{1,2,NULL}", "{{a,b},{c,d}}", "[0:1]={x,y}",
 * quoted elements with backslash escapes) to a JSON array, nested by
 * dimension, each element converted by the element type's converter.
 */
function arrayConverter(elem: Converter, delim: string): Converter {
  const delimCode = delim.charCodeAt(0);
  return (text) => {
    let i = 0;
    if (text.charCodeAt(0) === 91 /* [ */) {
      // Explicit lower bounds ("[2:3]={...}") carry no value; skip them.
      i = text.indexOf("=") + 1;
    }
    let out = "";
    const n = text.length;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 123 /* { */) {
        out += "[";
        i++;
      } else if (c === 125 /* } */) {
        out += "]";
        i++;
      } else if (c === delimCode) {
        out += ",";
        i++;
      } else if (c === 34 /* " */) {
        let s = "";
        i++;
        let start = i;
        for (;;) {
          const d = text.charCodeAt(i);
          if (d === 92 /* \ */) {
            s += text.slice(start, i) + text[i + 1];
            i += 2;
            start = i;
          } else if (d === 34) {
            s += text.slice(start, i);
            i++;
            break;
          } else if (i >= n) {
            throw new Error(`malformed array value ${JSON.stringify(text)}`);
          } else i++;
        }
        out += elem(s);
      } else {
        let j = i;
        while (j < n) {
          const d = text.charCodeAt(j);
          if (d === delimCode || d === 125) break;
          j++;
        }
        const raw = text.slice(i, j);
        out += raw === "NULL" ? "null" : elem(raw);
        i = j;
      }
    }
    return out;
  };
}

// -------------------------------------------------------------- dispatch

/**
 * The scalar converters, by name, for the byte path (document-bytes.ts),
 * which writes the same JSON as these straight from COPY bytes for the
 * converters it knows (by identity) and calls the converter for the rest.
 */
export const CONVERTERS = { jsonString, verbatim, quote, bool, float, json, date, time, timestamp, timestamptz } as const;

const BY_OID: Record<number, Converter> = {
  [OID.bool]: bool,
  [OID.int2]: verbatim,
  [OID.int4]: verbatim,
  [OID.int8]: verbatim,
  [OID.oid]: verbatim,
  [OID.xid]: verbatim,
  [OID.float4]: float,
  [OID.float8]: float,
  [OID.numeric]: jsonString,
  [OID.bytea]: bytea,
  [OID.json]: json,
  [OID.jsonb]: json,
  [OID.uuid]: quote,
  [OID.date]: date,
  [OID.time]: time,
  [OID.timetz]: timetz,
  [OID.timestamp]: timestamp,
  [OID.timestamptz]: timestamptz,
};

/** Whether a type is float4 or float8, or a domain over one. */
export function isFloat(oid: number, types: TypeLookup): boolean {
  if (oid === OID.float4 || oid === OID.float8) return true;
  const t = types.get(oid);
  return t?.typtype === "d" && !!t.base && isFloat(t.base, types);
}

/**
 * The converter for a key column. Flow allows a key location only one type
 * (besides null), so a float key, a number that may also be the string
 * "NaN" or "Infinity", is always written as a string: PostgreSQL's shortest
 * exact text ("1.5", "-0", "1e+300", "NaN"), the same in backfill and stream.
 */
export function keyConverterFor(oid: number, types: TypeLookup): Converter {
  return isFloat(oid, types) ? quote : converterFor(oid, types);
}

/**
 * The converter for a type OID. Domains use their base type; arrays convert
 * element-wise; every other type (text, enums, intervals, network
 * addresses, ranges, composites, extension types...) becomes a JSON string.
 */
export function converterFor(oid: number, types: TypeLookup): Converter {
  const direct = BY_OID[oid];
  if (direct) return direct;
  const t: PgType | undefined = types.get(oid);
  if (!t) return jsonString;
  if (t.typtype === "d" && t.base) return converterFor(t.base, types);
  if (t.category === "A" && t.elem) return arrayConverter(converterFor(t.elem, types), t.delim || ",");
  return jsonString;
}
