/**
 * A row whose key changes while a large (out-of-line, TOASTed) column stays
 * the same: the WAL carries no value for that column, and no document holds
 * it under the new key, so the capture reads it from the table. Under
 * REPLICA IDENTITY FULL it comes from the old row instead.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { startPgCluster, type PgCluster } from "../../test/support/pg-cluster.js";
import { MemoryOutput, reduceByKey, startCapture } from "./testing.js";

let pg: PgCluster;
beforeAll(async () => {
  pg = await startPgCluster();
});
afterAll(async () => {
  await pg?.stop();
});

const big = (c: string) => c.repeat(200_000);

it("creates the new key's document with the unchanged TOAST values, for every replica identity that allows updates", async () => {
  const db = "toast_key";
  await pg.createDatabase(db);
  // Default identity (the primary key), on a composite key with a char(n) part.
  await pg.query(db, `CREATE TABLE dflt (region char(4), id int, small text, big text, PRIMARY KEY (region, id))`);
  // Identity through a unique index (the table's key), and FULL.
  await pg.query(db, `CREATE TABLE by_index (id int NOT NULL, small text, big text, CONSTRAINT by_index_id UNIQUE (id))`);
  await pg.query(db, `ALTER TABLE by_index REPLICA IDENTITY USING INDEX by_index_id`);
  await pg.query(db, `CREATE TABLE full_rows (id int PRIMARY KEY, small text, big text)`);
  await pg.query(db, `ALTER TABLE full_rows REPLICA IDENTITY FULL`);
  for (const t of ["dflt", "by_index", "full_rows"]) await pg.query(db, `ALTER TABLE ${t} ALTER COLUMN big SET STORAGE EXTERNAL`);
  await pg.query(db, `INSERT INTO dflt VALUES ('eu', 100, 'a', $1), ('eu', 101, 'b', $2), ('eu', 102, 'c', $3)`, [big("x"), big("y"), big("z")]);
  await pg.query(db, `INSERT INTO by_index VALUES (100, 'a', $1)`, [big("i")]);
  await pg.query(db, `INSERT INTO full_rows VALUES (100, 'a', $1)`, [big("f")]);

  const out = new MemoryOutput();
  const logs: string[] = [];
  const bindings = ["dflt", "by_index", "full_rows"].map((t) => ({ namespace: "public", stream: t }));
  const config = { address: `${pg.host}:${pg.port}`, database: db, user: pg.user, sslmode: "disable", slot: "slot_tk", publication: "pub_tk", heartbeat_interval_seconds: 1 };
  const cap = startCapture(config, bindings, out, logs);
  try {
    await out.until(() => Object.values(out.state.bindingStateV1 ?? {}).filter((s: any) => s?.mode === "active").length === 3, 30_000, "backfills");
    await pg.query(db, `UPDATE dflt SET region = 'us', id = 300 WHERE id = 100`);
    // The row changes again before the capture reads it: the new key's document has the current value.
    await pg.query(db, `BEGIN; UPDATE dflt SET id = 301 WHERE id = 101; UPDATE dflt SET big = repeat('Y', 200000) WHERE id = 301; COMMIT`);
    // The row is gone before the capture reads it: its delete follows.
    await pg.query(db, `BEGIN; UPDATE dflt SET id = 302 WHERE id = 102; DELETE FROM dflt WHERE id = 302; COMMIT`);
    await pg.query(db, `UPDATE by_index SET id = 300 WHERE id = 100`);
    await pg.query(db, `UPDATE full_rows SET id = 300 WHERE id = 100`);
    await out.until(() => [0, 1, 2].every((b) => out.committed.some((d) => d.binding === b && d.doc.id === 300)), 30_000, "the key changes");
    await out.until(() => out.committed.some((d) => d.doc.id === 302 && d.doc._meta.op === "d"), 30_000, "the delete");
  } finally {
    await cap.stop();
  }
  expect(cap.error).toBeUndefined();

  const stream = (b: number) => out.committed.filter((d) => d.binding === b && !d.doc._meta.source.snapshot).map((d) => d.doc);
  const dflt = stream(0);
  expect(dflt[0]).toMatchObject({ region: "eu  ", id: 100, _meta: { op: "d" } });
  expect(dflt[1]).toMatchObject({ region: "us  ", id: 300, small: "a", big: big("x"), _meta: { op: "c" } });
  expect(dflt[2]).toMatchObject({ id: 101, _meta: { op: "d" } });
  expect(dflt[3]).toMatchObject({ id: 301, small: "b", big: big("Y"), _meta: { op: "c" } });
  expect(dflt[4]).toMatchObject({ id: 301, big: big("Y"), _meta: { op: "u" } });
  expect(dflt[5]).toMatchObject({ id: 102, _meta: { op: "d" } });
  expect(dflt[6]).toMatchObject({ id: 302, small: "c", _meta: { op: "c" } });
  expect("big" in dflt[6]).toBe(false);
  expect(dflt[7]).toMatchObject({ id: 302, _meta: { op: "d" } });
  const warning = logs.map((l) => JSON.parse(l)).find((l) => /key changed is gone/.test(l.msg));
  expect(warning).toMatchObject({ level: "warn", table: "public.dflt", binding: 0, columns: ["big"] });
  expect(JSON.stringify(warning)).not.toContain("zzz");

  // Reduced by key, the collection equals the table.
  const all = out.committed.filter((d) => d.binding === 0);
  const final = reduceByKey(all, (d) => `${d.region}/${d.id}`);
  const rows = await pg.query(db, `SELECT region, id, small, big FROM dflt`);
  expect([...final.values()].map(({ _meta, ...r }) => r).sort((a, b) => a.id - b.id)).toEqual(rows.sort((a, b) => a.id - b.id));

  expect(stream(1)[1]).toMatchObject({ id: 300, small: "a", big: big("i"), _meta: { op: "c" } });
  expect(stream(2)[1]).toMatchObject({ id: 300, small: "a", big: big("f"), _meta: { op: "c" } });
});
