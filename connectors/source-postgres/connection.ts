/**
 * Opening connections: one for queries (discovery, backfill, fences) and
 * one in replication mode. Both carry the same output settings, because the
 * text form of values depends on them and the backfill and the change stream
 * must produce identical documents.
 */
import pg from "pg";
import type { EndpointConfig } from "./config.js";
import { connectPostgres } from "../../src/postgres/connect.js";
import { SAFE_SESSION_OPTIONS } from "../../src/postgres/literal.js";
import { hostPort as splitHostPort } from "../../src/net/address.js";

export { quoteLiteral } from "../../src/postgres/literal.js";

/** Session settings every connection uses; see text-values.ts for why. */
const OUTPUT_SETTINGS = `-c DateStyle=ISO,MDY -c IntervalStyle=iso_8601 -c TimeZone=UTC -c extra_float_digits=1 -c bytea_output=hex ${SAFE_SESSION_OPTIONS}`;

export function hostPort(address: string): { host: string; port: number } {
  return splitHostPort(address, 5432);
}

function clientConfig(cfg: EndpointConfig, addr: { host: string; port: number }, ssl: pg.ClientConfig["ssl"], replication: boolean): pg.ClientConfig {
  const c: pg.ClientConfig & { replication?: string; options?: string } = {
    host: addr.host,
    port: addr.port,
    database: cfg.database,
    user: cfg.user,
    password: cfg.password,
    ssl,
    application_name: "tributary-source-postgres",
    options: OUTPUT_SETTINGS,
    keepAlive: true,
    connectionTimeoutMillis: 30_000,
  };
  if (replication) c.replication = "database";
  return c;
}

/** Connects under the configured sslmode (prefer and allow may take a second attempt), through the SSH tunnel if any. */
export async function connect(cfg: EndpointConfig, opts: { replication?: boolean } = {}): Promise<pg.Client> {
  const settings = (addr: { host: string; port: number }, ssl: pg.ClientConfig["ssl"]) => clientConfig(cfg, addr, ssl, !!opts.replication);
  return connectPostgres(hostPort(cfg.address), { sslmode: cfg.sslmode, sslrootcert: cfg.sslrootcert, tunnel: cfg.tunnel }, settings);
}

/** Row values as the server's text, untouched. */
export const TEXT_TYPES = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

export function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

export function qualified(schema: string, table: string): string {
  return quoteIdent(schema) + "." + quoteIdent(table);
}
