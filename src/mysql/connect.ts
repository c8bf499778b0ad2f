/**
 * One place that opens a MySQL/MariaDB connection: TLS per the configured
 * mode, session settings that make every statement mean the same under any
 * server configuration (sql_mode, time zone), and failures turned into messages a user can act on
 * (never the password).
 */
import mysql from "mysql2/promise";
import { ConnectorError } from "../sdk/errors.js";

export const MYSQL_SSL_MODES = ["disabled", "preferred", "required", "verify_ca", "verify_identity"] as const;
export type MysqlSslMode = (typeof MYSQL_SSL_MODES)[number];

export interface MysqlTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database?: string;
  sslmode: MysqlSslMode;
  /** PEM CA certificate(s) for verify_ca / verify_identity. */
  sslrootcert?: string;
}

/**
 * The session's sql_mode, replacing whatever the server defaults to: strict
 * (bad values fail instead of being altered), no ANSI_QUOTES and no
 * NO_BACKSLASH_ESCAPES (so the few literals we write mean one thing).
 */
export const SESSION_SQL_MODE = "STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO";

export type MysqlConnection = mysql.Connection;

export interface ConnectOptions {
  /** Serves `LOAD DATA LOCAL INFILE` from the stream the caller provides per statement. */
  localInfile?: boolean;
}

export async function connectMysql(t: MysqlTarget, opts: ConnectOptions = {}): Promise<mysql.Connection> {
  const base: mysql.ConnectionOptions = {
    host: t.host,
    port: t.port,
    user: t.user,
    password: t.password,
    database: t.database || undefined,
    charset: "UTF8MB4_GENERAL_CI",
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    connectTimeout: 30_000,
    // UPDATE reports rows matched, not rows changed: the fence check relies on it.
    flags: ["FOUND_ROWS", ...(opts.localInfile ? ["LOCAL_FILES"] : ["-LOCAL_FILES"])],
    enableKeepAlive: true,
  };
  let conn: mysql.Connection;
  try {
    conn = await open(base, t);
  } catch (err) {
    throw describeMysqlConnectError(err, t);
  }
  // The server's isolation level is kept: READ COMMITTED would make InnoDB
  // refuse writes under binlog_format=STATEMENT. Readers that must see the
  // latest commit run each statement in autocommit, a fresh snapshot each.
  try {
    await conn.query(`SET SESSION sql_mode = '${SESSION_SQL_MODE}', time_zone = '+00:00'`);
  } catch (err) {
    await conn.end().catch(() => undefined);
    throw describeMysqlConnectError(err, t);
  }
  return conn;
}

/** mysql2's `ssl` option for a mode (undefined: plain text); "preferred" asks for TLS, and the caller falls back. */
export function tlsOptions(sslmode: MysqlSslMode, sslrootcert?: string): mysql.SslOptions | undefined {
  switch (sslmode) {
    case "disabled":
      return undefined;
    case "required":
    case "preferred":
      return { rejectUnauthorized: false };
    case "verify_ca":
      // The chain must lead to the CA; the host name is not checked.
      return { ca: sslrootcert, rejectUnauthorized: true, checkServerIdentity: () => undefined } as mysql.SslOptions;
    case "verify_identity":
      return { ca: sslrootcert, rejectUnauthorized: true };
  }
}

/** Whether a failed connection was a TLS request to a server that offers none (what "preferred" falls back on). */
export function isNoTlsError(err: unknown): boolean {
  return (err as { code?: string }).code === "HANDSHAKE_NO_SSL_SUPPORT" || /does not support secure connection/i.test((err as Error).message ?? "");
}

async function open(base: mysql.ConnectionOptions, t: MysqlTarget): Promise<mysql.Connection> {
  const ssl = tlsOptions(t.sslmode, t.sslrootcert);
  if (!ssl) return mysql.createConnection(base);
  try {
    return await mysql.createConnection({ ...base, ssl });
  } catch (err) {
    if (t.sslmode !== "preferred" || !isNoTlsError(err)) throw err;
    return mysql.createConnection(base);
  }
}

/** A user-facing description of a failure to connect. */
export function describeMysqlConnectError(err: unknown, t: MysqlTarget, sslField = "advanced.sslmode"): ConnectorError {
  const e = err as { code?: string; errno?: number; message?: string };
  const where = `${t.host}:${t.port}`;
  let msg: string;
  switch (e.code) {
    case "ECONNREFUSED":
      msg = `connection to ${where} was refused: is the server running and listening on that address?`;
      break;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      msg = `host ${JSON.stringify(t.host)} could not be resolved`;
      break;
    case "ETIMEDOUT":
      msg = `connecting to ${where} timed out: check the address and that the network allows it`;
      break;
    case "ER_ACCESS_DENIED_ERROR":
    // MariaDB answers an unknown user with this one about once in seven
    // attempts (it pretends the user has another auth plugin, so that
    // unknown and known users look alike).
    case "ER_ACCESS_DENIED_NO_PASSWORD_ERROR":
      msg = `user ${JSON.stringify(t.user)} was refused at ${where}: check the user and password`;
      break;
    case "ER_BAD_DB_ERROR":
      msg = `database ${JSON.stringify(t.database)} does not exist at ${where}: create it, or fix the "database" field`;
      break;
    case "HANDSHAKE_NO_SSL_SUPPORT":
      msg = `the server at ${where} does not offer TLS, but ${sslField} is ${t.sslmode}`;
      break;
    default:
      msg = /does not support secure connection/i.test(e.message ?? "")
        ? `the server at ${where} does not offer TLS, but ${sslField} is ${t.sslmode}`
        : `connecting to ${where}: ${(e.message ?? String(err)).replaceAll(t.password || "\u0000", "***")}`;
  }
  return new ConnectorError(msg, { cause: err });
}
