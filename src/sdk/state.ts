/** RFC 7396 JSON merge patches, as used for connector state updates. */

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Applies `patch` to `target` and returns the result; `target` is not modified. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Applies a state update (merge patch or replacement) to `state`. */
export function applyStateUpdate(state: unknown, update: { updated: unknown; mergePatch?: boolean }): unknown {
  return update.mergePatch === false ? update.updated : mergePatch(state, update.updated);
}
