/**
 * Per-binding connector state, kept under each binding's `stateKey` as Flow
 * connectors do (`{"bindingStateV1": {"<stateKey>": {...}}}`), so that
 * connectors need not write merge patches by hand.
 *
 * The runtime derives a binding's state key from its resource path and
 * backfill counter; a binding whose backfill counter is bumped gets a new
 * key, so it starts from no state. Entries of removed bindings are dropped by
 * `dropStale`.
 */
import type { StateUpdate } from "./types.js";

/** The top-level property holding per-binding entries. */
export const BINDING_STATE_PROPERTY = "bindingStateV1";

interface Keyed {
  stateKey: string;
}

function entries(state: unknown): Record<string, unknown> {
  const all = state !== null && typeof state === "object" && !Array.isArray(state) ? (state as Record<string, unknown>)[BINDING_STATE_PROPERTY] : undefined;
  return all !== null && typeof all === "object" && !Array.isArray(all) ? (all as Record<string, unknown>) : {};
}

function keyOf(binding: Keyed | string): string {
  const key = typeof binding === "string" ? binding : binding.stateKey;
  if (!key) throw new Error("binding has no stateKey: per-binding state needs the runtime to name one");
  return key;
}

/** The state entry of `binding` in `state`, or undefined when it has none. */
export function bindingState<T>(state: unknown, binding: Keyed | string): T | undefined {
  return entries(state)[keyOf(binding)] as T | undefined;
}

/**
 * A merge-patch update of the entries of the given bindings. Each value is
 * merged into the binding's entry (RFC 7396: a property set to null is
 * removed); a value of null or undefined removes the whole entry. Other
 * bindings' entries are left as they are.
 */
export function bindingStateUpdate(updates: Iterable<[Keyed | string, unknown]>): StateUpdate {
  const patch: Record<string, unknown> = {};
  for (const [binding, value] of updates) {
    const key = keyOf(binding);
    patch[key] = value === null || value === undefined ? null : value;
  }
  return { updated: { [BINDING_STATE_PROPERTY]: patch }, mergePatch: true };
}

/**
 * A merge-patch update removing the entries of state keys no current binding
 * has (e.g. bindings removed from the task, or ones whose backfill restarted),
 * or undefined when there are none. Useful in Apply.
 */
export function dropStale(state: unknown, bindings: readonly Keyed[]): StateUpdate | undefined {
  const live = new Set(bindings.map((b) => b.stateKey));
  const stale = Object.keys(entries(state)).filter((k) => !live.has(k));
  if (stale.length === 0) return undefined;
  return { updated: { [BINDING_STATE_PROPERTY]: Object.fromEntries(stale.map((k) => [k, null])) }, mergePatch: true };
}
