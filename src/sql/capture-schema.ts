/**
 * Collection schemas that SQL change-data captures discover: the pieces
 * every engine builds alike (names, pointers, nullability, the column
 * description and the document envelope with its delete reduction). What
 * a column's values look like and what `_meta/source` holds stay with
 * each engine.
 */
import type { JsonSchema } from "../sdk/types.js";

/** The collection name Flow suggests for a table: namespace/table with unsafe characters replaced. */
export function recommendedName(namespace: string, table: string): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9\-_.]/g, "_");
  return `${clean(namespace)}/${clean(table)}`;
}

/** The JSON pointer of a top-level column (RFC 6901 escaping). */
export function pointer(column: string): string {
  return "/" + column.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** `s` that also admits null (a schema without a type admits it already). */
export function nullable(s: JsonSchema): JsonSchema {
  if (s.type === undefined) return s;
  const types = Array.isArray(s.type) ? s.type : [s.type];
  return { ...s, type: [...types, "null"] };
}

/** A column's value schema, nullable unless NOT NULL, described by its declared source type. */
export function describedColumn(s: JsonSchema, notNull: boolean, declaredType: string): JsonSchema {
  return { ...(notNull ? s : nullable(s)), description: `(source type: ${notNull ? "non-nullable " : ""}${declaredType})` };
}

/**
 * The document schema of a captured table: its columns and `_meta`, the
 * key and `_meta` required, merged on update and deleted when `_meta/op` is "d".
 */
export function tableCollectionSchema(columns: Record<string, JsonSchema>, meta: JsonSchema, key: string[], comment?: string | null): JsonSchema {
  const schema: JsonSchema = {
    type: "object",
    required: [...key, "_meta"],
    properties: { ...columns, _meta: meta },
    "x-infer-schema": true,
    if: { properties: { _meta: { properties: { op: { const: "d" } } } } },
    then: { reduce: { strategy: "merge", delete: true } },
    else: { reduce: { strategy: "merge" } },
  };
  if (comment) schema.description = comment;
  return schema;
}

/** The restrictive schema of what the source holds now (SourcedSchema): closed, exact columns. */
export function closedTableSchema(columns: Record<string, JsonSchema>, key: string[]): JsonSchema {
  return { type: "object", additionalProperties: false, required: [...key, "_meta"], properties: { ...columns, _meta: { type: "object" } } };
}
