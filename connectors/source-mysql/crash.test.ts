/**
 * Crash safety: the connector process is killed at random points of its
 * backfill and of its binlog stream while writes continue, and restarted
 * from the last checkpoint each time. The committed documents, reduced by
 * key, must equal the table, and no committed change may be missing.
 * Also: a server restart mid-stream and a large transaction in bounded
 * memory (purged positions: position.test.ts).
 */
import { existsSync } from "node:fs";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMariaDb, type MariaDbServer } from "../../test/support/mariadb-server.js";
import { configFor, driver, MemoryOutput, modeOf, startCapture, type Captured } from "./testing.js";
import type { CaptureState } from "./capture.js";
import { checkAgainstTable } from "../../test/support/crash-check.js";

let db: MariaDbServer;
beforeAll(async () => {
  if (!existsSync(new URL("../../dist/connectors/source-mysql/connector.js", import.meta.url))) {
    throw new Error("dist/connectors/source-mysql is missing: run `npx tsc -p .` (npm test does) first");
  }
  db = await startMariaDb();
}, 120_000);
afterAll(async () => {
  await db?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The key of row number `x`: the number itself, or (text keys) an md5 whose order is unrelated to it. */
const keyExpr = (textKey: boolean, x: string) => (textKey ? `MD5(${x})` : `(${x})`);

/** Random inserts (v=0), increments (v=v+1) and deletes (ids never reused), in small transactions. */
function loadGenerator(database: string, firstNewId: number, textKey: boolean) {
  let stop = false;
  let nextId = firstNewId;
  const done = (async () => {
    const c = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, database });
    while (!stop) {
      const r = Math.random();
      await c.query("BEGIN");
      if (r < 0.3) {
        await c.query(`INSERT INTO stress (id, v) SELECT ${keyExpr(textKey, "seq")}, 0 FROM seq_${nextId}_to_${nextId + 4}`);
        nextId += 5;
      } else if (r < 0.9) {
        const ids = Array.from({ length: 20 }, () => Math.floor(Math.random() * nextId));
        await c.query(`UPDATE stress SET v = v + 1 WHERE id IN (${ids.map((i) => keyExpr(textKey, String(i))).join(", ")})`);
      } else {
        await c.query(`DELETE FROM stress WHERE id = ${keyExpr(textKey, String(Math.floor(Math.random() * nextId)))}`);
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

describe("source-mysql crash safety", () => {
  async function crashRounds(database: string, textKey: boolean, rounds: number) {
    await db.createDatabase(database);
    await db.query(`USE ${database}; CREATE TABLE stress (id ${textKey ? "CHAR(32)" : "INT"} PRIMARY KEY, v INT NOT NULL);
      INSERT INTO stress SELECT ${keyExpr(textKey, "seq")}, 0 FROM seq_1_to_30000;`);
    const load = loadGenerator(database, 30001, textKey);
    const config = configFor(db, { backfill_chunk_size: 500 });
    const bindings = [{ namespace: database, stream: "stress" }];
    const key = `${database}%2Fstress`;

    let state: CaptureState = {};
    const committed: Captured[] = [];
    let sawBackfillKill = false;
    for (let round = 0; round < rounds; round++) {
      const p = driver(config, bindings, state);
      if (round < 3) {
        // Early rounds die mid-backfill: once a chunk is committed, at a random moment of the next ones.
        await p.until(() => p.checkpoints >= 3, 30_000, "a backfill checkpoint");
        await sleep(Math.random() * 150);
      } else {
        await sleep(300 + Math.random() * 1200);
      }
      if (modeOf(p.state, key) === "backfill") sawBackfillKill = true;
      await p.kill("SIGKILL");
      committed.push(...p.committed);
      state = p.state as CaptureState;
    }
    await load.stop();
    // A last run to catch up with everything written.
    const p = driver(config, bindings, state);
    await p.until(() => modeOf(p.state, key) === "active", 60_000, "backfill to finish");
    const [{ id: last }] = await db.query(`SELECT id FROM ${database}.stress ORDER BY id DESC LIMIT 1`);
    await db.query(`UPDATE ${database}.stress SET v = v + 1 WHERE id = ?`, [last]);
    const [{ v: finalV }] = await db.query(`SELECT v FROM ${database}.stress WHERE id = ?`, [last]);
    await p.until(() => p.committed.some((d) => d.doc.id === last && d.doc.v === finalV), 60_000, "the final update");
    await p.kill("SIGTERM");
    committed.push(...p.committed);

    expect(sawBackfillKill).toBe(true);
    const rows = await db.query<{ id: number | string; v: number }>(`SELECT id, v FROM ${database}.stress`);
    expect(checkAgainstTable(committed, rows, 20)).toEqual([]);
    expect(committed.filter((d) => d.doc._meta.op === "d").length).toBeGreaterThan(0);
  }

  it("recovers from kills at random points of backfill and streaming with nothing lost (integer keys)", async () => {
    await crashRounds("crash", false, 6);
  }, 240_000);

  it("recovers from kills at random points of backfill and streaming with nothing lost (text keys)", async () => {
    await crashRounds("crash_text", true, 4);
  }, 240_000);

  it("keeps streaming across a server restart", async () => {
    await db.createDatabase("restart");
    await db.query(`USE restart; CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL)`);
    const out = new MemoryOutput();
    const cap = startCapture(configFor(db), [{ namespace: "restart", stream: "t" }], out);
    await out.until(() => modeOf(out.state, "restart%2Ft") === "active", 30_000, "backfill");
    await db.query(`INSERT INTO restart.t VALUES (1, 0)`);
    await out.until(() => out.committed.some((d) => d.doc.id === 1), 30_000, "first insert");
    await db.restart();
    await db.query(`INSERT INTO restart.t VALUES (2, 0)`);
    await out.until(() => out.committed.some((d) => d.doc.id === 2), 60_000, "insert after restart");
    expect(cap.error).toBeUndefined();
    await cap.stop();
  }, 120_000);

  it("streams a 1,000,000-row transaction in bounded memory", async () => {
    await db.createDatabase("bigtx");
    await db.query(`USE bigtx; CREATE TABLE big (id INT PRIMARY KEY, payload VARCHAR(200))`);
    const p = driver(configFor(db), [{ namespace: "bigtx", stream: "big" }], {}, { keep: false });
    await p.until(() => modeOf(p.state, "bigtx%2Fbig") === "active", 30_000, "backfill");
    const n = Number(process.env.BIG_TX_ROWS ?? 1_000_000);
    await db.query(`USE bigtx; INSERT INTO big SELECT seq, CONCAT(REPEAT('x', 100), seq) FROM seq_1_to_${n}`);
    await p.until(() => p.committedCount >= n, 240_000, "the big transaction");
    const peak = p.peakRssMb();
    await p.kill("SIGTERM");
    expect(p.committedCount).toBe(n);
    console.log(`bigtx: ${n} rows, peak RSS ${peak.toFixed(0)} MB`);
    // ~150 MB of document JSON; the reader pauses the binlog connection instead of buffering it.
    expect(peak).toBeLessThan(200);
  }, 300_000);
});
