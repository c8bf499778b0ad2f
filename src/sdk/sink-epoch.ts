/**
 * Epoch ids of the sink layer: derived from the runtime checkpoint an epoch
 * starts after, so that a replay of an epoch (after a crash the runtime runs
 * the uncommitted transaction again from the same checkpoint) gets the same
 * id, while any two epochs that both wrote get different ones.
 *
 * Under exactly-once-transactional the checkpoint is the one the sink stored
 * with its data. Under the recovery-log models the layer keeps the id of the
 * next epoch in connector state, `{sinkEpochs: {<range>: id}}`, updated in
 * the StartedCommit of every epoch that wrote something (so it commits
 * atomically with the runtime checkpoint it is derived from). A range with
 * no entry (a fresh task, or a child just split off its parent) derives its
 * id from its range name and the other ranges' entries.
 */
import { createHash } from "node:crypto";
import { ConnectorError } from "./errors.js";
import type { StateUpdate } from "./types.js";

/** The state property holding each key range's next epoch id. */
export const SINK_EPOCHS = "sinkEpochs";

/** The id of an epoch of `range` starting after `basis` (checkpoint text, or another unique basis). */
export function epochId(range: string, basis: string): string {
  return createHash("sha256").update(range).update("\n").update(basis).digest("hex").slice(0, 32);
}

function entries(state: unknown): Record<string, string> {
  const e = state && typeof state === "object" ? (state as Record<string, unknown>)[SINK_EPOCHS] : undefined;
  if (e === undefined || e === null) return {};
  if (typeof e !== "object" || Array.isArray(e)) {
    throw new ConnectorError(`connector state has a malformed "${SINK_EPOCHS}" property: expected an object of epoch ids by key range`);
  }
  return e as Record<string, string>;
}

/** The id of the first epoch of a recovery-log session of `range`, from the state it opened with. */
export function openingEpochId(state: unknown, range: string): string {
  const all = entries(state);
  const own = all[range];
  if (typeof own === "string" && own !== "") return own;
  const others = Object.keys(all)
    .sort()
    .map((k) => `${k}=${all[k]}`)
    .join(",");
  return epochId(range, `fresh:${others}`);
}

/** The state update recording `id` as the next epoch id of `range`. */
export function epochPatch(range: string, id: string): StateUpdate {
  return { updated: { [SINK_EPOCHS]: { [range]: id } }, mergePatch: true };
}

/** Two merge-patch updates (of disjoint top-level properties) as one; either may be absent. */
export function mergeUpdates(a: StateUpdate | void, b: StateUpdate | void): StateUpdate | void {
  if (!a) return b;
  if (!b) return a;
  return { updated: { ...(a.updated as object), ...(b.updated as object) }, mergePatch: true };
}
