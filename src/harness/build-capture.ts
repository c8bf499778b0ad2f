/**
 * Builds a capture task the way Flow's control plane does before it runs:
 * Spec (check the protocol), Validate (learn resource paths), assemble the
 * flow.CaptureSpec, then Apply.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import {
  RequestSchema,
  ResponseSchema,
  type Request,
  type Response,
} from "../gen/capture/capture_pb.js";
import { CaptureSpecSchema, CaptureSpec_BindingSchema, CaptureSpec_ConnectorType, type CaptureSpec } from "../gen/flow/flow_pb.js";
import type { Logger } from "../log.js";
import { PROTOCOL_VERSION } from "../sdk/types.js";
import type { Catalog, CaptureDef } from "./catalog.js";
import type { BuiltCollection } from "./collection-spec.js";
import { HarnessError, ProtocolViolation } from "./errors.js";
import { encodeStateKey } from "./state-key.js";
import { collectionsFor, recoveryLogTemplate, shardTemplate, specVersion, findTask } from "./task-common.js";
import { unary } from "./unary.js";
import { applyStateUpdate } from "../sdk/state.js";
import { captureSpecInForm, DEFAULT_PROTOCOL_FORM, linkCollections, type ProtocolForm } from "./protocol-form.js";

const MAX_APPLY_ROUNDS = 10;
import { protocolWire, type ProtocolWire, type WireCodec } from "./wire.js";

export interface BuiltCapture {
  def: CaptureDef;
  spec: CaptureSpec;
  version: string;
  /** Collection of each binding, by binding index. */
  collections: BuiltCollection[];
  wire: ProtocolWire<Request, Response>;
  applyDescription: string;
  /** The form of the protocol spoken to the connector. */
  form: ProtocolForm;
  /** `spec` as sent in Apply and Open: in the indirect form under the newest protocol. */
  wireSpec: CaptureSpec;
  /** The connector state once Apply settled: the initial state with Apply's updates. */
  applyState: unknown;
}

export interface BuildOptions {
  log: Logger;
  codec?: WireCodec;
  logLevel?: string;
  /** Skip Apply (e.g. a later session of the same preview). */
  skipApply?: boolean;
  /** Default: newest. */
  protocolForm?: ProtocolForm;
  /** The connector state Apply starts from (default {}). */
  initialState?: unknown;
}

const enc = new TextEncoder();

export function findCapture(catalog: Catalog, name: string | undefined): CaptureDef {
  return findTask("capture", catalog.captures, catalog.materializations, catalog.path, name);
}

export function checkSpecResponse(protocol: number | undefined, kind: "capture" | "materialize") {
  if (protocol === undefined || protocol === 0) {
    throw new ProtocolViolation(`${kind}.Response.Spec`, "spec-protocol-missing", `the Spec response has no protocol number; it must be ${PROTOCOL_VERSION}`);
  }
  if (protocol !== PROTOCOL_VERSION) {
    throw new ProtocolViolation(`${kind}.Response.Spec`, "spec-protocol-version", `unexpected protocol version ${protocol}; it must be ${PROTOCOL_VERSION}`);
  }
}

export function checkResourcePaths(kind: "capture" | "materialize", paths: string[][], count: number) {
  if (paths.length !== count) {
    throw new ProtocolViolation(`${kind}.Response.Validated`, "validated-binding-count", `Validate had ${count} bindings but Validated has ${paths.length}`);
  }
  const seen = new Map<string, number>();
  for (const [i, p] of paths.entries()) {
    if (p.length === 0) throw new ProtocolViolation(`${kind}.Response.Validated`, "validated-resource-path", `binding ${i} has an empty resource path`);
    const k = JSON.stringify(p);
    if (seen.has(k)) throw new ProtocolViolation(`${kind}.Response.Validated`, "validated-resource-path", `bindings ${seen.get(k)} and ${i} have the same resource path ${k}`);
    seen.set(k, i);
  }
}

export async function buildCapture(catalog: Catalog, name: string | undefined, opts: BuildOptions): Promise<BuiltCapture> {
  const def = findCapture(catalog, name);
  const form = opts.protocolForm ?? DEFAULT_PROTOCOL_FORM;
  const at = `capture ${JSON.stringify(def.name)}`;
  const bindings = def.bindings.filter((b) => !b.disable);
  const built = collectionsFor(catalog, bindings.map((b) => b.target), at);
  const collections = bindings.map((b) => built.get(b.target)!);
  const codec = opts.codec ?? def.endpoint.codec;
  const wire = protocolWire(RequestSchema, ResponseSchema, codec);
  const connectorType = def.endpoint.kind === "image" ? CaptureSpec_ConnectorType.IMAGE : CaptureSpec_ConnectorType.LOCAL;
  const configJson = JSON.stringify(def.endpoint.config);
  const rpc = { log: opts.log, protocol: "capture" as const, logLevel: opts.logLevel };

  const spec = await unary(def.endpoint, wire, create(RequestSchema, { spec: { connectorType, configJson } }), "spec", rpc);
  checkSpecResponse(spec.spec!.protocol, "capture");

  const direct = bindings.map((b, i) => ({ resourceConfigJson: JSON.stringify(b.resource), collection: collections[i]!.spec, backfill: b.backfill, collectionIndex: 0 }));
  const linked = form === "newest" ? linkCollections(direct) : { linkedCollections: [], bindings: direct };
  const validated = await unary(
    def.endpoint,
    wire,
    create(RequestSchema, {
      validate: { name: def.name, connectorType, configJson, bindings: linked.bindings, linkedCollections: linked.linkedCollections },
    }),
    "validated",
    rpc,
  );
  const paths = validated.validated!.bindings.map((b) => b.resourcePath);
  checkResourcePaths("capture", paths, bindings.length);

  const captureSpec = create(CaptureSpecSchema, {
    name: def.name,
    connectorType,
    configJson: enc.encode(configJson),
    bindings: bindings.map((b, i) =>
      create(CaptureSpec_BindingSchema, {
        resourceConfigJson: enc.encode(JSON.stringify(b.resource)),
        resourcePath: paths[i],
        collection: collections[i]!.spec,
        backfill: b.backfill,
        stateKey: encodeStateKey(paths[i]!, b.backfill),
      }),
    ),
    intervalSeconds: def.intervalSeconds,
    shardTemplate: shardTemplate("capture", def.name),
    recoveryLogTemplate: recoveryLogTemplate("capture", def.name),
  });
  const version = specVersion(toBinary(CaptureSpecSchema, captureSpec));
  const wireSpec = captureSpecInForm(captureSpec, form);

  // Like Flow, Apply is called again with the reduced state while Applied
  // carries a state update: that is how a connector settles pending work.
  let applyDescription = "";
  let state: unknown = opts.initialState ?? {};
  if (!opts.skipApply) {
    const descriptions: string[] = [];
    for (let round = 1; ; round++) {
      const applied = await unary(
        def.endpoint,
        wire,
        create(RequestSchema, { apply: { capture: wireSpec, version, lastVersion: "", stateJson: JSON.stringify(state) } }),
        "applied",
        rpc,
      );
      if (applied.applied!.actionDescription) descriptions.push(applied.applied!.actionDescription);
      const st = applied.applied!.state;
      if (!st) break;
      state = applyStateUpdate(state, { updated: JSON.parse(new TextDecoder().decode(st.updatedJson) || "{}"), mergePatch: st.mergePatch });
      if (round === MAX_APPLY_ROUNDS) throw new HarnessError(`capture.Response.Applied carried a state update ${round} times in a row; Apply must settle`);
    }
    applyDescription = descriptions.join("\n");
  }
  return { def, spec: captureSpec, version, collections, wire, applyDescription, form, wireSpec, applyState: state };
}
