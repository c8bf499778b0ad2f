/**
 * materialize-postgres with 1 MiB documents, in MB/s of document JSON,
 * driven over stdio as the runtime drives it, beside the raw ceiling of the
 * same run: the same rows pre-encoded as COPY text, COPY'd into a temp
 * table and merged by one INSERT ... ON CONFLICT per transaction.
 *
 * BENCH_LARGE_DOCS documents (default 300) of about 1 MiB each (a nested
 * object with a long text field, an array of numbers and escapes, so COPY
 * text must escape them), new keys, in transactions of BENCH_LARGE_TXN
 * (default 30, about 30 MiB). Estuary publishes 20.7 MB/s for its Go
 * connector on 1 MiB documents; the target here is 60 MB/s with the
 * connector's peak RSS under 250 MB. PG_URL selects the database.
 *
 * A document now goes from its Store frame into the COPY buffers as bytes,
 * escaped in place (copy-bytes.ts): no 1 MiB string decoded, escaped and
 * encoded again. Figures, 2026-12-06 23:17 UTC, load average ~10 from
 * other work, defaults, before → after one run each: 22.3 → 22.3 MB/s
 * (ceiling 15.4 and 10.9 MB/s: ratio 1.44 → 2.06), connector CPU 3.2 →
 * 2.7 s (99 → 118 MB per CPU-second), peak RSS 195 → 134 MB. The 60 MB/s
 * target is above what this machine gives at that load: a bare COPY of
 * 60 such rows (no merge, no pipe, the client idle otherwise) reached
 * 53 MB/s into a logged table and 57-75 MB/s into a temp table in the same
 * minutes. The connector idles most of the window: PostgreSQL's COPY (JSON
 * validation, TOAST compression, WAL) and the pipe from the bench, which
 * shares the two cores, set the pace. On the quiet machine (2026-12-06,
 * load < 1, after every other job stopped) the same defaults gave
 * 79.4 MB/s against a 45.4 MB/s ceiling, peak RSS 151 MB: the target is met
 * when the machine is not shared.
 */
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { checkpoint, endpointConfig, materialization, PG_URL, uniqueSchema } from "../../connectors/materialize-postgres/test-support.js";
import { cpuSeconds, peakRssMb, report, type Rate } from "./_measure.js";
import { frame, MaterializeDriver } from "./_materialize-driver.js";
import { coll, FIELDS, row } from "./_widgets.js";

const DOCS = Number(process.env.BENCH_LARGE_DOCS ?? 300);
const TXN = Number(process.env.BENCH_LARGE_TXN ?? 30);
const enc = new TextEncoder();

/** A widget row whose document carries about 1 MiB of extra content. */
function largeRow(id: number): { id: number; values: unknown[]; doc: string } {
  const r = row(id, 1);
  const text = `line ${id}: "quoted" \\ tab\t and more text `.repeat(26_000).slice(0, 900_000);
  const numbers = Array.from({ length: 12_000 }, (_, i) => (id * 31 + i * 7) % 100_000);
  const doc = JSON.stringify({ ...JSON.parse(r.doc), body: { text, numbers } });
  return { id, values: r.values, doc };
}

function copyLine(r: { id: number; values: unknown[]; doc: string }): string {
  const v = r.values;
  return `${r.id}\t${v.join("\t")}\t${r.doc.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n")}\n`;
}

async function copyIn(client: pg.Client, sql: string, lines: string[]): Promise<void> {
  const stream = client.query(copyFrom(sql));
  await new Promise<void>((resolve, reject) => {
    stream.on("finish", resolve);
    stream.on("error", reject);
    (async () => {
      for (const l of lines) if (!stream.write(l)) await new Promise((r) => stream.once("drain", r));
      stream.end();
    })().catch(reject);
  });
}

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  const schema = uniqueSchema("bench_large");
  const spec = materialization("bench/large", endpointConfig(schema), [
    { resource: { table: "widgets" }, collection: coll, keys: ["id"], values: FIELDS, document: "flow_document" },
  ]);
  const table = `${schema}.widgets`;
  const txns = Math.ceil(DOCS / TXN);
  const sample = largeRow(1).doc.length;
  process.stdout.write(`${DOCS} documents of ${(sample / 1048576).toFixed(2)} MiB in ${txns} transactions of ${TXN}\n`);
  try {
    const d = new MaterializeDriver("materialize-postgres");
    await d.send(frame({ apply: { materialization: spec, version: "v1" } as never }));
    await d.next("applied");
    await d.send(frame({ open: { materialization: spec, version: "v1", range: { keyBegin: 0, keyEnd: 0xffffffff, rClockBegin: 0, rClockEnd: 0xffffffff } } as never }));
    await d.next("opened");

    const raw = `${schema}.raw`;
    await admin.query(`CREATE TABLE ${raw} (LIKE ${table} INCLUDING ALL)`);
    const cols = ["id", ...FIELDS, "flow_document"].map((c) => `"${c}"`).join(", ");
    const updates = [...FIELDS, "flow_document"].map((c) => `"${c}" = EXCLUDED."${c}"`).join(", ");
    await admin.query(`CREATE TEMP TABLE raw_stage ON COMMIT DELETE ROWS AS SELECT * FROM ${raw} WITH NO DATA`);

    let seconds = 0;
    let rawSeconds = 0;
    let bytes = 0;
    const cpuBefore = cpuSeconds(d.pid);
    for (let t = 0; t < txns; t++) {
      const rows = Array.from({ length: Math.min(TXN, DOCS - t * TXN) }, (_, i) => largeRow(t * TXN + i + 1));
      for (const r of rows) bytes += r.doc.length;

      const rawStart = performance.now();
      await admin.query("BEGIN");
      await copyIn(admin, `COPY raw_stage (${cols}) FROM STDIN`, rows.map(copyLine));
      await admin.query(`INSERT INTO ${raw} (${cols}) SELECT ${cols} FROM raw_stage ON CONFLICT (id) DO UPDATE SET ${updates}`);
      await admin.query("COMMIT");
      rawSeconds += (performance.now() - rawStart) / 1000;

      const frames = rows.map((r) =>
        frame({ store: { binding: 0, keyJson: enc.encode(`[${r.id}]`), valuesJson: enc.encode(JSON.stringify(r.values)), docJson: enc.encode(r.doc) } as never }),
      );
      const start = performance.now();
      await d.send(frame({ acknowledge: {} as never }));
      await d.next("acknowledged");
      await d.send(frame({ flush: {} as never }));
      await d.next("flushed");
      for (const f of frames) await d.send(f);
      await d.send(frame({ startCommit: { runtimeCheckpoint: checkpoint(t + 1) } as never }));
      await d.next("startedCommit");
      seconds += (performance.now() - start) / 1000;
    }
    const cpu = cpuSeconds(d.pid) - cpuBefore;
    const rss = peakRssMb(d.pid);
    await d.send(frame({ acknowledge: {} as never }));
    await d.next("acknowledged");
    await d.close();
    const n = (await admin.query(`SELECT count(*)::int AS n, sum(octet_length(flow_document::text))::bigint AS b FROM ${table}`)).rows[0];
    if (n.n !== DOCS) throw new Error(`table has ${n.n} rows, expected ${DOCS}`);

    const measured: Rate = { docs: DOCS, bytes, seconds };
    const ceiling: Rate = { docs: DOCS, bytes, seconds: rawSeconds };
    const ok = rss < 250 ? "" : " (over 250 MB)";
    report(`store, 1 MiB documents`, measured, ceiling, `peak RSS ${rss.toFixed(0)} MB${ok}, connector CPU ${cpu.toFixed(1)} s, ${(bytes / 1e6 / cpu).toFixed(0)} MB per CPU-second`, rss);
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
}

main().catch((err) => {
  process.stderr.write(`materialize-postgres-large bench failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
