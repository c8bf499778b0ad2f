/**
 * The connector side of the materialize protocol.
 *
 * Spec, Validate and Apply are answered one request at a time. Open starts
 * the transaction loop, whose order this module enforces for every
 * connector:
 *
 *   Acknowledge → Load* → Flush → Store* → StartCommit → (next Acknowledge)
 *
 * Acknowledged is sent when the transactor's acknowledge() finishes, which
 * may be after the next transaction's Loads have started to arrive (they are
 * pipelined). Loaded may only follow Acknowledged; Flushed follows every
 * Loaded; StartedCommit follows the commit the transactor started.
 */
import { isUtf8 } from "node:buffer";
import { create } from "@bufbuild/protobuf";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import {
  type Request,
  type Response,
  RequestSchema,
  ResponseSchema,
} from "../gen/materialize/materialize_pb.js";
import { ConnectorStateSchema, type ConnectorState } from "../gen/flow/flow_pb.js";
import type { ResponseSink } from "../transport/sink.js";
import { zeroCheckpoint } from "../codec/checkpoint.js";
import { checkSpan } from "../codec/fast-encode.js";
import type { SessionOptions } from "./session.js";
import { ConnectorError, ProtocolError } from "./errors.js";
import { checkApplied } from "./applied.js";
import { jsonText, parseConfig, parseJson, redact } from "./config.js";
import { fieldConfigOf, fullRange, materializeBindings } from "./bindings.js";
import { RequestReader, type Received, type RequestStream, type Variants } from "./reader.js";
import { beforeOpen, servePhases } from "./phases.js";
import { resolveCollection, resolveMaterializationSpec } from "./linked.js";
import { validatedBinding } from "./validated.js";
import { AsyncQueue } from "./queue.js";
import { docText } from "./capture.js";
import {
  PROTOCOL_VERSION,
  RawJsonBytes,
  ZERO_CHECKPOINT,
  type BackfillMarker,
  type Context,
  type LoadBatch,
  type LoadIterator,
  type LoadRequest,
  type MaterializeBinding,
  type MaterializeConnector,
  type StateUpdate,
  type StoreRequest,
} from "./types.js";

const VARIANTS: Variants = [
  ["spec", "Spec"],
  ["validate", "Validate"],
  ["apply", "Apply"],
  ["open", "Open"],
  ["load", "Load"],
  ["flush", "Flush"],
  ["store", "Store"],
  ["startCommit", "StartCommit"],
  ["acknowledge", "Acknowledge"],
];

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/** Loads per LoadBatch at most, and batches the queue holds before the session waits for the transactor. */
const LOAD_BATCH = 1024;
const LOAD_QUEUE_BATCHES = 4;

interface MutableLoadBatch extends LoadBatch {
  bindings: number[];
  keys: Uint8Array[];
  packed: Uint8Array[];
}

function newLoadBatch(): MutableLoadBatch {
  return { bindings: [], keys: [], packed: [] };
}

/** The per-request form of a transaction's Load batches. */
async function* loadRequests(batches: AsyncIterator<LoadBatch>): AsyncGenerator<LoadRequest> {
  for (;;) {
    const next = await batches.next();
    if (next.done) return;
    const b = next.value;
    for (let i = 0; i < b.keys.length; i++) yield { binding: b.bindings[i]!, keyJson: loadKeyText(b.keys[i]!), keyPacked: b.packed[i]! };
  }
}

// Decodes a view as is (no Buffer wrapper per field; each Store has three), a leading BOM kept as Buffer#toString keeps it.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

function utf8(bytes: Uint8Array): string {
  return bytes.length === 0 ? "" : decoder.decode(bytes);
}

/** A Load key's JSON text from its bytes in a LoadBatch: LoadRequest.keyJson exactly. */
export function loadKeyText(bytes: Uint8Array): string {
  return utf8(bytes);
}

/** A batch of Loaded documents of one binding: document k is `bytes[starts[k], ends[k])`. */
type LoadedBatchFn = (binding: number, bytes: Uint8Array, starts: ArrayLike<number>, ends: ArrayLike<number>, count: number) => void | Promise<void>;
type LoadedFn = (binding: number, doc: unknown) => void | Promise<void>;

/** The batch path of each loaded() this module hands a transactor (see loadedBatch). */
const LOADED_BATCH = new WeakMap<LoadedFn, LoadedBatchFn>();

/**
 * Answers Loads with a batch of documents of one binding, given as spans of
 * one buffer (document k is `bytes[starts[k], ends[k])`, UTF-8 JSON, k <
 * count): exactly what `loaded(binding, new RawJsonBytes(bytes.subarray(
 * starts[k], ends[k])))` of each in order sends, and the same return (await
 * it). With the `loaded` a session hands to load(), a transport that frames
 * batches (stdio) takes the whole batch in one pass, with no object per
 * document; any other `loaded` gets the documents one by one. The bytes
 * and spans are taken before it returns: the caller may reuse them.
 */
export function loadedBatch(
  loaded: LoadedFn,
  binding: number,
  bytes: Uint8Array,
  starts: ArrayLike<number>,
  ends: ArrayLike<number>,
  count: number,
): void | Promise<void> {
  const batch = LOADED_BATCH.get(loaded);
  return batch !== undefined ? batch(binding, bytes, starts, ends, count) : loadedOneByOne(loaded, binding, bytes, starts, ends, count);
}

/** loadedBatch() through loaded() of each document; what must wait for a promise is copied first. */
function loadedOneByOne(loaded: LoadedFn, binding: number, bytes: Uint8Array, starts: ArrayLike<number>, ends: ArrayLike<number>, count: number): void | Promise<void> {
  for (let k = 0; k < count; k++) {
    checkSpan(bytes, k, starts[k]!, ends[k]!);
    const p = loaded(binding, new RawJsonBytes(bytes.subarray(starts[k]!, ends[k]!)));
    if (p === undefined || p === null) continue;
    if (k + 1 === count) return p;
    const rest: Uint8Array[] = [];
    for (let j = k + 1; j < count; j++) {
      checkSpan(bytes, j, starts[j]!, ends[j]!);
      rest.push(bytes.slice(starts[j]!, ends[j]!));
    }
    return Promise.resolve(p).then(async () => {
      for (const doc of rest) await loaded(binding, new RawJsonBytes(doc));
    });
  }
}

/**
 * A Store as received: the document stays the bytes of its frame until
 * something reads docJson, so a connector that writes bytes (docBytes) never
 * makes a string of it.
 */
class ReceivedStore implements StoreRequest {
  binding: number;
  keyJson: string;
  keyPacked: Uint8Array;
  valuesJson: string;
  valuesPacked: Uint8Array;
  /** The document's bytes as received; undefined once docJson was assigned. */
  received: Uint8Array | undefined;
  exists: boolean;
  delete: boolean;
  private doc: string | undefined = undefined;

  constructor(s: NonNullable<Request["store"]>) {
    this.binding = s.binding;
    this.keyJson = utf8(s.keyJson);
    this.keyPacked = s.keyPacked;
    this.valuesJson = utf8(s.valuesJson);
    this.valuesPacked = s.valuesPacked;
    this.received = s.docJson;
    this.exists = s.exists;
    this.delete = s.delete;
  }

  get docJson(): string {
    return (this.doc ??= utf8(this.received!));
  }

  set docJson(text: string) {
    this.doc = text;
    this.received = undefined;
  }
}

/**
 * A Store's document as the UTF-8 bytes of its docJson, when they are at
 * hand without encoding it: the bytes received, if they are valid UTF-8
 * (else docJson holds replacement characters). Otherwise undefined: use
 * docJson.
 */
export function docBytes(s: StoreRequest): Uint8Array | undefined {
  const bytes = s instanceof ReceivedStore ? s.received : undefined;
  return bytes !== undefined && isUtf8(bytes) ? bytes : undefined;
}

function stateOf(update: StateUpdate | void): ConnectorState | undefined {
  if (!update) return undefined;
  if (update.updated === undefined) throw new ConnectorError("a state update must carry `updated`");
  return create(ConnectorStateSchema, {
    updatedJson: encoder.encode(docText(update.updated)),
    mergePatch: update.mergePatch ?? true,
  });
}

function backfillMarker(m: { binding: number; timestamp?: Timestamp }): BackfillMarker {
  return { binding: m.binding, timestamp: m.timestamp ? timestampDate(m.timestamp) : undefined };
}

export async function runMaterializeSession(
  connector: MaterializeConnector,
  requests: RequestStream<Request>,
  sink: ResponseSink<Response>,
  opts: SessionOptions,
): Promise<void> {
  const proto = { requestSchema: RequestSchema, variants: VARIANTS, responseSchema: ResponseSchema };
  return servePhases<Request, typeof ResponseSchema>(requests, sink, opts, proto, async (r, { reader, ctx, respond }) => {
    const { req } = r;
    switch (r.kind) {
      case "spec":
        await respond({
          spec: {
            protocol: PROTOCOL_VERSION,
            configSchemaJson: encoder.encode(JSON.stringify(connector.configSchema)),
            resourceConfigSchemaJson: encoder.encode(JSON.stringify(connector.resourceConfigSchema)),
            documentationUrl: connector.documentationUrl,
          },
        });
        break;
      case "validate": {
        const v = req.validate!;
        const config = parseConfig(connector.configSchema, v.configJson, "endpoint config");
        const bindings = v.bindings.map((b, i) => {
          return {
            resourceConfig: parseConfig(connector.resourceConfigSchema, b.resourceConfigJson, `resource config of binding ${i}`),
            collection: resolveCollection(b, v.linkedCollections, `binding ${i} of materialize.Request.Validate`),
            fieldConfig: fieldConfigOf(b.fieldConfigJsonMap, i),
            backfill: b.backfill,
            groupBy: b.groupBy,
          };
        });
        const validated = await connector.validate(
          { name: v.name, config, bindings, lastMaterialization: resolveMaterializationSpec(v.lastMaterialization), request: v },
          ctx,
        );
        if (validated.length !== bindings.length) {
          throw new ConnectorError(`validate returned ${validated.length} bindings for ${bindings.length} requested`);
        }
        await respond({
          validated: {
            bindings: validated.map(validatedBinding),
          },
        });
        break;
      }
      case "apply": {
        const a = req.apply!;
        if (!a.materialization) throw new ProtocolError("materialize.Request.Apply has no materialization spec");
        const spec = resolveMaterializationSpec(a.materialization);
        const config = parseConfig(connector.configSchema, spec.configJson, "endpoint config");
        const applied = await connector.apply(
          {
            config,
            bindings: materializeBindings(spec, connector.resourceConfigSchema),
            spec,
            version: a.version,
            lastMaterialization: resolveMaterializationSpec(a.lastMaterialization),
            lastVersion: a.lastVersion,
            state: parseJson(jsonText(a.stateJson), "connector state", {}),
          },
          ctx,
        );
        checkApplied(applied);
        await respond({ applied: { actionDescription: applied.actionDescription, state: stateOf(applied.state) } });
        break;
      }
      case "open":
        await runTransactions(connector, req.open!, reader, sink, ctx);
        return true;
      default:
        throw beforeOpen(r);
    }
    return false;
  });
}

async function runTransactions(
  connector: MaterializeConnector,
  open: NonNullable<Request["open"]>,
  reader: RequestReader<Request>,
  sink: ResponseSink<Response>,
  ctx: Context,
): Promise<void> {
  if (!open.materialization) throw new ProtocolError("materialize.Request.Open has no materialization spec");
  const spec = resolveMaterializationSpec(open.materialization);
  const config = parseConfig(connector.configSchema, spec.configJson, "endpoint config");
  const bindings = materializeBindings(spec, connector.resourceConfigSchema);
  const state = parseJson(jsonText(open.stateJson), "connector state", {});
  const range = open.range ?? fullRange();
  ctx.log.info("opening materialization session", { materialization: spec.name, bindings: bindings.length });
  ctx.log.debug("materialization session config", { config: redact(connector.configSchema, config) });

  const opened = await connector.open({ config, bindings, spec, version: open.version, range, state }, ctx);
  const t = opened.transactor;
  const cp = opened.runtimeCheckpoint === ZERO_CHECKPOINT ? zeroCheckpoint() : opened.runtimeCheckpoint;
  await sink.send(
    create(ResponseSchema, {
      opened: { runtimeCheckpoint: cp, disableLoadOptimization: opened.disableLoadOptimization ?? false } as never,
    }),
  );
  await sink.flush();

  try {
    await transactionLoop(t, bindings, reader, sink);
  } finally {
    await t.destroy?.();
  }
}

/**
 * A transactor's load() or store() ended while requests were still coming:
 * report its own failure if it failed, else that it stopped reading early.
 */
async function earlyEnd(done: Promise<unknown>, message: string): Promise<never> {
  await done;
  throw new ConnectorError(message);
}

function checkBinding(bindings: MaterializeBinding[], binding: number, what: string) {
  if (binding >= bindings.length) {
    throw new ProtocolError(`${what} names binding ${binding}, but the materialization has ${bindings.length} bindings`);
  }
}

type LoadReq = NonNullable<Request["load"]>;

/**
 * Adds `first` (if any) and every Load buffered behind it to `batch`, until
 * the batch is full (true: hand it over, then call again) or no Load is
 * buffered (false). The per-Load loop lives here rather than in
 * transactionLoop: V8 then optimizes this small function for a load's hot
 * path instead of recompiling all of transactionLoop for it when a cold
 * load first runs it (--trace-opt, 100,000 keys after the stores: 0.13-0.26
 * s of compile time, wall clock on a loaded machine, once per run).
 */
function gatherLoads(first: LoadReq | undefined, batch: MutableLoadBatch, bindings: MaterializeBinding[], reader: RequestReader<Request>): boolean {
  let l = first ?? reader.takeBuffered("load")?.load;
  while (l !== undefined) {
    checkBinding(bindings, l.binding, "materialize.Request.Load");
    if (bindings[l.binding]!.deltaUpdates) {
      throw new ProtocolError(`materialize.Request.Load for binding ${l.binding}, which uses delta updates and is never loaded`);
    }
    batch.bindings.push(l.binding);
    batch.keys.push(l.keyJson);
    batch.packed.push(l.keyPacked);
    if (batch.keys.length >= LOAD_BATCH) return true;
    l = reader.takeBuffered("load")?.load;
  }
  return false;
}

async function transactionLoop(
  t: import("./types.js").Transactor,
  bindings: MaterializeBinding[],
  reader: RequestReader<Request>,
  sink: ResponseSink<Response>,
): Promise<void> {
  const sendLoaded = sink.sendLoaded;
  const sendLoadedBatch = sink.sendLoadedBatch;
  // Called once per request: the expected names are only spelled out for an error.
  const expect = (r: Received<Request> | undefined, after: string, allowed: string[]): Received<Request> => {
    const names = () => allowed.map((a) => `materialize.Request.${a}`).join(" or ");
    if (!r) throw new ProtocolError(`the request stream ended after ${after}; expected ${names()}`);
    if (!allowed.some((a) => r.name.endsWith(`.${a}`))) {
      throw new ProtocolError(`${r.name} is not allowed after ${after}; expected ${names()}`);
    }
    return r;
  };

  let r = await reader.next();
  if (!r) return; // stopped right after Open
  expect(r, "Opened", ["Acknowledge"]);

  for (;;) {
    // ---- Acknowledge: finish the previous commit, concurrently with Loads.
    let acked = false;
    const ackDone = t.acknowledge({ statePatches: utf8(r!.req.acknowledge!.statePatchesJson) }).then(async (update) => {
      acked = true;
      await sink.send(create(ResponseSchema, { acknowledged: { state: stateOf(update) } as never }));
      await sink.flush();
    });
    reader.watch(ackDone);

    r = await reader.next();
    if (!r) {
      await ackDone; // a clean stop: let the last acknowledgement finish
      return;
    }

    // ---- Loads, until Flush: gathered into batches of key bytes (see LoadBatch).
    let loads: AsyncQueue<LoadBatch> | undefined;
    let batch = newLoadBatch();
    let loadDone: Promise<void> | undefined;
    let loadFinished = false;
    let loadOpen = true;
    /** Queues the batch being gathered, if it holds any Load; awaits only when the queue is full (most hand-overs cost no microtask turn). */
    const handOver = async (): Promise<void> => {
      if (batch.keys.length === 0) return;
      if (loadFinished) await earlyEnd(loadDone!, "load() returned before reading every Load of the transaction");
      const full = loads!.push(batch);
      batch = newLoadBatch();
      if (full) await full;
    };
    while (r.kind === "load") {
      if (!loads) {
        if (!t.load) throw new ConnectorError("the runtime sent Load, but this connector's transactor does not implement load()");
        loads = new AsyncQueue<LoadBatch>(LOAD_QUEUE_BATCHES);
        const q = loads;
        const it: LoadIterator = {
          [Symbol.asyncIterator]: () => loadRequests(q[Symbol.asyncIterator]()),
          batches: () => q,
          committed: () => ackDone,
        };
        const mayLoad = (binding: number) => {
          if (!acked) {
            throw new ConnectorError("loaded() was called before the previous commit was acknowledged: await it.committed() before reading the destination");
          }
          if (!loadOpen) throw new ConnectorError("loaded() was called after load() returned");
          checkBinding(bindings, binding, "Loaded");
        };
        const loaded = (binding: number, doc: unknown) => {
          mayLoad(binding);
          const docJson = doc instanceof RawJsonBytes ? doc.bytes : encoder.encode(docText(doc));
          // The transport's per-document path when it has one: no Response per document.
          if (sendLoaded !== undefined) return sendLoaded.call(sink, binding, docJson);
          const res = {
            $typeName: "materialize.Response",
            loaded: { $typeName: "materialize.Response.Loaded", binding, docJson },
            internal: EMPTY,
          } as Response;
          return sink.send(res);
        };
        // loadedBatch(loaded, ...): the transport's batch path when it has one, else document by document.
        LOADED_BATCH.set(loaded, (binding, bytes, starts, ends, count) => {
          mayLoad(binding);
          if (sendLoadedBatch !== undefined) return sendLoadedBatch.call(sink, binding, bytes, starts, ends, count);
          return loadedOneByOne(loaded, binding, bytes, starts, ends, count);
        });
        loadDone = t.load(it, loaded).finally(() => {
          loadFinished = true;
          q.fail(new ConnectorError("load() returned before reading every Load of the transaction"));
        });
        reader.watch(loadDone);
      }
      // This Load, then every fast-decoded Load buffered behind it, without a Received each.
      let first: LoadReq | undefined = r.req.load!;
      for (;;) {
        if (loadFinished) await earlyEnd(loadDone!, "load() returned before reading every Load of the transaction");
        if (!gatherLoads(first, batch, bindings, reader)) break;
        first = undefined;
        await handOver();
      }
      const buffered = reader.nextBuffered();
      // Hand over what arrived before waiting for more.
      if (buffered === undefined) await handOver();
      r = expect(buffered ?? (await reader.next()), "materialize.Request.Load", ["Load", "Flush"]);
    }
    await handOver();
    r = expect(r, "materialize.Request.Acknowledge", ["Load", "Flush"]);

    // ---- Flush: the runtime sends it only once it has our Acknowledged.
    if (!acked) {
      throw new ProtocolError("materialize.Request.Flush arrived before Acknowledged was sent; the runtime must wait for it");
    }
    loads?.end();
    await loadDone;
    loadOpen = false;
    const f = r.req.flush!;
    for (const m of [...f.backfillBegins, ...f.backfillCompletes]) checkBinding(bindings, m.binding, "materialize.Request.Flush backfill");
    const flushed = await t.flush?.({
      statePatches: utf8(f.statePatchesJson),
      backfillBegins: f.backfillBegins.map(backfillMarker),
      backfillCompletes: f.backfillCompletes.map(backfillMarker),
    });
    await sink.send(create(ResponseSchema, { flushed: { state: stateOf(flushed) } as never }));
    await sink.flush();

    // ---- Stores, until StartCommit.
    const stores = new AsyncQueue<StoreRequest>();
    let storeFinished = false;
    const storeDone = t.store(stores).finally(() => {
      storeFinished = true;
      stores.fail(new ConnectorError("store() returned before reading every Store of the transaction"));
    });
    reader.watch(storeDone);
    r = expect(await reader.next(), "materialize.Request.Flush", ["Store", "StartCommit"]);
    while (r.kind === "store") {
      // This Store, then every fast-decoded Store buffered behind it, without a Received each.
      let s = r.req.store!;
      for (;;) {
        checkBinding(bindings, s.binding, "materialize.Request.Store");
        if (storeFinished) await earlyEnd(storeDone, "store() returned before reading every Store of the transaction");
        const full = stores.push(new ReceivedStore(s));
        if (full) await full;
        const next = reader.takeBuffered("store");
        if (next === undefined) break;
        s = next.store!;
      }
      r = expect(reader.nextBuffered() ?? (await reader.next()), "materialize.Request.Store", ["Store", "StartCommit"]);
    }

    // ---- StartCommit: the transactor commits, then we report StartedCommit.
    stores.end();
    const startCommit = await storeDone;
    const sc = r.req.startCommit!;
    if (!sc.runtimeCheckpoint) throw new ProtocolError("materialize.Request.StartCommit has no runtime checkpoint");
    const started = await startCommit({ runtimeCheckpoint: sc.runtimeCheckpoint, statePatches: utf8(sc.statePatchesJson) });
    await sink.send(create(ResponseSchema, { startedCommit: { state: stateOf(started) } as never }));
    await sink.flush();

    r = await reader.next();
    if (!r) return; // the runtime stopped before acknowledging; it will recover from its checkpoint
    expect(r, "materialize.Request.StartCommit", ["Acknowledge"]);
  }
}
