/**
 * Failures to reach a PostgreSQL server, told the way a user can act on
 * them: which server, what went wrong, what to change. Never a stack, never
 * the password (pg's messages do not carry it, and nothing here adds it).
 */
import { ConnectorError } from "../sdk/errors.js";
import { pgCondition } from "./sqlstate.js";
import { isNoTlsError, type SslMode } from "./tls.js";

export interface ConnectTarget {
  host: string;
  port: number;
  user: string;
  database: string;
  sslmode: SslMode;
  /** The config field that sets sslmode, for hints (e.g. "advanced.sslmode"). */
  sslField: string;
}

export function describeConnectError(err: unknown, t: ConnectTarget): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const e = err as { code?: string; message?: string };
  const msg = e?.message ?? String(err);
  const condition = pgCondition(err) ?? (/timeout/i.test(msg) ? "unavailable" : undefined);
  const fail = (why: string) => new ConnectorError(`cannot connect to PostgreSQL at ${t.host}:${t.port}: ${why}`, { cause: err, condition });
  switch (e?.code) {
    case "ECONNREFUSED":
      return fail("connection refused (is the address right and the server running?)");
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return fail(`host ${JSON.stringify(t.host)} not found`);
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return fail(`host unreachable (${e.code})`);
    case "28000":
    case "28P01":
      if (/pg_hba\.conf/.test(msg)) {
        const hint = /no encryption|SSL off/i.test(msg) ? ` (the server may require TLS: set ${t.sslField} to require)` : "";
        return fail(`the server's pg_hba.conf does not admit this connection: ${msg}${hint}`);
      }
      return fail(`authentication failed for user ${JSON.stringify(t.user)} (check user and password)`);
    case "3D000":
      return fail(`database ${JSON.stringify(t.database)} does not exist`);
  }
  if (isNoTlsError(err)) {
    return fail(`the server does not support TLS, which sslmode ${t.sslmode} requires (use prefer or disable to connect without TLS)`);
  }
  if (/self[- ]signed|unable to verify|certificate|altnames/i.test(msg)) {
    return fail(`TLS certificate not trusted under sslmode ${t.sslmode}: ${msg}`);
  }
  if (/timeout/i.test(msg)) return fail("connection timed out");
  return fail(msg);
}
