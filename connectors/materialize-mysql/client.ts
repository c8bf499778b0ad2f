/**
 * Connections for this connector, the fence's query interface over mysql2,
 * and failed statements described for users.
 */
import type { ResultSetHeader } from "mysql2";
import { connectMysql, type MysqlConnection } from "../../src/mysql/connect.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import type { Querier } from "../../src/sql/fence.js";
import type { Endpoint } from "./config.js";

export type { MysqlConnection };

export function connect(ep: Endpoint, opts: { localInfile?: boolean } = {}): Promise<MysqlConnection> {
  return connectMysql(ep, opts);
}

/**
 * The toolkit's Querier over a connection: statements with values are
 * prepared server-side (values never enter SQL text); rowCount of an UPDATE
 * counts matched rows (the connection sets CLIENT_FOUND_ROWS).
 */
export function querier(conn: MysqlConnection): Querier {
  return {
    async query(text, values) {
      const [res] = values && values.length > 0 ? await conn.execute(text, values as any[]) : await conn.query(text);
      if (Array.isArray(res)) return { rows: res as any[], rowCount: res.length };
      return { rows: [], rowCount: (res as ResultSetHeader).affectedRows };
    },
  };
}

/** A user-facing description of a failed statement (server messages name columns, never values we sent). */
export function statementError(err: unknown, what: string): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const e = err as { code?: string; errno?: number; message?: string };
  if (e.code === "ER_TABLEACCESS_DENIED_ERROR" || e.code === "ER_DBACCESS_DENIED_ERROR" || e.code === "ER_SPECIFIC_ACCESS_DENIED_ERROR") {
    return new ConnectorError(`${what}: permission denied: ${e.message} (grant the connector's user the needed privileges)`, { cause: err });
  }
  return new ConnectorError(`${what}: ${redactValues(e.message ?? String(err))}${e.code ? ` (${e.code})` : ""}`, { cause: err });
}

/** Server messages such as "Incorrect integer value: 'abc' for column" quote the value: drop it. */
export function redactValues(message: string): string {
  return message.replace(/(value|entry): '(?:[^'\\]|\\.|'')*'/gs, "$1 (redacted)");
}
