/**
 * The typed API a connector author implements.
 *
 * The SDK parses and validates configuration, turns protocol messages into
 * these shapes, and enforces the protocol's ordering rules, so that a
 * connector only says what to do in each phase.
 */
import type { CollectionSpec, CaptureSpec, MaterializationSpec, RangeSpec } from "../gen/flow/flow_pb.js";
import type { Checkpoint } from "../gen/consumer/protocol/protocol_pb.js";
import type { Request as CaptureRequest } from "../gen/capture/capture_pb.js";
import type { Request as MaterializeRequest } from "../gen/materialize/materialize_pb.js";
import type { Logger } from "../log.js";

/** The protocol version that Response.Spec must carry. */
export const PROTOCOL_VERSION = 3032023;

/** A JSON schema document, as a plain object. */
export type JsonSchema = Record<string, unknown>;

/**
 * JSON text the SDK passes through verbatim. Use it for documents holding
 * numbers a JS number cannot represent exactly, or text already serialized.
 */
export class RawJson {
  constructor(readonly text: string) {}
}

/**
 * JSON already encoded as UTF-8, passed through as bytes: a transactor's
 * load() can hand a document read from the destination straight to
 * `loaded`, and a capture can give `out.document` a document it wrote as
 * bytes; the stdio transport copies them into the response frame without
 * making a string. The bytes must be one valid JSON document, and must
 * not change afterwards (a transport may hold them until they are written):
 * a subarray of a buffer that is never written again is fine.
 */
export class RawJsonBytes {
  constructor(readonly bytes: Uint8Array) {}
}

/** An update of connector state: an RFC 7396 merge patch (default) or a replacement. */
export interface StateUpdate {
  updated: unknown;
  mergePatch?: boolean;
}

/** What every phase handler receives besides its request. */
export interface Context {
  log: Logger;
  /** Aborted when the runtime closes the stream or the session fails. */
  signal: AbortSignal;
}

// ---------------------------------------------------------------- capture

export interface DiscoveredBinding<R = unknown> {
  recommendedName: string;
  resourceConfig: R;
  documentSchema: JsonSchema;
  key: string[];
  disable?: boolean;
  /** Defaults to the values at the connector's resourcePathPointers. */
  resourcePath?: string[];
  /**
   * The source has no natural key and `key` is one the connector chose (a
   * row locator, a file offset): the control plane then lets users change
   * the collection key instead of putting this one back on every discovery.
   */
  isFallbackKey?: boolean;
}

/** What the runtime says about the capture being discovered (newest runtimes only). */
export interface DiscoverInfo {
  /** The capture's name; empty under older runtimes. */
  name: string;
  /** When the capture was created (RFC 3339); empty when unknown. */
  createdAt: string;
}

export interface CaptureBinding<R = unknown> {
  resourceConfig: R;
  /** The binding's resource path, from the connector's resourcePathPointers. */
  resourcePath: string[];
  collection: CollectionSpec;
  backfill: number;
  /** The key of this binding's entry in connector state. */
  stateKey: string;
}

export interface CaptureValidate<C = unknown, R = unknown> {
  name: string;
  config: C;
  bindings: CaptureBinding<R>[];
  lastCapture?: CaptureSpec;
  request: NonNullable<CaptureRequest["validate"]>;
}

export interface CaptureApply<C = unknown, R = unknown> {
  config: C;
  bindings: CaptureBinding<R>[];
  spec: CaptureSpec;
  version: string;
  lastCapture?: CaptureSpec;
  lastVersion: string;
  /** The connector state as the runtime last reduced it; `{}` when there is none. */
  state: any;
}

/**
 * Apply's answer, the same for captures and materializations: what changed
 * (empty when nothing did), and optionally an update of connector state.
 */
export interface Applied {
  actionDescription: string;
  /** Persisted by the runtime, which then invokes Apply again with the reduced state. */
  state?: StateUpdate;
}

/** @deprecated use Applied, which both protocols share. */
export type CaptureApplied = Applied;

export interface CaptureOpen<C = unknown, R = unknown, S = any> {
  config: C;
  bindings: CaptureBinding<R>[];
  spec: CaptureSpec;
  version: string;
  range: RangeSpec;
  /** The runtime's reduced connector state; `{}` when there is none. */
  state: S;
}

/** How an open capture session talks back to the runtime. */
export interface CaptureOutput {
  /** Must be called once, before any other output. */
  opened(opts?: { explicitAcknowledgements?: boolean }): Promise<void>;
  /**
   * A document of `binding`; pending until the next checkpoint. `doc` is a
   * value to serialize, JSON text as RawJson, or UTF-8 JSON as RawJsonBytes
   * (the cheapest over stdio: copied into the frame as it is). Always
   * returns a promise: await it (it resolves once the transport can take
   * more, and rejects when the document cannot be sent). An un-awaited call
   * is what `@typescript-eslint/no-floating-promises` reports.
   */
  document(binding: number, doc: unknown): Promise<void>;
  /**
   * Optional (the SDK's output has it; use sendDocuments() to call it with a
   * fallback): `count` documents of `binding` as UTF-8 JSON in one buffer,
   * exactly as document(binding, new RawJsonBytes(doc)) of each in order:
   * document k is `bytes[ends[k-1], ends[k])` (the first starts at 0) and
   * `ends[count-1]` must be `bytes.length`. Over stdio's protobuf wire the
   * batch is framed in one pass, with no call or view per document. Keep
   * `bytes` unchanged until the promise settles (`ends` may be reused once
   * it returns); returns SENT, like document(), when no wait is needed.
   */
  documents?(binding: number, bytes: Uint8Array, ends: ArrayLike<number>, count: number): Promise<void>;
  /** The schema `binding`'s documents now have, as seen at the source. Await it, like document(). */
  sourcedSchema(binding: number, schema: JsonSchema): Promise<void>;
  /** Commits the documents sent since the last checkpoint, with a state update. */
  checkpoint(state: StateUpdate): Promise<void>;
  /**
   * `binding`'s backfill starts: what it captured before is superseded.
   * The runtime requires the marker to stand alone in its checkpoint, so the
   * SDK first commits pending documents (with no state change), then sends
   * the marker in a checkpoint of its own carrying `state` (default: none).
   * Resolves to the number of checkpoints sent (1, or 2 when pending
   * messages were committed first), for connectors that count them to
   * match acknowledgements. Under a runtime older than the markers (its
   * Open names collections directly, not through linked_collections) only
   * the checkpoint with `state` is sent.
   */
  backfillBegin(binding: number, state?: StateUpdate): Promise<number>;
  /** `binding`'s backfill is complete; sent alone in its checkpoint, like backfillBegin. */
  backfillComplete(binding: number, state?: StateUpdate): Promise<number>;
  /**
   * Called with the number of checkpoints the runtime has committed, when
   * the session asked for explicit acknowledgements.
   */
  onAcknowledge(handler: (checkpoints: number) => void | Promise<void>): void;
}

export interface CaptureConnector<C = any, R = any> {
  protocol: "capture";
  /** Short name, as in `tributary run <name>`. */
  name: string;
  configSchema: JsonSchema;
  resourceConfigSchema: JsonSchema;
  documentationUrl: string;
  /** JSON pointers into a resource config that form its resource path. */
  resourcePathPointers: string[];

  discover(config: C, ctx: Context, info?: DiscoverInfo): Promise<DiscoveredBinding<R>[]>;
  /** Returns each binding's resource path; defaults to the pointer-derived paths. */
  validate?(req: CaptureValidate<C, R>, ctx: Context): Promise<string[][] | void>;
  /** Says what changed (empty when nothing did), and optionally updates state. Default: nothing changed. */
  apply?(req: CaptureApply<C, R>, ctx: Context): Promise<Applied>;
  /** Runs a session until it is done or ctx.signal aborts. */
  open(req: CaptureOpen<C, R>, out: CaptureOutput, ctx: Context): Promise<void>;
  /**
   * Optional liveness of the system the connector talks to (e.g. the
   * destination is reachable), for the gRPC health service and metrics.
   * Resolves when healthy; throws (ideally a ConnectorError) when not.
   */
  healthCheck?(config: C, ctx: Context): Promise<void>;
}

// ------------------------------------------------------------ materialize

export enum ConstraintType {
  FIELD_REQUIRED = 1,
  LOCATION_REQUIRED = 2,
  LOCATION_RECOMMENDED = 3,
  FIELD_OPTIONAL = 4,
  FIELD_FORBIDDEN = 5,
  INCOMPATIBLE = 6,
}

export interface Constraint {
  type: ConstraintType;
  reason: string;
  /** The name the destination uses for the field, where it differs. */
  foldedField?: string;
}

export interface ValidatedBinding {
  constraints: Record<string, Constraint>;
  resourcePath: string[];
  deltaUpdates: boolean;
  caseInsensitiveFields?: boolean;
}

export interface MaterializeValidateBinding<R = unknown> {
  resourceConfig: R;
  collection: CollectionSpec;
  fieldConfig: Record<string, unknown>;
  backfill: number;
  groupBy: string[];
}

export interface MaterializeValidate<C = unknown, R = unknown> {
  name: string;
  config: C;
  bindings: MaterializeValidateBinding<R>[];
  lastMaterialization?: MaterializationSpec;
  request: NonNullable<MaterializeRequest["validate"]>;
}

export interface MaterializeBinding<R = unknown> {
  resourceConfig: R;
  resourcePath: string[];
  collection: CollectionSpec;
  deltaUpdates: boolean;
  /** Selected key fields, value fields and document field ("" if none). */
  keys: string[];
  values: string[];
  document: string;
  fieldConfig: Record<string, unknown>;
  backfill: number;
  stateKey: string;
  spec: MaterializationSpec["bindings"][number];
}

export interface MaterializeApply<C = unknown, R = unknown> {
  config: C;
  bindings: MaterializeBinding<R>[];
  spec: MaterializationSpec;
  version: string;
  lastMaterialization?: MaterializationSpec;
  lastVersion: string;
  state: any;
}

export interface MaterializeOpen<C = unknown, R = unknown, S = any> {
  config: C;
  bindings: MaterializeBinding<R>[];
  spec: MaterializationSpec;
  version: string;
  range: RangeSpec;
  state: S;
}

/** One Load request. Key JSON is passed verbatim (it may hold big numbers). */
export interface LoadRequest {
  binding: number;
  keyJson: string;
  keyPacked: Uint8Array;
}

/** One Store request. JSON texts are verbatim. */
export interface StoreRequest {
  binding: number;
  keyJson: string;
  keyPacked: Uint8Array;
  valuesJson: string;
  valuesPacked: Uint8Array;
  /** Empty when the binding selected no document field. */
  docJson: string;
  exists: boolean;
  delete: boolean;
}

/**
 * The Loads of one transaction, in arrival order. Iteration ends at Flush.
 * Keys may be staged as they arrive, but the destination must not be read
 * until `committed()` resolves: that is when the previous transaction's
 * commit (and, for staged-apply connectors, its apply) has finished.
 */
export interface LoadIterator extends AsyncIterable<LoadRequest> {
  committed(): Promise<void>;
  /**
   * The same Loads as batches of key bytes, for a transactor that writes
   * keys into its query as bytes: no LoadRequest object nor key string per
   * Load. Read either this or the iterator, once. Optional: iterators built
   * elsewhere (tests, wrappers) may offer only the per-request form.
   */
  batches?(): AsyncIterable<LoadBatch>;
}

/**
 * Consecutive Loads of a transaction, in arrival order: Load i is
 * `bindings[i]` with key `keys[i]`, the UTF-8 bytes of its key JSON as
 * received (LoadRequest.keyJson is their text, invalid sequences replaced:
 * see loadKeyText), and `packed[i]`. The bytes are views of received
 * frames: read them, never write them.
 */
export interface LoadBatch {
  readonly bindings: readonly number[];
  readonly keys: readonly Uint8Array[];
  readonly packed: readonly Uint8Array[];
}

/** The Stores of one transaction; iteration ends at StartCommit. */
export type StoreIterator = AsyncIterable<StoreRequest>;

export interface StartCommit {
  runtimeCheckpoint: Checkpoint;
  /** Flushed-state patches of every shard for this transaction (JSON array text), if any. */
  statePatches: string;
}

/** A backfill event of one binding, as carried by Flush. */
export interface BackfillMarker {
  binding: number;
  /** When the runtime saw the event, if it said. */
  timestamp?: Date;
}

/** Begins the commit of stored data; resolves once it is durable where the checkpoint model requires. */
export type StartCommitFn = (req: StartCommit) => Promise<StateUpdate | void>;

export interface Transactor {
  /**
   * Answers the Loads of a transaction by calling `loaded` for each key found.
   * Not called for transactions without Loads.
   */
  load?(it: LoadIterator, loaded: (binding: number, doc: unknown) => void | Promise<void>): Promise<void>;
  /**
   * Called at Flush after every Loaded has been sent; may return a state update.
   * `backfillBegins` names bindings whose source is being captured again from
   * scratch starting with this transaction's Stores (what was stored before is
   * superseded); `backfillCompletes` those whose backfill has finished. Both
   * are empty under runtimes that do not send them.
   */
  flush?(req: { statePatches: string; backfillBegins: BackfillMarker[]; backfillCompletes: BackfillMarker[] }): Promise<StateUpdate | void>;
  /** Consumes the Stores of a transaction and returns how to start its commit. */
  store(it: StoreIterator): Promise<StartCommitFn>;
  /**
   * Called when the runtime acknowledges the previous commit (and once right
   * after Open). Resolves when the connector's own commit work is done.
   */
  acknowledge(req: { statePatches: string }): Promise<StateUpdate | void>;
  /** Releases resources at the end of the session. */
  destroy?(): Promise<void>;
}

/** Tells the runtime to start from scratch rather than from its recovery log. */
export const ZERO_CHECKPOINT = Symbol("explicit-zero-checkpoint");

export interface Opened {
  transactor: Transactor;
  /**
   * Destination-authoritative connectors return the checkpoint stored with
   * the data, or ZERO_CHECKPOINT when none is stored. Leave undefined to
   * resume from the runtime's recovery log.
   */
  runtimeCheckpoint?: Checkpoint | typeof ZERO_CHECKPOINT;
  disableLoadOptimization?: boolean;
}

export interface MaterializeConnector<C = any, R = any> {
  protocol: "materialize";
  name: string;
  configSchema: JsonSchema;
  resourceConfigSchema: JsonSchema;
  documentationUrl: string;

  validate(req: MaterializeValidate<C, R>, ctx: Context): Promise<ValidatedBinding[]>;
  apply(req: MaterializeApply<C, R>, ctx: Context): Promise<Applied>;
  open(req: MaterializeOpen<C, R>, ctx: Context): Promise<Opened>;
  /**
   * Optional liveness of the system the connector talks to (e.g. the
   * destination is reachable), for the gRPC health service and metrics.
   * Resolves when healthy; throws (ideally a ConnectorError) when not.
   */
  healthCheck?(config: C, ctx: Context): Promise<void>;
}

export type Connector = CaptureConnector | MaterializeConnector;
