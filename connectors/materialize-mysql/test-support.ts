/**
 * Helpers for tests against a real MySQL/MariaDB: a throw-away database per
 * test file (or test), materialization specs built from compact
 * descriptions, and a driver that runs one transaction through a Transactor
 * the way the SDK does.
 */
import { create } from "@bufbuild/protobuf";
import mysql from "mysql2/promise";
import { CheckpointSchema, type Checkpoint } from "../../src/gen/consumer/protocol/protocol_pb.js";
import { MaterializationSpecSchema, RangeSpecSchema, type CollectionSpec, type MaterializationSpec } from "../../src/gen/flow/flow_pb.js";
import { createLogger } from "../../src/log.js";
import { materializeBindings } from "../../src/sdk/bindings.js";
import { RawJson, type Context, type MaterializeApply, type MaterializeOpen, type StoreRequest, type Transactor } from "../../src/sdk/types.js";
import connector from "./connector.js";
import type { EndpointConfig } from "./config.js";

export const MYSQL_URL = process.env.MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";

export function ctx(): Context {
  return { log: createLogger({ level: "error" }), signal: new AbortController().signal };
}

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

export interface BindingDesc {
  resource: { table: string; delta_updates?: boolean };
  collection: CollectionSpec;
  keys: string[];
  values: string[];
  document: string;
  backfill?: number;
}

export function materialization(name: string, config: EndpointConfig, bindings: BindingDesc[]): MaterializationSpec {
  const enc = new TextEncoder();
  return create(MaterializationSpecSchema, {
    name,
    configJson: enc.encode(JSON.stringify(config)),
    bindings: bindings.map((b) => ({
      resourceConfigJson: enc.encode(JSON.stringify(b.resource)),
      resourcePath: [b.resource.table],
      collection: b.collection,
      fieldSelection: { keys: b.keys, values: b.values, document: b.document },
      deltaUpdates: b.resource.delta_updates ?? false,
      backfill: b.backfill ?? 0,
    })),
  });
}

export function applyRequest(spec: MaterializationSpec, last?: MaterializationSpec): MaterializeApply<any, any> {
  return {
    config: JSON.parse(new TextDecoder().decode(spec.configJson)),
    bindings: materializeBindings(spec, connector.resourceConfigSchema),
    spec,
    version: "v1",
    lastMaterialization: last,
    lastVersion: "",
    state: {},
  };
}

export function openRequest(spec: MaterializationSpec, keyBegin = 0, keyEnd = 0xffffffff): MaterializeOpen<any, any> {
  return {
    config: JSON.parse(new TextDecoder().decode(spec.configJson)),
    bindings: materializeBindings(spec, connector.resourceConfigSchema),
    spec,
    version: "v1",
    range: create(RangeSpecSchema, { keyBegin, keyEnd, rClockBegin: 0, rClockEnd: 0xffffffff }),
    state: {},
  };
}

export function checkpoint(n: number): Checkpoint {
  return create(CheckpointSchema, { sources: { "acme/journal": { readThrough: BigInt(n) } } });
}

export function readThrough(cp: unknown): number | undefined {
  const c = cp as Checkpoint;
  return c?.sources?.["acme/journal"] ? Number(c.sources["acme/journal"].readThrough) : undefined;
}

export type StoreDesc = Partial<StoreRequest> & { keyJson: string; valuesJson: string };

async function* iter<T>(items: T[]): AsyncGenerator<T> {
  for (const i of items) yield i;
}

/** Runs one transaction: loads (returns what was loaded), stores, then commits with `cp`. */
export async function transaction(
  t: Transactor,
  opts: { loads?: Array<{ binding?: number; keyJson: string }>; stores?: StoreDesc[]; checkpoint: Checkpoint; backfillBegins?: number[] },
): Promise<Array<[number, string]>> {
  await t.acknowledge({ statePatches: "" });
  const loaded: Array<[number, string]> = [];
  if (opts.loads && opts.loads.length > 0) {
    const it = Object.assign(iter(opts.loads.map((l) => ({ binding: l.binding ?? 0, keyJson: l.keyJson, keyPacked: new Uint8Array() }))), {
      committed: () => Promise.resolve(),
    });
    await t.load!(it, (b, doc) => {
      loaded.push([b, doc instanceof RawJson ? doc.text : JSON.stringify(doc)]);
    });
  }
  if (opts.backfillBegins) {
    await t.flush!({ statePatches: "", backfillBegins: opts.backfillBegins.map((binding) => ({ binding })), backfillCompletes: [] });
  }
  const stores: StoreRequest[] = (opts.stores ?? []).map((s) => ({
    binding: 0,
    keyPacked: new Uint8Array(),
    valuesPacked: new Uint8Array(),
    docJson: "",
    exists: false,
    delete: false,
    ...s,
  }));
  const commit = await t.store(iter(stores));
  await commit({ runtimeCheckpoint: opts.checkpoint, statePatches: "" });
  return loaded;
}
