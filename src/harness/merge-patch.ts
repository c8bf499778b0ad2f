/**
 * RFC 7396 JSON merge patch, used for connector state updates
 * (ConnectorState.merge_patch) exactly as Flow's runtime applies them.
 */

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Returns `target` patched by `patch`; neither argument is modified. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

/** Applies a ConnectorState update (merge patch or replacement) to a state. */
export function applyStateUpdate(state: unknown, updated: unknown, mergePatch: boolean): unknown {
  return mergePatch ? applyMergePatch(state, updated) : updated;
}
