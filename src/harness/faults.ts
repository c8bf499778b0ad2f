/**
 * Named crash points of a materialization transaction. At a crash point the
 * harness SIGKILLs the connector, then recovers the shard as Flow would:
 * restart the connector, Open with the recovery log's state, and resume from
 * the checkpoint the connector returns (or the recovery log's).
 */
import { HarnessError } from "./errors.js";

export const CRASH_POINTS = ["after-open", "mid-store", "after-start-commit", "after-started-commit", "after-log-commit"] as const;
export type CrashPointName = (typeof CRASH_POINTS)[number];

export interface CrashPoint {
  point: CrashPointName;
  /**
   * The transaction (from 1, counted per shard) at which to crash; for
   * after-open, the session (from 1, per shard) whose Opened is followed by
   * the crash.
   */
  txn: number;
}

/** Parses `point[:txn]`, e.g. "mid-store:2". */
export function parseCrashPoint(text: string): CrashPoint {
  const [point, txn] = text.split(":");
  if (!(CRASH_POINTS as readonly string[]).includes(point!)) {
    throw new HarnessError(`unknown crash point ${JSON.stringify(point)}; use one of ${CRASH_POINTS.join(", ")}`);
  }
  const n = txn === undefined ? 1 : Number(txn);
  if (!Number.isInteger(n) || n < 1) throw new HarnessError(`crash point ${JSON.stringify(text)}: the transaction must be a number from 1`);
  return { point: point as CrashPointName, txn: n };
}

/** Thrown inside the harness when a crash point fires; never escapes a run. */
export class InjectedCrash extends Error {
  constructor(readonly at: CrashPoint) {
    super(`injected crash at ${at.point}:${at.txn}`);
  }
}
