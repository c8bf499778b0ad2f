/**
 * Drives a SQL materialization's Transactor in tests the way the SDK does:
 * specs built from compact binding descriptions, Apply and Open requests,
 * numbered checkpoints, and one whole transaction (acknowledge, loads,
 * optional backfill flush, stores, commit) per call.
 */
import { create } from "@bufbuild/protobuf";
import { CheckpointSchema, type Checkpoint } from "../../src/gen/consumer/protocol/protocol_pb.js";
import { MaterializationSpecSchema, RangeSpecSchema, type CollectionSpec, type MaterializationSpec } from "../../src/gen/flow/flow_pb.js";
import { createLogger } from "../../src/log.js";
import { materializeBindings } from "../../src/sdk/bindings.js";
import { RawJson, RawJsonBytes, type Context, type MaterializeApply, type MaterializeOpen, type MaterializeValidate, type StoreRequest, type Transactor } from "../../src/sdk/types.js";
import { collection, ROOT } from "../../src/sql/test-fixtures.js";

export function ctx(): Context {
  return { log: createLogger({ level: "error" }), signal: new AbortController().signal };
}

/** A binding described by its resource config, collection and selected fields. */
export interface BindingDesc<R extends { table: string; delta_updates?: boolean }> {
  resource: R;
  collection: CollectionSpec;
  keys: string[];
  values: string[];
  document: string;
  backfill?: number;
}

/** A materialization spec; `resourcePath` gives each binding's path as the connector would. */
export function materializationSpec<C, R extends { table: string; delta_updates?: boolean }>(
  name: string,
  config: C,
  bindings: BindingDesc<R>[],
  resourcePath: (resource: R, config: C) => string[],
): MaterializationSpec {
  const enc = new TextEncoder();
  return create(MaterializationSpecSchema, {
    name,
    configJson: enc.encode(JSON.stringify(config)),
    bindings: bindings.map((b) => ({
      resourceConfigJson: enc.encode(JSON.stringify(b.resource)),
      resourcePath: resourcePath(b.resource, config),
      collection: b.collection,
      fieldSelection: { keys: b.keys, values: b.values, document: b.document },
      deltaUpdates: b.resource.delta_updates ?? false,
      backfill: b.backfill ?? 0,
    })),
  });
}

/** Builds Apply and Open requests for a connector with this resource config schema. */
export function requestBuilders(resourceConfigSchema: unknown) {
  const bindings = (spec: MaterializationSpec) => materializeBindings(spec, resourceConfigSchema as any);
  return {
    applyRequest(spec: MaterializationSpec, last?: MaterializationSpec): MaterializeApply<any, any> {
      return {
        config: JSON.parse(new TextDecoder().decode(spec.configJson)),
        bindings: bindings(spec),
        spec,
        version: "v1",
        lastMaterialization: last,
        lastVersion: "",
        state: {},
      };
    },
    openRequest(spec: MaterializationSpec, keyBegin = 0, keyEnd = 0xffffffff): MaterializeOpen<any, any> {
      return {
        config: JSON.parse(new TextDecoder().decode(spec.configJson)),
        bindings: bindings(spec),
        spec,
        version: "v1",
        range: create(RangeSpecSchema, { keyBegin, keyEnd, rClockBegin: 0, rClockEnd: 0xffffffff }),
        state: {},
      };
    },
  };
}

/** A checkpoint that records `n`, so tests can tell checkpoints apart. */
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
      const text = doc instanceof RawJson ? doc.text : doc instanceof RawJsonBytes ? Buffer.from(doc.bytes).toString("utf8") : JSON.stringify(doc);
      loaded.push([b, text]);
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

/** The widgets collection the transaction tests store: an integer key, a name and _meta/op. */
export const widgets = collection("acme/widgets", [
  { field: "id", types: ["integer"], key: true },
  { field: "name", types: ["string"] },
  { field: "_meta/op", types: ["string"] },
  ROOT,
]);

/** A binding of `widgets` to table `widgets`, with `extra` overriding. */
export function widgetBinding<R extends { table: string; delta_updates?: boolean }>(extra: Partial<BindingDesc<R>> = {}): BindingDesc<R> {
  return { resource: { table: "widgets" } as R, collection: widgets, keys: ["id"], values: ["name", "_meta/op"], document: "flow_document", ...extra };
}

/** The store of widget `id` named `name` with operation `op`. */
export function w(id: number, name: string, op = "c") {
  const doc = { id, name, _meta: { op } };
  return { keyJson: `[${id}]`, valuesJson: JSON.stringify([name, op]), docJson: JSON.stringify(doc) };
}

/** A Validate request for materialization "acme/mat" with `bindings`, as the runtime sends it. */
export function validateRequest<C, R extends { table: string; delta_updates?: boolean }>(
  config: C,
  bindings: BindingDesc<R>[],
  last?: MaterializationSpec,
): MaterializeValidate<any, any> {
  return {
    name: "acme/mat",
    config,
    bindings: bindings.map((b) => ({ resourceConfig: b.resource, collection: b.collection, fieldConfig: {}, backfill: b.backfill ?? 0, groupBy: [] })),
    lastMaterialization: last,
    request: {} as never,
  };
}
