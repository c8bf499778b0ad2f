/**
 * Builds document JSON text from a row's text values, for both the backfill
 * and the change stream. Writing the text directly (rather than building an
 * object for JSON.stringify) keeps int8 and numeric exact and costs one
 * string concatenation per column.
 */
import type { TupleValue } from "./pgoutput.js";
import { converterFor, keyConverterFor, type Converter } from "./text-values.js";
import type { TypeLookup } from "./type-catalog.js";

export interface EncoderColumn {
  name: string;
  typeOid: number;
}

export class RowEncoder {
  readonly names: string[];
  readonly typeOids: number[];
  readonly convs: Converter[];
  /** `"name":` of each column. */
  readonly prefixes: string[];
  /** Positions of the key columns, in key order; empty for keyless tables. */
  readonly keyIdx: number[];
  /** `"schema":"...","table":"..."` for _meta.source. */
  readonly sourcePrefix: string;

  constructor(schema: string, table: string, columns: EncoderColumn[], key: string[], types: TypeLookup) {
    this.names = columns.map((c) => c.name);
    this.typeOids = columns.map((c) => c.typeOid);
    this.convs = columns.map((c) => (key.includes(c.name) ? keyConverterFor(c.typeOid, types) : converterFor(c.typeOid, types)));
    this.prefixes = columns.map((c) => JSON.stringify(c.name) + ":");
    this.keyIdx = key.map((k) => {
      const i = this.names.indexOf(k);
      if (i < 0) throw new Error(`key column ${JSON.stringify(k)} is not a column of ${schema}.${table}`);
      return i;
    });
    this.sourcePrefix = `"schema":${JSON.stringify(schema)},"table":${JSON.stringify(table)}`;
  }

  /**
   * The row's properties without braces. Unchanged TOAST values (undefined)
   * are left out, so a merge keeps the value the collection already has;
   * `onlyKey` writes just the key columns (the old row of a delete or key
   * change under the default replica identity, whose other values are absent).
   */
  properties(values: TupleValue[], onlyKey = false): string {
    let out = "";
    if (onlyKey) {
      for (const i of this.keyIdx) {
        const v = values[i];
        if (v === undefined || v === null) continue;
        out += (out ? "," : "") + this.prefixes[i] + this.convs[i](v);
      }
      return out;
    }
    const n = this.convs.length;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v === undefined) continue;
      out += (out ? "," : "") + this.prefixes[i] + (v === null ? "null" : this.convs[i](v));
    }
    return out;
  }

  /** A full document. `source` is the inside of _meta.source after the schema and table. */
  document(props: string, op: "c" | "u" | "d", source: string, before?: string): string {
    return (
      "{" + props + (props ? "," : "") + '"_meta":{"op":"' + op + '","source":{' + this.sourcePrefix + source + "}" + (before !== undefined ? ',"before":{' + before + "}" : "") + "}}"
    );
  }

  /** The key values of a row as text, for backfill cursors and key comparisons. */
  keyText(values: TupleValue[]): (string | null)[] {
    return this.keyIdx.map((i) => values[i] ?? null);
  }
}
