/**
 * Crash safety: the connector process is killed at random points of its
 * backfill and of its change stream while writes continue, and restarted
 * from the last checkpoint each time. The committed documents, reduced by
 * key, must equal the table, and no committed change may be missing.
 * Also: a server restart mid-stream is survived without a process restart,
 * and a million-row transaction streams through in bounded memory.
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPgCluster, type PgCluster } from "../../test/support/pg-cluster.js";
import { DriverProcess, MemoryOutput, startCapture, type Captured } from "./testing.js";
import type { CaptureState } from "./capture.js";
import { checkAgainstTable } from "../../test/support/crash-check.js";

let pg: PgCluster;
beforeAll(async () => {
  if (!existsSync(new URL("../../dist/connectors/source-postgres/test-driver.js", import.meta.url))) {
    throw new Error("dist/connectors/source-postgres/test-driver.js is missing: run `npx tsc -p .` (npm test does) first");
  }
  pg = await startPgCluster();
});
afterAll(async () => {
  await pg?.stop();
});

const cfgFor = (db: string, extra: Record<string, unknown> = {}) => ({
  address: `${pg.host}:${pg.port}`, database: db, user: pg.user, sslmode: "disable",
  slot: `slot_${db}`, publication: `pub_${db}`, heartbeat_interval_seconds: 1, ...extra,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The key of row number `x`: the number itself, or (text keys) an md5 whose order is unrelated to it. */
const keyExpr = (textKey: boolean, x: string) => (textKey ? `md5((${x})::text)` : `(${x})`);

/** Random inserts (v=0), increments (v=v+1) and deletes (ids never reused), in small transactions. */
function loadGenerator(db: string, firstNewId: number, textKey = false) {
  let stop = false;
  let nextId = firstNewId;
  const done = (async () => {
    const { default: pgLib } = await import("pg");
    const c = new pgLib.Client({ connectionString: pg.urlFor(db) });
    await c.connect();
    while (!stop) {
      const r = Math.random();
      await c.query("BEGIN");
      if (r < 0.3) {
        await c.query(`INSERT INTO stress (id, v) SELECT ${keyExpr(textKey, "g")}, 0 FROM generate_series($1::int, $2::int) g`, [nextId, nextId + 4]);
        nextId += 5;
      } else if (r < 0.9) {
        await c.query(`UPDATE stress SET v = v + 1 WHERE id IN (SELECT ${keyExpr(textKey, "(random() * $1)::int")} FROM generate_series(1, 20))`, [nextId]);
      } else {
        await c.query(`DELETE FROM stress WHERE id = (SELECT ${keyExpr(textKey, "(random() * $1)::int")})`, [nextId]);
      }
      await c.query("COMMIT");
    }
    await c.end();
  })();
  return {
    async stop() {
      stop = true;
      await done;
    },
  };
}

describe("crash safety", () => {
  /**
   * Kills the connector `rounds` times (the first three inside its backfill)
   * while writes go on, then lets a last run catch up, and checks the result.
   * Integer keys exercise the precise backfill filter, text keys (in an order
   * unrelated to insertion) the unfiltered one.
   */
  async function crashRounds(db: string, textKey: boolean, rounds: number) {
    await pg.createDatabase(db);
    await pg.query(db, `CREATE TABLE stress (id ${textKey ? "text" : "int"} PRIMARY KEY, v int NOT NULL)`);
    await pg.query(db, `INSERT INTO stress SELECT ${keyExpr(textKey, "g")}, 0 FROM generate_series(1, 50000) g`);
    const load = loadGenerator(db, 50001, textKey);
    const config = cfgFor(db, { backfill_chunk_size: 500 });
    const bindings = [{ namespace: "public", stream: "stress" }];

    let state: CaptureState = {};
    const committed: Captured[] = [];
    let sawBackfillKill = false;
    for (let round = 0; round < rounds; round++) {
      const p = new DriverProcess(config, bindings, state);
      if (round < 3) {
        // Early rounds die mid-backfill: once a chunk is committed, at a random moment of the next ones.
        await p.until(() => p.checkpoints >= 2, 30_000, "a backfill checkpoint");
        await sleep(Math.random() * 150);
      } else {
        await sleep(300 + Math.random() * 1200);
      }
      if (p.state.bindingStateV1?.["public%2Fstress"]?.mode === "backfill") sawBackfillKill = true;
      await p.kill("SIGKILL");
      committed.push(...p.committed);
      state = p.state;
    }
    await load.stop();
    // A last run to catch up with everything written.
    const p = new DriverProcess(config, bindings, state);
    await p.until(() => p.state.bindingStateV1?.["public%2Fstress"]?.mode === "active", 60_000, "backfill to finish");
    const [{ id: last }] = await pg.query(db, `SELECT id FROM stress ORDER BY id DESC LIMIT 1`);
    const [{ v: finalV }] = await pg.query(db, `UPDATE stress SET v = v + 1 WHERE id = $1 RETURNING v`, [last]);
    await p.until(() => p.committed.some((d) => d.doc.id === last && d.doc.v === finalV), 60_000, "the final update");
    await p.kill("SIGTERM");
    committed.push(...p.committed);

    expect(sawBackfillKill).toBe(true);
    const rows = await pg.query<{ id: number | string; v: number }>(db, `SELECT id, v FROM stress`);
    expect(checkAgainstTable(committed, rows)).toEqual([]);
    expect(committed.filter((d) => d.doc._meta.op === "d").length).toBeGreaterThan(0);
  }

  it("recovers from kills at random points of backfill and streaming with nothing lost (integer keys)", async () => {
    await crashRounds("crash", false, 6);
  });

  it("recovers from kills at random points of backfill and streaming with nothing lost (text keys)", async () => {
    await crashRounds("crash_text", true, 4);
  });

  it("resumes a keyless partitioned backfill at its partition and page: every row committed exactly once across kills", async () => {
    const db = "crash_keyless_parts";
    await pg.createDatabase(db);
    await pg.query(db, `CREATE TABLE events (kind text, n int, pad text) PARTITION BY LIST (kind)`);
    for (const k of ["a", "b", "c"]) await pg.query(db, `CREATE TABLE events_${k} PARTITION OF events FOR VALUES IN ('${k}')`);
    for (const t of ["events", "events_a", "events_b", "events_c"]) await pg.query(db, `ALTER TABLE ${t} REPLICA IDENTITY FULL`);
    const rows = 6000;
    await pg.query(db, `INSERT INTO events SELECT (ARRAY['a','b','c'])[1 + g % 3], g, repeat('p', 200) FROM generate_series(1, $1::int) g`, [rows]);
    await pg.query(db, `ANALYZE events`);
    const config = cfgFor(db, { backfill_chunk_size: 60 });
    const bindings = [{ namespace: "public", stream: "events" }];
    const key = "public%2Fevents";

    let state: CaptureState = {};
    const committed: Captured[] = [];
    const cursors = new Set<string>();
    for (let round = 0; round < 4; round++) {
      const p = new DriverProcess(config, bindings, state);
      await p.until(() => p.checkpoints >= 2 + round, 30_000, "backfill checkpoints");
      await sleep(Math.random() * 100);
      await p.kill("SIGKILL");
      committed.push(...p.committed);
      state = p.state;
      const s = state.bindingStateV1?.[key];
      if (s?.mode === "backfill") cursors.add(String(s.partition));
    }
    const p = new DriverProcess(config, bindings, state);
    await p.until(() => p.state.bindingStateV1?.[key]?.mode === "active", 60_000, "backfill to finish");
    await p.kill("SIGTERM");
    committed.push(...p.committed);

    // Kills landed inside the backfill, with the cursor on a named partition.
    expect([...cursors].some((c) => /^events_[abc]$/.test(c))).toBe(true);
    const backfilled = committed.filter((d) => d.doc._meta.source.snapshot);
    const counts = new Map<number, number>();
    for (const d of backfilled) counts.set(d.doc.n, (counts.get(d.doc.n) ?? 0) + 1);
    const wrong = [...Array(rows).keys()].map((i) => i + 1).filter((n) => counts.get(n) !== 1);
    expect(wrong.slice(0, 10)).toEqual([]);
    expect(backfilled.length).toBe(rows);
    expect(new Set(backfilled.map((d) => d.doc._meta.source.loc)).size).toBe(rows);
  });

  it("keeps streaming across a server restart", async () => {
    if (!pg.owned) return;
    const db = "restart";
    await pg.createDatabase(db);
    await pg.query(db, `CREATE TABLE stress (id int PRIMARY KEY, v int NOT NULL)`);
    const out = new MemoryOutput();
    const cap = startCapture(cfgFor(db), [{ namespace: "public", stream: "stress" }], out);
    await out.until(() => out.state.bindingStateV1?.["public%2Fstress"]?.mode === "active", 30_000, "backfill");
    await pg.query(db, `INSERT INTO stress VALUES (1, 0)`);
    await out.until(() => out.committed.some((d) => d.doc.id === 1), 30_000, "first insert");
    await pg.restart();
    await pg.query(db, `INSERT INTO stress VALUES (2, 0)`);
    await out.until(() => out.committed.some((d) => d.doc.id === 2), 60_000, "insert after restart");
    expect(cap.error).toBeUndefined();
    await cap.stop();
  });

  it("finishes a backfill interrupted by a server restart, without a process restart", async () => {
    if (!pg.owned) return;
    const db = "restart_fill";
    await pg.createDatabase(db);
    await pg.query(db, `CREATE TABLE stress (id int PRIMARY KEY, v int NOT NULL)`);
    await pg.query(db, `INSERT INTO stress SELECT g, 0 FROM generate_series(1, 30000) g`);
    const out = new MemoryOutput();
    const cap = startCapture(cfgFor(db, { backfill_chunk_size: 300 }), [{ namespace: "public", stream: "stress" }], out);
    await out.until(() => out.state.bindingStateV1?.["public%2Fstress"]?.mode === "backfill", 30_000, "the backfill to start");
    await pg.restart();
    await pg.query(db, `UPDATE stress SET v = 1 WHERE id IN (1, 29999)`);
    await out.until(() => out.state.bindingStateV1?.["public%2Fstress"]?.mode === "active", 60_000, "the backfill to finish");
    await out.until(() => out.committed.filter((d) => d.doc.v === 1).length >= 2, 30_000, "the updates");
    await cap.stop();
    expect(cap.error).toBeUndefined();
    const rows = await pg.query<{ id: number; v: number }>(db, `SELECT id, v FROM stress`);
    expect(checkAgainstTable(out.committed, rows)).toEqual([]);
  });

  it("streams a 1,000,000-row transaction in bounded memory", async () => {
    const db = "bigtx";
    await pg.createDatabase(db);
    await pg.query(db, `CREATE TABLE big (id int PRIMARY KEY, payload text)`);
    const p = new DriverProcess(cfgFor(db), [{ namespace: "public", stream: "big" }], {}, { keep: false });
    await p.until(() => p.state.bindingStateV1?.["public%2Fbig"]?.mode === "active", 30_000, "backfill");
    const n = Number(process.env.BIG_TX_ROWS ?? 1_000_000);
    await pg.query(db, `INSERT INTO big SELECT g, repeat('x', 100) || g FROM generate_series(1, $1::int) g`, [n]);
    await p.until(() => p.committedCount >= n, 240_000, "the big transaction");
    const peak = p.peakRssMb();
    await p.kill("SIGTERM");
    expect(p.committedCount).toBe(n);
    // The transaction's documents (~150 MB of JSON) never sit in the connector's memory at once.
    expect(peak).toBeLessThan(300);
  }, 300_000);
});
