/**
 * The crash tests' verdict for a capture of table `stress (id, v)` where
 * writers insert v=0, increment v and delete: the committed documents,
 * reduced by key, must equal the table, and every increment after the
 * first value the capture saw must have been captured.
 */
export interface CommittedDoc {
  doc: any;
}

/** The problems found, at most `limit` of them (all when omitted); empty when the capture is faithful. */
export function checkAgainstTable(committed: CommittedDoc[], rows: { id: number | string; v: number }[], limit?: number): string[] {
  const byId = new Map<number | string, { values: Set<number>; last: any }>();
  for (const { doc } of committed) {
    if (doc.id === undefined) continue;
    const e = byId.get(doc.id) ?? { values: new Set<number>(), last: undefined };
    if (doc._meta.op !== "d") e.values.add(doc.v);
    e.last = doc;
    byId.set(doc.id, e);
  }
  const table = new Map(rows.map((r) => [r.id, r.v]));
  const problems: string[] = [];
  for (const [id, v] of table) {
    const e = byId.get(id);
    if (!e || e.last._meta.op === "d") problems.push(`id ${id}: in the table (v=${v}) but not in the collection`);
    else if (e.last.v !== v) problems.push(`id ${id}: collection has v=${e.last.v}, table has v=${v}`);
    else {
      const lo = Math.min(...e.values);
      for (let x = lo; x <= v; x++) if (!e.values.has(x)) problems.push(`id ${id}: change to v=${x} is missing`);
    }
  }
  for (const [id, e] of byId) if (!table.has(id) && e.last._meta.op !== "d") problems.push(`id ${id}: deleted in the table, present in the collection`);
  return limit === undefined ? problems : problems.slice(0, limit);
}
