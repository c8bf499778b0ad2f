/**
 * What the connector needs to know about column types, loaded from pg_type
 * on demand: domains resolve to their base type, arrays to their element
 * type, enums and other user-defined types by their kind.
 */
import type pg from "pg";

export interface PgType {
  oid: number;
  name: string;
  namespace: string;
  /** pg_type.typtype: b base, c composite, d domain, e enum, p pseudo, r range, m multirange. */
  typtype: string;
  /** pg_type.typcategory: A array, S string, N numeric, D date/time, U user-defined... */
  category: string;
  elem: number;
  base: number;
  delim: string;
}

export interface TypeLookup {
  get(oid: number): PgType | undefined;
}

export class TypeCatalog implements TypeLookup {
  private readonly types = new Map<number, PgType>();

  get(oid: number): PgType | undefined {
    return this.types.get(oid);
  }

  /** Loads the given types and every type they refer to (elements, domain bases). */
  async ensure(client: pg.Client, oids: Iterable<number>): Promise<void> {
    let missing = [...new Set(oids)].filter((o) => !this.types.has(o));
    while (missing.length > 0) {
      const res = await client.query(
        `SELECT t.oid::int AS oid, t.typname AS name, n.nspname AS namespace, t.typtype::text AS typtype,
                t.typcategory::text AS category, t.typelem::int AS elem, t.typbasetype::int AS base, t.typdelim::text AS delim
           FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
          WHERE t.oid = ANY($1::oid[])`,
        [missing],
      );
      const next: number[] = [];
      for (const row of res.rows as PgType[]) {
        this.types.set(row.oid, row);
        for (const ref of [row.elem, row.base]) if (ref && !this.types.has(ref)) next.push(ref);
      }
      // Types that vanished (dropped concurrently) are remembered as unknown so we do not loop.
      for (const o of missing) if (!this.types.has(o)) this.types.set(o, { oid: o, name: `oid ${o}`, namespace: "", typtype: "b", category: "U", elem: 0, base: 0, delim: "," });
      missing = [...new Set(next)];
    }
  }
}
