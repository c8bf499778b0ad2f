/**
 * Builds a materialization task as Flow's control plane does: Spec (check
 * the protocol), Validate (constraints per field), field selection, the
 * flow.MaterializationSpec, and (separately, on the leader) Apply.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { RequestSchema, ResponseSchema, type Request, type Response } from "../gen/materialize/materialize_pb.js";
import {
  MaterializationSpecSchema,
  MaterializationSpec_BindingSchema,
  MaterializationSpec_ConnectorType,
  type MaterializationSpec,
} from "../gen/flow/flow_pb.js";
import type { Logger } from "../log.js";
import type { Catalog, MaterializationDef } from "./catalog.js";
import type { BuiltCollection } from "./collection-spec.js";
import { selectFields } from "./field-selection.js";
import { encodeStateKey } from "./state-key.js";
import { checkResourcePaths, checkSpecResponse } from "./build-capture.js";
import { collectionsFor, recoveryLogTemplate, shardTemplate, specVersion, findTask } from "./task-common.js";
import { unary } from "./unary.js";
import {
  checkSelectionCovered,
  DEFAULT_PROTOCOL_FORM,
  linkCollections,
  materializationSpecInForm,
  validatedConstraints,
  type ProtocolForm,
} from "./protocol-form.js";
import { protocolWire, type ProtocolWire, type WireCodec } from "./wire.js";

export interface BuiltMaterialization {
  def: MaterializationDef;
  spec: MaterializationSpec;
  version: string;
  collections: BuiltCollection[];
  wire: ProtocolWire<Request, Response>;
  connectorType: MaterializationSpec_ConnectorType;
  /** The form of the protocol spoken to the connector. */
  form: ProtocolForm;
  /** `spec` as sent in Apply and Open: in the indirect form under the newest protocol. */
  wireSpec: MaterializationSpec;
}

const enc = new TextEncoder();

export function findMaterialization(catalog: Catalog, name: string | undefined): MaterializationDef {
  return findTask("materialization", catalog.materializations, catalog.captures, catalog.path, name);
}

export async function buildMaterialization(
  catalog: Catalog,
  name: string | undefined,
  opts: { log: Logger; codec?: WireCodec; logLevel?: string; last?: { spec?: MaterializationSpec; version: string }; protocolForm?: ProtocolForm },
): Promise<BuiltMaterialization> {
  const form = opts.protocolForm ?? DEFAULT_PROTOCOL_FORM;
  const def = findMaterialization(catalog, name);
  const at = `materialization ${JSON.stringify(def.name)}`;
  const bindings = def.bindings.filter((b) => !b.disable);
  const built = collectionsFor(catalog, bindings.map((b) => b.source), at);
  const collections = bindings.map((b) => built.get(b.source)!);
  const wire = protocolWire(RequestSchema, ResponseSchema, opts.codec ?? def.endpoint.codec);
  const connectorType = def.endpoint.kind === "image" ? MaterializationSpec_ConnectorType.IMAGE : MaterializationSpec_ConnectorType.LOCAL;
  const configJson = enc.encode(JSON.stringify(def.endpoint.config));
  const rpc = { log: opts.log, protocol: "materialize" as const, logLevel: opts.logLevel };

  const spec = await unary(def.endpoint, wire, create(RequestSchema, { spec: { connectorType, configJson } }), "spec", rpc);
  checkSpecResponse(spec.spec!.protocol, "materialize");

  const fieldConfigs = bindings.map((b) => {
    const inc = b.fields.include ?? b.fields.require;
    const out: Record<string, Uint8Array> = {};
    if (inc && !Array.isArray(inc)) for (const [f, c] of Object.entries(inc)) out[f] = enc.encode(JSON.stringify(c ?? {}));
    return out;
  });
  const direct = bindings.map((b, i) => ({
    resourceConfigJson: enc.encode(JSON.stringify(b.resource)),
    collection: collections[i]!.spec,
    fieldConfigJsonMap: fieldConfigs[i],
    backfill: b.backfill,
    groupBy: b.fields.groupBy ?? [],
    collectionIndex: 0,
  }));
  const linked = form === "newest" ? linkCollections(direct) : { linkedCollections: [], bindings: direct };
  const validated = await unary(
    def.endpoint,
    wire,
    create(RequestSchema, {
      validate: {
        name: def.name,
        connectorType,
        configJson,
        lastMaterialization: materializationSpecInForm(opts.last?.spec, form),
        lastVersion: opts.last?.version ?? "",
        bindings: linked.bindings,
        linkedCollections: linked.linkedCollections,
      },
    }),
    "validated",
    rpc,
  );
  const vb = validated.validated!.bindings;
  checkResourcePaths("materialize", vb.map((b) => b.resourcePath), bindings.length);

  const specBindings = bindings.map((b, i) => {
    const collection = collections[i]!.spec;
    // The same binding in the last applied spec (same resource path and backfill) keeps its fields stable.
    const liveBinding = opts.last?.spec?.bindings.find(
      (lb) => JSON.stringify(lb.resourcePath) === JSON.stringify(vb[i]!.resourcePath) && lb.backfill === b.backfill,
    );
    const where = `${at}: bindings[${i}] (${collection.name})`;
    const fieldSelection = selectFields(where, collection, validatedConstraints(vb[i]!, form, where), b.fields, liveBinding?.fieldSelection);
    checkSelectionCovered(vb[i]!, fieldSelection, form, where);
    return create(MaterializationSpec_BindingSchema, {
      resourceConfigJson: enc.encode(JSON.stringify(b.resource)),
      resourcePath: vb[i]!.resourcePath,
      collection,
      fieldSelection,
      deltaUpdates: vb[i]!.deltaUpdates,
      journalReadSuffix: `materialize/${def.name}/${encodeStateKey(vb[i]!.resourcePath, b.backfill)}`,
      backfill: b.backfill,
      stateKey: encodeStateKey(vb[i]!.resourcePath, b.backfill),
      serPolicy: vb[i]!.serPolicy,
    });
  });
  const matSpec = create(MaterializationSpecSchema, {
    name: def.name,
    connectorType,
    configJson,
    bindings: specBindings,
    shardTemplate: shardTemplate("materialize", def.name),
    recoveryLogTemplate: recoveryLogTemplate("materialize", def.name),
  });
  const version = specVersion(toBinary(MaterializationSpecSchema, matSpec));
  return { def, spec: matSpec, version, collections, wire, connectorType, form, wireSpec: materializationSpecInForm(matSpec, form) };
}

/** Apply, on the leader shard, with the last applied spec and the connector state. */
export async function applyMaterialization(
  built: BuiltMaterialization,
  last: { spec?: MaterializationSpec; version: string },
  state: unknown,
  opts: { log: Logger; logLevel?: string },
): Promise<{ actionDescription: string; state?: { updated: unknown; mergePatch: boolean } }> {
  const res = await unary(
    built.def.endpoint,
    built.wire,
    create(RequestSchema, {
      apply: {
        materialization: built.wireSpec,
        version: built.version,
        lastMaterialization: materializationSpecInForm(last.spec, built.form),
        lastVersion: last.version,
        stateJson: enc.encode(JSON.stringify(state ?? {})),
      },
    }),
    "applied",
    { log: opts.log, protocol: "materialize", logLevel: opts.logLevel },
  );
  const st = res.applied!.state;
  let parsed: { updated: unknown; mergePatch: boolean } | undefined;
  if (st) parsed = { updated: JSON.parse(new TextDecoder().decode(st.updatedJson) || "{}"), mergePatch: st.mergePatch };
  return { actionDescription: res.applied!.actionDescription, state: parsed };
}
