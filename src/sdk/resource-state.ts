/**
 * The per-binding state entry the resource capture layer keeps under each
 * binding's state key, and the merge patch that moves it from one value to
 * the next.
 *
 * A resource with only `fetchChanges` keeps its changes cursor as the whole
 * entry. A resource with `fetchPage` keeps a `PagedEntry`: the backfill it
 * belongs to (the binding's backfill counter), the next page to read, whether
 * the pages are done and the backfill marked complete, and the changes cursor.
 */

/** The state entry of a resource that is backfilled page by page. */
export interface PagedEntry<P = unknown, C = unknown> {
  /** The binding's backfill counter when this backfill began. */
  counter: number;
  /** The cursor of the next page; absent before the first page. */
  page?: P;
  /** Every page has been captured (the complete marker may not be sent yet). */
  pagesDone?: true;
  /** The backfill complete marker has been committed. */
  backfilled?: true;
  /** The changes cursor, when the resource also reads changes. */
  changes?: C;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * The RFC 7396 merge patch turning `from` into `to`: changed properties,
 * and null for removed ones. `to` must hold no null values (a merge patch
 * cannot set one). Returns undefined when nothing changed.
 */
export function entryPatch(from: unknown, to: unknown): unknown {
  if (!isObject(from) || !isObject(to)) return JSON.stringify(from) === JSON.stringify(to) ? undefined : to;
  const patch: Record<string, unknown> = {};
  for (const k of Object.keys(from)) if (!(k in to) || to[k] === undefined) patch[k] = null;
  for (const [k, v] of Object.entries(to)) {
    if (v === undefined) continue;
    const d = entryPatch(from[k], v);
    if (d !== undefined) patch[k] = d;
  }
  return Object.keys(patch).length ? patch : undefined;
}

/** Whether `entry` is a paged entry of the binding's current backfill. */
export function currentBackfill<P, C>(entry: unknown, counter: number): PagedEntry<P, C> | undefined {
  return isObject(entry) && entry.counter === counter ? (entry as unknown as PagedEntry<P, C>) : undefined;
}
