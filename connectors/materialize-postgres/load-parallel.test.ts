/**
 * The load's transaction runs its chunk statements without parallel
 * workers (each would unnest and sort the whole chunk again), and the
 * setting ends with the transaction. Against a real PostgreSQL, on a
 * session where a parallel plan is made cheap enough to be chosen: the
 * test first shows that the chunk-shaped statement gets a Gather there.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type pg from "pg";
import { adminClient, uniqueSchema } from "./test-support.js";
import { LOAD_BEGIN } from "./transactor.js";

const schema = uniqueSchema("mpgload_par");
let c: pg.Client;

beforeAll(async () => {
  c = await adminClient();
  await c.query(`CREATE SCHEMA ${schema}`);
  await c.query(`CREATE TABLE ${schema}.t (id bigint PRIMARY KEY, doc json)`);
  await c.query(`INSERT INTO ${schema}.t SELECT g, json_build_object('id', g) FROM generate_series(1, 20000) g`);
  await c.query(`VACUUM ANALYZE ${schema}.t`);
  // Parallel plans as cheap as can be, so that the planner takes one when allowed.
  for (const s of ["max_parallel_workers_per_gather = 2", "parallel_setup_cost = 0", "parallel_tuple_cost = 0", "min_parallel_table_scan_size = 0", "min_parallel_index_scan_size = 0", "enable_nestloop = off"]) {
    await c.query(`SET ${s}`);
  }
});

afterAll(async () => {
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
});

const keys = Array.from({ length: 8192 }, (_, i) => 2 * i + 1).join(",");
const plan = async (): Promise<string> => {
  const r = await c.query(`EXPLAIN (COSTS OFF) SELECT t.doc::text FROM unnest('{${keys}}'::int8[]) AS l(k0) JOIN ${schema}.t AS t ON t.id = l.k0`);
  return r.rows.map((row) => row["QUERY PLAN"] as string).join("\n");
};

describe("load transaction", () => {
  it("plans chunk statements without parallel workers, and only inside the transaction", async () => {
    expect(await plan()).toMatch(/Gather/);
    await c.query(LOAD_BEGIN);
    try {
      expect((await c.query("SHOW max_parallel_workers_per_gather")).rows[0].max_parallel_workers_per_gather).toBe("0");
      expect(await plan()).not.toMatch(/Gather|Parallel/);
      const found = await c.query(`SELECT count(*)::int AS n FROM unnest('{${keys}}'::int8[]) AS l(k0) JOIN ${schema}.t AS t ON t.id = l.k0`);
      expect(found.rows[0].n).toBe(8192);
    } finally {
      await c.query("COMMIT");
    }
    expect((await c.query("SHOW max_parallel_workers_per_gather")).rows[0].max_parallel_workers_per_gather).toBe("2");
    expect(await plan()).toMatch(/Gather/);
  });
});
