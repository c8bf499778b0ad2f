/**
 * Keys of every type whose text form a bare type name would change: the
 * backfill casts its cursor back with the column's full declared type, so
 * each chunk boundary (here: every row) resumes exactly after the last row.
 * And float keys, which Flow would refuse as `number|string`, are strings.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { startPgCluster, type PgCluster } from "../../test/support/pg-cluster.js";
import { createLogger } from "../../src/log.js";
import { compileValidator } from "../../src/harness/validator.js";
import connector from "./connector.js";
import { MemoryOutput, reduceByKey, startCapture } from "./testing.js";

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

const FLOATS: Record<string, { type: string; values: string[] }> = {
  f4: { type: "real", values: ["1.5", "0.1", "-0", "3.4028235e38", "1e-45", "'NaN'", "'Infinity'", "'-Infinity'"] },
  f8: { type: "double precision", values: ["1.5", "0.1", "1e300", "-2.5e-308", "123456789012345680", "'NaN'", "'Infinity'", "'-Infinity'"] },
  f_dom: { type: "price", values: ["1.5", "-7.25", "'NaN'"] },
};

it("discovers float keys as strings of format number and writes them so in backfill and stream alike", async () => {
  const db = "float_keys";
  await pg.createDatabase(db);
  await pg.query(db, `CREATE DOMAIN price AS float8`);
  const tables = Object.keys(FLOATS);
  for (const t of tables) {
    await pg.query(db, `CREATE TABLE ${t} (k ${FLOATS[t].type} PRIMARY KEY, n int NOT NULL, f float8)`);
    for (const [n, v] of FLOATS[t].values.entries()) await pg.query(db, `INSERT INTO ${t} VALUES (${v}, ${n}, ${v})`);
  }
  const discovered = await connector.discover(configFor(db) as any, { log: createLogger({ level: "error" }), signal: new AbortController().signal });
  const validators = tables.map((t) => {
    const b = discovered.find((d) => d.recommendedName === `public/${t}`)!;
    const props = (b.documentSchema as any).properties;
    expect(b.key, t).toEqual(["/k"]);
    expect({ type: props.k.type, format: props.k.format }, t).toEqual({ type: "string", format: "number" });
    // A float that is not a key stays a number (or a string for NaN and the infinities).
    expect(props.f.type, t).toEqual(["number", "string", "null"]);
    return compileValidator(b.documentSchema as Record<string, unknown>, t);
  });

  const out = new MemoryOutput();
  const cap = startCapture(configFor(db, { backfill_chunk_size: 2 }), tables.map((t) => ({ namespace: "public", stream: t })), out);
  try {
    await out.until(() => tables.every((t) => out.state.bindingStateV1?.[`public%2F${t}`]?.mode === "active"), 30_000, "backfills");
    // The same rows again through the change stream, then an update and a key change.
    for (const t of tables) {
      await pg.query(db, `BEGIN; DELETE FROM ${t}; INSERT INTO ${t} VALUES ${FLOATS[t].values.map((v, n) => `(${v}, ${n}, ${v})`).join(", ")}; COMMIT`);
      await pg.query(db, `UPDATE ${t} SET n = n + 100 WHERE n = 0`);
      await pg.query(db, `UPDATE ${t} SET k = 2.5 WHERE k = 1.5`);
    }
    await out.until(() => tables.every((_, i) => out.committed.some((d) => d.binding === i && d.doc.k === "2.5")), 30_000, "the key changes");
  } finally {
    await cap.stop();
  }
  expect(cap.error).toBeUndefined();

  for (const [i, t] of tables.entries()) {
    const docs = out.committed.filter((d) => d.binding === i);
    for (const d of docs) {
      expect(typeof d.doc.k, d.text).toBe("string");
      expect(validators[i](d.doc), d.text).toBeUndefined();
    }
    const keyOf = (n: number, snapshot: boolean) => docs.find((d) => d.doc.n === n && d.doc._meta.op === "c" && !!d.doc._meta.source.snapshot === snapshot)?.doc.k;
    const want = (await pg.query(db, `SELECT k::text AS k FROM ${t} ORDER BY n % 100`)).map((r) => r.k as string);
    const backfilled = FLOATS[t].values.map((_, n) => keyOf(n, true));
    const streamed = FLOATS[t].values.map((_, n) => keyOf(n, false));
    // PostgreSQL's own text of each key, identical whichever path read it (the key 1.5 has since become 2.5).
    expect(backfilled, t).toEqual(streamed);
    expect(backfilled.map((k) => (k === "1.5" ? "2.5" : k)), t).toEqual(want);
    expect(backfilled, t).toContain("NaN");
    // The update's and the key change's documents carry the key as a string too, and reduce to the table.
    expect(docs.some((d) => d.doc._meta.op === "d" && d.doc.k === "1.5" && !d.doc._meta.source.snapshot), t).toBe(true);
    const final = reduceByKey(docs, (d) => d.k);
    expect([...final.keys()].sort(), t).toEqual([...want].sort());
  }
});
