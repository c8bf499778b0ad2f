/**
 * PostgreSQL COPY text format: rows are tab-separated lines, NULL is `\N`,
 * and backslash, newline, carriage return and tab inside a value are
 * backslash-escaped. Values arrive as JSON source text and are converted
 * according to their column's encoding without passing through JS numbers.
 */
import type { ValueEncoding } from "../../src/sql/dialect.js";
import type { Column } from "../../src/sql/table.js";
import { jsonStringValue, splitJsonArray } from "../../src/sql/json-tuple.js";

const NEEDS_ESCAPE = /[\\\n\r\t]/;
const ESCAPES = /[\\\n\r\t]/g;
const ESCAPED: Record<string, string> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

export function copyEscape(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPES, (c) => ESCAPED[c]!) : s;
}

export const NULL_FIELD = "\\N";

/** One value's JSON text as a COPY text field. */
export function encodeField(token: string, enc: ValueEncoding): string {
  if (token === "null") return NULL_FIELD;
  switch (enc) {
    case "verbatim":
      return copyEscape(token);
    case "string": {
      const s = jsonStringValue(token);
      return copyEscape(s ?? token);
    }
    case "text": {
      const s = jsonStringValue(token);
      if (s === undefined) return copyEscape(token);
      return copyEscape(s.includes("\u0000") ? s.replace(/\u0000/g, "") : s);
    }
    case "base64": {
      const s = jsonStringValue(token) ?? "";
      return "\\\\x" + Buffer.from(s, "base64").toString("hex");
    }
    default:
      throw new Error(`value encoding ${enc} is not one PostgreSQL columns use`);
  }
}

/** Encodes stores or keys of one binding into COPY lines. */
export class RowEncoder {
  private readonly keyEnc: ValueEncoding[];
  private readonly valueEnc: ValueEncoding[];
  constructor(keys: Column[], values: Column[]) {
    this.keyEnc = keys.map((c) => c.mapped.encoding);
    this.valueEnc = values.map((c) => c.mapped.encoding);
  }

  /** Key columns only (for staging Loads). */
  keyLine(keyJson: string): string {
    return this.fields(keyJson, this.keyEnc, "key") + "\n";
  }

  /** keys, values, then the document (if any), then `extra`, as one COPY line. */
  storeLine(keyJson: string, valuesJson: string, docJson: string | undefined, extra?: string): string {
    let line = this.fields(keyJson, this.keyEnc, "key");
    if (this.valueEnc.length > 0) line += "\t" + this.fields(valuesJson, this.valueEnc, "values");
    if (docJson !== undefined) line += "\t" + (docJson === "" ? NULL_FIELD : copyEscape(docJson));
    if (extra !== undefined) line += "\t" + extra;
    return line + "\n";
  }

  /** The tab-separated fields of one JSON array. */
  private fields(json: string, encs: ValueEncoding[], what: string): string {
    const tokens = splitJsonArray(json);
    if (tokens.length !== encs.length) {
      throw new Error(`${what} has ${tokens.length} elements, expected ${encs.length}`);
    }
    // Without a backslash or raw control whitespace anywhere in the array,
    // no field can need COPY escaping: skip the per-field checks.
    const plain = !NEEDS_ESCAPE.test(json);
    let out = "";
    for (let i = 0; i < tokens.length; i++) {
      if (i > 0) out += "\t";
      out += plain ? encodePlain(tokens[i]!, encs[i]!) : encodeField(tokens[i]!, encs[i]!);
    }
    return out;
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
