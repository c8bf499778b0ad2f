/**
 * materialize-mysql throughput against the local MariaDB, driven over stdio
 * exactly as the runtime drives it, beside raw ceilings measured in the same
 * run on the same data:
 *
 *  - Store: BENCH_DOCS documents (default 1,000,000) of ~300 bytes with 8
 *    fields, in transactions of BENCH_TXN (50,000), half new keys and half
 *    updates. Ceiling: the rows pre-encoded as LOAD DATA text, streamed by
 *    LOAD DATA LOCAL INFILE into a temporary table, merged by one INSERT …
 *    SELECT … ON DUPLICATE KEY UPDATE per transaction. Also measured, as the
 *    alternative the issue asks about: the same rows by multi-row INSERT …
 *    ON DUPLICATE KEY UPDATE (1,000 rows a statement).
 *  - Load: BENCH_LOAD_KEYS (100,000) existing keys in one transaction.
 *    Ceiling: LOAD DATA of the keys into a temporary table and one join.
 *
 * Within each transaction the three store runs take turns going first: the
 * buffer pool (128 MB by default) is far smaller than the tables, so the run
 * right after another's commit pays for flushing its dirty pages, which once
 * made multi-row INSERT look 1.9x faster than LOAD DATA + merge only because
 * it always ran second.
 *
 * Where the time goes (CPU profiles, 2026-12-06): the connector process is
 * idle 72–93 % of the time in both phases. Stores wait on the server's merge
 * (LOAD DATA into the stage ~45 %, INSERT … SELECT … ON DUPLICATE KEY UPDATE
 * ~45 %; emptying the stage by TRUNCATE before BEGIN instead of a DELETE in
 * the transaction saved ~0.2 s of ~3 s per 50,000 rows). Loads: ~1–2 s
 * receiving 100,000 Load frames and staging them, ~1.4 s joining and writing
 * Loaded frames, against ~0.6–1 s for the whole raw ceiling; in-process the
 * connector's own staging equals the raw LOAD DATA and its streamed join
 * (with Loaded encoding) costs 1.0–1.3x the raw buffered join, so the gap is
 * the per-message protocol path (SDK decode and queue, the driver's decode)
 * and scheduling on a saturated machine. Loads in chunks alternating between
 * two connections (join one chunk while staging the next) were measured
 * slower here (more round trips, each costly under load) and left out.
 *
 * MYSQL_URL selects the server (default mysql://root@127.0.0.1:3306/test).
 */
import { Readable } from "node:stream";
import type mysql from "mysql2/promise";
import { adminConn, checkpoint, endpointConfig, materialization, uniqueDatabase } from "../../connectors/materialize-mysql/test-support.js";
import { peakRssMb, report, type Rate } from "./_measure.js";
import { frame, MaterializeDriver } from "./_materialize-driver.js";
import { coll, DOCS, FIELDS, LOAD_KEYS, row, SEED, transactionRows, TXN, type Row } from "./_widgets.js";

const enc = new TextEncoder();
const sqlTime = (iso: string) => iso.replace("T", " ").replace("Z", "");

/** A row as LOAD DATA text (the bench's values need no escapes but the document's backslashes). */
function loadLine(r: Row): string {
  const v = r.values;
  return `${r.id}\t${v[0]}\t${v[1]}\t${v[2]}\t${v[3] ? 1 : 0}\t${sqlTime(v[4] as string)}\t${v[5]}\t${v[6]}\t${r.doc.replace(/\\/g, "\\\\")}\n`;
}
const rowParams = (r: Row) => [r.id, r.values[0], r.values[1], r.values[2], r.values[3] ? 1 : 0, sqlTime(r.values[4] as string), r.values[5], r.values[6], r.doc];

function* chunks(buf: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function loadData(conn: mysql.Connection, table: string, text: string): Promise<void> {
  await conn.query({
    sql: `LOAD DATA LOCAL INFILE 'stream' INTO TABLE ${table} CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'`,
    // Each chunk becomes one protocol packet: keep them well under max_allowed_packet.
    infileStreamFactory: () => Readable.from(chunks(Buffer.from(text), 256 * 1024)),
  });
}

async function main(): Promise<void> {
  const admin = await adminConn();
  const database = uniqueDatabase("bench");
  await admin.query(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4`);
  await admin.query(`USE \`${database}\``);
  const spec = materialization("bench/mat", endpointConfig(database), [
    { resource: { table: "widgets" }, collection: coll, keys: ["id"], values: FIELDS, document: "flow_document" },
  ]);
  const txns = Math.ceil(DOCS / TXN);
  process.stdout.write(`${DOCS.toLocaleString("en-US")} docs in ${txns} transactions of ${TXN.toLocaleString("en-US")}, ${SEED.toLocaleString("en-US")} seeded rows\n`);
  const seedText = Array.from({ length: SEED }, (_, i) => loadLine(row(i + 1, 0))).join("");

  try {
    const d = new MaterializeDriver("materialize-mysql");
    await d.send(frame({ apply: { materialization: spec, version: "v1" } as never }));
    await d.next("applied");
    await loadData(admin, "widgets", seedText);
    await d.send(frame({ open: { materialization: spec, version: "v1", range: { keyBegin: 0, keyEnd: 0xffffffff, rClockBegin: 0, rClockEnd: 0xffffffff } } as never }));
    await d.next("opened");

    // The ceilings' tables: same shape, same seed; their transactions alternate with the connector's.
    const cols = ["id", ...FIELDS, "flow_document"].map((c) => `\`${c}\``).join(", ");
    const updates = [...FIELDS, "flow_document"].map((c) => `\`${c}\` = VALUES(\`${c}\`)`).join(", ");
    for (const t of ["raw", "raw_insert"]) {
      await admin.query(`CREATE TABLE ${t} LIKE widgets`);
      await loadData(admin, t, seedText);
    }
    await admin.query(`CREATE TEMPORARY TABLE raw_stage LIKE widgets`);
    let rawSeconds = 0;
    let insertSeconds = 0;
    let storeSeconds = 0;
    let docBytes = 0;
    for (let t = 0; t < txns; t++) {
      const rows = transactionRows(t, Math.min(TXN, DOCS - t * TXN));
      const text = rows.map(loadLine).join("");
      const frames = rows.map((r) =>
        frame({
          store: { binding: 0, keyJson: enc.encode(`[${r.id}]`), valuesJson: enc.encode(JSON.stringify(r.values)), docJson: enc.encode(r.doc), exists: r.id <= SEED } as never,
        }),
      );
      for (const r of rows) docBytes += r.doc.length;
      const raw = async () => {
        const start = performance.now();
        // Emptied before the transaction (TRUNCATE commits), as the connector does.
        await admin.query("TRUNCATE TABLE raw_stage");
        await admin.query("BEGIN");
        await loadData(admin, "raw_stage", text);
        await admin.query(`INSERT INTO raw (${cols}) SELECT ${cols} FROM raw_stage ON DUPLICATE KEY UPDATE ${updates}`);
        await admin.query("COMMIT");
        rawSeconds += (performance.now() - start) / 1000;
      };
      const insert = async () => {
        const start = performance.now();
        await admin.query("BEGIN");
        for (let i = 0; i < rows.length; i += 1000) {
          const batch = rows.slice(i, i + 1000);
          await admin.query(`INSERT INTO raw_insert (${cols}) VALUES ? ON DUPLICATE KEY UPDATE ${updates}`, [batch.map(rowParams)]);
        }
        await admin.query("COMMIT");
        insertSeconds += (performance.now() - start) / 1000;
      };
      const connector = async () => {
        const start = performance.now();
        await d.send(frame({ acknowledge: {} as never }));
        await d.next("acknowledged");
        await d.send(frame({ flush: {} as never }));
        await d.next("flushed");
        for (let i = 0; i < frames.length; i += 512) await d.send(Buffer.concat(frames.slice(i, i + 512)));
        await d.send(frame({ startCommit: { runtimeCheckpoint: checkpoint(t + 1) } as never }));
        await d.next("startedCommit");
        storeSeconds += (performance.now() - start) / 1000;
      };
      // The order rotates: whichever runs right after another's commit pays for
      // flushing its dirty pages (the buffer pool is far smaller than the tables).
      const order = [raw, insert, connector];
      for (let i = 0; i < order.length; i++) await order[(i + t) % order.length]!();
    }
    const storeRss = peakRssMb(d.pid);

    const loadKeys = Array.from({ length: LOAD_KEYS }, (_, i) => frame({ load: { binding: 0, keyJson: enc.encode(`[${i + 1}]`) } as never }));
    let loaded = 0;
    let loadedBytes = 0;
    const loadStart = performance.now();
    await d.send(frame({ acknowledge: {} as never }));
    await d.next("acknowledged");
    for (let i = 0; i < loadKeys.length; i += 512) await d.send(Buffer.concat(loadKeys.slice(i, i + 512)));
    await d.send(frame({ flush: {} as never }));
    await d.next("flushed", (r) => {
      if (!r.loaded) throw new Error("expected Loaded");
      loaded++;
      loadedBytes += r.loaded.docJson.length;
    });
    const loadSeconds = (performance.now() - loadStart) / 1000;
    const rss = Math.max(storeRss, peakRssMb(d.pid));
    await d.send(frame({ startCommit: { runtimeCheckpoint: checkpoint(txns + 1) } as never }));
    await d.next("startedCommit");
    await d.send(frame({ acknowledge: {} as never }));
    await d.next("acknowledged");
    await d.close();
    if (loaded !== LOAD_KEYS) throw new Error(`loaded ${loaded} of ${LOAD_KEYS} keys`);
    const [[count]] = (await admin.query("SELECT COUNT(*) AS n FROM widgets")) as any;
    if (Number(count.n) !== SEED + DOCS - Math.floor(DOCS / 2)) process.stdout.write(`warning: table has ${count.n} rows\n`);

    const keysText = Array.from({ length: LOAD_KEYS }, (_, i) => `${i + 1}\n`).join("");
    await admin.query("CREATE TEMPORARY TABLE raw_keys (id BIGINT NOT NULL)");
    const rawLoadStart = performance.now();
    await loadData(admin, "raw_keys", keysText);
    const [joined] = (await admin.query({ sql: "SELECT CAST(t.flow_document AS CHAR) FROM raw_keys k JOIN raw t ON t.id = k.id", rowsAsArray: true })) as any;
    const rawLoadSeconds = (performance.now() - rawLoadStart) / 1000;
    const rawLoadBytes = (joined as string[][]).reduce((n, r) => n + r[0]!.length, 0);

    const store: Rate = { docs: DOCS, bytes: docBytes, seconds: storeSeconds };
    report("store", store, { docs: DOCS, bytes: docBytes, seconds: rawSeconds }, `peak RSS ${rss.toFixed(0)} MB`, rss);
    report("raw multi-row INSERT … ON DUPLICATE KEY UPDATE (vs raw LOAD DATA + merge)", { docs: DOCS, bytes: docBytes, seconds: insertSeconds }, { docs: DOCS, bytes: docBytes, seconds: rawSeconds });
    report("load", { docs: loaded, bytes: loadedBytes, seconds: loadSeconds }, { docs: joined.length, bytes: rawLoadBytes, seconds: rawLoadSeconds });
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
    await admin.end();
  }
}

main().catch((err) => {
  process.stderr.write(`materialize-mysql bench failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
