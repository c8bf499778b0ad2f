/**
 * The resource config of a table captured from a SQL database: its
 * namespace (schema or database) and its name, both required.
 */
import { Type } from "../sdk/schema.js";
import { ConnectorError } from "../sdk/errors.js";

export interface TableResource {
  namespace: string;
  stream: string;
}

/** The resource JSON schema; `namespaceTitle` is what the engine calls the namespace ("Schema", "Database"). */
export function tableResourceSchema(namespaceTitle: string) {
  return Type.Object(
    {
      namespace: Type.String({ title: namespaceTitle, "x-collection-name": false }),
      stream: Type.String({ title: "Table", "x-collection-name": true }),
    },
    { $schema: "http://json-schema.org/draft-07/schema#", title: "Table" },
  );
}

/** Checks binding `index`'s resource config, naming the field at fault. */
export function normalizeTableResource(raw: unknown, index: number): TableResource {
  const r = (raw ?? {}) as Record<string, unknown>;
  for (const k of ["namespace", "stream"]) {
    if (typeof r[k] !== "string" || r[k] === "") throw new ConnectorError(`binding ${index}: resource config /${k} must be a non-empty string`);
  }
  return { namespace: r.namespace as string, stream: r.stream as string };
}
