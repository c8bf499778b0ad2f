/**
 * Recovery-log-authoritative materializations: the destination cannot commit
 * the runtime checkpoint in its own transaction, so the runtime's recovery
 * log decides what is committed.
 *
 * A connector built on `stagedTransactor` only says how to
 *   - stage a transaction's writes durably, somewhere that is not the target,
 *     and describe the staged work as JSON (`stage`);
 *   - apply a described piece of work to the target, idempotently (`apply`);
 *   - optionally remove the staged data once applied (`cleanup`).
 *
 * The SDK does the rest:
 *   - StartedCommit carries the description as a merge patch of connector
 *     state, `{pending: {<entry>: description}}`, so it commits atomically
 *     with the runtime checkpoint. Nothing touches the target before that.
 *   - Acknowledge (the runtime says that commit landed) applies it, then
 *     Acknowledged clears it with `{pending: {<entry>: null}}`.
 *   - The first Acknowledge of a session re-applies whatever the Open state
 *     still describes; the connector learns it is replaying through
 *     `recovered`, because a stage that is gone by then was already applied
 *     and cleaned up by an earlier session.
 *   - Loads that await `it.committed()` wait for that apply (the session
 *     runner resolves it after `acknowledge()`), so reads are read-committed.
 *   - No state update is returned unless it changes the state.
 *
 * The entry name defaults to the session's key range, so shards that split a
 * materialization never share (or clear) each other's pending work.
 */
import type { RangeSpec } from "../gen/flow/flow_pb.js";
import type { Logger } from "../log.js";
import { ConnectorError } from "./errors.js";
import type { LoadIterator, StartCommit, StateUpdate, StoreIterator, Transactor } from "./types.js";

/** The state property holding pending staged work, by entry name. */
export const PENDING = "pending";

export interface ApplyInfo {
  /** True when replaying work found in the state the session opened with. */
  recovered: boolean;
}

export interface StagedHandlers<P> {
  /** Applies described work to the target. Must be safe to run more than once. */
  apply(pending: P, info: ApplyInfo): Promise<void>;
  /** Removes the staged data of work that was applied. Best-effort. */
  cleanup?(pending: P): Promise<void>;
}

export interface StagedTransactorOptions<P> extends StagedHandlers<P> {
  /** The connector state the session opened with (`{}` when none). */
  state: unknown;
  /** This session's entry under `pending`; use `rangeEntry(range)`. */
  entry: string;
  /**
   * Durably stages the transaction's Stores and returns a JSON-serializable
   * description of them, or undefined when there is nothing to apply.
   */
  stage(it: StoreIterator): Promise<P | undefined>;
  load?(it: LoadIterator, loaded: (binding: number, doc: unknown) => void | Promise<void>): Promise<void>;
  flush?(req: { statePatches: string }): Promise<StateUpdate | void>;
  /** Called with the StartCommit request once staging is done, before StartedCommit. */
  beforeCommit?(req: StartCommit, pending: P | undefined): Promise<void>;
  destroy?(): Promise<void>;
  log?: Logger;
}

/** The entry name of a key range: `<keyBegin>-<keyEnd>` as 8 hex digits each. */
export function rangeEntry(range: Pick<RangeSpec, "keyBegin" | "keyEnd">): string {
  const hex = (n: number) => (n >>> 0).toString(16).padStart(8, "0");
  return `${hex(range.keyBegin)}-${hex(range.keyEnd)}`;
}

/** The pending entries of a connector state, by entry name. */
export function pendingEntries<P>(state: unknown): Map<string, P> {
  const out = new Map<string, P>();
  const pending = state && typeof state === "object" ? (state as Record<string, unknown>)[PENDING] : undefined;
  if (pending === undefined || pending === null) return out;
  if (typeof pending !== "object" || Array.isArray(pending)) {
    throw new ConnectorError(`connector state has a malformed "${PENDING}" property: expected an object of pending work by key range`);
  }
  for (const [k, v] of Object.entries(pending as Record<string, unknown>)) {
    if (v !== null && v !== undefined) out.set(k, v as P);
  }
  return out;
}

function pendingPatch(entries: Record<string, unknown>): StateUpdate {
  return { updated: { [PENDING]: entries }, mergePatch: true };
}

async function applyAndClean<P>(h: StagedHandlers<P>, p: P, info: ApplyInfo, log?: Logger): Promise<void> {
  await h.apply(p, info);
  if (!h.cleanup) return;
  try {
    await h.cleanup(p);
  } catch (err) {
    // The work is applied and will be cleared from state; leftover staged
    // data costs space, not correctness.
    log?.warn("could not clean up applied staged work", { error: err instanceof Error ? err.message : String(err) });
  }
}

export function stagedTransactor<P>(opts: StagedTransactorOptions<P>): Transactor {
  // What the durable state says is pending for our entry, as far as we know.
  let current: P | undefined = pendingEntries<P>(opts.state).get(opts.entry);
  let recovered = current !== undefined;

  const transactor: Transactor = {
    async acknowledge() {
      if (current === undefined) return; // nothing pending: no state change to report
      const p = current;
      if (recovered) opts.log?.info("re-applying staged work recovered from connector state", { entry: opts.entry });
      await applyAndClean(opts, p, { recovered }, opts.log);
      recovered = false;
      current = undefined;
      return pendingPatch({ [opts.entry]: null });
    },

    async store(it) {
      if (current !== undefined) {
        // The runner only starts Stores after the previous acknowledge
        // finished, so this would mean staged work was never applied.
        throw new ConnectorError("internal error: a new transaction was staged while the previous one was still pending");
      }
      const p = await opts.stage(it);
      return async (req) => {
        await opts.beforeCommit?.(req, p);
        if (p === undefined) return; // nothing staged: leave the state as it is
        current = p;
        return pendingPatch({ [opts.entry]: p });
      };
    },

    async destroy() {
      await opts.destroy?.();
    },
  };
  if (opts.load) transactor.load = opts.load;
  if (opts.flush) transactor.flush = opts.flush;
  return transactor;
}

/**
 * For a connector's Apply: applies every pending entry of `state` (all key
 * ranges: Apply runs once for the whole materialization) and returns the
 * state update clearing them, or undefined when nothing was pending.
 *
 * When it returns an update, Apply must return it as `Applied.state` and
 * change nothing else: the runtime persists it and calls Apply again, and
 * that second call finds nothing pending and makes its changes. This way no
 * DDL-like change ever runs while committed work is still unapplied.
 */
export async function drainPending<P>(state: unknown, handlers: StagedHandlers<P>, log?: Logger): Promise<StateUpdate | undefined> {
  const entries = pendingEntries<P>(state);
  if (entries.size === 0) return undefined;
  const cleared: Record<string, null> = {};
  for (const [entry, p] of entries) {
    log?.info("applying pending staged work before Apply changes anything", { entry });
    await applyAndClean(handlers, p, { recovered: true }, log);
    cleared[entry] = null;
  }
  return pendingPatch(cleared);
}

/** A description of drained work for `Applied.actionDescription`. */
export function drainedDescription(update: StateUpdate): string {
  const n = Object.keys(((update.updated as Record<string, unknown>)[PENDING] ?? {}) as object).length;
  return `applied ${n} pending staged transaction${n === 1 ? "" : "s"} before making changes; Apply will run again`;
}
