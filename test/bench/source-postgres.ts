/**
 * source-postgres throughput beside the raw ceilings, measured in the same run
 * on a throwaway cluster (or SOURCE_PG_URL):
 *
 *  - Backfill of BENCH_ROWS rows (default 1,000,000; 8 columns, ~390 bytes
 *    as text, like ceilings.md) against `COPY (SELECT * FROM bench) TO
 *    STDOUT` of the same table.
 *  - Change stream of BENCH_UPDATES updates (default 500,000) in
 *    transactions of BENCH_TXN rows (1,000) against pg_recvlogical reading
 *    a pgoutput slot over the same WAL. Each consumer runs alone.
 *
 * The main rows run the connector as users do: `tributary run
 * source-postgres` with FLOW_RUNTIME_CODEC=proto (its image's label), given
 * one framed capture.Request.Open built the way the harness builds a task
 * (Spec, Validate, Apply), its framed responses read from stdout and each
 * Checkpoint acknowledged as Flow's runtime does. So the figures include the
 * SDK, the protobuf codec and the stdio transport. The driver decodes only
 * what it needs (Captured frames are counted from their headers), so it
 * costs little CPU beside the connector; its CPU time is printed to show it.
 * Peak RSS is the connector process's VmHWM. The in-process rows show the
 * connector's own cost, without a transport or a second process. Each row
 * also gives CPU seconds per document (the connector process from its first
 * document for stdio; this process for in-process), steadier than wall time
 * on a loaded machine.
 *
 * Where the backfill's time over stdio went (issue 17, CPU profiles of the
 * connector, 300k rows, machine at load 10-20 on 2 cores):
 *  - The connector was idle about half the time, and 1.6 s of a 5.5 s
 *    backfill was waiting for stdout's 'drain' after each 1 MiB batch (152
 *    waits for 152 batches): the connector stopped until the reader had
 *    emptied the pipe, then the reader waited for the next batch. The stdio
 *    sink now keeps up to 2 MiB in flight (write callbacks), so both work
 *    at once; memory stays bounded (test/transport/stdio-backpressure.test.ts).
 *  - Every batch grew its buffer from 1 MiB to 2 MiB for its last message
 *    (a 1 MiB copy per batch, ~5 %); every row awaited the SDK's settled
 *    SENT (a microtask turn per row); every document built a Response and a
 *    Captured object that the metrics wrapper and the framer inspected.
 *    Gone: batches start at 2 MiB, SENT is not awaited, documents reach the
 *    stdio sink as (binding, text) through ResponseSink.sendCaptured.
 *  - Left, per document: the COPY text parser and value conversion (the
 *    in-process cost, ~3 µs/doc), flattening the document string built by
 *    concatenation and its UTF-8 length for the metrics (~14 % of busy
 *    time), the UTF-8 write into the batch (~8 %), GC (~14 %), and the
 *    write(2)s of 156 MB (~5 %). The driver scans frames in place (it
 *    used to cut a subarray per frame).
 *
 * The byte path (issue 17, second round): the backfill no longer makes a JS
 * string per value or per document. connectors/source-postgres/copy-out.ts
 * strips the CopyData headers in place in the socket's buffer (pg-copy-streams
 * cut a buffer per row and re-copied every read into a zero-filled one), and
 * document-bytes.ts writes each document as UTF-8 JSON straight from the COPY
 * text bytes into 256 KiB chunks, sent as RawJsonBytes, which the stdio sink
 * copies into the frame as they are (nothing to flatten, measure or encode).
 * Where the connector's time goes now (profile, 300k rows, load ~10 on 2
 * cores, 0.73 s of busy JS time after start-up): GC ~15 %, the document
 * writer ~14 %, write(2) into the pipe ~10 %, and the rest spread thin
 * (socket reads, out.document(), framing, ~2 % each). Connector CPU per
 * document over stdio, same runs back to back at the default sizes:
 * 3.6 → 1.8 and 3.4 → 2.0 µs, ratio to COPY 0.37 → 0.77 and 0.40 → 0.73
 * (1M rows, load ~10; the README's benchmark section has the table).
 * Tried and dropped: reusing each written 2 MiB batch buffer for the next
 * batch (pipes to stdout are written synchronously on Linux, so it looked
 * safe) made the driver's CPU 3-4x (0.2 → 0.7 s at 300k rows, 2.4 s at
 * 1M) and the ratio fell (0.71 → 0.46 back to back): not kept, unexplained.
 */
import { spawn } from "node:child_process";
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { startPgCluster } from "../support/pg-cluster.js";
import { buildCapture, catalogFromObject } from "../../src/harness/index.js";
import connector from "../../connectors/source-postgres/connector.js";
import { createLogger } from "../../src/log.js";
import { report } from "./_measure.js";
import { inProcess, StdioCapture } from "./_stdio-capture.js";

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const UPDATES = Number(process.env.BENCH_UPDATES ?? 500_000);
const TXN = Number(process.env.BENCH_TXN ?? 1_000);
const BIN = process.env.PG_BIN_DIR ?? "/usr/lib/postgresql/15/bin";
const DB = "bench_source_pg";
/** CPU seconds and microseconds per document. */
const perDoc = (seconds: number, docs: number) => `${seconds.toFixed(1)} s (${((seconds / Math.max(1, docs)) * 1e6).toFixed(1)} µs/doc)`;
const BINDINGS = [{ namespace: "public", stream: "bench" }];
const cluster = await startPgCluster({ settings: { max_wal_size: "4GB", checkpoint_timeout: "30min" } });
try {
  await cluster.createDatabase(DB);
  const sql = new pg.Client({ connectionString: cluster.urlFor(DB) });
  await sql.connect();
  await sql.query(`CREATE TABLE bench (
      id bigint PRIMARY KEY, name text NOT NULL, price float8, active bool, created_at timestamptz,
      qty int, category text, doc jsonb)`);
  process.stdout.write(`loading ${ROWS.toLocaleString("en-US")} rows...\n`);
  await sql.query(
    `INSERT INTO bench SELECT g, 'widget number ' || g, g * 1.37, g % 2 = 0, '2024-01-01'::timestamptz + g * interval '1 second', g % 1000,
            (ARRAY['tools','garden','kitchen','toys'])[g % 4 + 1],
            jsonb_build_object('sku', 'SKU-' || g, 'tags', jsonb_build_array('a', 'b', 'c'), 'note',
              'The quick brown fox jumps over the lazy dog while the widget factory hums along, batch ' || g,
              'dims', jsonb_build_object('w', g % 100, 'h', g % 37, 'd', g % 11), 'flags', jsonb_build_object('new', true, 'sale', false),
              'supplier', 'Acme Widgets International ' || (g % 50))
       FROM generate_series(1, $1::int) g`,
    [ROWS],
  );
  await sql.query(`VACUUM ANALYZE bench`);

  // Ceiling: COPY of the same rows, in whatever order a sequential scan gives (the fastest raw read).
  let copyBytes = 0;
  let t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const s = sql.query(copyTo(`COPY (SELECT * FROM bench) TO STDOUT`));
    s.on("data", (b: Buffer) => (copyBytes += b.length));
    s.on("end", () => resolve());
    s.on("error", reject);
  });
  const copySeconds = (performance.now() - t0) / 1000;

  const config = {
    address: `${cluster.host}:${cluster.port}`, database: DB, user: cluster.user, sslmode: "disable",
    slot: "bench_slot", publication: "bench_pub", heartbeat_interval_seconds: 30,
  };
  // The task as the harness builds it (Spec, Validate, Apply through the
  // connector), with the collection the connector discovers for the table.
  const quiet = createLogger({ level: "warn" });
  const discovered = (await connector.discover(config as any, { log: quiet, signal: new AbortController().signal })).find(
    (b) => (b.resourceConfig as any).stream === "bench",
  )!;
  const built = await buildCapture(
    catalogFromObject({
      collections: { "bench/bench": { schema: discovered.documentSchema, key: discovered.key } },
      captures: {
        "bench/pg": {
          endpoint: { connector: { image: "ghcr.io/estuary/source-postgres:dev", config } },
          bindings: [{ resource: discovered.resourceConfig, target: "bench/bench" }],
        },
      },
    }),
    "bench/pg",
    { log: quiet, logLevel: "warn" },
  );
  const stateKey = built.spec.bindings[0]!.stateKey;

  const fill = new StdioCapture(built, {}, "source-postgres");
  await fill.until(() => fill.committedCount >= ROWS && fill.state.bindingStateV1?.[stateKey]?.mode === "active", 600_000, "backfill");
  const fillEnd = performance.now();
  const fillRss = fill.peakRssMb();
  const fillCpu = fill.driverCpuSeconds();
  const fillConnCpu = fill.connectorCpuSeconds();
  await fill.stop();
  // From the first document: start-up (process, connections, slot creation) is reported apart.
  const fillSeconds = (fillEnd - fill.firstDocAt) / 1000;
  const startup = (fill.firstDocAt - fill.startedAt) / 1000;
  report(
    "backfill, tributary run (proto over stdio)",
    { docs: fill.committedCount, bytes: fill.committedBytes, seconds: fillSeconds },
    { docs: ROWS, bytes: copyBytes, seconds: copySeconds },
    `start-up ${startup.toFixed(2)} s | peak RSS ${fillRss.toFixed(0)} MB | connector CPU ${perDoc(fillConnCpu, fill.committedCount)} | driver CPU ${fillCpu.toFixed(1)} s`,
    fillRss,
  );
  const fillIn = await inProcess(connector, { ...config, slot: "bench_slot_in" }, BINDINGS, {}, (_n, u) => u.bindingStateV1?.["public%2Fbench"]?.mode === "active");
  report("backfill, in-process count-only sink", fillIn, { docs: ROWS, bytes: copyBytes, seconds: copySeconds }, `CPU ${perDoc(fillIn.cpu, fillIn.docs)}`);

  // The change stream: both consumers read the same WAL, one at a time.
  await sql.query(`SELECT pg_create_logical_replication_slot('bench_recv', 'pgoutput')`);
  await sql.query(`SELECT pg_drop_replication_slot('bench_slot_in')`);
  await sql.query(`SELECT pg_create_logical_replication_slot('bench_slot_in', 'pgoutput')`);
  const state = fill.state;
  process.stdout.write(`writing ${UPDATES.toLocaleString("en-US")} updates...\n`);
  for (let first = 1; first <= UPDATES; first += TXN) {
    await sql.query(`UPDATE bench SET qty = qty + 1 WHERE id BETWEEN $1 AND $2`, [((first - 1) % ROWS) + 1, ((first - 1) % ROWS) + Math.min(TXN, UPDATES - first + 1)]);
  }
  const endpos = (await sql.query(`SELECT pg_current_wal_lsn()::text AS l`)).rows[0].l;

  t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const p = spawn(`${BIN}/pg_recvlogical`, [
      "-h", cluster.host, "-p", String(cluster.port), "-U", cluster.user, "-d", DB, "--slot", "bench_recv", "--start",
      "-o", "proto_version=1", "-o", "publication_names=bench_pub", "--endpos", endpos, "-f", "/dev/null", "--no-loop",
    ], { stdio: ["ignore", "inherit", "inherit"] });
    p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`pg_recvlogical exited ${code}`))));
  });
  const recvSeconds = (performance.now() - t0) / 1000;

  const stream = new StdioCapture(built, state, "source-postgres");
  await stream.until(() => stream.committedCount >= UPDATES, 600_000, "the updates");
  // From process start: pg_recvlogical's time includes its start-up too.
  const streamSeconds = (performance.now() - stream.startedAt) / 1000;
  const streamRss = stream.peakRssMb();
  const streamCpu = stream.driverCpuSeconds();
  const streamConnCpu = stream.connectorCpuSeconds();
  await stream.stop();
  report(
    "change stream, tributary run (proto over stdio)",
    { docs: stream.committedCount, bytes: stream.committedBytes, seconds: streamSeconds },
    { docs: UPDATES, bytes: 0, seconds: recvSeconds },
    `peak RSS ${streamRss.toFixed(0)} MB | connector CPU ${perDoc(streamConnCpu, stream.committedCount)} | driver CPU ${streamCpu.toFixed(1)} s (ceiling MB/s not measured: pg_recvlogical writes binary pgoutput)`,
    streamRss,
  );
  const streamIn = await inProcess(connector, { ...config, slot: "bench_slot_in" }, BINDINGS, state, (n) => n >= UPDATES);
  report("change stream, in-process count-only sink", streamIn, { docs: UPDATES, bytes: 0, seconds: recvSeconds }, `timed from the first document | CPU ${perDoc(streamIn.cpu, streamIn.docs)}`);
  await sql.end();
} finally {
  await cluster.stop();
}
