/**
 * PostgreSQL COPY text format: rows are tab-separated lines, NULL is `\N`,
 * and backslash, newline, carriage return and tab inside a value are
 * backslash-escaped. Values arrive as JSON source text and are converted
 * according to their column's encoding without passing through JS numbers.
 */
import type { ValueEncoding } from "../../src/sql/dialect.js";
import type { Column } from "../../src/sql/table.js";
import { jsonStringValue } from "../../src/sql/json-tuple.js";
import { NULL_FIELD, TsvRowEncoder } from "../../src/sql/tsv-rows.js";
import type { CopyBuffer } from "./copy-bytes.js";

const NEEDS_ESCAPE = /[\\\n\r\t]/;
const ESCAPES = /[\\\n\r\t]/g;
const ESCAPED: Record<string, string> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

export function copyEscape(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.length < LONG ? s.replace(ESCAPES, (c) => ESCAPED[c]!) : escapeLong(s);
}

/**
 * From this length on, text is escaped as UTF-8 bytes. A large document's
 * JSON has a backslash before every quote inside its strings: a regular
 * expression with a callback per match ran at about 10 MB/s; a byte loop
 * runs at hundreds. (UTF-8 continuation bytes are never ASCII, so bytes
 * below 0x80 are the characters themselves.)
 */
const LONG = 4096;

function escapeLong(s: string): string {
  const src = Buffer.from(s, "utf8");
  let extra = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x5c || c === 0x0a || c === 0x0d || c === 0x09) extra++;
  }
  const out = Buffer.allocUnsafe(src.length + extra);
  let j = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c > 0x5c || (c !== 0x5c && c !== 0x0a && c !== 0x0d && c !== 0x09)) {
      out[j++] = c;
      continue;
    }
    out[j++] = 0x5c;
    out[j++] = c === 0x5c ? 0x5c : c === 0x0a ? 0x6e : c === 0x0d ? 0x72 : 0x74;
  }
  return out.toString("utf8");
}

export { NULL_FIELD };

/** One value's JSON text as a COPY text field. */
export function encodeField(token: string, enc: ValueEncoding): string {
  if (token === "null") return NULL_FIELD;
  return copyEscape(fieldText(token, enc));
}

/**
 * The text PostgreSQL reads for one non-null value's JSON text (what a COPY
 * field holds once unescaped).
 */
export function fieldText(token: string, enc: ValueEncoding): string {
  switch (enc) {
    case "verbatim":
      return token;
    case "string": {
      const s = jsonStringValue(token);
      return s ?? token;
    }
    case "text": {
      const s = jsonStringValue(token);
      if (s === undefined) return token;
      return s.includes("\u0000") ? s.replace(/\u0000/g, "") : s;
    }
    case "base64": {
      const s = jsonStringValue(token) ?? "";
      return "\\x" + Buffer.from(s, "base64").toString("hex");
    }
    default:
      throw new Error(`value encoding ${enc} is not one PostgreSQL columns use`);
  }
}

const TAB = 0x09;
const NEWLINE = 0x0a;

/** Encodes stores or keys of one binding into COPY lines. */
export class RowEncoder extends TsvRowEncoder {
  constructor(keys: Column[], values: Column[]) {
    // Without a backslash or raw control whitespace anywhere in an array,
    // no field can need COPY escaping: encodePlain skips the per-field checks.
    super(keys, values, { field: encodeField, escape: copyEscape, plain: { applies: (json) => !NEEDS_ESCAPE.test(json), field: encodePlain } });
  }

  /**
   * storeLine's line, written as bytes into `out`, from its key and value
   * fields (keyValueFields, which throws on a bad array: call it before
   * claiming `out`). `doc` is the document's UTF-8 bytes or its text
   * (undefined: the table has no document column); `flag` an ASCII letter
   * or undefined. Never throws.
   */
  storeInto(out: CopyBuffer, keyValueFields: string, doc: Uint8Array | string | undefined, flag?: number): void {
    out.text(keyValueFields);
    if (doc !== undefined) {
      out.byte(TAB);
      if (doc.length === 0) out.text(NULL_FIELD);
      else if (typeof doc === "string") out.text(copyEscape(doc));
      else out.escaped(doc);
    }
    if (flag !== undefined) {
      out.byte(TAB);
      out.byte(flag);
    }
    out.byte(NEWLINE);
  }
}

/** encodeField for tokens known to hold no escapes. */
function encodePlain(token: string, enc: ValueEncoding): string {
  if (token === "null") return NULL_FIELD;
  if (enc === "verbatim") return token;
  if (enc === "base64") return encodeField(token, enc);
  // Without escapes a string token's value is its inside; NUL needs an escape, so none here.
  return token.charCodeAt(0) === 0x22 ? token.slice(1, -1) : token;
}

/** Reverses copyEscape for one field of COPY TO output. */
export function copyUnescape(s: string): string {
  if (s.indexOf("\\") < 0) return s;
  return s.replace(/\\(.)/g, (_, c: string) => {
    switch (c) {
      case "n":
        return "\n";
      case "r":
        return "\r";
      case "t":
        return "\t";
      case "b":
        return "\b";
      case "f":
        return "\f";
      case "v":
        return "\v";
      default:
        return c;
    }
  });
}
