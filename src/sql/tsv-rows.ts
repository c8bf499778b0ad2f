/**
 * Rows as tab-separated text lines, the form PostgreSQL COPY and MySQL
 * LOAD DATA both read: keys, then values, then the document, then any
 * extra field. How one value becomes a field, and how a field is escaped,
 * is the engine's (a FieldCodec); the line layout is the same for both.
 */
import type { ValueEncoding } from "./dialect.js";
import { splitJsonArray } from "./json-tuple.js";
import type { Column } from "./table.js";

/** NULL in both engines' text formats. */
export const NULL_FIELD = "\\N";

export interface FieldCodec {
  /** One value's JSON source text as a field. */
  field(token: string, enc: ValueEncoding): string;
  /** Escapes arbitrary text (the document's JSON) as a field. */
  escape(s: string): string;
  /**
   * Optional fast path: when `applies` holds for a whole JSON array, no
   * field of it needs escaping and `field` may skip the per-field checks.
   */
  plain?: { applies(json: string): boolean; field(token: string, enc: ValueEncoding): string };
}

/** Encodes stores or keys of one binding into lines. */
export class TsvRowEncoder {
  private readonly keyEnc: ValueEncoding[];
  private readonly valueEnc: ValueEncoding[];
  constructor(
    keys: Column[],
    values: Column[],
    private readonly codec: FieldCodec,
  ) {
    this.keyEnc = keys.map((c) => c.mapped.encoding);
    this.valueEnc = values.map((c) => c.mapped.encoding);
  }

  /** Key columns only (for staging Loads). */
  keyLine(keyJson: string): string {
    return this.fields(keyJson, this.keyEnc, "key") + "\n";
  }

  /** keys, values, then the document (if any), then `extra`, as one line. */
  storeLine(keyJson: string, valuesJson: string, docJson: string | undefined, extra?: string): string {
    let line = this.keyValueFields(keyJson, valuesJson);
    if (docJson !== undefined) line += "\t" + (docJson === "" ? NULL_FIELD : this.codec.escape(docJson));
    if (extra !== undefined) line += "\t" + extra;
    return line + "\n";
  }

  /** The start of a store line: its key fields, then its value fields (no trailing tab). */
  keyValueFields(keyJson: string, valuesJson: string): string {
    const keys = this.fields(keyJson, this.keyEnc, "key");
    return this.valueEnc.length > 0 ? keys + "\t" + this.fields(valuesJson, this.valueEnc, "values") : keys;
  }

  /** The tab-separated fields of one JSON array. */
  private fields(json: string, encs: ValueEncoding[], what: string): string {
    const tokens = splitJsonArray(json);
    if (tokens.length !== encs.length) throw new Error(`${what} has ${tokens.length} elements, expected ${encs.length}`);
    const plain = this.codec.plain;
    const field = plain && plain.applies(json) ? plain.field : this.codec.field;
    let out = "";
    for (let i = 0; i < tokens.length; i++) {
      if (i > 0) out += "\t";
      out += field(tokens[i]!, encs[i]!);
    }
    return out;
  }
}
