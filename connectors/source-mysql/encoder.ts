/**
 * Builds document JSON text from row values, for the backfill (arrays in
 * column order; objects keyed by column name are the form zongji decodes
 * binlog rows into, which row-image.test.ts compares the binlog's own byte
 * path with). Writing the text directly keeps big integers and decimals
 * exact. The binlog writes its documents from row images (row-image.ts)
 * with these columns' converters and prefixes.
 */
import { converterFor, type Converter, type Kind } from "./values.js";
import type { ValueContext } from "./values.js";

export interface EncoderColumn {
  name: string;
  kind: Kind;
}

export class RowEncoder {
  readonly names: string[];
  readonly kinds: Kind[];
  readonly convs: Converter[];
  /** `"name":` per column, and the same after a comma. */
  private readonly prefixes: string[];
  private readonly commaPrefixes: string[];
  /** Whether a column's undefined is a value (an ENUM's empty label) rather than an absent column. */
  readonly undefinedIsValue: boolean[];
  /** Positions of the key columns, in key order. */
  readonly keyIdx: number[];
  /** `"schema":"...","table":"..."` for _meta.source. */
  readonly sourcePrefix: string;
  /** The converters' context (the zone DATETIMEs are read in). */
  readonly vctx: ValueContext;

  constructor(schema: string, table: string, columns: EncoderColumn[], key: string[], vctx: ValueContext) {
    this.vctx = vctx;
    this.names = columns.map((c) => c.name);
    this.kinds = columns.map((c) => c.kind);
    this.convs = columns.map((c) => converterFor(c.kind, vctx));
    this.prefixes = columns.map((c) => JSON.stringify(c.name) + ":");
    this.commaPrefixes = this.prefixes.map((p) => "," + p);
    this.undefinedIsValue = columns.map((c) => c.kind === "enum");
    this.keyIdx = key.map((k) => {
      const i = this.names.indexOf(k);
      if (i < 0) throw new Error(`key column ${JSON.stringify(k)} is not a column of ${schema}.${table}`);
      return i;
    });
    this.sourcePrefix = `"schema":${JSON.stringify(schema)},"table":${JSON.stringify(table)}`;
  }

  /** Names the column, never the value. */
  columnError(i: number, err: unknown): Error {
    return new Error(`column ${JSON.stringify(this.names[i])} (${this.kinds[i]}): ${(err as Error).message}`);
  }

  /** The properties (without braces) of a row given in column order. */
  fromArray(values: unknown[]): string {
    const convs = this.convs;
    const n = convs.length;
    let out = "";
    let i = 0;
    try {
      for (; i < n; i++) {
        const v = values[i];
        if (v === undefined && !this.undefinedIsValue[i]) continue;
        out += (out === "" ? this.prefixes[i] : this.commaPrefixes[i]) + (v === null ? "null" : convs[i](v));
      }
    } catch (err) {
      throw this.columnError(i, err);
    }
    return out;
  }

  /** The properties (without braces) of a row given by column name. */
  fromObject(row: Record<string, unknown>): string {
    const convs = this.convs;
    const names = this.names;
    const n = convs.length;
    let out = "";
    let i = 0;
    try {
      for (; i < n; i++) {
        const v = row[names[i]];
        if (v === undefined && !this.undefinedIsValue[i]) continue;
        out += (out === "" ? this.prefixes[i] : this.commaPrefixes[i]) + (v === null ? "null" : convs[i](v));
      }
    } catch (err) {
      throw this.columnError(i, err);
    }
    return out;
  }

  /** A full document. `source` is the inside of _meta.source after the schema and table. */
  document(props: string, op: "c" | "u" | "d", source: string, before?: string): string {
    return (
      "{" + props + (props ? "," : "") + '"_meta":{"op":"' + op + '","source":{' + this.sourcePrefix + source + "}" + (before !== undefined ? ',"before":{' + before + "}" : "") + "}}"
    );
  }
}
