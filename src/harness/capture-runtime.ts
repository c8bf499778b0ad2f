/**
 * The runtime side of a capture, as Flow runs one: Open with the reduced
 * connector state, read Captured / SourcedSchema / Checkpoint, combine the
 * documents of each transaction by key, apply checkpoint state, and send
 * Acknowledge when the connector asked for explicit acknowledgements.
 *
 * A transaction closes at a Checkpoint after which no further response is
 * already waiting (the runtime folds checkpoints that arrive together).
 * Sessions restart the connector process; documents after the last
 * committed checkpoint of a session are discarded, as Flow would.
 */
import { create } from "@bufbuild/protobuf";
import { RequestSchema, type Request, type Response } from "../gen/capture/capture_pb.js";
import type { RangeSpec } from "../gen/flow/flow_pb.js";
import { createLogger, type Logger } from "../log.js";
import { loadCatalog, withGrpcAddress, type Catalog } from "./catalog.js";
import { buildCapture, type BuiltCapture } from "./build-capture.js";
import { keyExtractor } from "./combiner.js";
import { DEFAULT_COMBINER_BUDGET, SpillingCombiner } from "./spill-combiner.js";
import { packTuple } from "./tuple.js";
import { openConnector, TIMED_OUT } from "./connector-session.js";
import { ConnectorFailed, HarnessError, ProtocolViolation } from "./errors.js";
import { applyStateUpdate } from "../sdk/state.js";
import { fullRange } from "./task-common.js";
import { compileValidator } from "./validator.js";
import { variantName } from "./unary.js";
import type { WireCodec } from "./wire.js";
import { parseJson } from "./lossless-json.js";
import type { ProtocolForm } from "./protocol-form.js";

export interface CapturePreviewOptions {
  /** Path of the catalog, or a loaded catalog. */
  catalog: string | Catalog;
  /** The capture to run; optional when the catalog has exactly one task. */
  name?: string;
  /** Transactions per connector session; -1 = until EOF (or the timeout). Default [-1]. */
  sessions?: number[];
  /** Connector state to open the first session with (default {}). */
  initialState?: unknown;
  /** Ends the preview (gracefully, discarding uncommitted documents) this long after the first session starts. */
  timeoutMs?: number;
  /** Wire codec; default: the endpoint's (protobuf for images, JSON for local commands). */
  codec?: WireCodec;
  /** Drive the connector through the gRPC server at this address (e.g. `tributary serve`) instead of spawning it. */
  grpcAddress?: string;
  /** The protocol form to speak (default newest: linked collections, backfill markers). */
  protocolForm?: ProtocolForm;
  /** Aborting it ends the preview gracefully, like the timeout. */
  signal?: AbortSignal;
  range?: RangeSpec;
  /**
   * A transaction closes at a checkpoint once it has been open this long
   * (default 1000 ms, Flow's default for captures) or holds `maxTxnDocs`
   * documents (default 100000), even if more responses are waiting.
   */
  maxTxnMs?: number;
  maxTxnDocs?: number;
  /**
   * Estimated bytes of documents a transaction's combiner holds in memory
   * before it spills a sorted run to a temporary file (default 64 MiB).
   */
  combinerBudgetBytes?: number;
  /**
   * Receives each committed document as the transaction's combiner drains,
   * in (binding, key) order, before onTransaction; the transaction's
   * `documents` are then not gathered (so memory stays bounded).
   */
  onDocument?: (collection: string, doc: unknown) => void | Promise<void>;
  /** Validate documents against the collection's write schema (default true). */
  validate?: boolean;
  /** Keep every committed document in the result (default true). */
  collect?: boolean;
  log?: Logger;
  /** LOG_LEVEL passed to the connector. */
  logLevel?: string;
  /** Called once per committed transaction, in order. Returning false ends the preview (like the timeout). */
  onTransaction?: (txn: CaptureTransaction) => void | boolean | Promise<void | boolean>;
}

export interface CaptureTransaction {
  session: number;
  /** Index of the transaction over the whole preview, from 0. */
  index: number;
  /** The transaction's documents (empty when onDocument receives them). */
  documents: [string, unknown][];
  /** Spill runs the transaction's combiner wrote (0 when it fit in memory). */
  spills: number;
  /** Connector state once this transaction committed. */
  state: unknown;
  checkpoints: number;
}

export interface CapturePreviewResult {
  documents: [string, unknown][];
  /** Reduced connector state after the last committed transaction. */
  state: unknown;
  /** State after each committed transaction. */
  states: unknown[];
  applyDescription: string;
  stats: {
    sessions: number;
    transactions: number;
    checkpoints: number;
    /** Captured responses received (before combining). */
    captured: number;
    /** Documents emitted (after combining). */
    documents: number;
    sourcedSchemas: number;
    backfillBegins: number;
    backfillCompletes: number;
    acknowledgements: number;
    /** Ended early: by the timeout, the abort signal, or onTransaction returning false. */
    timedOut: boolean;
    elapsedMs: number;
  };
  spec: BuiltCapture;
}

export async function runCapturePreview(opts: CapturePreviewOptions): Promise<CapturePreviewResult> {
  const started = Date.now();
  const log = opts.log ?? createLogger();
  const catalog = withGrpcAddress(typeof opts.catalog === "string" ? loadCatalog(opts.catalog) : opts.catalog, opts.grpcAddress);
  const built = await buildCapture(catalog, opts.name, { log, codec: opts.codec, logLevel: opts.logLevel, protocolForm: opts.protocolForm, initialState: opts.initialState });
  // The timeout counts from the first session, not from building the task.
  const deadline = opts.timeoutMs !== undefined ? Date.now() + opts.timeoutMs : undefined;
  const remaining = () => (deadline === undefined ? undefined : Math.max(0, deadline - Date.now()));
  let stopped = false;
  const over = () => stopped || opts.signal?.aborted === true || (deadline !== undefined && Date.now() >= deadline);
  const n = built.spec.bindings.length;
  const extractors = built.collections.map((c) => keyExtractor(c.spec.key, c.writeShape));
  const validators = opts.validate === false ? [] : built.collections.map((c) => compileValidator(c.writeSchema, `collection ${c.spec.name}`));
  const shapes = built.collections.map((c) => c.readShape);

  const maxTxnMs = opts.maxTxnMs ?? 1000;
  const maxTxnDocs = opts.maxTxnDocs ?? 100_000;
  const sessions = opts.sessions ?? [-1];
  if (sessions.length === 0 || sessions.some((s) => !Number.isInteger(s) || s === 0 || s < -1)) {
    throw new HarnessError(`sessions must be a list of positive transaction counts or -1, got ${JSON.stringify(sessions)}`);
  }

  const result: CapturePreviewResult = {
    documents: [],
    state: built.applyState,
    states: [],
    applyDescription: built.applyDescription,
    stats: { sessions: 0, transactions: 0, checkpoints: 0, captured: 0, documents: 0, sourcedSchemas: 0, backfillBegins: 0, backfillCompletes: 0, acknowledgements: 0, timedOut: false, elapsedMs: 0 },
    spec: built,
  };

  sessionLoop: for (const [si, limit] of sessions.entries()) {
    if (over()) {
      result.stats.timedOut = true;
      break;
    }
    result.stats.sessions++;
    const label = `capture ${built.def.name} session ${si + 1}`;
    const proc = openConnector<Request, Response>(built.def.endpoint, built.wire, "capture", { log, label, logLevel: opts.logLevel });
    let failed = true;
    let combiner: SpillingCombiner | undefined;
    // Waits for the next response, in slices when an abort signal may end the preview.
    const readNext = async () => {
      for (;;) {
        const left = remaining();
        const r = await proc.nextWithin(opts.signal ? Math.min(left ?? 250, 250) : left);
        if (r !== TIMED_OUT || over()) return r;
      }
    };
    try {
      await proc.send(
        create(RequestSchema, {
          open: { capture: built.wireSpec, version: built.version, range: opts.range ?? fullRange(), stateJson: JSON.stringify(result.state) },
        }),
      );
      const first = await readNext();
      if (first === TIMED_OUT) {
        result.stats.timedOut = true;
        failed = false;
        break sessionLoop;
      }
      if (first === undefined) throw new ProtocolViolation("capture.Response", "opened-first", "the connector closed its output before sending Opened");
      if (!first.opened) {
        throw new ProtocolViolation(`capture.Response.${variantName(first)}`, "opened-first", "the first response to Open must be Opened");
      }
      const explicitAcks = first.opened.explicitAcknowledgements;

      let txns = 0;
      while (limit < 0 || txns < limit) {
        combiner?.close();
        combiner = new SpillingCombiner(shapes, opts.combinerBudgetBytes ?? DEFAULT_COMBINER_BUDGET);
        const txnStarted = Date.now();
        let pendingState = result.state;
        let checkpoints = 0;
        let closed = false;
        // Messages since the last checkpoint, and a backfill marker waiting for its own.
        let sinceCheckpoint = 0;
        let marker: string | undefined;
        while (!closed) {
          const r = await readNext();
          if (r === TIMED_OUT) {
            result.stats.timedOut = true;
            failed = false;
            break sessionLoop;
          }
          if (r === undefined) break; // EOF: whatever follows the last checkpoint is dropped.
          if (marker && !r.checkpoint) {
            throw new ProtocolViolation(`capture.Response.${variantName(r)}`, "backfill-marker-alone", `${marker} must be followed by its Checkpoint: a backfill marker stands alone in its checkpoint`);
          }
          if (r.backfillBegin || r.backfillComplete) {
            const name = r.backfillBegin ? "capture.Response.BackfillBegin" : "capture.Response.BackfillComplete";
            if (built.form === "legacy") {
              throw new ProtocolViolation(name, "backfill-marker-unknown", "an older runtime (legacy protocol form) does not know backfill markers and would fail on this response");
            }
            const binding = (r.backfillBegin ?? r.backfillComplete)!.binding;
            if (binding >= n) throw new ProtocolViolation(name, "captured-unknown-binding", `binding ${binding} does not exist (the capture has ${n} bindings)`);
            if (sinceCheckpoint > 0) {
              throw new ProtocolViolation(name, "backfill-marker-alone", `${sinceCheckpoint} message(s) since the last Checkpoint precede it: a backfill marker stands alone in its checkpoint`);
            }
            marker = name;
            sinceCheckpoint++;
            if (r.backfillBegin) result.stats.backfillBegins++;
            else result.stats.backfillCompletes++;
            continue;
          }
          if (!r.checkpoint) sinceCheckpoint++;
          if (r.captured) {
            const { binding, docJson } = r.captured;
            if (binding >= n) {
              throw new ProtocolViolation("capture.Response.Captured", "captured-unknown-binding", `binding ${binding} does not exist (the capture has ${n} bindings)`);
            }
            let doc: unknown;
            try {
              doc = parseJson(docJson);
            } catch (err) {
              throw new ProtocolViolation("capture.Response.Captured", "captured-doc-not-json", `binding ${binding}: the document is not valid JSON: ${(err as Error).message}`);
            }
            const collection = built.collections[binding]!.spec.name;
            const bad = validators[binding]?.(doc);
            if (bad) throw new HarnessError(`a document captured into ${collection} (binding ${binding}) does not match the collection schema: ${bad}`);
            const key = extractors[binding]!(doc);
            if (typeof key === "string") throw new HarnessError(`a document captured into ${collection} (binding ${binding}) has no key at ${key}`);
            combiner.add(binding, key, doc, packTuple(key), docJson.length);
            result.stats.captured++;
          } else if (r.sourcedSchema) {
            if (r.sourcedSchema.binding >= n) {
              throw new ProtocolViolation("capture.Response.SourcedSchema", "captured-unknown-binding", `binding ${r.sourcedSchema.binding} does not exist (the capture has ${n} bindings)`);
            }
            result.stats.sourcedSchemas++;
          } else if (r.checkpoint) {
            const st = r.checkpoint.state;
            if (!st) throw new ProtocolViolation("capture.Response.Checkpoint", "checkpoint-without-state", "a Checkpoint must carry a state (use {\"updated\":{},\"mergePatch\":true} for no change)");
            let updated: unknown;
            try {
              updated = JSON.parse(new TextDecoder().decode(st.updatedJson));
            } catch {
              throw new ProtocolViolation("capture.Response.Checkpoint", "checkpoint-state-not-json", "the Checkpoint state's `updated` is not valid JSON");
            }
            pendingState = applyStateUpdate(pendingState, { updated, mergePatch: st.mergePatch });
            checkpoints++;
            sinceCheckpoint = 0;
            marker = undefined;
            if (!proc.hasBuffered() || Date.now() - txnStarted >= maxTxnMs || combiner.size >= maxTxnDocs) closed = true;
          } else {
            throw new ProtocolViolation(`capture.Response.${variantName(r)}`, "unexpected-response", "after Opened only Captured, SourcedSchema, BackfillBegin, BackfillComplete and Checkpoint may be sent");
          }
        }
        if (!closed) break; // EOF
        const documents: [string, unknown][] = [];
        for (const c of combiner.drain()) {
          const d: [string, unknown] = [built.collections[c.binding]!.spec.name, c.doc];
          result.stats.documents++;
          if (opts.onDocument) await opts.onDocument(d[0], d[1]);
          else documents.push(d);
          if (opts.collect !== false) result.documents.push(d);
        }
        const spills = combiner.spills; // including the final run a spilled drain writes
        result.state = pendingState;
        result.states.push(pendingState);
        result.stats.checkpoints += checkpoints;
        const go = await opts.onTransaction?.({ session: si, index: result.stats.transactions, documents, spills, state: pendingState, checkpoints });
        result.stats.transactions++;
        txns++;
        if (go === false) {
          stopped = true;
          result.stats.timedOut = true;
          failed = false;
          break sessionLoop;
        }
        if (explicitAcks) {
          await proc.send(create(RequestSchema, { acknowledge: { checkpoints } }));
          result.stats.acknowledgements++;
        }
      }
      failed = false;
    } finally {
      // An unfinished transaction's spill file goes with it.
      combiner?.close();
      // Ending a session closes the connector's input; a failed one is killed outright.
      if (failed) await proc.kill();
      else await proc.stop();
    }
  }
  result.stats.elapsedMs = Date.now() - started;
  return result;
}

export { ConnectorFailed };
