/**
 * Test helpers for materialize-redis: specs and requests, in-process
 * sessions, the connector state the runtime would hold, and snapshots of
 * what a test wrote to the real Redis server (REDIS_URL, default
 * redis://127.0.0.1:6379).
 */
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Redis } from "ioredis";
import { RequestSchema, type Request, type Response } from "../../src/gen/materialize/materialize_pb.js";
import { CollectionSpecSchema, MaterializationSpecSchema, type MaterializationSpec } from "../../src/gen/flow/flow_pb.js";
import { CheckpointSchema } from "../../src/gen/consumer/protocol/protocol_pb.js";
import { runMaterializeSession } from "../../src/sdk/materialize.js";
import { applyStateUpdate } from "../../src/sdk/state.js";
import type { MaterializeConnector } from "../../src/sdk/types.js";
import { createLogger } from "../../src/log.js";
import { RecordingSink, RequestFeed } from "../../test/support/sessions.js";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A namespace unique to one test: every key it writes starts with it. */
export function namespace(): string {
  return `trib-test-${randomBytes(4).toString("hex")}`;
}

export interface BindingOpts {
  prefix: string;
  delta?: boolean;
  format?: "json" | "hash";
  ttl?: number;
  softDelete?: boolean;
  values?: string[];
  backfill?: number;
  /** The selected document field; "" for none. */
  document?: string;
}

export function collection() {
  return create(CollectionSpecSchema, {
    name: "acme/things",
    key: ["/id"],
    projections: [
      { field: "id", ptr: "/id", isPrimaryKey: true, inference: { types: ["integer"] } },
      { field: "name", ptr: "/name", inference: { types: ["string"] } },
      { field: "n", ptr: "/n", inference: { types: ["integer", "null"] } },
      { field: "tags", ptr: "/tags", inference: { types: ["array"] } },
      { field: "flow_document", ptr: "", inference: { types: ["object"] } },
    ],
  });
}

export function endpoint(ns: string, extra: Record<string, unknown> = {}) {
  return { address: REDIS_URL, advanced: { internal_prefix: `${ns}:internal`, chunk_records: 2 }, ...extra };
}

export function materialization(ns: string, bindings: BindingOpts[], config: Record<string, unknown> = endpoint(ns)): MaterializationSpec {
  return create(MaterializationSpecSchema, {
    name: `acme/${ns}`,
    configJson: enc.encode(JSON.stringify(config)),
    bindings: bindings.map((b, i) => ({
      resourceConfigJson: enc.encode(
        JSON.stringify({
          prefix: b.prefix,
          delta_updates: b.delta ?? false,
          format: b.format ?? "json",
          ...(b.ttl ? { ttl_seconds: b.ttl } : {}),
          ...(b.softDelete ? { soft_delete: true } : {}),
        }),
      ),
      resourcePath: [b.prefix],
      collection: collection(),
      deltaUpdates: b.delta ?? false,
      backfill: b.backfill ?? 0,
      stateKey: `binding-${i}`,
      fieldSelection: { keys: ["id"], values: b.values ?? (b.format === "hash" ? ["n", "name", "tags"] : []), document: b.document ?? "flow_document" },
    })),
  });
}

export const req = (r: object): Request => create(RequestSchema, r as never);
export const FULL = { keyBegin: 0, keyEnd: 0xffffffff, rClockBegin: 0, rClockEnd: 0xffffffff };
export const open = (spec: MaterializationSpec, state: unknown = {}, range = FULL) =>
  req({ open: { materialization: spec, version: "v1", range, stateJson: enc.encode(JSON.stringify(state)) } });
export const ack = () => req({ acknowledge: {} });
export const flush = () => req({ flush: {} });
export const load = (binding: number, id: number) => req({ load: { binding, keyJson: enc.encode(`[${id}]`) } });
export const startCommit = () => req({ startCommit: { runtimeCheckpoint: create(CheckpointSchema, {}) } });

export interface Doc {
  id: number;
  name?: string;
  n?: number | null;
  tags?: string[];
  _meta?: { op: string };
}

/** A Store of `doc`, with values in the binding's selected order. */
export function store(binding: number, doc: Doc, opts: { exists?: boolean; delete?: boolean; values?: string[] } = {}): Request {
  const values = (opts.values ?? []).map((f) => (doc as unknown as Record<string, unknown>)[f] ?? null);
  return req({
    store: {
      binding,
      keyJson: enc.encode(`[${doc.id}]`),
      valuesJson: enc.encode(JSON.stringify(values)),
      docJson: enc.encode(JSON.stringify(doc)),
      exists: opts.exists ?? false,
      delete: opts.delete ?? false,
    },
  });
}

/**
 * An in-process session. `push` sends requests the way the runtime does: a
 * Flush waits until every Acknowledge so far has been answered.
 */
export function session(connector: MaterializeConnector) {
  const feed = new RequestFeed<Request>();
  const sink = new RecordingSink<Response>();
  const done = runMaterializeSession(connector, feed, sink, { log: createLogger({ level: process.env.TEST_LOG ?? "error" }) });
  done.catch(() => undefined); // tests await it when they care
  let acks = 0;
  const push = async (...reqs: Request[]) => {
    for (const q of reqs) {
      if (q.flush) {
        const deadline = Date.now() + 10_000;
        while (sink.sent.filter((r) => r.acknowledged).length < acks) {
          if (Date.now() > deadline) throw new Error("timed out waiting for Acknowledged before Flush");
          await Promise.race([done.catch(() => undefined), new Promise((res) => setTimeout(res, 5))]);
        }
      }
      if (q.acknowledge) acks++;
      feed.push(q);
    }
  };
  return { feed, sink, done, push };
}

const KINDS = ["opened", "acknowledged", "loaded", "flushed", "startedCommit", "applied", "validated", "spec"] as const;
export const kindOf = (r: Response) => KINDS.find((k) => r[k] !== undefined)!;

export function stateUpdates(sent: Response[]): Array<{ kind: string; updated: unknown; mergePatch: boolean }> {
  const out = [];
  for (const r of sent) {
    const kind = kindOf(r);
    const s = (r[kind] as { state?: { updatedJson: Uint8Array; mergePatch: boolean } } | undefined)?.state;
    if (s) out.push({ kind, updated: JSON.parse(dec.decode(s.updatedJson)), mergePatch: s.mergePatch });
  }
  return out;
}

/**
 * The connector state the runtime holds after a session: StartedCommit
 * updates commit with their checkpoint; Acknowledged updates are kept unless
 * `keepAcknowledged` is false (lost in a crash).
 */
export function durableState(prior: unknown, sent: Response[], keepAcknowledged = true): unknown {
  let state = prior;
  for (const u of stateUpdates(sent)) {
    if (u.kind === "acknowledged" && !keepAcknowledged) continue;
    state = applyStateUpdate(state, u);
  }
  return state;
}

export function loadedDocs(sent: Response[]): Array<[number, unknown]> {
  return sent.filter((r) => r.loaded).map((r) => [r.loaded!.binding, JSON.parse(dec.decode(r.loaded!.docJson))]);
}

export function redis(): Redis {
  return new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
}

/**
 * Everything under `prefix`, by key with the namespace removed: strings as
 * text, hashes as sorted objects, streams as their entries' fields (ids are
 * listed separately, since they carry transaction stamps).
 */
export async function snapshot(r: Redis, prefix: string): Promise<Record<string, unknown>> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await r.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  const out: Record<string, unknown> = {};
  for (const k of keys.sort()) {
    const type = await r.type(k);
    const name = k.slice(prefix.length);
    if (type === "string") out[name] = await r.get(k);
    else if (type === "hash") out[name] = Object.fromEntries(Object.entries(await r.hgetall(k)).sort(([a], [b]) => a.localeCompare(b)));
    else if (type === "stream") out[name] = (await r.xrange(k, "-", "+")).map(([, fields]) => fields);
    else if (type === "list") out[name] = { list: await r.llen(k) };
    else out[name] = type;
  }
  return out;
}

export async function streamIds(r: Redis, key: string): Promise<string[]> {
  return (await r.xrange(key, "-", "+")).map(([id]) => id);
}

export async function dropNamespace(r: Redis, ns: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, batch] = await r.scan(cursor, "MATCH", `${ns}*`, "COUNT", 1000);
    cursor = next;
    if (batch.length) await r.unlink(...batch);
  } while (cursor !== "0");
}
