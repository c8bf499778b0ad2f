/**
 * What a SQL destination tells the toolkit about itself: how names are
 * quoted and folded, how flat types become column DDL, which existing column
 * types are compatible or migratable, and how its DDL is spelled.
 */
import type { Projection } from "../gen/flow/flow_pb.js";
import type { FlatType } from "./flat-type.js";

/**
 * How a value's JSON text becomes the column's input text.
 * - verbatim: the JSON text as-is (numbers digit for digit, booleans, JSON documents);
 * - string: a JSON string is unquoted; any other JSON value passes verbatim;
 * - text: like string, with NUL characters removed (text columns cannot hold them);
 * - base64: a JSON string of base64 decoded to bytes;
 * - boolean_digit: JSON true/false as 1/0 (destinations whose booleans are integers);
 * - datetime_utc: an RFC 3339 date-time as "YYYY-MM-DD HH:MM:SS.ffffff" in UTC
 *   (destinations whose timestamp columns carry no zone).
 */
export type ValueEncoding = "verbatim" | "string" | "text" | "base64" | "boolean_digit" | "datetime_utc";

export interface MappedType {
  /** Column type DDL, e.g. "BIGINT". */
  ddl: string;
  /** Whether the column is NOT NULL. */
  notNull: boolean;
  /** Lower-case `information_schema.columns.data_type` values that already satisfy this type. */
  compatible: string[];
  encoding: ValueEncoding;
}

/** An existing column as the destination reports it. */
export interface ExistingColumn {
  name: string;
  /** Lower-case data type, e.g. "bigint", "timestamp with time zone". */
  type: string;
  nullable: boolean;
  /** The full column type as the destination spells it, when DDL must restate it (e.g. MySQL's MODIFY COLUMN). */
  fullType?: string;
}

export interface ExistingTable {
  path: string[];
  /** Keyed by columnKey(dialect, name) (see names.ts). */
  columns: Map<string, ExistingColumn>;
}

export interface Dialect {
  /** Words that must be quoted even when spelled in lower case. */
  reserved: ReadonlySet<string>;
  /** Maximum identifier length in UTF-8 bytes (0 = unlimited). */
  maxIdentifierBytes: number;
  /** Maximum identifier length in characters, for destinations that count characters (MySQL: 64). */
  maxIdentifierChars?: number;
  /** Quotes one identifier component; by default double quotes, only when needed (see identifiers.ts). */
  quoteIdentifier?(name: string): string;
  /**
   * Column names that the destination treats as the same map to one key
   * (MySQL: case-insensitive). By default names are compared exactly.
   */
  columnKey?(name: string): string;
  /** DDL for a projection, or a reason it cannot be materialized. */
  mapType(p: Projection, flat: FlatType, role: { isKey: boolean; isDocument: boolean }): MappedType | { forbidden: string };
  /**
   * A cast expression converting `column` (quoted) of type `from` into
   * `to`, when the destination can change the type in place; else undefined.
   */
  migration(from: string, to: MappedType, column: string): string | undefined;
}

export function isForbidden(m: MappedType | { forbidden: string }): m is { forbidden: string } {
  return "forbidden" in m;
}
