/**
 * Helpers for tests against a real MySQL/MariaDB: a throw-away database per
 * test file (or test), materialization specs built from compact
 * descriptions, and a driver that runs one transaction through a Transactor
 * the way the SDK does.
 */
import mysql from "mysql2/promise";
import type { MaterializationSpec } from "../../src/gen/flow/flow_pb.js";
import { materializationSpec, requestBuilders, type BindingDesc as SharedBindingDesc } from "../../test/support/materialize-driver.js";
import connector from "./connector.js";
import type { EndpointConfig } from "./config.js";

export const MYSQL_URL = process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";

export { checkpoint, ctx, readThrough, transaction, type StoreDesc } from "../../test/support/materialize-driver.js";

export function endpointConfig(database: string, extra: Partial<EndpointConfig> = {}): EndpointConfig {
  const u = new URL(MYSQL_URL);
  return {
    address: `${u.hostname}:${u.port || 3306}`,
    user: decodeURIComponent(u.username || "root"),
    password: decodeURIComponent(u.password),
    database,
    advanced: { sslmode: "disabled" },
    ...extra,
  };
}

export async function adminConn(): Promise<mysql.Connection> {
  const u = new URL(MYSQL_URL);
  return mysql.createConnection({
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username || "root"),
    password: decodeURIComponent(u.password),
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
  });
}

let seq = 0;
/** A fresh database name, unique across concurrently running test files. */
export function uniqueDatabase(prefix = "t"): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${seq++}`;
}

export type BindingDesc = SharedBindingDesc<{ table: string; delta_updates?: boolean }>;

export function materialization(name: string, config: EndpointConfig, bindings: BindingDesc[]): MaterializationSpec {
  return materializationSpec(name, config, bindings, (r) => [r.table]);
}

export const { applyRequest, openRequest } = requestBuilders(connector.resourceConfigSchema);
