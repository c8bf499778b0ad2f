/**
 * Connections to the destination, with connection failures turned into
 * messages a user can act on (never a stack trace, never the password).
 */
import pg from "pg";
import { ConnectorError } from "../../src/sdk/errors.js";
import type { Endpoint } from "./config.js";

export type PgClient = pg.Client;

function sslOption(mode: Endpoint["sslmode"]): pg.ClientConfig["ssl"] {
  switch (mode) {
    case "require":
      return { rejectUnauthorized: false };
    case "verify-ca":
    case "verify-full":
      return { rejectUnauthorized: true };
    default:
      // node-postgres cannot fall back between TLS and plain text, so
      // allow/prefer connect in plain text, like disable.
      return false;
  }
}

export async function connect(ep: Endpoint, appName = "tributary materialize-postgres"): Promise<pg.Client> {
  const client = new pg.Client({
    host: ep.host,
    port: ep.port,
    user: ep.user,
    password: ep.password,
    database: ep.database,
    ssl: sslOption(ep.sslmode),
    keepAlive: true,
    application_name: appName,
    connectionTimeoutMillis: 30_000,
  });
  // An idle connection that drops would otherwise crash the process.
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw connectionError(err, ep);
  }
  return client;
}

/** A user-facing description of a failure to connect. */
export function connectionError(err: unknown, ep: Endpoint): ConnectorError {
  const e = err as { code?: string; message?: string };
  const where = `${ep.host}:${ep.port}`;
  switch (e.code) {
    case "ECONNREFUSED":
      return new ConnectorError(`cannot connect to PostgreSQL at ${where}: connection refused (is the address right and the server running?)`, { cause: err });
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new ConnectorError(`cannot connect to PostgreSQL at ${where}: host ${JSON.stringify(ep.host)} not found`, { cause: err });
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return new ConnectorError(`cannot connect to PostgreSQL at ${where}: host unreachable (${e.code})`, { cause: err });
    case "28P01":
    case "28000":
      return new ConnectorError(`cannot connect to PostgreSQL at ${where}: authentication failed for user ${JSON.stringify(ep.user)} (check user and password)`, { cause: err });
    case "3D000":
      return new ConnectorError(`cannot connect to PostgreSQL at ${where}: database ${JSON.stringify(ep.database)} does not exist`, { cause: err });
  }
  if (/timeout/i.test(e.message ?? "")) {
    return new ConnectorError(`cannot connect to PostgreSQL at ${where}: connection timed out`, { cause: err });
  }
  return new ConnectorError(`cannot connect to PostgreSQL at ${where}: ${e.message ?? String(err)}`, { cause: err });
}

/** A user-facing description of a failed statement. */
export function statementError(err: unknown, what: string): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const e = err as { code?: string; message?: string; where?: string; detail?: string; column?: string };
  if (e.code === "42501") {
    return new ConnectorError(`${what}: permission denied: ${e.message} (grant the connector's user the needed privileges)`, { cause: err });
  }
  const extra = [e.detail, e.where].filter(Boolean).join("; ");
  return new ConnectorError(`${what}: ${e.message ?? String(err)}${extra ? ` (${extra})` : ""}`, { cause: err });
}
