/**
 * The operation a Flow document's `_meta/op` names: captures set "c"
 * (create), "u" (update) or "d" (delete), and a document whose op is "d" is
 * a deletion tombstone. Read from the document's JSON text.
 */

/** The document's `_meta/op` when it is "c", "u" or "d"; else undefined. */
export function metaOp(docText: string): "c" | "u" | "d" | undefined {
  // Most documents carry no op: skip parsing them.
  if (!/"op"\s*:\s*"[cud]"/.test(docText)) return undefined;
  try {
    const op = (JSON.parse(docText) as { _meta?: { op?: unknown } })?._meta?.op;
    return op === "c" || op === "u" || op === "d" ? op : undefined;
  } catch {
    return undefined;
  }
}

/** True when a document's text is a deletion tombstone (its `_meta/op` is "d"). */
export function isTombstone(docText: string): boolean {
  return metaOp(docText) === "d";
}
