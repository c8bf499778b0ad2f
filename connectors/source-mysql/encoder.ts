/**
 * Builds document JSON text from row values, for the backfill (arrays in
 * column order) and the binlog (objects keyed by column name). Writing the
 * text directly keeps big integers and decimals exact.
 */
import { toJson, type Kind, type ValueContext } from "./values.js";

export interface EncoderColumn {
  name: string;
  kind: Kind;
}

export class RowEncoder {
  readonly names: string[];
  readonly kinds: Kind[];
  private readonly prefixes: string[];
  /** Positions of the key columns, in key order. */
  readonly keyIdx: number[];
  /** `"schema":"...","table":"..."` for _meta.source. */
  readonly sourcePrefix: string;

  constructor(schema: string, table: string, columns: EncoderColumn[], key: string[], private readonly vctx: ValueContext) {
    this.names = columns.map((c) => c.name);
    this.kinds = columns.map((c) => c.kind);
    this.prefixes = columns.map((c) => JSON.stringify(c.name) + ":");
    this.keyIdx = key.map((k) => {
      const i = this.names.indexOf(k);
      if (i < 0) throw new Error(`key column ${JSON.stringify(k)} is not a column of ${schema}.${table}`);
      return i;
    });
    this.sourcePrefix = `"schema":${JSON.stringify(schema)},"table":${JSON.stringify(table)}`;
  }

  private value(i: number, v: unknown): string | undefined {
    if (v === null) return "null";
    if (v === undefined && this.kinds[i] !== "enum") return undefined;
    try {
      return toJson(this.kinds[i], v, this.vctx);
    } catch (err) {
      // Name the column, never the value.
      throw new Error(`column ${JSON.stringify(this.names[i])} (${this.kinds[i]}): ${(err as Error).message}`);
    }
  }

  /** The properties (without braces) of a row given in column order. */
  fromArray(values: unknown[]): string {
    let out = "";
    for (let i = 0; i < this.names.length; i++) {
      const j = this.value(i, values[i]);
      if (j !== undefined) out += (out ? "," : "") + this.prefixes[i] + j;
    }
    return out;
  }

  /** The properties (without braces) of a row given by column name. */
  fromObject(row: Record<string, unknown>): string {
    let out = "";
    for (let i = 0; i < this.names.length; i++) {
      const j = this.value(i, row[this.names[i]]);
      if (j !== undefined) out += (out ? "," : "") + this.prefixes[i] + j;
    }
    return out;
  }

  /** The key's JSON texts of a row given by column name, for detecting key changes. */
  keyOf(row: Record<string, unknown>): string {
    return this.keyIdx.map((i) => this.value(i, row[this.names[i]])).join("\u0000");
  }

  /** A full document. `source` is the inside of _meta.source after the schema and table. */
  document(props: string, op: "c" | "u" | "d", source: string, before?: string): string {
    return (
      "{" + props + (props ? "," : "") + '"_meta":{"op":"' + op + '","source":{' + this.sourcePrefix + source + "}" + (before !== undefined ? ',"before":{' + before + "}" : "") + "}}"
    );
  }
}
