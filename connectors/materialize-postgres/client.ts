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

/** A user-facing description of a failed statement. */
export function statementError(err: unknown, what: string): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const e = err as { code?: string; message?: string; where?: string; detail?: string; column?: string };
  if (e.code === "42501") {
    return new ConnectorError(`${what}: permission denied: ${e.message} (grant the connector's user the needed privileges)`, { cause: err });
  }
  const extra = [e.detail, e.where].filter(Boolean).join("; ");
  return new ConnectorError(`${what}: ${e.message ?? String(err)}${extra ? ` (${extra})` : ""}`, { cause: err, condition: pgCondition(err) });
}
