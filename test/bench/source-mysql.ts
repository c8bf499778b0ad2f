/**
 * source-mysql throughput beside the raw ceilings, measured in the same run
 * on a throwaway MariaDB with row binlogs (test/support/mariadb-server.ts):
 *
 *  - Backfill of BENCH_ROWS rows (default 1,000,000; 8 columns, ~390 bytes
 *    of JSON per document, the source-postgres bench's table) against
 *    `SELECT *` of the same table streamed by mysql2 (text protocol, rows
 *    as arrays; MB/s counted as bytes read from the socket).
 *  - Change stream of BENCH_UPDATES updated rows (default 500,000) in
 *    transactions of BENCH_TXN rows (1,000) against @vlasky/zongji alone
 *    reading the same binlog span (the library the connector uses, with
 *    the same options, counting rows). Each consumer runs alone.
 *
 * The connector runs as users run it: `tributary run source-mysql` over
 * protobuf stdio, acknowledged like Flow's runtime (see _stdio-capture.ts);
 * the in-process rows show its own cost without a transport.
 * BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles it.
 * Each row also prints CPU per document beside the ceiling's (connector
 * process from its first document; in-process rows and ceilings by
 * process.cpuUsage), which the machine's load moves far less than docs/s.
 *
 * Where the time goes. Change stream, before the smysql change (stdio profile, 200k updates): zongji's
 * row decoding ~33% of the connector's busy CPU (a zero-padded string per DATETIME piece, a DataView per
 * DOUBLE, a UTF-8 string per text value), the RowEncoder turning those values back into a document string
 * ~12%, the stdio sink measuring (metrics byteLength) and encoding that string ~9%, GC ~15%. Now zongji
 * only finds each row image's extent (row-image.ts; types without a fast path are still decoded by it) and
 * the document is written from the image's bytes as UTF-8 (RawJsonBytes: stdio copies it into the frame).
 * Backfill: mysql2's string per value ~12%, the RowEncoder ~13%, the sink's byteLength ~12% and UTF-8 write
 * ~5%; now each row's packet is written as JSON bytes (text-rows.ts; mysql2's parser kept for rows and
 * tables the fast path cannot vouch for). Left: the frame copy and pipe writes (src/transport), mysql2's
 * packet framing, GC, and in the stream zongji's event framing and the row-extent walk.
 *
 * Figures, defaults (1M rows, 500k updates), 2 cores, load 8-11, main then smysql back to back; docs/s
 * ratio to the same-run ceiling (which under this load is the scheduler's share more than anything), then
 * connector CPU per document against the ceiling's:
 *   backfill stdio       0.37 -> 0.40,  3.8 -> 2.5 µs/doc (ceiling 1.2-1.3)
 *   backfill in-process  0.87 -> 0.60,  1.9 -> 2.1 µs/doc (before: the count-only sink never flattened or
 *                        encoded the document string, so it did not pay for the document at all)
 *   stream stdio         0.32 -> 0.49, 16.1 -> 9.2 µs/doc (ceiling 6.7-7.0)
 *   stream in-process    0.40 -> 0.82, 10.4 -> 6.9 µs/doc
 *   peak RSS (stdio)     126/157 -> 130/159 MB
 * Again at defaults, load 11-12: backfill stdio 0.19 -> 0.22, 3.5 -> 3.3 µs/doc (ceiling 1.1-1.2); in-process
 * 2.0 -> 3.5 µs/doc; stream stdio 0.33 -> 0.69, 16.9 -> 8.5 µs/doc (ceiling 7.1-7.6); in-process 12.0 -> 8.4.
 * At 300k rows / 200k updates (load 8-10, back to back): backfill stdio 0.44 -> 0.64, 3.9 -> 3.4 µs/doc;
 * stream stdio 0.47 -> 1.06, 16.4 -> 8.8 µs/doc (ceiling 8.0-8.6).
 * The in-process backfill now pays for its documents (written as bytes) and for their 256 KiB chunks, which
 * are external memory to V8: this process's larger heap makes the GC they trigger dearer than in the
 * connector's own process (chunk sizes of 64 KiB and 1 MiB measured the same).
 *
 * The driver (this process, playing Flow's runtime), smysql round 2: it took 0.4-2.3 s of CPU per million
 * documents, bimodally. --trace-gc showed why: in the slow runs V8 ran an "external memory pressure"
 * mark-compact every ~100 ms (~45 per backfill against 2-5), set off by Node's new 64 KiB buffer per pipe
 * read plus the frame scanner's Buffer.concat of each unread tail with the whole next read (another 64 KiB).
 * The JS itself (scanning frames, reading doc_json's length) was ~0.25 s. Now the connector's stdout is a real
 * pipe (spawn's "pipe" is a socket pair; Flow's runtime gives a pipe) read through net.Socket's `onread` into
 * one buffer, and only frames that span reads are copied (_pipe.ts, _frame-scanner.ts): 0.2-0.3 s per million
 * documents in every run, backfill and stream. On two cores that CPU went to MariaDB and the connector.
 * BENCH_ONLY=backfill-stdio stops after the stdio backfill row (the quick loop for backfill work).
 * BENCH_CHUNK sets the connector's backfill_chunk_size (default: the connector's, 50,000 rows).
 * The backfill's DOUBLE text is now copied from the packet when the converter would keep it (text-rows.ts).
 * Connector profile of the backfill now (1M rows, ~1.8 s busy): writing JSON from row packets ~60% (the JSON
 * column's UTF-8 check and copy, DATETIME per minute, the rest per column), the SDK, metrics and frame copy
 * ~18%, GC ~14%, mysql2's packet framing ~5-10%; while the pipe is full it waits (0.6-1.6 s per run under
 * load 4-7, the reader not scheduled), which is most of its idle time.
 *
 * Figures, smysql round 2, defaults, load 6-9 (other helpers' benchmarks), main and this branch alternated,
 * three runs each (medians first): backfill stdio ratio 0.36 -> 0.63 (0.31/0.36/0.56 -> 0.63/0.68/0.46),
 * connector 2.2-2.3 -> 1.9-2.2 µs/doc (ceiling 0.9-1.0), driver 0.5-2.2 -> 0.2 s; stream stdio 0.76 -> 0.89
 * (0.76/0.80/0.66 -> 1.13/0.74/0.89), connector 6.5-7.2 -> 6.3-7.3 µs/doc (ceiling 5.8-6.1), driver 1.6-1.8 ->
 * 0.2-0.3 s; peak RSS 128-130 / 156-159 -> 130-142 / 157-162 MB. Tried and dropped: reusing the stdio sink's
 * 2 MiB batch buffers once written (more mark-compacts, not fewer, and +24 MB RSS) and a larger write queue
 * (8 MiB: 3.7 µs/doc, GC).
 *
 * smysql round 3 (the connector's CPU per row). Profile before (1M rows, ~3.3 s busy under load 9): writeProps
 * with what it inlines 0.70 s, most of it the per-value DocBytes calls (a room check, loads and stores of
 * pos each) and byte loops copying column heads and short values; DATETIME's cached minute 0.19 s; a Buffer's
 * subarray() (its FastBuffer species constructor) plus _copyActual and isUtf8 ~0.35 s for the views of the
 * JSON column (checked, then copied) and of the finished document; GC 0.36 s; frameDocProto 0.13 s; mysql2
 * ~0.35 s. Now (text-rows.ts): room is made once per row and values are written with locals; column heads
 * and short values are stored 4 bytes at a time through DataViews (heads: 58 against 130 ns per row); JSON
 * values are checked as UTF-8 once per document, on the view the document needs anyway (exact: every value
 * sits between ASCII bytes; a test corrupts JSON bytes in real packets); the document and long copies are
 * plain Uint8Array views; the row's `_meta` tail is one copy. Profile after (~2.1 s busy, load 5): text-rows
 * ~0.65 s, GC ~0.2-0.3 s, frameDocProto's copy into the frame ~0.1-0.15 s, mysql2 ~0.3 s, the document's
 * view ~0.06 s, the per-minute DATETIME conversion (timezone.ts) ~0.08 s.
 * Figures, defaults, BENCH_ONLY=backfill-stdio, load 3.6-5.7, round 2's head and this alternated, five runs
 * each (medians first): connector 2.16 -> 1.89 µs/doc (2.13/2.20/2.16/2.06/2.16 -> 2.82/1.84/1.89/1.95/1.72;
 * the 2.82 run peaked at 150 MB RSS, a backed-up pipe; ceiling 0.88-1.08), same-run ratio 0.57 -> 0.64
 * (0.59/0.57/0.47/0.60/0.57 -> 0.61/0.64/0.70/0.51/0.70); peak RSS 126-140 -> 126-150 MB. Under this load the
 * ratio is the scheduler's share as much as CPU; the 0.75 is not reached: the connector still spends about
 * twice the raw driver's CPU per row.
 *
 * smysql round 4. Profile before: SDK, metrics and framer ~0.33 µs/doc, the document's view and UTF-8 check
 * ~0.12, the once-a-minute DATETIME conversion ~0.2 averaged (21-36 µs a call in place: V8's incremental
 * marking lands on the backfill's only JS allocations). Now documents go to the SDK in ~64 KiB batches
 * (sendDocuments; stdio frames a batch in one pass), JSON values are copied and checked as ASCII 8 bytes at
 * a time, and DATETIME heads are words, patched per minute within an hour in whole-hour fixed zones.
 * Figures, defaults, BENCH_ONLY=backfill-stdio, load 3.1-4.5, base and this alternated, three runs each:
 * connector 2.40/2.30/2.29 -> 1.95/1.83/1.82 µs/doc (ceiling 1.19-1.45), same-run ratio 0.51/0.70/0.52 ->
 * 0.80/0.77/0.80, peak RSS 126-127 -> 125-127 MB.
 */
import mysql from "mysql2";
import ZongJi from "@vlasky/zongji";
import { startMariaDb } from "../support/mariadb-server.js";
import { buildCapture, catalogFromObject } from "../../src/harness/index.js";
import connector from "../../connectors/source-mysql/connector.js";
import { parseCursor } from "../../connectors/source-mysql/capture.js";
import { createLogger } from "../../src/log.js";
import { report } from "./_measure.js";
import { inProcess, StdioCapture } from "./_stdio-capture.js";

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const UPDATES = Number(process.env.BENCH_UPDATES ?? 500_000);
const TXN = Number(process.env.BENCH_TXN ?? 1_000);
const CHUNK = process.env.BENCH_CHUNK ? Number(process.env.BENCH_CHUNK) : undefined;
const DB = "bench_source_mysql";
const BINDINGS = [{ namespace: DB, stream: "bench" }];

/** Streams every row of `sql` through mysql2 and returns rows, wire bytes and seconds. */
function rawSelect(opts: mysql.ConnectionOptions, sql: string): Promise<{ docs: number; bytes: number; seconds: number; cpu: number }> {
  return new Promise((resolve, reject) => {
    const c = mysql.createConnection(opts);
    const socket = () => (c as any).stream as { bytesRead: number };
    let rows = 0;
    let startBytes = 0;
    let t0 = performance.now();
    let cpu0 = process.cpuUsage();
    c.connect((err) => {
      if (err) return reject(err);
      startBytes = socket().bytesRead;
      t0 = performance.now();
      cpu0 = process.cpuUsage();
      c.query({ sql, rowsAsArray: true })
        .on("result", () => void rows++)
        .on("error", reject)
        .on("end", () => {
          const seconds = (performance.now() - t0) / 1000;
          const cpu = process.cpuUsage(cpu0);
          const bytes = socket().bytesRead - startBytes;
          c.end();
          resolve({ docs: rows, bytes, seconds, cpu: (cpu.user + cpu.system) / 1e6 });
        });
    });
  });
}

/** @vlasky/zongji alone from `from` until `rows` updated rows were decoded: rows and seconds. */
function rawBinlog(opts: { host: string; port: number; user: string }, from: { file: string; pos: number }, rows: number): Promise<{ docs: number; bytes: number; seconds: number; cpu: number }> {
  return new Promise((resolve, reject) => {
    const z = new ZongJi({ ...opts, dateStrings: true, timezone: "Z", jsonStrings: true, supportBigNumbers: true, bigNumberStrings: true });
    let n = 0;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    z.on("binlog", (e: any) => {
      if (e.getEventName() !== "updaterows") return;
      n += e.rows.length;
      if (n >= rows) {
        const seconds = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        z.stop();
        resolve({ docs: n, bytes: 0, seconds, cpu: (cpu.user + cpu.system) / 1e6 });
      }
    });
    z.on("error", reject);
    z.start({ serverId: 4242, filename: from.file, position: from.pos, includeEvents: ["tablemap", "updaterows", "xid", "rotate"] });
  });
}

/**
 * CPU per document beside the ceiling's: wall-clock ratios swing with the machine's load (other processes take
 * the cores), CPU seconds per document much less. The ratio is the ceiling's CPU per document over ours.
 */
function cpuLine(cpu: number, docs: number, ceiling: { cpu: number; docs: number }): string {
  const ours = (cpu / docs) * 1e6;
  const theirs = (ceiling.cpu / ceiling.docs) * 1e6;
  return `CPU ${ours.toFixed(2)} µs/doc, ceiling ${theirs.toFixed(2)} µs/doc, CPU ratio ${(theirs / ours).toFixed(2)}`;
}

const db = await startMariaDb({ args: ["--innodb-buffer-pool-size=256M", "--max-allowed-packet=64M"] });
try {
  await db.createDatabase(DB);
  await db.query(`USE ${DB}; CREATE TABLE bench (
      id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL, price DOUBLE, active BOOL, created_at DATETIME(6),
      qty INT, category VARCHAR(20), doc JSON)`);
  process.stdout.write(`loading ${ROWS.toLocaleString("en-US")} rows...\n`);
  for (let first = 1; first <= ROWS; first += 100_000) {
    const last = Math.min(ROWS, first + 99_999);
    await db.query(
      `USE ${DB}; INSERT INTO bench SELECT seq, CONCAT('widget number ', seq), seq * 1.37, seq % 2 = 0, '2024-01-01' + INTERVAL seq SECOND, seq % 1000,
              ELT(seq % 4 + 1, 'tools', 'garden', 'kitchen', 'toys'),
              JSON_OBJECT('sku', CONCAT('SKU-', seq), 'tags', JSON_ARRAY('a', 'b', 'c'), 'note',
                CONCAT('The quick brown fox jumps over the lazy dog while the widget factory hums along, batch ', seq),
                'dims', JSON_OBJECT('w', seq % 100, 'h', seq % 37, 'd', seq % 11), 'flags', JSON_OBJECT('new', true, 'sale', false),
                'supplier', CONCAT('Acme Widgets International ', seq % 50))
         FROM seq_${first}_to_${last}`,
    );
  }
  await db.query(`ANALYZE TABLE ${DB}.bench`);

  // Ceiling: the raw driver streaming the same rows the connector reads (rows as arrays, no per-row objects).
  const conn = { host: db.host, port: db.port, user: db.user, supportBigNumbers: true, bigNumberStrings: true, dateStrings: true, jsonStrings: true };
  const select = await rawSelect(conn, `SELECT * FROM ${DB}.bench`);

  const config = { address: `${db.host}:${db.port}`, user: db.user, heartbeat_interval_seconds: 30, ...(CHUNK ? { backfill_chunk_size: CHUNK } : {}) };
  const quiet = createLogger({ level: "warn" });
  const discovered = (await connector.discover(config as any, { log: quiet, signal: new AbortController().signal })).find(
    (b) => (b.resourceConfig as any).stream === "bench",
  )!;
  const built = await buildCapture(
    catalogFromObject({
      collections: { "bench/bench": { schema: discovered.documentSchema, key: discovered.key } },
      captures: {
        "bench/mysql": {
          endpoint: { connector: { image: "ghcr.io/tributary-dev/source-mysql:dev", config } },
          bindings: [{ resource: discovered.resourceConfig, target: "bench/bench" }],
        },
      },
    }),
    "bench/mysql",
    { log: quiet, logLevel: "warn" },
  );
  const stateKey = built.spec.bindings[0]!.stateKey;

  const fill = new StdioCapture(built, {}, "source-mysql");
  await fill.until(() => fill.committedCount >= ROWS && fill.state.bindingStateV1?.[stateKey]?.mode === "active", 900_000, "backfill");
  const fillEnd = performance.now();
  const fillRss = fill.peakRssMb();
  const fillCpu = fill.driverCpuSeconds();
  const fillOwnCpu = fill.connectorCpuSeconds();
  await fill.stop();
  const fillSeconds = (fillEnd - fill.firstDocAt) / 1000;
  const startup = (fill.firstDocAt - fill.startedAt) / 1000;
  report(
    "backfill, tributary run (proto over stdio)",
    { docs: fill.committedCount, bytes: fill.committedBytes, seconds: fillSeconds },
    select,
    `start-up ${startup.toFixed(2)} s | peak RSS ${fillRss.toFixed(0)} MB | ${cpuLine(fillOwnCpu, fill.committedCount, select)} | driver CPU ${fillCpu.toFixed(1)} s, ${fill.reads} reads of ${(fill.readBytes / fill.reads / 1024).toFixed(0)} KiB | ceiling MB/s is wire bytes, ours document JSON`,
    fillRss,
  );
  // BENCH_ONLY=backfill-stdio stops here: the quick loop when working on the backfill.
  if (process.env.BENCH_ONLY !== "backfill-stdio") {
    const fillIn = await inProcess(connector, config, BINDINGS, {}, (_n, u) => u.bindingStateV1?.[`${DB}%2Fbench`]?.mode === "active");
    report("backfill, in-process count-only sink", fillIn, select, cpuLine(fillIn.cpu, fillIn.docs, select));

    // The change stream: written once, then read by each consumer alone from the backfill's final position.
    const state = fill.state;
    const from = parseCursor(state.cursor);
    process.stdout.write(`writing ${UPDATES.toLocaleString("en-US")} updates...\n`);
    for (let first = 1; first <= UPDATES; first += TXN) {
      const lo = ((first - 1) % ROWS) + 1;
      await db.query(`UPDATE ${DB}.bench SET qty = qty + 1 WHERE id BETWEEN ? AND ?`, [lo, lo + Math.min(TXN, UPDATES - first + 1) - 1]);
    }
    const raw = await rawBinlog({ host: db.host, port: db.port, user: db.user }, from, UPDATES);

    const stream = new StdioCapture(built, state, "source-mysql");
    await stream.until(() => stream.committedCount >= UPDATES, 900_000, "the updates");
    // From the first document, as the backfill row: the connector's start-up (process, prerequisites, catalog) is printed apart.
    const streamSeconds = (performance.now() - stream.firstDocAt) / 1000;
    const streamStartup = (stream.firstDocAt - stream.startedAt) / 1000;
    const streamRss = stream.peakRssMb();
    const streamCpu = stream.driverCpuSeconds();
    const streamOwnCpu = stream.connectorCpuSeconds();
    await stream.stop();
    report(
      "change stream, tributary run (proto over stdio)",
      { docs: stream.committedCount, bytes: stream.committedBytes, seconds: streamSeconds },
      raw,
      `start-up ${streamStartup.toFixed(2)} s | peak RSS ${streamRss.toFixed(0)} MB | ${cpuLine(streamOwnCpu, stream.committedCount, raw)} | driver CPU ${streamCpu.toFixed(1)} s, ${stream.reads} reads of ${(stream.readBytes / stream.reads / 1024).toFixed(0)} KiB (ceiling MB/s not measured: zongji decodes binary row images)`,
      streamRss,
    );
    const streamIn = await inProcess(connector, config, BINDINGS, state, (n) => n >= UPDATES);
    report("change stream, in-process count-only sink", streamIn, raw, `timed from the first document | ${cpuLine(streamIn.cpu, streamIn.docs, raw)}`);
  }
} finally {
  await db.stop();
}
