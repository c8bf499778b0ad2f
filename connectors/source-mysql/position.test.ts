/**
 * The binlog position in the capture state: recorded as a MariaDB GTID
 * position beside file and offset, resumed from the GTID (across binlog
 * rotations, and when the saved file name means nothing to the server),
 * older file-and-offset states still resuming, and a clear error naming the
 * saved position when the binlogs holding it were purged.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMariaDb, type MariaDbServer } from "../../test/support/mariadb-server.js";
import { configFor, MemoryOutput, modeOf, startCapture } from "./testing.js";
import type { CaptureState } from "./capture.js";

let db: MariaDbServer;
beforeAll(async () => {
  db = await startMariaDb();
}, 120_000);
afterAll(async () => {
  await db?.stop();
});

const suffix = () => Math.random().toString(36).slice(2, 8);

/** A database with table t, captured until `rows` (inserted now) are committed; returns the stopped capture's output. */
async function capturedOnce(database: string, rows: number[]) {
  await db.createDatabase(database);
  await db.query(`USE ${database}; CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL)`);
  const out = new MemoryOutput();
  const cap = startCapture(configFor(db), [{ namespace: database, stream: "t" }], out);
  await out.until(() => modeOf(out.state, `${database}%2Ft`) === "active", 60_000, "backfill");
  for (const id of rows) await db.query(`INSERT INTO ${database}.t VALUES (?, 0)`, [id]);
  await out.until(() => rows.every((id) => out.committed.some((d) => d.doc.id === id)), 60_000, "the first rows");
  await cap.stop();
  return out;
}

/** Resumes from `state` and returns the ids committed once `expected` all were (or the capture's error). */
async function resume(database: string, state: CaptureState, expected: number[]) {
  const out = new MemoryOutput(structuredClone(state));
  const cap = startCapture(configFor(db), [{ namespace: database, stream: "t" }], out);
  try {
    await out.until(() => expected.every((id) => out.committed.some((d) => d.doc.id === id)), 60_000, `rows ${expected.join(", ")}`);
    // A later write in its own transaction: once it is committed, nothing of the earlier ones can still be on its way.
    await db.query(`INSERT INTO ${database}.t VALUES (1000000, 0)`);
    await out.until(() => out.committed.some((d) => d.doc.id === 1000000), 60_000, "the closing row");
    return { out, ids: out.committed.map((d) => d.doc.id as number).filter((id) => id !== 1000000) };
  } finally {
    await cap.stop();
  }
}

/** Rotates the binlog and waits until every file before the current one is purged. */
async function purgeAllButCurrent(): Promise<string> {
  await db.query("FLUSH BINARY LOGS");
  const logs = await db.query<{ Log_name: string }>("SHOW BINARY LOGS");
  const current = logs[logs.length - 1].Log_name;
  // MariaDB keeps a binlog until InnoDB has made its transactions durable (the binlog checkpoint), which
  // with the tests' relaxed flushing happens shortly after the rotation: purge until the server agrees.
  const deadline = Date.now() + 60_000;
  for (;;) {
    await db.query(`PURGE BINARY LOGS TO '${current}'`);
    const left = await db.query<{ Log_name: string }>("SHOW BINARY LOGS");
    if (left.length === 1) return current;
    if (Date.now() > deadline) throw new Error(`binlogs before ${current} were not purged: ${left.map((l) => l.Log_name).join(", ")}`);
    await db.query("FLUSH ENGINE LOGS");
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("source-mysql binlog position", () => {
  it("records the server's GTID position and resumes from it across binlog rotations", async () => {
    const database = `gtid_${suffix()}`;
    const out = await capturedOnce(database, [1]);
    const state = out.state as CaptureState;
    const [{ g }] = await db.query(`SELECT @@GLOBAL.gtid_binlog_pos AS g`);
    expect(state.gtid).toMatch(/^0-1-\d+$/);
    expect(state.gtid).toBe(g);

    // Two rotations with writes between them: the transactions to resume from are spread over three files.
    await db.query(`INSERT INTO ${database}.t VALUES (2, 0)`);
    await db.query("FLUSH BINARY LOGS");
    await db.query(`INSERT INTO ${database}.t VALUES (3, 0)`);
    await db.query("FLUSH BINARY LOGS");
    await db.query(`INSERT INTO ${database}.t VALUES (4, 0)`);
    const { ids, out: resumed } = await resume(database, state, [2, 3, 4]);
    // Exactly the changes after the saved position: row 1 is not sent again.
    expect(ids).toEqual([2, 3, 4]);
    const [{ g: now }] = await db.query(`SELECT @@GLOBAL.gtid_binlog_pos AS g`);
    expect((resumed.state as CaptureState).gtid).toBe(now);
  }, 180_000);

  it("resumes by GTID when the saved binlog file name means nothing to the server (as after a failover)", async () => {
    const database = `failover_${suffix()}`;
    const out = await capturedOnce(database, [1]);
    await db.query(`INSERT INTO ${database}.t VALUES (2, 0)`);
    // A replica promoted to primary numbers its binlogs its own way; the GTID position still holds.
    const state = { ...(out.state as CaptureState), cursor: "elsewhere-bin.000042:4" };
    const { ids } = await resume(database, state, [2]);
    expect(ids).toEqual([2]);
  }, 180_000);

  it("resumes older states that carry only a file and offset, and records a GTID from then on", async () => {
    const database = `filepos_${suffix()}`;
    const out = await capturedOnce(database, [1]);
    const { gtid: _dropped, ...old } = out.state as CaptureState;
    expect(old.cursor).toMatch(/^binlog\.\d+:\d+$/);
    await db.query(`INSERT INTO ${database}.t VALUES (2, 0)`);
    await db.query("FLUSH BINARY LOGS");
    await db.query(`INSERT INTO ${database}.t VALUES (3, 0)`);
    const res = new MemoryOutput(structuredClone(old));
    const cap = startCapture(configFor(db), [{ namespace: database, stream: "t" }], res);
    try {
      await res.until(() => [2, 3].every((id) => res.committed.some((d) => d.doc.id === id)), 60_000, "rows 2 and 3");
      expect(res.committed.map((d) => d.doc.id)).toEqual([2, 3]);
      // Idle at the binlog end, the capture learns the GTID position there (heartbeat: 1 s in tests).
      await res.until(() => (res.state as CaptureState).gtid !== undefined, 60_000, "a GTID in the state");
      const [{ g }] = await db.query(`SELECT @@GLOBAL.gtid_binlog_pos AS g`);
      expect((res.state as CaptureState).gtid).toBe(g);
    } finally {
      await cap.stop();
    }
  }, 180_000);

  it("names the saved GTID position and the way out when its binlogs were purged", async () => {
    const database = `purged_${suffix()}`;
    const out = await capturedOnce(database, [1]);
    const state = out.state as CaptureState;
    // Changes the capture has not read, then their binlog purged.
    await db.query(`INSERT INTO ${database}.t VALUES (2, 0)`);
    await purgeAllButCurrent();
    const res = new MemoryOutput(structuredClone(state));
    const cap = startCapture(configFor(db), [{ namespace: database, stream: "t" }], res);
    await cap.done.catch(() => {});
    const msg = String((cap.error as Error)?.message);
    expect(msg).toContain(`(GTID position ${state.gtid}, binlog ${state.cursor!.replace(/:(\d+)$/, " at $1")}) is no longer on the server`);
    expect(msg).toContain("increment each binding's `backfill` counter");
    expect(msg).toContain("flowctl catalog publish");
    expect(res.committed.some((d) => d.doc.id === 2)).toBe(false);
  }, 180_000);

  it("names the saved file and offset when a state without GTID points into purged binlogs", async () => {
    const database = `purgedfp_${suffix()}`;
    const out = await capturedOnce(database, [1]);
    const { gtid: _dropped, ...old } = out.state as CaptureState;
    await db.query(`INSERT INTO ${database}.t VALUES (2, 0)`);
    await purgeAllButCurrent();
    const res = new MemoryOutput(structuredClone(old));
    const cap = startCapture(configFor(db), [{ namespace: database, stream: "t" }], res);
    await cap.done.catch(() => {});
    const msg = String((cap.error as Error)?.message);
    expect(msg).toContain(`(${old.cursor!.replace(/:(\d+)$/, " at $1")}) is no longer on the server`);
    expect(msg).toContain("Re-backfill every binding of the capture");
  }, 180_000);
});
