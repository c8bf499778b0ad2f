/**
 * Helpers for tests against a real PostgreSQL: a throw-away schema per test,
 * materialization specs built from compact descriptions, and a driver that
 * runs one transaction through a Transactor the way the SDK does.
 */
import pg from "pg";
import type { MaterializationSpec } from "../../src/gen/flow/flow_pb.js";
import { materializationSpec, requestBuilders, type BindingDesc as SharedBindingDesc } from "../../test/support/materialize-driver.js";
import connector from "./connector.js";
import type { EndpointConfig } from "./config.js";

export const PG_URL = process.env.PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export { checkpoint, ctx, readThrough, transaction, type StoreDesc } from "../../test/support/materialize-driver.js";

export function endpointConfig(schema: string, extra: Partial<EndpointConfig> = {}): EndpointConfig {
  const u = new URL(PG_URL);
  return {
    address: `${u.hostname}:${u.port || 5432}`,
    user: decodeURIComponent(u.username || "postgres"),
    password: decodeURIComponent(u.password),
    database: u.pathname.slice(1) || "postgres",
    schema,
    ...extra,
  };
}

export async function adminClient(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  return c;
}

let seq = 0;
/** A fresh schema name, unique across concurrently running test files. */
export function uniqueSchema(prefix = "t"): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${seq++}`;
}

export type BindingDesc = SharedBindingDesc<{ table: string; schema?: string; delta_updates?: boolean }>;

export function materialization(name: string, config: EndpointConfig, bindings: BindingDesc[]): MaterializationSpec {
  return materializationSpec(name, config, bindings, (r, c) => [r.schema ?? c.schema ?? "public", r.table]);
}

export const { applyRequest, openRequest } = requestBuilders(connector.resourceConfigSchema);
