/**
 * Drives a sink-layer connector through the SDK's real materialize session
 * runner: request builders for one binding of `acme/c` (key /id), a session
 * with a step-by-step request feed, and the state the runtime would hold
 * after the responses a session sent.
 */
import { create } from "@bufbuild/protobuf";
import { RequestSchema, type Request, type Response } from "../../src/gen/materialize/materialize_pb.js";
import { CollectionSpecSchema, MaterializationSpecSchema, type MaterializationSpec } from "../../src/gen/flow/flow_pb.js";
import { runMaterializeSession } from "../../src/sdk/materialize.js";
import { applyStateUpdate } from "../../src/sdk/state.js";
import type { MaterializeConnector } from "../../src/sdk/types.js";
import { createLogger } from "../../src/log.js";
import { checkpoint } from "./materialize-driver.js";
import { RecordingSink, RequestFeed } from "./sessions.js";

const enc = new TextEncoder();
const dec = new TextDecoder();
export const log = createLogger({ level: "error" });

export const collection = create(CollectionSpecSchema, {
  name: "acme/c",
  key: ["/id"],
  projections: [
    { field: "id", ptr: "/id", isPrimaryKey: true },
    { field: "v", ptr: "/v" },
    { field: "flow_document", ptr: "" },
  ],
});

/** A spec of `bindings` bindings of acme/c, each with delta updates (and `delta: true` in its resource) when `delta`. */
export function sinkSpec(
  delta: boolean,
  bindings = 1,
  opts: { config?: unknown; resource?: (i: number) => unknown } = {},
): MaterializationSpec {
  const resource = opts.resource ?? ((i: number) => ({ name: `t${i}`, ...(delta ? { delta: true } : {}) }));
  return create(MaterializationSpecSchema, {
    name: "acme/mat",
    configJson: enc.encode(JSON.stringify(opts.config ?? {})),
    bindings: Array.from({ length: bindings }, (_, i) => ({
      resourceConfigJson: enc.encode(JSON.stringify(resource(i))),
      resourcePath: [`t${i}`],
      collection,
      deltaUpdates: delta,
      fieldSelection: { keys: ["id"], values: [], document: "flow_document" },
    })),
  });
}

export const FULL = { keyBegin: 0, keyEnd: 0xffffffff, rClockBegin: 0, rClockEnd: 0xffffffff };

const req = (r: object): Request => create(RequestSchema, r as never);
export const openReq = (spec: MaterializationSpec, state: unknown = {}, range = FULL) =>
  req({ open: { materialization: spec, version: "v1", range, stateJson: enc.encode(JSON.stringify(state)) } });
export const ack = () => req({ acknowledge: {} });
export const load = (id: number, binding = 0) => req({ load: { binding, keyJson: enc.encode(`[${id}]`) } });
export const flush = () => req({ flush: {} });
export const store = (id: number, v: string, binding = 0, extra: object = {}) =>
  req({ store: { binding, keyJson: enc.encode(`[${id}]`), docJson: enc.encode(JSON.stringify({ id, v })), ...extra } });
export const startCommit = (n: number) => req({ startCommit: { runtimeCheckpoint: checkpoint(n) } });
export const applyReq = (spec: MaterializationSpec, state: unknown) =>
  req({ apply: { materialization: spec, version: "v2", stateJson: enc.encode(JSON.stringify(state)) } });
export const validateReq = (spec: MaterializationSpec) =>
  req({
    validate: {
      name: spec.name,
      configJson: spec.configJson,
      bindings: spec.bindings.map((b) => ({ resourceConfigJson: b.resourceConfigJson, collection: b.collection })),
    },
  });

export function session(connector: MaterializeConnector) {
  const feed = new RequestFeed<Request>();
  const sink = new RecordingSink<Response>();
  const done = runMaterializeSession(connector, feed, sink, { log });
  return { feed, sink, done };
}

type Kind = "opened" | "acknowledged" | "loaded" | "flushed" | "startedCommit" | "applied" | "validated";
export const kindOf = (r: Response) =>
  (["opened", "acknowledged", "loaded", "flushed", "startedCommit", "applied", "validated"] as Kind[]).find((k) => r[k] !== undefined)!;

/** The state updates a session sent, in order, with the response that carried each. */
export function stateUpdates(sent: Response[]): Array<{ kind: Kind; updated: unknown; mergePatch: boolean }> {
  const out = [];
  for (const r of sent) {
    const kind = kindOf(r);
    const s = (r[kind] as { state?: { updatedJson: Uint8Array; mergePatch: boolean } } | undefined)?.state;
    if (s) out.push({ kind, updated: JSON.parse(dec.decode(s.updatedJson)), mergePatch: s.mergePatch });
  }
  return out;
}

/**
 * The state the runtime holds after a session: StartedCommit updates commit
 * with their checkpoint, up to `commits` of them (a crash may lose the last);
 * Acknowledged updates count when `keepAcknowledged`.
 */
export function durableState(prior: unknown, sent: Response[], opts: { commits?: number; keepAcknowledged?: boolean } = {}): unknown {
  let state = prior;
  let commits = 0;
  for (const u of stateUpdates(sent)) {
    if (u.kind === "acknowledged" && opts.keepAcknowledged === false) continue;
    if (u.kind === "startedCommit" && opts.commits !== undefined && ++commits > opts.commits) continue;
    state = applyStateUpdate(state, u);
  }
  return state;
}

export function loadedDocs(sent: Response[]): unknown[] {
  return sent.filter((r) => r.loaded).map((r) => JSON.parse(dec.decode(r.loaded!.docJson)));
}
