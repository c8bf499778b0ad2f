/**
 * The epoch sink layer: a materialization written as a small sink trait
 * (modelled on LaminarDB's SinkConnector) instead of a Transactor.
 *
 * A connector says what its destination can do (`capabilities`) and
 * implements, per session, `writeBatch` plus whichever epoch hooks its
 * delivery model needs; the layer maps Flow's
 * Acknowledge → Load* → Flush → Store* → StartCommit cycle onto epochs:
 *
 *   beginEpoch → writeBatch* → flush → preCommit → commitEpoch
 *   (rollbackEpoch when any of them fails, or the session ends mid-epoch)
 *
 * and picks the checkpoint model from `capabilities().delivery`:
 *   - "exactly-once-transactional": commitEpoch receives the runtime
 *     checkpoint (as `encodeCheckpoint` text) and must commit it in the same
 *     destination transaction as the epoch's writes, under the session's key
 *     range, fencing older sessions of that range; Open hands back what is
 *     stored (`storedCheckpoint`) and the runtime resumes from it.
 *   - "exactly-once-idempotent": the recovery-log model of `staged.ts`.
 *     writeBatch stages, preCommit describes the staged work as JSON, the
 *     description commits with the runtime checkpoint in connector state, and
 *     commitEpoch applies it after Acknowledge (again after a crash: it must
 *     be idempotent).
 *   - "at-least-once": writeBatch writes to the target, flush confirms, so
 *     everything committed was written; a crash before the runtime's commit
 *     writes the epoch again (`at-least-once.ts`).
 *
 * Every epoch has an `id` that is the same when the epoch is replayed after
 * a crash and differs between two epochs that both wrote something, so
 * sinks can build idempotency keys (`<epoch.id>/<binding>/<batch index>`).
 */
import type { RangeSpec } from "../gen/flow/flow_pb.js";
import type {
  Applied,
  Constraint,
  Context,
  JsonSchema,
  LoadRequest,
  MaterializeApply,
  MaterializeBinding,
  MaterializeValidateBinding,
  StoreRequest,
} from "./types.js";

/** How the destination makes a committed epoch durable exactly once (or not). */
export type SinkDelivery = "exactly-once-transactional" | "exactly-once-idempotent" | "at-least-once";

/**
 * What the sink does with Stores: "upsert" (standard updates: the sink reads
 * documents back through `load` and overwrites them), "delta" (every Store
 * is appended as is, nothing is loaded), "deletes" (Stores with
 * `delete: true` are passed on; without it they fail the session).
 */
export type SinkOperation = "upsert" | "delta" | "deletes";

export interface SinkCapabilities {
  delivery: SinkDelivery;
  operations: SinkOperation[];
}

/** One epoch: the writes of one Flow transaction of one session (key range). */
export interface Epoch {
  /**
   * 32 hex digits derived from the checkpoint the epoch starts from and the
   * session's key range: equal for a replay of the same epoch, different for
   * two epochs that both wrote.
   */
  id: string;
  /**
   * The session's key range as `rangeEntry` names it (`<keyBegin>-<keyEnd>`);
   * empty when Apply applies committed epochs of every range.
   */
  range: string;
}

/** Consecutive Stores of one binding, at most the sink's batchSize of them. */
export interface SinkBatch {
  binding: number;
  /** 0, 1, 2… per binding within the epoch: stable across replays of the same Stores. */
  index: number;
  stores: StoreRequest[];
}

/** What commitEpoch commits, by delivery model. */
export interface SinkCommit<P = unknown> {
  /** exactly-once-transactional: the runtime checkpoint to store with the data (encodeCheckpoint text). */
  checkpoint?: string;
  /** exactly-once-idempotent: what preCommit described (possibly in an earlier session). */
  pending?: P;
  /** exactly-once-idempotent: true when replaying work found in the state the session opened with. */
  recovered?: boolean;
}

/** One session's sink, as `open` returns it. Only writeBatch is required. */
export interface SinkWriter<P = unknown> {
  /** The most Stores handed to one writeBatch (default 1000). */
  batchSize?: number;
  /**
   * exactly-once-transactional only (required there): the checkpoint stored
   * for this session's key range by the last commitEpoch (exactly the text
   * it received: epoch ids are derived from it), or null when none is
   * stored (the runtime then starts from scratch).
   */
  storedCheckpoint?: string | null;
  /**
   * Required with the "upsert" operation: calls `loaded` for every key that
   * exists. Runs after the previous epoch is committed (read-committed).
   */
  load?(keys: LoadRequest[], loaded: (binding: number, doc: unknown) => void | Promise<void>): Promise<void>;
  beginEpoch?(epoch: Epoch): Promise<void>;
  writeBatch(batch: SinkBatch, epoch: Epoch): Promise<void>;
  /** After the epoch's last writeBatch: make the writes durable (at-least-once: confirmed by the target). */
  flush?(epoch: Epoch): Promise<void>;
  /**
   * exactly-once-idempotent: describes the staged work as JSON, or undefined
   * when there is nothing to apply. Optional for the other models (a last
   * check before the commit).
   */
  preCommit?(epoch: Epoch): Promise<P | undefined>;
  /**
   * transactional: commit the writes with `commit.checkpoint`; idempotent:
   * apply `commit.pending` (safe to repeat); at-least-once: optional.
   */
  commitEpoch?(epoch: Epoch, commit: SinkCommit<P>): Promise<void>;
  /** Undo an epoch that will not commit (a failure, or the session ended). Best-effort. */
  rollbackEpoch?(epoch: Epoch, reason: unknown): Promise<void>;
  /** Counters of the sink's own, logged with the layer's at the end of the session. */
  metrics?(): Record<string, number>;
  close?(): Promise<void>;
}

export interface SinkOpen<C = unknown, R = unknown> {
  config: C;
  bindings: MaterializeBinding<R>[];
  range: RangeSpec;
  /** `rangeEntry(range)`: the name under which to store this range's checkpoint or fence. */
  rangeName: string;
  /** The materialization's name. */
  materialization: string;
  version: string;
}

export interface SinkValidateBinding<R = unknown> extends MaterializeValidateBinding<R> {
  /** Whether the binding will use delta updates (from capabilities and `deltaUpdates`). */
  deltaUpdates: boolean;
}

/** A materialization built on the sink layer. */
export interface SinkConnector<C = any, R = any> {
  name: string;
  configSchema: JsonSchema;
  resourceConfigSchema: JsonSchema;
  documentationUrl: string;
  capabilities(config: C): SinkCapabilities;
  /** The binding's resource path (e.g. the table or URL it writes to). */
  resourcePath(resource: R, config: C): string[];
  /** Whether a binding asks for delta updates (default false); forced true when the sink cannot upsert. */
  deltaUpdates?(resource: R, config: C): boolean;
  /**
   * The binding's constraints; default: key fields and the root document
   * required, other fields optional (`defaultConstraints`).
   */
  constraints?(binding: SinkValidateBinding<R>, config: C): Record<string, Constraint> | Promise<Record<string, Constraint>>;
  /**
   * Destination changes for Apply (default: none). Under
   * exactly-once-idempotent the layer first applies any committed but
   * unapplied epochs, as `drainPending` does.
   */
  apply?(req: MaterializeApply<C, R>, ctx: Context): Promise<Applied>;
  open(req: SinkOpen<C, R>, ctx: Context): Promise<SinkWriter>;
  healthCheck?(config: C, ctx: Context): Promise<void>;
}
