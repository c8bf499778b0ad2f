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
});
