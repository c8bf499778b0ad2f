/**
 * materialize-postgres throughput, driven over stdio exactly as the runtime
 * drives it (framed protobuf requests into `tributary run
 * materialize-postgres`), beside the raw ceiling measured in the same run:
 *
 *  - Store: BENCH_DOCS documents (default 1,000,000) of ~300 bytes with 8
 *    fields, in transactions of BENCH_TXN (50,000), half new keys and half
 *    updates of existing keys. Ceiling: the same rows, pre-encoded as COPY
 *    text, COPY'd into a temp table then merged by one INSERT ... ON CONFLICT
 *    DO UPDATE per transaction.
 *  - Load: BENCH_LOAD_KEYS (100,000) existing keys in one transaction.
 *    Ceiling: COPY the keys into a temp table, ANALYZE, one join.
 *
 * BENCH_ONLY=load measures the load alone: the connector stores as in a
 * full run (so its table, and its code's warmth, are what the load meets
 * in one), the ceiling's store transactions are skipped and its table
 * takes a copy of the connector's (then a CHECKPOINT, so that its join
 * does not write out the copy's pages); no store line is printed. Its
 * ceiling can read higher than a full run's: judge it by CPU per key.
 *
 * Only the time between sending a transaction's first request and
 * receiving its last response counts; building requests does not. PG_URL
 * selects the database (default postgres://postgres@127.0.0.1:5432/test).
 * Each line also gives the connector's CPU seconds, steadier than wall time
 * on a loaded machine.
 *
 * Where the load's time goes. Before (COPY every key into a temp table,
 * ANALYZE, one join, COPY text parsed back into strings): staging ~1.0 s
 * against 75 ms for the ceiling's COPY, the join streamed back as Loaded in
 * ~1.7 s against 0.6-0.9 s for the join alone, the connector idle 60-70% as
 * pipe and PostgreSQL waited on each other. Then keys were joined in chunks
 * while later keys still arrive (the first at 2,048 keys, then whatever
 * gathered while the previous one ran, at most 65,536), each chunk one
 * statement (keys as array literals unnested and joined, no staging table,
 * no ANALYZE), documents read as binary COPY through pg's own parser
 * (copy-out.ts) and put into Loaded frames as bytes. PostgreSQL is not what
 * the load waits for (EXPLAIN ANALYZE of a 60,000-key chunk against the
 * bench's table: a merge join, 37 ms, first row after 8 ms).
 *
 * Profile of that code's load window (100k keys, --cpu-prof-interval 250
 * µs, load average ~6): idle 16%, GC 20%, rows through pg's parser into
 * Loaded frames 23% (Buffer readers and a Buffer per field ~5%), per Load the
 * SDK's loop 12% (the unknown-field walk of every request, classifying it,
 * a Received, a LoadRequest with its key decoded to a string, a queue
 * promise per key), frame decoding 6%, the key literals as a JS string
 * (a rope of 100k concatenations, then encoded again by pg) ~6%. Now:
 * fast-decoded requests skip the unknown-field walk (they cannot carry
 * unknown fields) and the SDK takes buffered Loads without classifying
 * them, handing the transactor batches of key bytes (LoadIterator.batches);
 * integer keys are copied from those bytes into the statement's bytes,
 * sent as one Query message (load-keys.ts); rows are read as spans of the
 * CopyData bytes (binding read in place, one view per document); a chunk
 * that fills up while another runs, and the last one, are sent behind it
 * so PostgreSQL does not wait a round trip. Profile after (300k keys):
 * idle 40%, GC 16%, rows 17% (of which the SDK's loaded() and Loaded
 * framing 10%, pg's parser and events the rest), key ingest ~15% (frames,
 * fast decode ~5%, SDK loop 3%, key bytes 3%), stdout writes 3%. This
 * driver used to decode every Loaded into a message (0.9-1.3 µs/doc on the
 * same cores); it now reads binding and document bytes in place
 * (0.5 µs/doc). Left: pg's parser makes an object, a Buffer and an event
 * per CopyData (one per row); the SDK's loaded() makes a Response per
 * document that the transport then checks field by field (a per-document
 * sink call would skip both, but that is the transport's interface); GC.
 *
 * Where the store's time goes (LOG_LEVEL=debug "stored documents"): staging
 * (arrival of the Stores, decoding, COPY text, COPY) is ~90% of a
 * transaction, the merge ~10%; the connector is idle ~85% of the store
 * window (PostgreSQL's COPY and merge, on a loaded machine, set the pace).
 * Before, per document the connector decoded three byte fields to strings,
 * built a COPY line and pg encoded it back to bytes (Buffer.from ~25% of
 * the connector's store CPU, the escape regex and string joins most of the
 * rest). Now the document's bytes go from the Store frame into 256 KB COPY
 * buffers, escaped in place (copy-bytes.ts; the SDK keeps a Store's
 * document as bytes until docJson is read, docBytes()), and the buffers go
 * to the socket as they are. Profile after (300k docs): keys/values to
 * COPY fields as strings (splitJsonArray, per-field encoding) ~35% of the
 * store loop, the document's escape loop ~20%, decoding/classifying
 * requests ~20%, GC ~10%. Next step: the same byte path for the key and
 * values arrays.
 *
 * Figures, 2026-12-06 23:10 UTC, load average ~10 from other work, runs
 * alternating before/after with this driver (ratio to the same run's
 * ceiling; connector CPU per document; the ceiling's client process spends
 * 0.3-0.4 µs/doc storing and 1.3-1.5 µs/doc loading, PostgreSQL's CPU
 * counted on neither side). 300k docs, twice: store 0.75 → 0.75 and 0.87 →
 * 0.86 at 7.2 → 6.1 and 7.5 → 7.0 µs/doc; load 0.42 → 0.44 and 0.32 → 0.44
 * at 5.4 → 5.1 and 5.7 → 5.0 µs/doc; peak RSS 167 → 127 and 159 → 136 MB.
 * Default sizes (1M docs, 100k loads), once each: store 0.64 → 0.86 at
 * 6.0 → 4.7 µs/doc, peak RSS 177 → 150 MB; load 0.37 → 0.44 at 4.7 → 5.1
 * µs/doc (within this machine's swing).
 * Figures, 2026-12-07 01:20 UTC, keys as bytes, load average 4.3-5.9 from
 * other work, default sizes, main's build and this one alternately, three
 * runs each: load 0.34 / 0.19 / 0.25 → 0.38 / 0.36 / 0.42 (median 0.25 →
 * 0.38) at 4.6 / 5.7 / 4.4 → 4.1 / 3.4 / 4.1 µs/doc, driver 0.5-0.6 µs/doc
 * (decoding every Loaded before: 0.9-1.3); store 0.88 / 0.91 / 0.75 → 0.85
 * / 0.80 / 0.84 at 4.2-4.4 → 3.8-4.1 µs/doc; peak RSS 130-139 → 130-149 MB.
 * BENCH_DOCS=200000 (100k loads of ~230-byte documents), load average
 * 4.5-7.8, alternately, three each: load 0.42 / 0.34 / 0.35 → 0.48 / 0.55
 * / 0.51 (median 0.35 → 0.51) at 4.3 / 4.4 / 4.6 → 3.7 / 3.2 / 3.5 µs/doc.
 * Under such load the ratio follows the CPU both sides spend, PostgreSQL's
 * included (the ceiling's client 1.3 µs/doc, the connector ~3.5 plus this
 * driver's 0.5).
 * The store ratio is bound by PostgreSQL's share of two loaded cores (the
 * connector idles most of the window), the load ratio by the connector's
 * and the bench's CPU per key against the ceiling's single join.
 *
 * Round two (2026-12-07 02:00 UTC): the SDK's loaded() hands binding and
 * bytes to the sink's per-document path (ResponseSink.sendLoaded, framed by
 * stdio straight from them): no Response per Loaded, no field-by-field check
 * of it in the codec. BENCH_DOCS=300000 BENCH_LOAD_KEYS=300000, load average
 * 7-15 (other helpers' work and this helper's tests), main's build, round
 * one's (8229214) and this one alternately, three runs each: load 3.0 / 3.3
 * / 3.1 → 2.1 / 1.8 / 2.1 → 2.0 / 1.9 / 1.9 µs/doc, ratio 0.30 / 0.31 /
 * 0.45 → 0.72 / 0.61 / 0.58 → 0.79 / 0.60 / 0.62 (the ceiling's client 1.0
 * µs/doc, the driver 0.3-0.4); store 5.5 / 6.5 / 5.9 → 5.3 / 5.8 / 5.4 →
 * 5.5 / 5.9 / 5.5 µs/doc at ratio 0.72 / 0.64 / 0.68 → 0.83 / 0.57 / 0.76
 * → 0.72 / 0.69 / 0.71, peak RSS 149-186 → 134-147 → 128-138 MB: nothing in
 * the branch costs the store CPU; its ratio swings with the machine
 * (PostgreSQL's share of the cores), not with the connector. sendLoaded's
 * own gain (~0.1 µs/doc) is inside that swing; the profile shows it.
 * Profile after (200k docs, 300k keys, load average 7-9, the load window,
 * 1.47 s): idle 38%, GC 21%, Buffer views 9% (the frame reader's view per
 * Load request 4.4%, the fast decoder's key view 1.3%, the document view
 * per row 2%, pg's CopyData slice 1.1%), Loaded framing (the copy into the
 * frame) 5.4%, pg's parser and its event per row ~4%, the binary COPY
 * reader 2%, the metrics wrapper's counting 1.8%; the SDK's loaded() and
 * the codec's checks of a Response, 1-2% before, are gone (sendLoaded
 * 0.2%). Left, by size: GC and the Buffer views per Load and per row (a
 * span path from the frame reader through fast decode into the batches,
 * and rows as spans into sendLoaded, would drop three of the four); pg's
 * parser per row (reading CopyData from the socket as
 * source-postgres/copy-out.ts does, with this path's pause and send-ahead).
 *
 * Round three (2026-12-07 04:00-05:00 UTC): pg's parser per row is gone
 * (copy-data-tap.ts reads CopyData from the load connection's socket bytes,
 * every other message goes on to pg). Profile after (300k keys, load
 * average ~4, the load window, 1.17 s): idle 63%, the row path 14% (of
 * which Loaded framing, frameDocProto, 7%: the copy of each document into
 * the frame and its head; the binary COPY reader 2%; the SDK's loaded()
 * and the metrics wrapper ~1.5%), GC 6%, key ingest ~8% (frames, fast
 * decode, the SDK's loop, key bytes). The window is not the main thread's
 * alone: per thread (/proc task stats) at 100k keys the main thread spends
 * 1.4-2.0 µs/key and V8's background threads as much again (optimizing
 * compiles of the cold load path, ~0.1 s; GC helpers, 0.05-0.1 s), and
 * PostgreSQL's backend 2-3 µs/key for the chunk statements (the ceiling's
 * 1.8-2.1 for COPY in, ANALYZE and join; EXPLAIN ANALYZE of a 65,536-key
 * chunk: merge join, 41 ms or 0.6 µs/key, so the join is a third or less
 * of the server's time; measured apart since, per key at 65,536 keys:
 * array literal + unnest 0.15, join and document read 0.7, binary COPY out
 * ~0.2; at 4-30k keys the planner took a parallel plan whose two workers
 * redid the unnest and sort, 1.8 µs/key hidden from the backend's figure,
 * now off in the load transaction; the line counts such workers as
 * "+ workers", from the postmaster's reaped children). Timeline of one 100k-key
 * load (chunks of 2,048, 11,265, 65,536 and 21,151 keys): the keys take
 * ~180 ms to come in while the first chunks' rows go out; the 65,536-key
 * chunk is sent only when it fills (~130 ms in), so PostgreSQL idles
 * between chunks early on; the load ends ~400 ms in against the ceiling's
 * ~190 ms. Left, by size: the cold start (fewer, smaller functions on the
 * load path; or chunks that let PostgreSQL start sooner: 16,384-key chunks
 * measured within the machine's swing), PostgreSQL's own cost per key
 * (keys as a binary int8[] parameter instead of an array literal), and
 * per row the document copy into its Loaded frame and the SDK/metrics
 * layers (a batch sendLoaded per CopyData read).
 *
 * Round six (2026-12-07 07:00-08:00 UTC): the profile of main's build
 * (200k docs, the load window, load average ~3): idle 27%, GC 25%, Loaded
 * framing 14% (frameDocProto: the copy of each document into its frame,
 * slow because the frame writer started each MiB in fresh memory, which on
 * this VM faults a page per 4 KiB at ~15 µs), the rest spread thin; V8's
 * background threads as much CPU as the main thread, mostly recompiling
 * large async functions (the SDK's transactionLoop, the transactor's load())
 * whose per-key loops first ran in the load. After the written-buffer
 * reuse, the per-key loops in small functions and rows framed per socket
 * read (loadedBatch): idle 45%, framing 8%, GC 8%. The line now also
 * counts minor page faults per 1,000 keys: the load's PostgreSQL backend,
 * fresh in the bench, faulted on each shared-buffer page it first read
 * (44-54 per 1,000 keys, 3.6-3.8 µs/key), where the ceiling's backend had
 * touched the table before (5-16); the connector now loads on its one
 * connection, whose backend wrote those pages in the stores (17-18 faults
 * per 1,000 keys, 1.9-2.2 µs/key, as the ceiling). The load line finds
 * that backend by either application name (main's build had a separate
 * "... load" connection).
 */
import { readFileSync } from "node:fs";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { checkpoint, endpointConfig, materialization, PG_URL, uniqueSchema } from "../../connectors/materialize-postgres/test-support.js";
import { cpuSeconds, peakRssMb, report, type Rate } from "./_measure.js";
import { frame, MaterializeDriver } from "./_materialize-driver.js";
import { coll, DOCS, FIELDS, LOAD_KEYS, SEED, transactionRows, TXN, type Row } from "./_widgets.js";

// The runtime's side of the wire, with the codec's fast paths for Store, Load and Loaded.
const enc = new TextEncoder();
const cpuOf = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;
const ONLY = process.env.BENCH_ONLY ?? "";
if (ONLY !== "" && ONLY !== "load") throw new Error(`BENCH_ONLY: "load" or unset, got ${JSON.stringify(ONLY)}`);
const loadOnly = ONLY === "load";

/**
 * CPU seconds of the exited children a backend's parent (the postmaster)
 * has reaped: parallel query workers run as such children, and their CPU
 * is not in the backend's own figure. Machine-wide: any backend that ends
 * in the window counts too, so read it as an upper bound.
 */
function reapedCpu(backendPid: number | undefined): number {
  if (!backendPid) return NaN;
  try {
    const ppid = readFileSync(`/proc/${backendPid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]!;
    const fields = readFileSync(`/proc/${ppid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return NaN;
  }
}

/**
 * CPU seconds of a live process's main thread alone (Linux /proc): the rest
 * of its CPU is V8's background threads (optimizing compiler, GC helpers).
 */
function mainThreadCpu(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/**
 * Minor page faults of a process so far (Linux /proc): first touches of
 * fresh memory. On a VM that hands freed pages back to its host each costs
 * several µs, so they are worth counting beside the CPU.
 */
function minorFaults(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    return Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[7]);
  } catch {
    return NaN;
  }
}

async function seed(client: pg.Client, table: string): Promise<void> {
  await client.query(
    `INSERT INTO ${table} SELECT g, 'widget ' || g, g * 1.5, g % 1000, true, now(), 'tools', 'seed', json_build_object('id', g)
       FROM generate_series(1, ${SEED}) g`,
  );
  await client.query(`VACUUM ANALYZE ${table}`);
}

function copyLine(r: Row): string {
  const v = r.values;
  return `${r.id}\t${v[0]}\t${v[1]}\t${v[2]}\t${v[3]}\t${v[4]}\t${v[5]}\t${v[6]}\t${r.doc.replace(/\\/g, "\\\\")}\n`;
}

async function copyIn(client: pg.Client, sql: string, text: string): Promise<void> {
  const stream = client.query(copyFrom(sql));
  await new Promise<void>((resolve, reject) => {
    stream.on("finish", resolve);
    stream.on("error", reject);
    stream.end(text);
  });
}

/**
 * Frames joined into writes of 512, before the clock starts: the pipe, not
 * the bench's event loop, sets the pace (joining them inside the timed loop
 * left the connector waiting on the bench's copying).
 */
function batches(frames: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < frames.length; i += 512) out.push(Buffer.concat(frames.slice(i, i + 512)));
  return out;
}

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  const schema = uniqueSchema("bench");
  const spec = materialization("bench/mat", endpointConfig(schema), [
    { resource: { table: "widgets" }, collection: coll, keys: ["id"], values: FIELDS, document: "flow_document" },
  ]);
  const table = `${schema}.widgets`;
  const txns = Math.ceil(DOCS / TXN);
  process.stdout.write(`${DOCS.toLocaleString("en-US")} docs in ${txns} transactions of ${TXN.toLocaleString("en-US")}, ${SEED.toLocaleString("en-US")} seeded rows\n`);

  try {
    // ---------------------------------------------------------- connector
    const d = new MaterializeDriver("materialize-postgres");
    await d.send(frame({ apply: { materialization: spec, version: "v1" } as never }));
    await d.next("applied");
    await seed(admin, table);
    await d.send(frame({ open: { materialization: spec, version: "v1", range: { keyBegin: 0, keyEnd: 0xffffffff, rClockBegin: 0, rClockEnd: 0xffffffff } } as never }));
    await d.next("opened");
    const openCpu = cpuSeconds(d.pid);
    // The server processes of both sides, to count PostgreSQL's CPU per document beside each client's (same machine).
    const adminPid = (await admin.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
    const loadPid = (await admin.query("SELECT pid FROM pg_stat_activity WHERE application_name IN ('tributary materialize-postgres load', 'tributary materialize-postgres') ORDER BY backend_start DESC LIMIT 1")).rows[0]?.pid as number | undefined;

    // The ceiling's table: same shape, same seed. Its transactions alternate
    // with the connector's so that both see the same load on a shared machine.
    const raw = `${schema}.raw`;
    await admin.query(`CREATE TABLE ${raw} (LIKE ${table} INCLUDING ALL)`);
    await seed(admin, raw);
    const cols = ["id", ...FIELDS, "flow_document"].map((c) => `"${c}"`).join(", ");
    const updates = [...FIELDS, "flow_document"].map((c) => `"${c}" = EXCLUDED."${c}"`).join(", ");
    await admin.query(`CREATE TEMP TABLE raw_stage ON COMMIT DELETE ROWS AS SELECT * FROM ${raw} WITH NO DATA`);
    let rawSeconds = 0;
    let rawCpu = 0;

    let storeSeconds = 0;
    let docBytes = 0;
    for (let t = 0; t < txns; t++) {
      const rows = transactionRows(t, Math.min(TXN, DOCS - t * TXN));
      if (!loadOnly) {
        const text = rows.map(copyLine).join("");
        const rawStart = performance.now();
        const rawCpuStart = process.cpuUsage();
        await admin.query("BEGIN");
        await copyIn(admin, `COPY raw_stage (${cols}) FROM STDIN`, text);
        await admin.query(`INSERT INTO ${raw} (${cols}) SELECT ${cols} FROM raw_stage ON CONFLICT (id) DO UPDATE SET ${updates}`);
        await admin.query("COMMIT");
        rawSeconds += (performance.now() - rawStart) / 1000;
        rawCpu += cpuOf(process.cpuUsage(rawCpuStart));
      }

      const frames = batches(rows.map((r) =>
        frame({
          store: {
            binding: 0,
            keyJson: enc.encode(`[${r.id}]`),
            valuesJson: enc.encode(JSON.stringify(r.values)),
            docJson: enc.encode(r.doc),
            exists: r.id <= SEED || false,
          } as never,
        }),
      ));
      for (const r of rows) docBytes += r.doc.length;
      const start = performance.now();
      await d.send(frame({ acknowledge: {} as never }));
      await d.next("acknowledged");
      await d.send(frame({ flush: {} as never }));
      await d.next("flushed");
      for (const b of frames) await d.send(b);
      await d.send(frame({ startCommit: { runtimeCheckpoint: checkpoint(t + 1) } as never }));
      await d.next("startedCommit");
      storeSeconds += (performance.now() - start) / 1000;
    }
    const storeRss = peakRssMb(d.pid);

    // Load: existing keys in one transaction.
    const loadKeys = batches(Array.from({ length: LOAD_KEYS }, (_, i) => frame({ load: { binding: 0, keyJson: enc.encode(`[${i + 1}]`) } as never })));
    let loaded = 0;
    let loadedBytes = 0;
    const storeCpu = cpuSeconds(d.pid);
    // Loaded responses read in place as they arrive (binding and document bytes, every field checked).
    d.onLoaded = (_binding, _doc, start, end) => {
      loaded++;
      loadedBytes += end - start;
    };
    const driverCpuStart = process.cpuUsage();
    const serverCpuStart = cpuSeconds(loadPid);
    const workersCpuStart = reapedCpu(loadPid);
    const mainCpuStart = mainThreadCpu(d.pid);
    const faultsStart = minorFaults(d.pid);
    const serverFaultsStart = minorFaults(loadPid);
    const loadStart = performance.now();
    await d.send(frame({ acknowledge: {} as never }));
    await d.next("acknowledged");
    for (const b of loadKeys) await d.send(b);
    await d.send(frame({ flush: {} as never }));
    await d.next("flushed");
    d.onLoaded = undefined;
    const loadSeconds = (performance.now() - loadStart) / 1000;
    const loadCpu = cpuSeconds(d.pid) - storeCpu;
    const serverCpu = cpuSeconds(loadPid) - serverCpuStart;
    const workersCpu = reapedCpu(loadPid) - workersCpuStart;
    const mainCpu = mainThreadCpu(d.pid) - mainCpuStart;
    const faults = minorFaults(d.pid) - faultsStart;
    const serverFaults = minorFaults(loadPid) - serverFaultsStart;
    // This process plays the runtime: sending the Loads and reading every Loaded takes CPU on the same cores.
    const driverCpu = cpuOf(process.cpuUsage(driverCpuStart));
    const rss = Math.max(storeRss, peakRssMb(d.pid));
    // Finish the transaction and stop cleanly, as the runtime would.
    await d.send(frame({ startCommit: { runtimeCheckpoint: checkpoint(txns + 1) } as never }));
    await d.next("startedCommit");
    await d.send(frame({ acknowledge: {} as never }));
    await d.next("acknowledged");
    await d.close();
    if (loaded !== LOAD_KEYS) throw new Error(`loaded ${loaded} of ${LOAD_KEYS} keys`);
    const count = (await admin.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n;
    if (count !== SEED + DOCS - Math.floor(DOCS / 2)) process.stdout.write(`warning: table has ${count} rows\n`);

    // ------------------------------------------------------ raw ceilings

    if (loadOnly) {
      // The ceiling's table takes the rows the connector's stores left.
      await admin.query(`INSERT INTO ${raw} SELECT * FROM ${table} ON CONFLICT (id) DO UPDATE SET ${updates}`);
      await admin.query(`VACUUM ANALYZE ${raw}`);
      // Written out now rather than by the ceiling's join (its buffers would be dirty from the copy, not from its own stores).
      await admin.query("CHECKPOINT");
    }
    const keysText = Array.from({ length: LOAD_KEYS }, (_, i) => `${i + 1}\n`).join("");
    await admin.query(`CREATE TEMP TABLE raw_keys (id BIGINT) ON COMMIT DELETE ROWS`);
    const rawLoadStart = performance.now();
    const rawLoadCpuStart = process.cpuUsage();
    const rawServerCpuStart = cpuSeconds(adminPid);
    const rawWorkersCpuStart = reapedCpu(adminPid);
    const rawServerFaultsStart = minorFaults(adminPid);
    await admin.query("BEGIN");
    await copyIn(admin, "COPY raw_keys (id) FROM STDIN", keysText);
    await admin.query("ANALYZE raw_keys");
    const joined = await admin.query({ text: `SELECT t.flow_document::text FROM raw_keys k JOIN ${raw} t ON t.id = k.id`, rowMode: "array" });
    await admin.query("COMMIT");
    const rawLoadSeconds = (performance.now() - rawLoadStart) / 1000;
    const rawLoadCpu = cpuOf(process.cpuUsage(rawLoadCpuStart));
    const rawServerCpu = cpuSeconds(adminPid) - rawServerCpuStart;
    const rawWorkersCpu = reapedCpu(adminPid) - rawWorkersCpuStart;
    const rawServerFaults = minorFaults(adminPid) - rawServerFaultsStart;
    const rawLoadBytes = joined.rows.reduce((n, r) => n + (r[0] as string).length, 0);

    const store: Rate = { docs: DOCS, bytes: docBytes, seconds: storeSeconds };
    const ceiling: Rate = { docs: DOCS, bytes: docBytes, seconds: rawSeconds };
    // CPU seconds of the connector process (start-up and Apply included in the store's), steadier than wall time under load.
    // CPU µs per document: the connector's own (Open to the last StartedCommit for the store), beside the
    // ceiling's client process (PostgreSQL's CPU, which both spend, is not counted on either side).
    const us = (seconds: number, docs: number) => ((seconds * 1e6) / docs).toFixed(1);
    const perK = (n: number, docs: number) => ((n * 1000) / docs).toFixed(0);
    if (!loadOnly) report("store", store, ceiling, `peak RSS ${rss.toFixed(0)} MB, connector CPU ${(storeCpu - openCpu).toFixed(1)} s = ${us(storeCpu - openCpu, DOCS)} µs/doc, ceiling client ${us(rawCpu, DOCS)} µs/doc`, rss);
    report("load", { docs: loaded, bytes: loadedBytes, seconds: loadSeconds }, { docs: joined.rows.length, bytes: rawLoadBytes, seconds: rawLoadSeconds }, `connector CPU ${loadCpu.toFixed(2)} s = ${us(loadCpu, loaded)} µs/doc (main thread ${us(mainCpu, loaded)}), driver ${us(driverCpu, loaded)} µs/doc, ceiling client ${us(rawLoadCpu, joined.rows.length)} µs/doc; PostgreSQL ${us(serverCpu, loaded)} µs/doc + workers ${us(workersCpu, loaded)} (the ceiling's ${us(rawServerCpu, joined.rows.length)} + ${us(rawWorkersCpu, joined.rows.length)}); page faults per 1,000 keys: connector ${perK(faults, loaded)}, PostgreSQL ${perK(serverFaults, loaded)} (the ceiling's ${perK(rawServerFaults, joined.rows.length)})`);
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
}

main().catch((err) => {
  process.stderr.write(`materialize-postgres bench failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
