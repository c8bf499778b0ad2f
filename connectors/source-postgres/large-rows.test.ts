/**
 * One very large row costs work linear in its size, in the backfill (COPY
 * text split into rows) and in the change stream (CopyData frames split out
 * of the replication socket): a 16 MB row may cost about four times a 4 MB
 * one, not sixteen. The readers count the bytes they scan or copy, so the
 * assertions are exact rather than timings on a shared machine.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { startPgCluster, type PgCluster } from "../../test/support/pg-cluster.js";
import { normalizeConfig } from "./config.js";
import { connect } from "./connection.js";
import { copyQuery } from "./backfill.js";
import { ReplicationStream } from "./replication-stream.js";
import { readTuple, type TupleValue } from "./pgoutput.js";

let pg: PgCluster;
const db = "large_rows";
const MB = 1 << 20;
const SIZES = [4 * MB, 16 * MB];

beforeAll(async () => {
  pg = await startPgCluster();
  await pg.createDatabase(db);
  await pg.query(db, `CREATE TABLE big (id int PRIMARY KEY, v text)`);
  await pg.query(db, `CREATE PUBLICATION pub FOR TABLE big`);
});
afterAll(async () => {
  await pg?.stop();
});

const config = () => normalizeConfig({ address: `${pg.host}:${pg.port}`, database: db, user: pg.user, sslmode: "disable", slot: "big_slot", publication: "pub" });

/** Inserts row `id` holding `bytes` of hex text (incompressible enough to be stored and sent in full). */
async function insertBig(id: number, bytes: number): Promise<void> {
  await pg.query(db, `INSERT INTO big SELECT $1, substr(string_agg(md5(g::text), ''), 1, $2) FROM generate_series(1, $2 / 32 + 1) g`, [id, bytes]);
}

it("backfill: reading one row costs work linear in its size", async () => {
  const work: number[] = [];
  for (const [i, size] of SIZES.entries()) {
    await insertBig(i + 1, size);
    const client = await connect(config());
    try {
      const w = { bytes: 0 };
      let length = -1;
      const t0 = performance.now();
      const rows = await copyQuery(client, `SELECT id, v FROM big WHERE id = ${i + 1}`, (vals) => void (length = vals[1]!.length), w);
      const ms = performance.now() - t0;
      expect(rows).toBe(1);
      expect(length).toBe(size);
      // Each byte scanned once for a newline and copied once when the row is joined.
      expect(w.bytes).toBeLessThanOrEqual(2 * (size + 64));
      work.push(w.bytes);
      console.log(`backfill row of ${size / MB} MB: ${Math.round(ms)} ms, ${w.bytes} bytes of work`);
    } finally {
      await client.end();
    }
  }
  expect(work[1] / work[0]).toBeLessThan(4.5);
});

it("change stream: receiving one row costs work linear in its size", async () => {
  const work: number[] = [];
  for (const [i, size] of SIZES.entries()) {
    const slot = `big_slot_${i}`;
    await pg.query(db, `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    await insertBig(10 + i, size);
    const client = await connect(config(), { replication: true });
    const stream = ReplicationStream.start(client, { slot, publication: "pub", startLsn: 0n });
    try {
      const vals: TupleValue[] = [];
      const t0 = performance.now();
      let inserted = -1;
      for (;;) {
        const m = await stream.next();
        if (!m) throw new Error("the replication stream ended early");
        if (m.buf[m.off] === 0x49 /* I */) {
          readTuple(m.buf, m.off + 6, vals);
          inserted = (vals[1] as string).length;
        }
        if (m.buf[m.off] === 0x43 /* C */ && inserted >= 0) break;
      }
      const ms = performance.now() - t0;
      expect(inserted).toBe(size);
      // Every byte from the socket is looked at once and copied at most twice (a partial frame's head, then the join).
      expect(stream.workBytes).toBeLessThanOrEqual(3 * size + 64 * 1024);
      work.push(stream.workBytes);
      console.log(`stream row of ${size / MB} MB: ${Math.round(ms)} ms, ${stream.workBytes} bytes of work`);
    } finally {
      await stream.close();
    }
  }
  expect(work[1] / work[0]).toBeLessThan(4.5);
});
