/**
 * The newest protocol's capture features in source-postgres: a keyless
 * table's row-locator key is declared a fallback key, and every table's
 * backfill is bracketed by begin/complete markers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPgCluster, type PgCluster } from "../../test/support/pg-cluster.js";
import { createLogger } from "../../src/log.js";
import connector from "./connector.js";
import { MemoryOutput, startCapture } from "./testing.js";

let pg: PgCluster;
beforeAll(async () => {
  pg = await startPgCluster();
});
afterAll(async () => {
  await pg?.stop();
});

function configFor(db: string) {
  return {
    address: `${pg.host}:${pg.port}`,
    database: db,
    user: pg.user,
    password: "",
    sslmode: "disable",
    slot: `slot_${db}`,
    publication: `pub_${db}`,
    backfill_chunk_size: 5,
    heartbeat_interval_seconds: 1,
  };
}

describe("source-postgres under the newest protocol", () => {
  it("declares only row-locator keys as fallback keys", async () => {
    const db = "fallback";
    await pg.createDatabase(db);
    await pg.query(db, `CREATE TABLE keyed (id int PRIMARY KEY)`);
    await pg.query(db, `CREATE TABLE unique_keyed (code text NOT NULL UNIQUE)`);
    await pg.query(db, `CREATE TABLE keyless (note text)`);
    const found = await connector.discover(configFor(db) as never, { log: createLogger({ level: "error" }), signal: new AbortController().signal });
    const byName = Object.fromEntries(found.map((b) => [b.recommendedName, [b.key, b.isFallbackKey]]));
    expect(byName["public/keyed"]).toEqual([["/id"], false]);
    expect(byName["public/unique_keyed"]).toEqual([["/code"], false]);
    expect(byName["public/keyless"]).toEqual([["/_meta/source/loc"], true]);
  });

  it("brackets each table's backfill with begin and complete markers around all its snapshot rows", async () => {
    const db = "markers";
    await pg.createDatabase(db);
    await pg.query(db, `CREATE TABLE items (id int PRIMARY KEY, v text)`);
    await pg.query(db, `INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 12) g`);
    await pg.query(db, `CREATE TABLE notes (v text)`);
    await pg.query(db, `INSERT INTO notes SELECT 'n' || g FROM generate_series(1, 9) g`);
    await pg.query(db, `ALTER TABLE notes REPLICA IDENTITY FULL`);
    const out = new MemoryOutput();
    const cap = startCapture(configFor(db), [{ namespace: "public", stream: "items" }, { namespace: "public", stream: "notes" }], out);
    await out.until(() => out.markers.filter((m) => m.kind === "complete").length === 2, 30_000, "both backfills to complete");
    await cap.stop();
    expect(cap.error).toBeUndefined();
    for (const binding of [0, 1]) {
      const mine = out.markers.filter((m) => m.binding === binding);
      expect(mine.map((m) => m.kind)).toEqual(["begin", "complete"]);
      const positions = out.committed.flatMap((d, i) => (d.binding === binding && d.doc._meta.source.snapshot ? [i] : []));
      expect(positions).toHaveLength(binding === 0 ? 12 : 9);
      expect(mine[0]!.afterDocs).toBeLessThanOrEqual(positions[0]!);
      expect(mine[1]!.afterDocs).toBeGreaterThan(positions.at(-1)!);
    }
    // The state committed with the last marker says both tables are active.
    expect(Object.values(out.state.bindingStateV1 ?? {}).map((s) => s!.mode)).toEqual(["active", "active"]);
  });

  it("does not begin a backfill again after a restart in the middle of it", async () => {
    const db = "restart";
    await pg.createDatabase(db);
    await pg.query(db, `CREATE TABLE items (id int PRIMARY KEY)`);
    await pg.query(db, `INSERT INTO items SELECT g FROM generate_series(1, 3000) g`);
    const first = new MemoryOutput();
    const cap = startCapture(configFor(db), [{ namespace: "public", stream: "items" }], first);
    await first.until(() => (first.state.bindingStateV1?.["public%2Fitems"]?.backfilled ?? 0) >= 5, 30_000, "a first chunk");
    await cap.stop();
    // 600 chunks of 5 rows: the stop lands in the middle of the backfill.
    expect(first.state.bindingStateV1?.["public%2Fitems"]?.mode).toBe("backfill");
    const second = new MemoryOutput(first.state);
    const again = startCapture(configFor(db), [{ namespace: "public", stream: "items" }], second);
    await second.until(() => second.markers.some((m) => m.kind === "complete"), 60_000, "the backfill to complete");
    await again.stop();
    expect(first.markers.map((m) => m.kind)).toEqual(["begin"]);
    expect(second.markers.map((m) => m.kind)).toEqual(["complete"]);
  });
});
