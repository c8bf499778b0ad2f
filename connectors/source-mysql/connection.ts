/**
 * Connections for queries (discovery, prerequisites, backfill). Values
 * arrive as the server's text (numbers within 2^53 as numbers), or as
 * Buffers for binary strings, so that values.ts sees exactly what the
 * server holds: nothing passes through a lossy JS number or Date.
 */
import mysql from "mysql2/promise";
import { ConnectorError } from "../../src/sdk/errors.js";
import { isNoTlsError, tlsOptions } from "../../src/mysql/connect.js";
import { hostPort, type EndpointConfig } from "./config.js";

/** Configs whose "preferred" TLS found a server without it: their connections are plain text. */
const plain = new WeakSet<EndpointConfig>();

/** Connection options shared by query connections and the binlog reader (which connects after connect() has). */
export function connectionOptions(cfg: EndpointConfig) {
  const { host, port } = hostPort(cfg.address);
  const ssl = plain.has(cfg) ? undefined : tlsOptions(cfg.sslmode, cfg.sslrootcert);
  return { host, port, user: cfg.user, password: cfg.password, connectTimeout: 20_000, ...(ssl ? { ssl } : {}) };
}

export async function connect(cfg: EndpointConfig): Promise<mysql.Connection> {
  try {
    return await open(cfg);
  } catch (err) {
    if (cfg.sslmode !== "preferred" || plain.has(cfg) || !isNoTlsError(err)) throw err;
    plain.add(cfg);
    return open(cfg);
  }
}

async function open(cfg: EndpointConfig): Promise<mysql.Connection> {
  let conn: mysql.Connection;
  try {
    conn = await mysql.createConnection({
      ...connectionOptions(cfg),
      // Big integers and decimals as exact strings, dates and times as the server prints them,
      // JSON as its text; binary strings arrive as Buffers.
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      jsonStrings: true,
      decimalNumbers: false,
    });
  } catch (err) {
    throw describeConnectError(err, cfg);
  }
  conn.on("error", () => {});
  // TIMESTAMP values are read in UTC, as the binlog carries them.
  await conn.query("SET time_zone = '+00:00'");
  return conn;
}

export function describeConnectError(err: unknown, cfg: EndpointConfig): Error {
  const e = err as { code?: string; message?: string };
  const { host, port } = hostPort(cfg.address);
  // 1698 is MariaDB's answer for an unknown user about once in seven attempts (see src/mysql/connect.ts).
  if (e.code === "ER_ACCESS_DENIED_ERROR" || e.code === "ER_ACCESS_DENIED_NO_PASSWORD_ERROR") return new ConnectorError(`the server at ${host}:${port} refused user ${cfg.user}: check /user and /password`);
  if (isNoTlsError(err) && cfg.sslmode !== "preferred") {
    return new ConnectorError(`the server at ${host}:${port} does not offer TLS, but /advanced/sslmode is ${cfg.sslmode}`);
  }
  if (e.code === "ECONNREFUSED" || e.code === "ENOTFOUND" || e.code === "ETIMEDOUT" || e.code === "EHOSTUNREACH") {
    return new ConnectorError(`cannot reach a server at ${host}:${port} (${e.code}): check /address`, { cause: err, condition: "unavailable" });
  }
  return err as Error;
}

export function quoteIdent(name: string): string {
  return "`" + name.replace(/`/g, "``") + "`";
}

export function qualified(db: string, table: string): string {
  return `${quoteIdent(db)}.${quoteIdent(table)}`;
}

/** The server's current binlog end, where the next transaction will be written. */
export async function binlogEnd(conn: mysql.Connection): Promise<{ file: string; pos: number }> {
  let rows: any[];
  try {
    [rows] = (await conn.query("SHOW MASTER STATUS")) as any;
  } catch (err) {
    // MySQL 8.4 renamed the statement.
    if ((err as { errno?: number }).errno !== 1064) throw err;
    [rows] = (await conn.query("SHOW BINARY LOG STATUS")) as any;
  }
  if (!rows?.[0]) throw new ConnectorError("the server reports no binary log position: binary logging (log_bin) is off");
  return { file: String(rows[0].File), pos: Number(rows[0].Position) };
}

/** Orders binlog positions: file names carry a sequence number after the last dot. */
export function comparePositions(a: { file: string; pos: number }, b: { file: string; pos: number }): number {
  if (a.file !== b.file) {
    const na = Number(a.file.slice(a.file.lastIndexOf(".") + 1));
    const nb = Number(b.file.slice(b.file.lastIndexOf(".") + 1));
    return na - nb;
  }
  return a.pos - b.pos;
}
