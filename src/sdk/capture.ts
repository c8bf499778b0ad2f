/**
 * The connector side of the capture protocol.
 *
 * Spec, Discover, Validate and Apply are answered one request at a time.
 * Open hands the stream to the connector's `open`, while this module keeps
 * the rules: Opened comes first and once; documents and schemas only after
 * it; every Checkpoint carries state; Acknowledge is accepted only when the
 * session asked for it, and never for more checkpoints than were sent.
 */
import { create } from "@bufbuild/protobuf";
import {
  type Request,
  type Response,
  RequestSchema,
  ResponseSchema,
} from "../gen/capture/capture_pb.js";
import { ConnectorStateSchema } from "../gen/flow/flow_pb.js";
import type { ResponseSink } from "../transport/sink.js";
import type { SessionOptions } from "./session.js";
import { ConnectorError, ProtocolError } from "./errors.js";
import { checkApplied } from "./applied.js";
import { jsonText, parseConfig, parseJson, redact } from "./config.js";
import { captureBindings, fullRange, resourcePathOf } from "./bindings.js";
import { RequestReader, type RequestStream, type Variants } from "./reader.js";
import { beforeOpen, servePhases } from "./phases.js";
import { resolveCaptureSpec, resolveCollection } from "./linked.js";
import {
  PROTOCOL_VERSION,
  RawJson,
  RawJsonBytes,
  type CaptureConnector,
  type CaptureOutput,
  type Context,
  type JsonSchema,
  type StateUpdate,
} from "./types.js";

const utf8 = new TextDecoder();

const VARIANTS: Variants = [
  ["spec", "Spec"],
  ["discover", "Discover"],
  ["validate", "Validate"],
  ["apply", "Apply"],
  ["open", "Open"],
  ["acknowledge", "Acknowledge"],
];

const EMPTY = new Uint8Array(0);
/**
 * What document() returns when the transport took the message without
 * asking to wait; the resource layer skips awaiting it (a microtask turn
 * per document).
 */
export const SENT: Promise<void> = Promise.resolve();

/**
 * The promise of out.document() when the output asks to wait, else undefined,
 * so a row loop can skip its `await` (a microtask turn per row) on undefined.
 */
export function mustWait(p: Promise<void>): Promise<void> | undefined {
  return p === SENT ? undefined : p;
}
/**
 * `count` documents of `binding` from one buffer (see CaptureOutput.documents): through out.documents when the
 * output has it, else document by document as RawJsonBytes views, waiting whenever the output asks to.
 */
export function sendDocuments(out: CaptureOutput, binding: number, bytes: Uint8Array, ends: ArrayLike<number>, count: number): Promise<void> {
  if (out.documents !== undefined) return out.documents(binding, bytes, ends, count);
  return eachDocument(bytes, ends, count, (doc) => out.document(binding, new RawJsonBytes(doc)));
}

/** Sends each document of a batch by `send`, awaiting only the sends that ask to wait; SENT when none did. */
function eachDocument(bytes: Uint8Array, ends: ArrayLike<number>, count: number, send: (doc: Uint8Array) => Promise<void>): Promise<void> {
  let from = 0;
  for (let k = 0; k < count; k++) {
    const to = ends[k]!;
    const wait = send(bytes.subarray(from, to));
    from = to;
    if (wait !== SENT) {
      // The rest now: the caller may reuse `ends` once this returns.
      const rest = bytes.subarray(from);
      const restEnds = rebased(ends, k + 1, count, from);
      return wait.then(() => eachDocument(rest, restEnds, restEnds.length, send));
    }
  }
  return SENT;
}

/** ends[first, count) less `by`: the ends of the batch's rest, relative to its own start. */
function rebased(ends: ArrayLike<number>, first: number, count: number, by: number): number[] {
  const out: number[] = [];
  for (let k = first; k < count; k++) out.push(ends[k]! - by);
  return out;
}

/** Throws unless `ends` splits `bytes` into `count` documents (see CaptureOutput.documents). */
function checkBatch(bytes: Uint8Array, ends: ArrayLike<number>, count: number): void {
  if (!Number.isInteger(count) || count < 0 || count > ends.length) throw new ConnectorError(`a batch of ${count} documents with ${ends.length} ends`);
  if (count === 0 ? bytes.length !== 0 : ends[count - 1] !== bytes.length) {
    throw new ConnectorError(`a batch of ${count} documents whose last one ends at ${count === 0 ? 0 : ends[count - 1]}, not at its ${bytes.length} bytes`);
  }
  let from = 0;
  for (let k = 0; k < count; k++) {
    const to = ends[k]!;
    if (!(to >= from)) throw new ConnectorError(`a batch's document ${k} ends at ${to}, before it starts (${from})`);
    from = to;
  }
}

const NO_CHANGE: StateUpdate = { updated: {}, mergePatch: true };

function connectorState(update: StateUpdate | undefined) {
  if (!update) return undefined;
  if (update.updated === undefined) throw new ConnectorError("Apply's state update must carry `updated`");
  return create(ConnectorStateSchema, { updatedJson: new TextEncoder().encode(docText(update.updated)), mergePatch: update.mergePatch ?? true });
}

/** Serializes a document unless it is already JSON text (or UTF-8 JSON, which is decoded). */
export function docText(doc: unknown): string {
  if (doc instanceof RawJson) return doc.text;
  if (doc instanceof RawJsonBytes) return utf8.decode(doc.bytes);
  const text = JSON.stringify(doc);
  if (text === undefined) throw new ConnectorError("document is not JSON-serializable");
  return text;
}

export async function runCaptureSession(
  connector: CaptureConnector,
  requests: RequestStream<Request>,
  sink: ResponseSink<Response>,
  opts: SessionOptions,
): Promise<void> {
  const proto = { requestSchema: RequestSchema, variants: VARIANTS, responseSchema: ResponseSchema };
  return servePhases<Request, typeof ResponseSchema>(requests, sink, opts, proto, async (r, { reader, ctx, abort, respond }) => {
    const { req } = r;
    switch (r.kind) {
      case "spec":
        await respond({
          spec: {
            protocol: PROTOCOL_VERSION,
            configSchemaJson: JSON.stringify(connector.configSchema),
            resourceConfigSchemaJson: JSON.stringify(connector.resourceConfigSchema),
            documentationUrl: connector.documentationUrl,
            resourcePathPointers: connector.resourcePathPointers,
          },
        });
        break;
      case "discover": {
        const config = parseConfig(connector.configSchema, req.discover!.configJson, "endpoint config");
        const d = req.discover!;
        const bindings = await connector.discover(config, ctx, { name: d.name, createdAt: d.createdAt });
        await respond({
          discovered: {
            bindings: bindings.map((b) => ({
              recommendedName: b.recommendedName,
              resourceConfigJson: JSON.stringify(b.resourceConfig),
              documentSchemaJson: JSON.stringify(b.documentSchema),
              key: b.key,
              disable: b.disable ?? false,
              resourcePath: b.resourcePath ?? resourcePathOf(b.resourceConfig, connector.resourcePathPointers),
              isFallbackKey: b.isFallbackKey ?? false,
            })),
          },
        });
        break;
      }
      case "validate": {
        const v = req.validate!;
        const config = parseConfig(connector.configSchema, v.configJson, "endpoint config");
        const bindings = v.bindings.map((b, i) => {
          const collection = resolveCollection(b, v.linkedCollections, `binding ${i} of capture.Request.Validate`);
          const resourceConfig = parseConfig(connector.resourceConfigSchema, b.resourceConfigJson, `resource config of binding ${i}`);
          return {
            resourceConfig,
            resourcePath: resourcePathOf(resourceConfig, connector.resourcePathPointers),
            collection,
            backfill: b.backfill,
            stateKey: "",
          };
        });
        const paths =
          (await connector.validate?.({ name: v.name, config, bindings, lastCapture: resolveCaptureSpec(v.lastCapture), request: v }, ctx)) ??
          bindings.map((b) => b.resourcePath);
        if (paths.length !== bindings.length) {
          throw new ConnectorError(`validate returned ${paths.length} resource paths for ${bindings.length} bindings`);
        }
        const seen = new Map<string, number>();
        paths.forEach((p, i) => {
          const k = JSON.stringify(p);
          if (seen.has(k)) throw new ConnectorError(`bindings ${seen.get(k)} and ${i} both capture resource ${p.join("/")}`);
          seen.set(k, i);
        });
        await respond({ validated: { bindings: paths.map((resourcePath) => ({ resourcePath })) } });
        break;
      }
      case "apply": {
        const a = req.apply!;
        if (!a.capture) throw new ProtocolError("capture.Request.Apply has no capture spec");
        const spec = resolveCaptureSpec(a.capture);
        const config = parseConfig(connector.configSchema, spec.configJson, "endpoint config");
        const bindings = captureBindings(spec, connector.resourceConfigSchema, connector.resourcePathPointers);
        const state = parseJson(jsonText(a.stateJson), "connector state", {});
        const result = await connector.apply?.(
          { config, bindings, spec, version: a.version, lastCapture: resolveCaptureSpec(a.lastCapture), lastVersion: a.lastVersion, state },
          ctx,
        );
        const applied = checkApplied(result ?? { actionDescription: "" });
        await respond({ applied: { actionDescription: applied.actionDescription, state: connectorState(applied.state) } });
        break;
      }
      case "open":
        await runOpen(connector, req.open!, reader, sink, ctx, abort);
        return true;
      default:
        throw beforeOpen(r);
    }
    return false;
  });
}

async function runOpen(
  connector: CaptureConnector,
  open: NonNullable<Request["open"]>,
  reader: RequestReader<Request>,
  sink: ResponseSink<Response>,
  ctx: Context,
  abort: AbortController,
): Promise<void> {
  if (!open.capture) throw new ProtocolError("capture.Request.Open has no capture spec");
  // Only a runtime that speaks the indirect form knows backfill markers; an
  // older one would fail on a response it cannot name.
  const markersKnown = open.capture.linkedCollections.length > 0;
  const spec = resolveCaptureSpec(open.capture);
  const config = parseConfig(connector.configSchema, spec.configJson, "endpoint config");
  const bindings = captureBindings(spec, connector.resourceConfigSchema, connector.resourcePathPointers);
  const state = parseJson(jsonText(open.stateJson), "connector state", {});
  const range = open.range ?? fullRange();
  ctx.log.info("opening capture session", { capture: spec.name, bindings: bindings.length });
  ctx.log.debug("capture session config", { config: redact(connector.configSchema, config) });

  let opened = false;
  let explicitAcks = false;
  let closed = false;
  let outstanding = 0;
  const ackHandlers: Array<(n: number) => void | Promise<void>> = [];

  const mustBeOpen = (what: string) => {
    if (!opened) throw new ConnectorError(`connector sent ${what} before opened(): call out.opened() first`);
    if (closed) throw new ConnectorError(`connector sent ${what} after its session ended`);
  };
  const checkBinding = (binding: number, what: string) => {
    if (!Number.isInteger(binding) || binding < 0 || binding >= bindings.length) {
      throw new ConnectorError(`${what} names binding ${binding}, but the capture has ${bindings.length} bindings`);
    }
  };

  // Messages sent since the last checkpoint, and whether a backfill marker
  // (which must stand alone in its checkpoint) is being sent.
  let pending = 0;
  let marking = false;

  const sendCheckpoint = async (update: StateUpdate) => {
    if (!update || update.updated === undefined) {
      throw new ConnectorError("a checkpoint must carry state: use { updated: {}, mergePatch: true } for none");
    }
    const updatedJson = new TextEncoder().encode(docText(update.updated));
    outstanding++;
    pending = 0;
    await sink.send(
      create(ResponseSchema, {
        checkpoint: { state: create(ConnectorStateSchema, { updatedJson, mergePatch: update.mergePatch ?? true }) } as never,
      }),
    );
    await sink.flush();
  };

  // The runtime requires a backfill marker to be the only message of its
  // checkpoint: commit what is pending first (with no state change), then
  // the marker in a checkpoint of its own.
  const sendMarker = async (kind: "backfillBegin" | "backfillComplete", binding: number, update?: StateUpdate) => {
    mustBeOpen(kind === "backfillBegin" ? "a backfill begin" : "a backfill complete");
    checkBinding(binding, kind);
    if (marking) throw new ConnectorError(`${kind}() called while another backfill marker is being sent: await it first`);
    if (!markersKnown) {
      await sendCheckpoint(update ?? NO_CHANGE);
      return 1;
    }
    marking = true;
    try {
      let sent = 1;
      if (pending > 0) {
        await sendCheckpoint(NO_CHANGE);
        sent++;
      }
      await sink.send(create(ResponseSchema, { [kind]: { binding } } as never));
      pending++;
      await sendCheckpoint(update ?? NO_CHANGE);
      return sent;
    } finally {
      marking = false;
    }
  };

  const sendCaptured = sink.sendCaptured;
  const sendCapturedBatch = sink.sendCapturedBatch;
  const out: CaptureOutput = {
    async opened(o) {
      if (opened) throw new ConnectorError("opened() called twice");
      if (closed) throw new ConnectorError("opened() called after the session ended");
      opened = true;
      explicitAcks = o?.explicitAcknowledgements ?? false;
      await sink.send(create(ResponseSchema, { opened: { explicitAcknowledgements: explicitAcks } as never }));
      await sink.flush();
    },
    // Always a promise, so that an un-awaited call is a lint error; when the
    // transport needs no wait, the shared settled one costs no allocation.
    // A misuse rejects it rather than throwing, like any async method.
    document(binding, doc) {
      try {
        mustBeOpen("a document");
        checkBinding(binding, "a document");
        if (marking) throw new ConnectorError("a document was sent while a backfill marker is being sent: await backfillBegin()/backfillComplete() first");
        pending++;
        // The transport's per-document path when it has one: no message object to build and inspect.
        if (sendCaptured !== undefined) return sendCaptured.call(sink, binding, doc instanceof RawJsonBytes ? doc.bytes : docText(doc)) ?? SENT;
        const res = {
          $typeName: "capture.Response",
          captured: { $typeName: "capture.Response.Captured", binding, docJson: docText(doc) },
          internal: EMPTY,
        } as Response;
        return sink.send(res) ?? SENT;
      } catch (err) {
        return Promise.reject(err);
      }
    },
    documents(binding, bytes, ends, count) {
      try {
        mustBeOpen("a document");
        checkBinding(binding, "a document");
        if (marking) throw new ConnectorError("a document was sent while a backfill marker is being sent: await backfillBegin()/backfillComplete() first");
        checkBatch(bytes, ends, count);
        // The transport frames the whole batch when it can; else each document goes the way document() sends it.
        if (sendCapturedBatch !== undefined) {
          pending += count;
          return sendCapturedBatch.call(sink, binding, bytes, ends, count) ?? SENT;
        }
        return eachDocument(bytes, ends, count, (doc) => out.document(binding, new RawJsonBytes(doc)));
      } catch (err) {
        return Promise.reject(err);
      }
    },
    async sourcedSchema(binding, schema: JsonSchema) {
      mustBeOpen("a sourced schema");
      checkBinding(binding, "a sourced schema");
      if (marking) throw new ConnectorError("a sourced schema was sent while a backfill marker is being sent: await backfillBegin()/backfillComplete() first");
      pending++;
      await sink.send(create(ResponseSchema, { sourcedSchema: { binding, schemaJson: JSON.stringify(schema) } as never }));
    },
    async checkpoint(update: StateUpdate) {
      mustBeOpen("a checkpoint");
      if (marking) throw new ConnectorError("checkpoint() called while a backfill marker is being sent: await backfillBegin()/backfillComplete() first");
      await sendCheckpoint(update);
    },
    backfillBegin(binding, update) {
      return sendMarker("backfillBegin", binding, update);
    },
    backfillComplete(binding, update) {
      return sendMarker("backfillComplete", binding, update);
    },
    onAcknowledge(handler) {
      ackHandlers.push(handler);
    },
  };

  // Runs the connector while this loop reads Acknowledge requests. The
  // stream's end is the runtime's request to stop: abort the connector.
  const work = connector.open({ config, bindings, spec, version: open.version, range, state }, out, ctx).then(() => {
    if (!opened) throw new ConnectorError("the connector's open() returned without calling out.opened()");
  });
  reader.watch(work);
  const done = work.then(() => "done" as const);

  for (;;) {
    const r = await Promise.race([reader.next(), done]);
    if (r === "done") break;
    if (r === undefined) {
      abort.abort();
      await work.catch((err) => {
        if (!isAbort(err)) throw err;
      });
      break;
    }
    if (r.kind !== "acknowledge") {
      throw new ProtocolError(`${r.name} is not allowed during an open capture session; only Acknowledge is`);
    }
    if (!opened || !explicitAcks) {
      throw new ProtocolError("capture.Request.Acknowledge received, but the session did not ask for explicit acknowledgements");
    }
    const n = r.req.acknowledge!.checkpoints || 1; // zero means one, for older runtimes
    if (n > outstanding) {
      throw new ProtocolError(`capture.Request.Acknowledge of ${n} checkpoints, but only ${outstanding} are pending`);
    }
    outstanding -= n;
    for (const h of ackHandlers) await h(n);
  }
  closed = true;
  await sink.flush();
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === "AbortError" || (err as { code?: string }).code === "ABORT_ERR");
}
