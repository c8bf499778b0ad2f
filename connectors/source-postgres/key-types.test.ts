/**
 * Keys of every type whose text form a bare type name would change: the
 * backfill casts its cursor back with the column's full declared type, so
 * each chunk boundary (here: every row) resumes exactly after the last row.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { startPgCluster, type PgCluster } from "../../test/support/pg-cluster.js";
import { MemoryOutput, startCapture } from "./testing.js";

let pg: PgCluster;
beforeAll(async () => {
  pg = await startPgCluster();
});
afterAll(async () => {
  await pg?.stop();
});

const configFor = (db: string, extra: Record<string, unknown> = {}) => ({
  address: `${pg.host}:${pg.port}`,
  database: db,
  user: pg.user,
  password: "",
  sslmode: "disable",
  slot: `slot_${db}`,
  publication: `pub_${db}`,
  heartbeat_interval_seconds: 1,
  ...extra,
});

/** Table name → key column definition(s) and the key values (SQL literals), chosen so padded or rounded text forms meet at chunk boundaries. */
const KEYED: Record<string, { cols: string; key: string; values: string[] }> = {
  k_char: { cols: "k char(5)", key: "k", values: ["'a'", "'a b'", "'ab'", "' a'", "'abcde'", "''", "'b    '"] },
  k_domain: { cols: "k code4", key: "k", values: ["'x'", "'xy'", "'x y'", "'wxyz'"] },
  k_bit: { cols: "k bit(4)", key: "k", values: ["B'0000'", "B'0001'", "B'1000'", "B'1111'", "B'0110'"] },
  k_varbit: { cols: "k varbit(8)", key: "k", values: ["B'0'", "B'00'", "B'1'", "B'10'", "B'10000000'"] },
  k_numeric: { cols: "k numeric(6,2)", key: "k", values: ["1.5", "1.494", "-0.01", "9999.99", "0", "2"] },
  k_time: { cols: "k time(2)", key: "k", values: ["'01:02:03.456'", "'01:02:03.4'", "'00:00'", "'23:59:59.99'"] },
  k_timetz: { cols: "k timetz(1)", key: "k", values: ["'01:02:03.46+02'", "'01:02:03.4-07:30'", "'00:00+00'"] },
  k_ts: { cols: "k timestamp(3)", key: "k", values: ["'2024-01-01 00:00:00.1234'", "'2024-01-01 00:00:00.12'", "'1999-12-31 23:59:59.9995'", "'infinity'"] },
  k_tstz: { cols: "k timestamptz(1)", key: "k", values: ["'2024-01-01 00:00:00.15+00'", "'2024-01-01 00:00:00.1-08'", "'-infinity'"] },
  k_interval: { cols: "k interval(0)", key: "k", values: ["'1 day 2 hours'", "'1.6 seconds'", "'-3 months'", "'P1Y'"] },
  k_interval_ds: { cols: "k interval day to second(2)", key: "k", values: ["'1 day 0.125 seconds'", "'2 hours'", "'0'"] },
  k_char_arr: { cols: "k char(3)[]", key: "k", values: ["'{a}'", "'{a,b}'", "'{\"a b\"}'", "'{ab,NULL}'", "'{}'"] },
  k_bit_arr: { cols: "k bit(2)[]", key: "k", values: ["'{01}'", "'{01,10}'", "'{11}'"] },
  k_numeric_arr: { cols: "k numeric(4,1)[]", key: "k", values: ["'{1}'", "'{1.25,2}'", "'{-1}'"] },
  k_composite: { cols: "a char(3), b int", key: "a, b", values: ["'x', 1", "'x', 2", "'x y', 1", "'xy', 1", "'', 0"] },
};

it("backfills tables keyed on char(n), bit(n), varbit(n), numeric(p,s), time(p) & co, intervals and arrays of them, one row per chunk", async () => {
  const db = "typmod_keys";
  await pg.createDatabase(db);
  await pg.query(db, `CREATE DOMAIN code4 AS char(4)`);
  const tables = Object.keys(KEYED);
  for (const t of tables) {
    const { cols, key, values } = KEYED[t];
    await pg.query(db, `CREATE TABLE ${t} (${cols}, n int NOT NULL, PRIMARY KEY (${key}))`);
    for (const [n, v] of values.entries()) await pg.query(db, `INSERT INTO ${t} VALUES (${v}, ${n})`);
  }
  const out = new MemoryOutput();
  const bindings = tables.map((t) => ({ namespace: "public", stream: t }));
  const cap = startCapture(configFor(db, { backfill_chunk_size: 1 }), bindings, out);
  try {
    await out.until(
      () => tables.every((t) => out.state.bindingStateV1?.[`public%2F${t}`]?.mode === "active"),
      45_000,
      "every backfill to complete",
    );
  } finally {
    await cap.stop();
  }
  for (const [i, t] of tables.entries()) {
    const read = out.committed.filter((d) => d.binding === i && d.doc._meta.source.snapshot).map((d) => d.doc.n as number);
    const rows = (await pg.query(db, `SELECT n FROM ${t}`)).map((r) => r.n as number);
    // Exactly the table's rows: none repeated, none skipped.
    expect(read.sort((a, b) => a - b), t).toEqual(rows.sort((a, b) => a - b));
    expect(out.state.bindingStateV1?.[`public%2F${t}`]?.backfilled, t).toBe(rows.length);
  }
});
