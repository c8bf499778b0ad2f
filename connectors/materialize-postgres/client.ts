/**
 * Connections to the destination, with connection failures turned into
 * messages a user can act on (never a stack trace, never the password).
 */
import pg from "pg";
import { ConnectorError } from "../../src/sdk/errors.js";
import type { Endpoint } from "./config.js";
import { connectPostgres } from "../../src/postgres/connect.js";
import { describeConnectError } from "../../src/postgres/connect-errors.js";
import { SAFE_SESSION_OPTIONS } from "../../src/postgres/literal.js";
import { pgCondition } from "../../src/postgres/sqlstate.js";

export type PgClient = pg.Client;

export async function connect(ep: Endpoint, appName = "tributary materialize-postgres"): Promise<pg.Client> {
  const settings = (addr: { host: string; port: number }, ssl: pg.ClientConfig["ssl"]): pg.ClientConfig => ({
    host: addr.host,
    port: addr.port,
    user: ep.user,
    password: ep.password,
    database: ep.database,
    ssl,
    keepAlive: true,
    application_name: appName,
    // Pinned over any database or role default: see src/postgres/literal.ts.
    options: SAFE_SESSION_OPTIONS,
    connectionTimeoutMillis: 30_000,
  });
  try {
    return await connectPostgres({ host: ep.host, port: ep.port }, { sslmode: ep.sslmode, sslrootcert: ep.sslrootcert, tunnel: ep.tunnel }, settings);
  } catch (err) {
    throw connectionError(err, ep);
  }
}

/** A user-facing description of a failure to connect. */
export function connectionError(err: unknown, ep: Endpoint): ConnectorError {
  return describeConnectError(err, { ...ep, sslField: "advanced.sslmode" });
}

/**
 * A user-facing description of a failed statement. Errors about data
 * (SQLSTATE classes 22 and 23) quote the offending value or row in their
 * message, detail and context: those quotes are dropped, and a COPY's
 * context is told as binding, row and column instead (`bindingOf` names the
 * binding that writes a relation).
 */
export function statementError(err: unknown, what: string, bindingOf?: (relation: string) => string | undefined): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const e = err as { code?: string; message?: string; where?: string; detail?: string; column?: string };
  const condition = pgCondition(err);
  if (e.code === "42501") {
    return new ConnectorError(`${what}: permission denied: ${e.message} (grant the connector's user the needed privileges)`, { cause: err });
  }
  if (typeof e.code === "string" && (e.code.startsWith("22") || e.code.startsWith("23"))) {
    // Class 22 messages quote values; class 23 messages quote only names.
    const message = e.code.startsWith("22") ? (e.message ?? "").replace(/"(?:[^"]|"")*"/g, "<value>") : (e.message ?? "");
    const at = copyContext(e.where, bindingOf);
    return new ConnectorError(`${what}: ${message}${at ? ` (${at})` : ""}; the value is not shown, as it is document content`, { cause: err });
  }
  const extra = [e.detail, e.where].filter(Boolean).join("; ");
  return new ConnectorError(`${what}: ${e.message ?? String(err)}${extra ? ` (${extra})` : ""}`, { cause: err, condition });
}

/** "binding 0 (table s.t), row 3 of a staged batch, column c" from a COPY's context line, without the value it quotes. */
function copyContext(where: string | undefined, bindingOf?: (relation: string) => string | undefined): string {
  for (const line of (where ?? "").split("\n")) {
    const m = /^COPY (\S+), line (\d+)(?:, column ([^:]+))?/.exec(line);
    if (!m) continue;
    const binding = bindingOf?.(m[1]!) ?? `table ${m[1]}`;
    return `${binding}, row ${m[2]} of a staged batch${m[3] ? `, column ${m[3]}` : ""}`;
  }
  return "";
}
