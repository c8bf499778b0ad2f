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
 * connector's own cost, without a transport or a second process.
 */
import { spawn } from "node:child_process";
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { startPgCluster } from "../support/pg-cluster.js";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { RequestSchema, ResponseSchema } from "../../src/gen/capture/capture_pb.js";
import { messageCodec } from "../../src/codec/wire.js";
import { FrameDecoder, FrameWriter } from "../../src/codec/frames.js";
import { buildCapture, catalogFromObject, fullRange, type BuiltCapture } from "../../src/harness/index.js";
import { mergePatch } from "../../connectors/source-postgres/testing.js";
import connector from "../../connectors/source-postgres/connector.js";
import { RawJson, type CaptureOutput } from "../../src/sdk/types.js";
import { createLogger } from "../../src/log.js";
import { peakRssMb, report } from "./_measure.js";

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const UPDATES = Number(process.env.BENCH_UPDATES ?? 500_000);
const TXN = Number(process.env.BENCH_TXN ?? 1_000);
const BIN = process.env.PG_BIN_DIR ?? "/usr/lib/postgresql/15/bin";
const DB = "bench_source_pg";
const REPO = fileURLToPath(new URL("../../..", import.meta.url));
const requests = messageCodec(RequestSchema, "proto");
const responses = messageCodec(ResponseSchema, "proto");

function frame(req: Parameters<typeof requests.encode>[0]): Buffer {
  const w = new FrameWriter("proto");
  w.append(requests.encode(req));
  return Buffer.from(w.take());
}

/** Reads a protobuf varint at `pos`: [value, position after it]. */
function varint(b: Uint8Array, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    const byte = b[pos++]!;
    v += (byte & 0x7f) * mul;
    if (byte < 0x80) return [v, pos];
    mul *= 128;
  }
}

/** Response.captured is field 6, length-delimited; Captured.doc_json is its field 2. */
const CAPTURED_TAG = (6 << 3) | 2;
const DOC_JSON_TAG = (2 << 3) | 2;

/** Bytes of doc_json in a Captured frame, read from the field headers without decoding the message. */
function docJsonLength(f: Uint8Array): number {
  let [end, pos] = varint(f, 1);
  end += pos;
  while (pos < end) {
    const tag = f[pos++]!;
    if (tag === DOC_JSON_TAG) return varint(f, pos)[0];
    if ((tag & 7) === 0) pos = varint(f, pos)[1];
    else if ((tag & 7) === 2) {
      const [n, p] = varint(f, pos);
      pos = p + n;
    } else throw new Error(`unexpected wire type in capture.Response.Captured (tag ${tag})`);
  }
  return 0;
}

/**
 * `tributary run source-postgres` driven like Flow's runtime drives it: one
 * Open, then framed responses; documents count as committed at the
 * Checkpoint that follows them, and each Checkpoint is acknowledged when
 * Opened asked for that (the connector confirms its slot position only then).
 */
class StdioCapture {
  committedCount = 0;
  committedBytes = 0;
  private pendingCount = 0;
  private pendingBytes = 0;
  firstDocAt = 0;
  state: any;
  stderr = "";
  readonly startedAt = performance.now();
  private explicitAcks = false;
  private readonly child;
  private readonly exited: Promise<number | null>;
  private waiters: (() => void)[] = [];
  private failure: Error | undefined;
  private readonly cpuAtStart = process.cpuUsage();

  constructor(built: BuiltCapture, state: object) {
    this.state = state;
    // BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the connector.
    const nodeArgs = process.env.BENCH_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
    this.child = spawn(process.execPath, [...nodeArgs, `${REPO}bin/tributary`, "run", "source-postgres"], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, FLOW_RUNTIME_CODEC: "proto", LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" },
    });
    this.child.stderr.on("data", (b) => (this.stderr = (this.stderr + b).slice(-4000)));
    this.child.stdin.on("error", () => {});
    const ack = frame(create(RequestSchema, { acknowledge: { checkpoints: 1 } }));
    const dec = new FrameDecoder("proto");
    this.child.stdout.on("data", (chunk: Buffer) => {
      try {
        for (const f of dec.push(chunk)) {
          if (f[0] === CAPTURED_TAG) {
            if (this.firstDocAt === 0) this.firstDocAt = performance.now();
            this.pendingCount++;
            this.pendingBytes += docJsonLength(f);
            continue;
          }
          const res = responses.decode(f);
          if (res.opened) this.explicitAcks = res.opened.explicitAcknowledgements;
          else if (res.checkpoint) {
            const s = res.checkpoint.state!;
            const updated = JSON.parse(new TextDecoder().decode(s.updatedJson));
            this.state = s.mergePatch ? mergePatch(this.state, updated) : updated;
            this.committedCount += this.pendingCount;
            this.committedBytes += this.pendingBytes;
            this.pendingCount = this.pendingBytes = 0;
            if (this.explicitAcks) this.child.stdin.write(ack);
            for (const w of this.waiters.splice(0)) w();
          }
        }
      } catch (err) {
        this.failure = err as Error;
      }
    });
    this.exited = new Promise((r) => this.child.on("exit", (code) => r(code)));
    this.child.stdin.write(
      frame(create(RequestSchema, { open: { capture: built.spec, version: built.version, range: fullRange(), stateJson: JSON.stringify(state) } })),
    );
  }

  peakRssMb(): number {
    return peakRssMb(this.child.pid);
  }

  /** This (driver) process's CPU seconds since the connector started. */
  driverCpuSeconds(): number {
    const u = process.cpuUsage(this.cpuAtStart);
    return (u.user + u.system) / 1e6;
  }

  async until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (this.failure) throw new Error(`reading the connector's responses while waiting for ${what}: ${this.failure.message}`);
      if (this.child.exitCode !== null) throw new Error(`connector exited (${this.child.exitCode}) while waiting for ${what}: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr: ${this.stderr}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  /** Ends the session the runtime's way (closing stdin), then makes sure the process is gone. */
  async stop(): Promise<void> {
    this.child.stdin.end();
    const t = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(t);
  }
}

/**
 * The connector in this process with an output that only counts: its own
 * cost without a pipe or a parent. Returns docs, bytes and seconds from the
 * first document to the checkpoint where `done` holds.
 */
/** A settled promise for document(), so the in-process sink allocates nothing per document. */
const SENT: Promise<void> = Promise.resolve();

async function inProcess(config: any, state: object, done: (docs: number, updated: any) => boolean) {
  const ac = new AbortController();
  let docs = 0;
  let bytes = 0;
  let first = 0;
  let end = 0;
  let ack: ((n: number) => void | Promise<void>) | undefined;
  const out: CaptureOutput = {
    async opened() {},
    document(_b, d) {
      if (docs++ === 0) first = performance.now();
      bytes += (d as RawJson).text.length;
      return SENT;
    },
    sourcedSchema: () => SENT,
    async checkpoint(s) {
      if (docs > 0 && done(docs, s.updated)) {
        end = performance.now();
        ac.abort();
      }
      setImmediate(() => void ack?.(1));
    },
    async backfillBegin(_b, s) {
      await out.checkpoint(s ?? { updated: {} });
      return 1;
    },
    async backfillComplete(_b, s) {
      await out.checkpoint(s ?? { updated: {} });
      return 1;
    },
    onAcknowledge(h) {
      ack = h;
    },
  };
  const bindings = [{ resourceConfig: { namespace: "public", stream: "bench" }, resourcePath: ["public", "bench"], collection: {} as never, backfill: 0, stateKey: "public%2Fbench" }];
  await connector.open({ config, bindings, spec: {} as never, version: "bench", range: {} as never, state }, out, { log: createLogger({ level: "warn" }), signal: ac.signal });
  return { docs, bytes, seconds: (end - first) / 1000 };
}

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

  const fill = new StdioCapture(built, {});
  await fill.until(() => fill.committedCount >= ROWS && fill.state.bindingStateV1?.[stateKey]?.mode === "active", 600_000, "backfill");
  const fillEnd = performance.now();
  const fillRss = fill.peakRssMb();
  const fillCpu = fill.driverCpuSeconds();
  await fill.stop();
  // From the first document: start-up (process, connections, slot creation) is reported apart.
  const fillSeconds = (fillEnd - fill.firstDocAt) / 1000;
  const startup = (fill.firstDocAt - fill.startedAt) / 1000;
  report(
    "backfill, tributary run (proto over stdio)",
    { docs: fill.committedCount, bytes: fill.committedBytes, seconds: fillSeconds },
    { docs: ROWS, bytes: copyBytes, seconds: copySeconds },
    `start-up ${startup.toFixed(2)} s | peak RSS ${fillRss.toFixed(0)} MB | driver CPU ${fillCpu.toFixed(1)} s`,
    fillRss,
  );
  const fillIn = await inProcess({ ...config, slot: "bench_slot_in" }, {}, (_n, u) => u.bindingStateV1?.["public%2Fbench"]?.mode === "active");
  report("backfill, in-process count-only sink", fillIn, { docs: ROWS, bytes: copyBytes, seconds: copySeconds });

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

  const stream = new StdioCapture(built, state);
  await stream.until(() => stream.committedCount >= UPDATES, 600_000, "the updates");
  // From process start: pg_recvlogical's time includes its start-up too.
  const streamSeconds = (performance.now() - stream.startedAt) / 1000;
  const streamRss = stream.peakRssMb();
  const streamCpu = stream.driverCpuSeconds();
  await stream.stop();
  report(
    "change stream, tributary run (proto over stdio)",
    { docs: stream.committedCount, bytes: stream.committedBytes, seconds: streamSeconds },
    { docs: UPDATES, bytes: 0, seconds: recvSeconds },
    `peak RSS ${streamRss.toFixed(0)} MB | driver CPU ${streamCpu.toFixed(1)} s (ceiling MB/s not measured: pg_recvlogical writes binary pgoutput)`,
    streamRss,
  );
  const streamIn = await inProcess({ ...config, slot: "bench_slot_in" }, state, (n) => n >= UPDATES);
  report("change stream, in-process count-only sink", streamIn, { docs: UPDATES, bytes: 0, seconds: recvSeconds }, "timed from the first document");
  await sql.end();
} finally {
  await cluster.stop();
}
