import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPgCluster, type PgCluster } from "../../test/support/pg-cluster.js";
import { MemoryOutput, reduceByKey, startCapture } from "./testing.js";

let pg: PgCluster;
beforeAll(async () => {
  pg = await startPgCluster();
});
afterAll(async () => {
  await pg?.stop();
});

function configFor(db: string, extra: Record<string, unknown> = {}) {
  return {
    address: `${pg.host}:${pg.port}`,
    database: db,
    user: pg.user,
    password: "",
    sslmode: "disable",
    slot: `slot_${db}`,
    publication: `pub_${db}`,
    backfill_chunk_size: 7,
    heartbeat_interval_seconds: 1,
    ...extra,
  };
}

describe("source-postgres capture", () => {
  it("backfills existing rows, then streams inserts, updates and deletes", async () => {
    const db = "basic";
    await pg.createDatabase(db);
    await pg.query(db, `CREATE TABLE items (id bigint PRIMARY KEY, name text, qty int)`);
    await pg.query(db, `INSERT INTO items SELECT g, 'item ' || g, g FROM generate_series(1, 20) g`);
    const out = new MemoryOutput();
    const cap = startCapture(configFor(db), [{ namespace: "public", stream: "items" }], out);
    await out.until(() => out.state.bindingStateV1?.["public%2Fitems"]?.mode === "active", 30_000, "backfill to finish");
    await pg.query(db, `INSERT INTO items VALUES (21, 'new', 1)`);
    await pg.query(db, `UPDATE items SET qty = 100 WHERE id = 3`);
    await pg.query(db, `DELETE FROM items WHERE id = 4`);
    await out.until(() => out.committed.some((d) => d.doc._meta.op === "d"), 30_000, "the delete");
    await cap.stop();
    expect(cap.error).toBeUndefined();
    if (process.env.DUMP) for (const d of out.committed) console.log(d.text);
    const final = reduceByKey(out.committed, (d) => String(d.id));
    const rows = await pg.query(db, `SELECT id::text AS id, name, qty FROM items ORDER BY items.id`);
    expect([...final.keys()].sort((a, b) => Number(a) - Number(b))).toEqual(rows.map((r) => r.id));
    expect(final.get("3").qty).toBe(100);
    const snap = out.committed.filter((d) => d.doc._meta.source.snapshot);
    expect(snap).toHaveLength(20);
    const upd = out.committed.find((d) => d.doc._meta.op === "u")!;
    expect(upd.doc._meta.source).toMatchObject({ schema: "public", table: "items" });
    expect(typeof upd.doc._meta.source.txid).toBe("number");
    expect(upd.doc._meta.source.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  });

  it("omits unchanged TOAST values, carries before-images under REPLICA IDENTITY FULL, and moves rows whose key changes", async () => {
    const db = "toast";
    await pg.createDatabase(db);
    await pg.query(db, `CREATE TABLE docs (id int PRIMARY KEY, small text, big text)`);
    await pg.query(db, `ALTER TABLE docs ALTER COLUMN big SET STORAGE EXTERNAL`);
    await pg.query(db, `CREATE TABLE full_rows (id int PRIMARY KEY, v text, big text)`);
    await pg.query(db, `ALTER TABLE full_rows REPLICA IDENTITY FULL`);
    await pg.query(db, `ALTER TABLE full_rows ALTER COLUMN big SET STORAGE EXTERNAL`);
    const out = new MemoryOutput();
    const cap = startCapture(configFor(db), [{ namespace: "public", stream: "docs" }, { namespace: "public", stream: "full_rows" }], out);
    await out.until(() => Object.values(out.state.bindingStateV1 ?? {}).filter((s: any) => s.mode === "active").length === 2, 30_000, "backfills");
    const big = "x".repeat(100_000);
    await pg.query(db, `INSERT INTO docs VALUES (1, 'a', $1)`, [big]);
    await pg.query(db, `UPDATE docs SET small = 'b' WHERE id = 1`);
    await pg.query(db, `INSERT INTO full_rows VALUES (1, 'one', $1)`, [big]);
    await pg.query(db, `UPDATE full_rows SET v = 'uno' WHERE id = 1`);
    await pg.query(db, `DELETE FROM full_rows WHERE id = 1`);
    await pg.query(db, `UPDATE docs SET id = 2 WHERE id = 1`);
    await out.until(() => out.committed.filter((d) => d.binding === 0).length >= 4, 30_000, "changes");
    await out.until(() => out.committed.filter((d) => d.binding === 1).length >= 3, 30_000, "changes");
    await cap.stop();

    const docs = out.committed.filter((d) => d.binding === 0).map((d) => d.doc);
    expect(docs[0]).toMatchObject({ id: 1, small: "a", big, _meta: { op: "c" } });
    // The update did not touch `big`: it is left out (not null), so a merge keeps the value.
    expect(docs[1]).toMatchObject({ id: 1, small: "b", _meta: { op: "u" } });
    expect("big" in docs[1]).toBe(false);
    // A key change is a delete of the old key and a create of the new one.
    expect(docs[2]).toMatchObject({ id: 1, _meta: { op: "d" } });
    expect(docs[3]).toMatchObject({ id: 2, small: "b", _meta: { op: "c" } });

    const full = out.committed.filter((d) => d.binding === 1).map((d) => d.doc);
    expect(full[1]).toMatchObject({ id: 1, v: "uno", big, _meta: { op: "u", before: { id: 1, v: "one", big } } });
    expect(full[2]).toMatchObject({ id: 1, v: "uno", big, _meta: { op: "d" } });
  });

  it("reports TRUNCATE, follows ALTER TABLE with a SourcedSchema, and captures keyless and partitioned tables", async () => {
    const db = "shapes";
    await pg.createDatabase(db);
    await pg.query(db, `CREATE TABLE t (id int PRIMARY KEY, a text)`);
    await pg.query(db, `CREATE TABLE logs (msg text, n int)`);
    await pg.query(db, `ALTER TABLE logs REPLICA IDENTITY FULL`);
    await pg.query(db, `CREATE TABLE parts (id int, region text, v int, PRIMARY KEY (id, region)) PARTITION BY LIST (region)`);
    await pg.query(db, `CREATE TABLE parts_eu PARTITION OF parts FOR VALUES IN ('eu')`);
    await pg.query(db, `CREATE TABLE parts_us PARTITION OF parts FOR VALUES IN ('us')`);
    await pg.query(db, `INSERT INTO t VALUES (1, 'x')`);
    await pg.query(db, `INSERT INTO logs SELECT 'm' || g, g FROM generate_series(1, 30) g`);
    await pg.query(db, `INSERT INTO parts VALUES (1, 'eu', 1), (2, 'us', 2)`);
    await pg.query(db, `CREATE TABLE events (kind text, n int) PARTITION BY LIST (kind)`);
    await pg.query(db, `CREATE TABLE events_a PARTITION OF events FOR VALUES IN ('a')`);
    await pg.query(db, `CREATE TABLE events_b PARTITION OF events FOR VALUES IN ('b')`);
    for (const t of ["events", "events_a", "events_b"]) await pg.query(db, `ALTER TABLE ${t} REPLICA IDENTITY FULL`);
    await pg.query(db, `INSERT INTO events SELECT CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END, g FROM generate_series(1, 6) g`);
    const out = new MemoryOutput();
    const bindings = [
      { namespace: "public", stream: "t" },
      { namespace: "public", stream: "logs" },
      { namespace: "public", stream: "parts" },
      { namespace: "public", stream: "events" },
    ];
    const logLines: string[] = [];
    const cap = startCapture(configFor(db), bindings, out, logLines);
    await out.until(() => Object.values(out.state.bindingStateV1 ?? {}).filter((s: any) => s.mode === "active").length === 4, 30_000, "backfills");
    const schemasBefore = out.schemas.length;
    await pg.query(db, `ALTER TABLE t ADD COLUMN b int`);
    await pg.query(db, `INSERT INTO t VALUES (2, 'y', 7)`);
    await pg.query(db, `ALTER TABLE t DROP COLUMN a`);
    await pg.query(db, `INSERT INTO t VALUES (3, 8)`);
    await pg.query(db, `INSERT INTO logs VALUES ('late', 31)`);
    await pg.query(db, `UPDATE parts SET v = 20 WHERE id = 2`);
    await pg.query(db, `TRUNCATE logs`);
    await out.until(() => out.committed.some((d) => d.doc.id === 3 && d.binding === 0), 30_000, "insert after ALTER");
    await out.until(() => out.committed.some((d) => d.binding === 2 && d.doc.v === 20), 30_000, "partition update");
    await cap.stop();
    expect(cap.error).toBeUndefined();

    const truncated = logLines.map((l) => JSON.parse(l)).find((l) => /TRUNCATE/.test(l.msg));
    expect(truncated).toMatchObject({ level: "warn", table: "public.logs", binding: 1 });
    const t = out.committed.filter((d) => d.binding === 0).map((d) => d.doc);
    expect(t.find((d) => d.id === 2)).toMatchObject({ a: "y", b: 7 });
    const three = t.find((d) => d.id === 3);
    expect(three).toMatchObject({ b: 8 });
    expect("a" in three).toBe(false);
    const newSchemas = out.schemas.slice(schemasBefore).filter((s) => s.binding === 0);
    expect(newSchemas.length).toBeGreaterThanOrEqual(2);
    expect(Object.keys((newSchemas.at(-1)!.schema as any).properties).sort()).toEqual(["_meta", "b", "id"]);

    const logs = out.committed.filter((d) => d.binding === 1).map((d) => d.doc);
    expect(logs.filter((d) => d._meta.source.snapshot)).toHaveLength(30);
    expect(new Set(logs.map((d) => d._meta.source.loc)).size).toBe(logs.length);
    expect(logs.find((d) => d.msg === "late")?._meta.source.loc).toMatch(/^[0-9a-f]{16}:\d+$/);

    // Changes to partitions arrive as changes of the root table.
    const parts = out.committed.filter((d) => d.binding === 2).map((d) => d.doc);
    expect(parts.filter((d) => d._meta.source.snapshot).map((d) => d.id).sort()).toEqual([1, 2]);
    expect(parts.at(-1)).toMatchObject({ id: 2, region: "us", v: 20, _meta: { op: "u", source: { table: "parts" } } });

    // A keyless partitioned table is read partition by partition, each row with a distinct locator.
    const events = out.committed.filter((d) => d.binding === 3).map((d) => d.doc);
    expect(events.map((d) => d.n).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new Set(events.map((d) => d._meta.source.loc)).size).toBe(6);
    expect(events[0]._meta.source.loc).toMatch(/^events_[ab]\(0,\d+\)$/);
  });

  it("backfills a table added later while the others stream, skips backfills on request, and refuses a slot in use", async () => {
    const db = "later";
    await pg.createDatabase(db);
    await pg.query(db, `CREATE TABLE a (id int PRIMARY KEY, v int)`);
    await pg.query(db, `CREATE TABLE b (id int PRIMARY KEY, v int)`);
    await pg.query(db, `CREATE TABLE c (id int PRIMARY KEY, v int)`);
    await pg.query(db, `INSERT INTO a SELECT g, 0 FROM generate_series(1, 10) g`);
    // Enough of b (200 chunks) that a's change surely lands while b's backfill runs, however loaded the machine.
    await pg.query(db, `INSERT INTO b SELECT g, 0 FROM generate_series(1, 20000) g`);
    await pg.query(db, `INSERT INTO c SELECT g, 0 FROM generate_series(1, 10) g`);
    const config = configFor(db, { backfill_chunk_size: 100, skip_backfills: ["public.c"] });
    const first = new MemoryOutput();
    let cap = startCapture(config, [{ namespace: "public", stream: "a" }], first);
    await first.until(() => first.state.bindingStateV1?.["public%2Fa"]?.mode === "active", 30_000, "a's backfill");
    await cap.stop();

    // Second session: b and c are new; a keeps its state.
    const out = new MemoryOutput(first.state);
    cap = startCapture(config, [{ namespace: "public", stream: "a" }, { namespace: "public", stream: "b" }, { namespace: "public", stream: "c" }], out);
    await out.until(() => out.state.bindingStateV1?.["public%2Fb"]?.mode === "backfill", 30_000, "b's backfill to start");
    await pg.query(db, `UPDATE a SET v = 1 WHERE id = 1`);
    await pg.query(db, `UPDATE c SET v = 1 WHERE id = 1`);
    await out.until(() => out.committed.some((d) => d.binding === 0 && d.doc.v === 1), 30_000, "a's change");
    await out.until(() => out.state.bindingStateV1?.["public%2Fb"]?.mode === "active", 60_000, "b's backfill");

    // A second capture on the same slot is refused with a clear error.
    const other = new MemoryOutput(out.state);
    const dup = startCapture(config, [{ namespace: "public", stream: "a" }], other);
    const dupErr = await dup.done.then(() => null, (e) => e as Error);
    await cap.stop();

    // a's change was committed between b's backfill documents: a streamed while b backfilled.
    const aChange = out.committed.findIndex((d) => d.binding === 0 && d.doc.v === 1);
    const bSnapshots = out.committed.map((d, i) => (d.binding === 1 && d.doc._meta.source.snapshot ? i : -1)).filter((i) => i >= 0);
    expect(bSnapshots[0]).toBeLessThan(aChange);
    expect(bSnapshots.at(-1)).toBeGreaterThan(aChange);
    expect(out.committed.filter((d) => d.binding === 0 && d.doc._meta.source.snapshot)).toHaveLength(0);
    expect(bSnapshots).toHaveLength(20000);
    const cDocs = out.committed.filter((d) => d.binding === 2).map((d) => d.doc);
    expect(cDocs).toHaveLength(1);
    expect(cDocs[0]).toMatchObject({ id: 1, v: 1, _meta: { op: "u" } });
    expect(dupErr?.message).toMatch(/slot "slot_later" is in use by another connection/);
  });
});
