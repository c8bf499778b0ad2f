/**
 * One capture session: backfills tables chunk by chunk while the binlog is
 * read, and turns row events into documents and checkpoints.
 *
 * Consistency between backfill and binlog (the watermark approach of
 * source-postgres, with the binlog's own end as the watermark): after each
 * backfill chunk, the server's binlog end is read, and the binlog is read
 * up to it before the single checkpoint that records the chunk. Every
 * transaction the chunk's read saw, and every later one up to the
 * watermark, is in the binlog before it, so its changes are emitted after
 * the chunk's rows in the same checkpoint: the last document of each key
 * is its state at the watermark. A table being backfilled has its changes
 * emitted only for keys already read (integer keys, whose order we can
 * compare exactly) or all of them (other keys: a later chunk overwrites any
 * row emitted ahead of it, and a deleted row is simply not read again).
 *
 * A keyless table is read by one streamed statement instead of chunks, and
 * every change passes: its documents are keyed by a row locator
 * (`_meta/source/loc`), B<n> for the n-th row read, else the change's
 * cursor, so each is a document of its own.
 *
 * Column lists come from each TABLE_MAP event (binlog_row_metadata=FULL
 * puts the names in the event itself), so a row is always decoded with the
 * columns it was written with, whatever ALTER TABLE did since.
 */
import { randomInt } from "node:crypto";
import type mysql from "mysql2/promise";
import { RawJsonBytes, type CaptureOpen, type CaptureOutput, type Context } from "../../src/sdk/types.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { mustWait, sendDocuments, SENT } from "../../src/sdk/capture.js";
import type { EndpointConfig, ResourceConfig } from "./config.js";
import { binlogEnd, comparePositions, connect, qualified } from "./connection.js";
import { listTables, sourcedSchema, type TableInfo } from "./discovery.js";
import { RowEncoder } from "./encoder.js";
import { DocBytes } from "./doc-bytes.js";
import { ImageWriter, type RowImage, type UpdateImages } from "./row-image.js";
import { rawRows, TextRowWriter, type RawRow } from "./text-rows.js";
import { cursorValue, keyedChunkSql, keylessSql } from "./backfill.js";
import { BinlogReader, type BinlogItem, type Position } from "./binlog.js";
import { isMariaDbGtid, mergeGtid, startPosition } from "./gtid.js";
import { checkPrerequisites, formatFailures, resolveZone } from "./prerequisites.js";
import { kindOfBinlogType, type Kind, type ValueContext } from "./values.js";

export type Mode = "pending" | "backfill" | "active";

export interface BindingState {
  mode: Mode;
  /** Key values (text, base64 for byte strings) of the last row read; null before the first chunk. */
  after?: string[] | null;
  /** Rows read by the backfill so far. */
  backfilled?: number;
}

export interface CaptureState {
  /** Binlog file and offset at the resume point, always a transaction boundary. */
  cursor?: string;
  /**
   * MariaDB GTID position at the cursor (gtid_binlog_pos form: domain-server-seq per domain). When present the
   * capture resumes from it, so the position survives binlog renumbering and failover; states without it
   * (older ones, servers without GTIDs) resume from the cursor.
   */
  gtid?: string;
  bindingStateV1?: Record<string, BindingState | null>;
}

interface Bound {
  index: number;
  stateKey: string;
  table: TableInfo;
  encoder: RowEncoder;
  state: BindingState;
  /** Stream filter: keys ≤ this were read by the backfill (precise mode only). */
  filterAfter: bigint[] | null;
  precise: boolean;
  /** Column names and kinds as the binlog last described them. */
  streamSig: string;
}

interface StreamTable {
  bound?: Bound;
  writer?: ImageWriter;
  /** `"schema":…,"table":…` as UTF-8. */
  sourcePrefix?: Buffer;
}

export function parseCursor(s: string): Position {
  const i = s.lastIndexOf(":");
  const pos = Number(s.slice(i + 1));
  if (i <= 0 || !Number.isInteger(pos)) throw new ConnectorError(`capture state /cursor ${JSON.stringify(s)} is not <file>:<position>`);
  return { file: s.slice(0, i), pos };
}

const fmt = (p: Position) => `${p.file}:${p.pos}`;

function isConnectionError(err: unknown): boolean {
  if (err instanceof ConnectorError) return false;
  const e = err as { code?: string; fatal?: boolean; message?: string };
  return (
    e?.fatal === true ||
    /^(PROTOCOL_CONNECTION_LOST|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|ER_SERVER_SHUTDOWN|ER_CONNECTION_KILLED)$/.test(String(e?.code)) ||
    /Connection lost|closed state|server has gone away|shutdown in progress/i.test(String(e?.message))
  );
}

export class MySqlCapture {
  private sql!: mysql.Connection;
  private reader!: BinlogReader;
  private readonly bound: Bound[] = [];
  private tables = new Map<number, StreamTable>();
  private vctx!: ValueContext;
  private serverId = 0;

  /** Resume point after the last event processed. */
  private cursor: Position = { file: "", pos: 0 };
  /** GTID position at `cursor`; "" before the server's first GTID, undefined while not known (see adoptGtid). */
  private gtid: string | undefined;
  private checkpointed: Position = { file: "", pos: 0 };
  private checkpointedGtid: string | undefined;
  private gtidProbedAt = 0;
  private docsSinceCheckpoint = 0;
  private lastCheckpointAt = 0;
  private inTx = false;
  /** The current transaction's `_meta.source` fields after schema and table, and its start position. */
  private txSource: Buffer = Buffer.alloc(0);
  private txCursor: Buffer = Buffer.alloc(0);
  private txSeq = 0;
  /** Documents are written here. */
  private readonly docs = new DocBytes();
  /** The backfill's writer for the current query's columns, and its documents' `_meta` up to the source's end. */
  private textWriter: TextRowWriter | null = null;
  private textWriterFields: unknown = null;
  private textTail: Buffer | null = null;
  /** textTail with the document's closing braces (a row with no locator). */
  private textEnd: Buffer | null = null;
  private textSource = "";
  private stopping = false;
  private fatal: Error | null = null;

  constructor(
    private readonly cfg: EndpointConfig,
    private readonly req: CaptureOpen<EndpointConfig, ResourceConfig>,
    private readonly out: CaptureOutput,
    private readonly ctx: Context,
  ) {}

  async run(): Promise<void> {
    const { signal } = this.ctx;
    const onAbort = () => {
      this.stopping = true;
    };
    if (signal.aborted) return;
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      this.sql = await connect(this.cfg);
      this.serverId = this.cfg.server_id || randomInt(1 << 20, 2 ** 31);
      const failures = await checkPrerequisites(this.sql, this.cfg, this.req.bindings.map((b) => b.resourceConfig), this.serverId);
      if (failures.length > 0) throw new ConnectorError(formatFailures(failures));
      this.vctx = { zone: await resolveZone(this.sql, this.cfg) };
      await this.loadBindings();
      const patch = this.reconcile();
      const state = this.req.state ?? {};
      if (state.cursor || isMariaDbGtid(state.gtid)) {
        this.cursor = state.cursor ? parseCursor(state.cursor) : { file: "", pos: 0 };
        this.gtid = isMariaDbGtid(state.gtid) ? state.gtid : undefined;
      } else {
        ({ position: this.cursor, gtid: this.gtid } = await startPosition(this.sql));
      }
      this.markCheckpointed();
      await this.out.opened();
      for (const b of this.bound) await this.out.sourcedSchema(b.index, sourcedSchema(b.table.columns, b.table.key));
      await this.checkpoint({ ...this.position(), bindingStateV1: patch });
      await this.runWithReconnects();
    } catch (err) {
      if (this.stopping && !(err instanceof ConnectorError)) return;
      throw err;
    } finally {
      signal.removeEventListener("abort", onAbort);
      await this.reader?.close().catch(() => {});
      await this.sql?.end().catch(() => {});
    }
  }

  private position(): CaptureState {
    return this.gtid ? { cursor: fmt(this.cursor), gtid: this.gtid } : { cursor: fmt(this.cursor) };
  }

  private markCheckpointed(): void {
    this.checkpointed = this.cursor;
    this.checkpointedGtid = this.gtid;
    this.docsSinceCheckpoint = 0;
    this.lastCheckpointAt = Date.now();
  }

  // ------------------------------------------------------------------ setup

  private async loadBindings(): Promise<void> {
    const wanted = this.req.bindings.map((b) => ({ schema: b.resourceConfig.namespace, table: b.resourceConfig.stream }));
    const tables = await listTables(this.sql, [...new Set(wanted.map((w) => w.schema))], wanted);
    this.req.bindings.forEach((b, index) => {
      const r = b.resourceConfig;
      const table = tables.find((t) => t.schema === r.namespace && t.name === r.stream);
      if (!table) throw new ConnectorError(`binding ${index} (${r.namespace}.${r.stream}): the table does not exist or is not visible to the capture user`);
      const precise = table.key.length > 0 && table.key.every((k) => table.columns.find((c) => c.name === k)!.kind === "int");
      this.bound.push({
        index,
        stateKey: b.stateKey,
        table,
        encoder: new RowEncoder(table.schema, table.name, table.columns, table.key, this.vctx),
        state: { mode: "pending" },
        filterAfter: null,
        precise,
        streamSig: "",
      });
    });
  }

  private reconcile(): Record<string, BindingState | null> {
    const prev: Record<string, BindingState | null> = (this.req.state as CaptureState | undefined)?.bindingStateV1 ?? {};
    const patch: Record<string, BindingState | null> = {};
    for (const b of this.bound) {
      let s = prev[b.stateKey];
      if (!s) {
        s = { mode: "pending" };
        patch[b.stateKey] = s;
      }
      b.state = s;
      this.resetFilter(b);
    }
    for (const k of Object.keys(prev)) if (!this.bound.some((b) => b.stateKey === k)) patch[k] = null;
    return patch;
  }

  private resetFilter(b: Bound): void {
    b.filterAfter = b.precise && b.state.after ? b.state.after.map((v) => BigInt(v)) : null;
  }

  // ------------------------------------------------------------- main loop

  private async runWithReconnects(): Promise<void> {
    let failures = 0;
    let reconnectedAt = 0;
    for (;;) {
      try {
        if (!this.reader) this.reader = BinlogReader.start(
            this.cfg,
            { ...this.checkpointed, gtid: this.checkpointedGtid || undefined },
            this.serverId,
            this.bound.map((b) => ({ schema: b.table.schema, name: b.table.name })),
          );
        while (!this.stopping) {
          const b = this.bound.find((x) => x.state.mode !== "active");
          if (b) await this.backfillChunk(b);
          else await this.pump(null);
        }
        return;
      } catch (err) {
        if (this.stopping) return;
        if (!isConnectionError(err)) throw err;
        // Attempts count from the last reconnect that got as far as a checkpoint.
        if (reconnectedAt > 0 && this.lastCheckpointAt > reconnectedAt) failures = 0;
        if (failures >= 8) throw err;
        failures++;
        const delay = Math.min(30_000, 500 * 2 ** failures);
        this.ctx.log.warn("lost the connection to the database; reconnecting", { error: String((err as Error).message), attempt: failures, delayMs: delay });
        await this.reader?.close().catch(() => {});
        this.reader = undefined as unknown as BinlogReader;
        await this.sql.end().catch(() => {});
        await new Promise((r) => setTimeout(r, delay));
        if (this.stopping) return;
        try {
          this.sql = await connect(this.cfg);
          // Everything after the last checkpoint is read again: documents already sent are repeated, not lost.
          this.cursor = this.checkpointed;
          this.gtid = this.checkpointedGtid;
          this.inTx = false;
          this.tables = new Map();
          for (const b of this.bound) this.resetFilter(b);
          reconnectedAt = Date.now();
        } catch (e) {
          // A restarting server refuses connections for a while: that is the next attempt's business.
          if (!isConnectionError(e) && !(e instanceof ConnectorError && e.condition === "unavailable")) throw e;
        }
      }
    }
  }

  // --------------------------------------------------------------- backfill

  private async backfillChunk(b: Bound): Promise<void> {
    if (b.state.mode === "pending") await this.beginBackfill(b);
    const t = b.table;
    const state: BindingState = { ...b.state };
    const limit = this.cfg.backfill_chunk_size;
    const source = `,"snapshot":true,"ts_ms":${Date.now()}`;
    let done: boolean;
    if (t.key.length === 0) {
      let n = 0;
      state.backfilled = await this.batched(b, () => this.streamRows(b, () => keylessSql(b.table), (row) => this.backfillDoc(b, row, source, `B${n++}`)));
      done = true;
    } else {
      let lastRow: RawRow | null = null;
      const n = await this.batched(b, () =>
        this.streamRows(b, () => keyedChunkSql(this.sql, b.table, state.after ?? null, limit), (row) => {
          lastRow = row;
          return this.backfillDoc(b, row, source, null);
        }),
      );
      if (lastRow) {
        // The query's row object holds its last row now.
        const row = (lastRow as RawRow).values();
        state.after = b.encoder.keyIdx.map((i, k) => cursorValue(b.table.columns.find((c) => c.name === b.table.key[k])!.kind, row[i]));
      }
      done = n < limit;
      state.backfilled = (state.backfilled ?? 0) + n;
    }
    if (done) {
      state.mode = "active";
      delete state.after;
    }
    // Changes to rows this chunk covered are emitted from here on; then read the binlog to its end.
    const before = b.state;
    b.state = { ...state, mode: state.mode === "active" ? "active" : "backfill" } as BindingState;
    this.resetFilter(b);
    try {
      await this.pump(await binlogEnd(this.sql));
    } catch (err) {
      b.state = before;
      this.resetFilter(b);
      throw err;
    }
    if (this.stopping) return;
    this.ctx.log.debug("backfill chunk", { table: `${t.schema}.${t.name}`, rows: state.backfilled, done });
    if (done) this.ctx.log.info("backfill complete", { table: `${t.schema}.${t.name}`, rows: state.backfilled });
    const updated = { ...this.position(), bindingStateV1: { [b.stateKey]: state } };
    if (done) await this.markerCheckpoint("complete", b, updated);
    else await this.checkpoint(updated);
  }

  /**
   * Runs `read` with the backfill's documents gathered into batches (see backfillDoc), and sends the last one
   * once it is done, before anything else is written; a failed read's unsent documents are dropped.
   */
  private async batched<T>(b: Bound, read: () => Promise<T>): Promise<T> {
    const docs = this.docs;
    docs.openBatch();
    try {
      const result = await read();
      await this.sendBatch(b);
      docs.closeBatch();
      return result;
    } finally {
      docs.dropBatch();
    }
  }

  /** Sends the open batch of backfill documents (see CaptureOutput.documents). */
  private sendBatch(b: Bound): Promise<void> {
    const batch = this.docs.takeBatch();
    if (batch.count === 0) return SENT;
    return sendDocuments(this.out, b.index, batch.bytes, batch.ends, batch.count);
  }

  /**
   * A backfill document of `row` (`loc`: a keyless table's row locator), written from the row's packet when it can
   * be, into the open batch; the batch is sent once it holds BATCH_BYTES.
   */
  private backfillDoc(b: Bound, row: RawRow, source: string, loc: string | null): Promise<void> {
    let w = this.textWriter;
    if (w === null || this.textWriterFields !== row.fields || w.enc !== b.encoder || this.textSource !== source) {
      w = this.textWriter = new TextRowWriter(b.encoder, row.fields);
      this.textWriterFields = row.fields;
      this.textSource = source;
      this.textTail = Buffer.from((b.encoder.names.length > 0 ? "," : "") + '"_meta":{"op":"c","source":{' + b.encoder.sourcePrefix + source);
      this.textEnd = Buffer.concat([this.textTail, CLOSE3]);
    }
    const out = this.docs;
    out.begin();
    out.byte(0x7b /* { */);
    if (!w.general && w.writeProps(out, row.packet)) {
      if (loc === null) out.bytes(this.textEnd!);
      else {
        out.bytes(this.textTail!);
        out.ascii(`,"loc":"${loc}"`);
        out.bytes(CLOSE3);
      }
    } else {
      out.discard();
      out.utf8(b.encoder.document(b.encoder.fromArray(row.values()), "c", loc === null ? source : `${source},"loc":"${loc}"`));
    }
    out.endInBatch();
    return out.batchBytes >= BATCH_BYTES ? this.sendBatch(b) : SENT;
  }

  /**
   * Streams the rows of `sqlOf()` to `onRow` as they arrive, so reading and encoding overlap and a chunk never
   * sits in memory whole. A column dropped or added since the catalog was read fails the statement before its
   * first row: the catalog is refreshed and the statement (rebuilt) runs once more.
   */
  private async streamRows(b: Bound, sqlOf: () => string, onRow: (row: RawRow) => Promise<void>): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      let n = 0;
      try {
        return await this.queryRows(sqlOf(), (row) => {
          n++;
          return onRow(row);
        });
      } catch (err) {
        const errno = (err as { errno?: number }).errno;
        if (errno === 1146) throw new ConnectorError(`binding ${b.index} (${b.table.schema}.${b.table.name}): the table no longer exists; remove the binding or re-create the table`);
        if (errno !== 1054 || attempt > 0 || n > 0) throw err;
        await this.refreshCatalog(b);
      }
    }
  }

  /**
   * Runs `sql` and hands each row to `onRow` from the driver's row event, with no await per row: the socket is
   * paused only while a promise onRow returned (the output asking to wait) is pending, so memory stays bounded by
   * the output's own buffer. Resolves with the number of rows once the statement ends.
   */
  private queryRows(sql: string, onRow: (row: RawRow) => Promise<void>): Promise<number> {
    const conn = (this.sql as any).connection;
    return new Promise<number>((resolve, reject) => {
      let n = 0;
      let settled = false;
      /** The output's last wait while it is pending: the statement's end settles after it, so its failure is not lost. */
      let waiting: Promise<void> | null = null;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        // Let the rest of the statement drain, so the connection stays usable by whoever closes it.
        conn.resume();
        reject(err);
      };
      const resume = () => {
        waiting = null;
        if (!settled) conn.resume();
      };
      const query = conn.query({ sql, rowsAsArray: true });
      rawRows(query);
      query
        .on("result", (row: RawRow) => {
          if (settled) return;
          n++;
          let wait: Promise<void>;
          try {
            wait = onRow(row);
          } catch (err) {
            fail(err);
            return;
          }
          if (wait !== SENT) {
            conn.pause();
            waiting = wait;
            wait.then(resume, fail);
          }
        })
        .on("error", fail)
        .on("end", () => {
          if (settled) return;
          if (waiting) {
            waiting.then(() => resolve(n), () => {});
            return;
          }
          settled = true;
          resolve(n);
        });
    });
  }

  private async refreshCatalog(b: Bound): Promise<void> {
    // Read under the table's metadata lock: never caught between an ALTER's copies (see listTables).
    const [fresh] = await listTables(this.sql, [b.table.schema], [{ schema: b.table.schema, table: b.table.name }]);
    if (!fresh) throw new ConnectorError(`binding ${b.index} (${b.table.schema}.${b.table.name}): the table no longer exists; remove the binding or re-create the table`);
    const missing = b.table.key.filter((k) => !fresh.columns.some((c) => c.name === k));
    if (missing.length > 0) throw new ConnectorError(`binding ${b.index} (${b.table.schema}.${b.table.name}): key column(s) ${missing.join(", ")} no longer exist`);
    b.table = { ...b.table, columns: fresh.columns };
    b.encoder = new RowEncoder(b.table.schema, b.table.name, b.table.columns, b.table.key, this.vctx);
  }

  private async beginBackfill(b: Bound): Promise<void> {
    const state: BindingState = { mode: "backfill", after: null, backfilled: 0 };
    await this.markerCheckpoint("begin", b, { ...this.position(), bindingStateV1: { [b.stateKey]: state } });
    b.state = state;
    this.resetFilter(b);
  }

  private async markerCheckpoint(kind: "begin" | "complete", b: Bound, updated: CaptureState): Promise<void> {
    const update = { updated, mergePatch: true };
    if (kind === "begin") await this.out.backfillBegin(b.index, update);
    else await this.out.backfillComplete(b.index, update);
    this.markCheckpointed();
  }

  private async checkpoint(updated: CaptureState): Promise<void> {
    await this.out.checkpoint({ updated, mergePatch: true });
    this.markCheckpointed();
  }

  // ----------------------------------------------------------------- binlog

  /**
   * Reads the binlog. With a watermark, returns once every transaction
   * before it has been processed, without checkpoints of its own (the
   * caller checkpoints); without one, runs until the session stops,
   * checkpointing at transaction boundaries.
   */
  private async pump(until: Position | null): Promise<void> {
    const heartbeatMs = this.cfg.heartbeat_interval_seconds * 1000;
    for (;;) {
      if (this.fatal) throw this.fatal;
      if (this.stopping) return;
      if (!this.inTx) {
        if (until && comparePositions(this.cursor, until) >= 0) return;
        if (!until && this.docsSinceCheckpoint > 0 && this.reader.buffered() === 0) await this.checkpoint(this.position());
      }
      const item = await this.reader.next(until ? 1000 : Math.min(heartbeatMs, 1000));
      if (!item) {
        // Idle: keep the checkpointed position fresh (it moves with other tables' and databases' writes).
        if (!until && !this.inTx && this.gtid === undefined) await this.adoptGtid();
        if (!until && !this.inTx && comparePositions(this.cursor, this.checkpointed) !== 0 && Date.now() - this.lastCheckpointAt >= heartbeatMs) {
          await this.checkpoint(this.position());
        }
        continue;
      }
      await this.onEvent(item, until === null);
    }
  }

  private async onEvent(item: BinlogItem, mayCheckpoint: boolean): Promise<void> {
    const e = item.event;
    const name: string = e.getEventName();
    switch (name) {
      case "tablemap":
        if (!this.inTx) this.beginTx(item);
        await this.onTableMap(e);
        break;
      case "writerows":
      case "updaterows":
      case "deleterows":
        await this.onRows(name, e);
        break;
      case "mariadbgtid":
        if (!e.standalone) this.beginTx(item);
        break;
      case "query": {
        const q = String(e.query).trim();
        if (/^(BEGIN|START TRANSACTION|XA START)/i.test(q)) this.beginTx(item);
        else if (/^(COMMIT|ROLLBACK|XA COMMIT|XA ROLLBACK)/i.test(q)) this.inTx = false;
        else await this.onStatement(e.schema, q);
        break;
      }
      case "xid":
      case "xaprepare":
        this.inTx = false;
        break;
    }
    if (!this.inTx) {
      this.cursor = { file: item.file, pos: item.pos };
      if (name === "xid" || name === "query") {
        if (this.gtid !== undefined && typeof e.gtid === "string" && isMariaDbGtid(e.gtid)) this.gtid = mergeGtid(this.gtid, e.gtid);
      }
      if (mayCheckpoint && (name === "xid" || name === "query")) await this.maybeCheckpoint();
    }
  }

  /**
   * A state without a GTID (an older one, or a start while the server was too busy to read one): once the
   * capture is idle at the server's binlog end, the server's GTID position is the one at the cursor.
   */
  private async adoptGtid(): Promise<void> {
    if (Date.now() - this.gtidProbedAt < this.cfg.heartbeat_interval_seconds * 1000) return;
    this.gtidProbedAt = Date.now();
    const { position, gtid } = await startPosition(this.sql);
    if (gtid === undefined || comparePositions(position, this.cursor) !== 0 || this.reader.buffered() > 0) return;
    this.gtid = gtid;
    if (gtid !== "") await this.checkpoint(this.position());
  }

  private beginTx(item: BinlogItem): void {
    this.inTx = true;
    this.txSeq = 0;
    const ts = Number(item.event.timestamp) || Date.now();
    this.txSource = Buffer.from(`,"ts_ms":${ts}` + (item.event.gtid ? `,"txid":${JSON.stringify(String(item.event.gtid))}` : ""));
    // A cursor's text is JSON-quoted as it stands (binlog file names need no escaping; an odd one is escaped).
    this.txCursor = Buffer.from(JSON.stringify(`${item.file}:${item.pos}`).slice(1, -1));
  }

  private async maybeCheckpoint(): Promise<void> {
    const now = Date.now();
    const caughtUp = this.reader.buffered() === 0;
    if (this.docsSinceCheckpoint === 0) {
      if (caughtUp && now - this.lastCheckpointAt >= this.cfg.heartbeat_interval_seconds * 1000 && comparePositions(this.cursor, this.checkpointed) !== 0) {
        await this.checkpoint(this.position());
      }
      return;
    }
    if (caughtUp || this.docsSinceCheckpoint >= 20_000 || now - this.lastCheckpointAt >= 250) await this.checkpoint(this.position());
  }

  /** DDL and other statements: a captured table altered, dropped or renamed refreshes or stops the capture. */
  private async onStatement(schema: string, q: string): Promise<void> {
    if (!/^(ALTER|DROP|RENAME|TRUNCATE|CREATE)\b/i.test(q)) return;
    const lower = q.toLowerCase();
    for (const b of this.bound) {
      if (!lower.includes(b.table.name.toLowerCase())) continue;
      if (/^TRUNCATE/i.test(q) && (schema === b.table.schema || lower.includes(b.table.schema.toLowerCase()))) {
        this.ctx.log.warn("TRUNCATE is not captured: the collection keeps documents of the removed rows", { table: `${b.table.schema}.${b.table.name}`, binding: b.index });
        continue;
      }
      // The catalog may already be ahead of this statement; the backfill reads the table as it is now, and the
      // stream's columns come from TABLE_MAP events, so neither goes out of step.
      if (!(await this.tableExists(b))) {
        this.fatal = new ConnectorError(`binding ${b.index} (${b.table.schema}.${b.table.name}): the table no longer exists; remove the binding or re-create the table`);
        continue;
      }
      await this.refreshCatalog(b);
    }
  }

  /**
   * Whether a bound table exists. information_schema can miss a table for a moment while an ALTER TABLE swaps
   * in its rebuilt copy; a statement on the table waits for the ALTER's metadata lock, so it answers for sure.
   */
  private async tableExists(b: Bound): Promise<boolean> {
    try {
      await this.sql.query(`SELECT 1 FROM ${qualified(b.table.schema, b.table.name)} LIMIT 0`);
      return true;
    } catch (err) {
      if ((err as { errno?: number }).errno === 1146) return false;
      throw err;
    }
  }

  private async onTableMap(e: any): Promise<void> {
    const entry = e.tableMap?.[e.tableId];
    const b = this.bound.find((x) => x.table.schema === e.schemaName && x.table.name === e.tableName);
    if (!b || !entry?.columns) {
      this.tables.set(e.tableId, { bound: undefined });
      return;
    }
    const catalogKind = new Map<string, Kind>(b.table.columns.map((c) => [c.name, c.kind]));
    const columns = (entry.columns as { name: string; type: number; charset: string | null }[]).map((c) => ({
      name: c.name,
      kind: kindOfBinlogType(c.type, c.charset ?? null, catalogKind.get(c.name)),
    }));
    const missing = b.table.key.filter((k) => !columns.some((c) => c.name === k));
    if (missing.length > 0) throw new ConnectorError(`binding ${b.index} (${b.table.schema}.${b.table.name}): key column(s) ${missing.join(", ")} no longer exist`);
    const encoder = new RowEncoder(b.table.schema, b.table.name, columns, b.table.key, this.vctx);
    this.tables.set(e.tableId, { bound: b, writer: new ImageWriter(encoder, entry), sourcePrefix: Buffer.from(encoder.sourcePrefix) });
    const sig = columns.map((c) => `${c.name}\u0000${c.kind}`).join("\u0001");
    if (sig === b.streamSig) return;
    const first = b.streamSig === "";
    b.streamSig = sig;
    const catalogSig = b.table.columns.map((c) => `${c.name}\u0000${c.kind}`).join("\u0001");
    if (first && sig === catalogSig) return;
    // The table changed shape: tell the runtime. Nullability is not in the event: unknown columns are nullable.
    if (sig !== catalogSig) await this.refreshCatalog(b).catch(() => {});
    const notNull = new Map(b.table.columns.map((c) => [c.name, c.notNull]));
    this.ctx.log.info("table columns changed", { table: `${b.table.schema}.${b.table.name}`, columns: columns.map((c) => c.name) });
    await this.out.sourcedSchema(b.index, sourcedSchema(columns.map((c) => ({ ...c, notNull: notNull.get(c.name) ?? false })), b.table.key));
  }

  private async onRows(name: string, e: any): Promise<void> {
    const st = this.tables.get(e.tableId);
    if (!st) throw new Error(`binlog row event for table id ${e.tableId} before its TABLE_MAP event`);
    const b = st.bound;
    if (!b || b.state.mode === "pending") return;
    const w = st.writer!;
    const op = name === "writerows" ? "c" : name === "deleterows" ? "d" : "u";
    // The output's promise is awaited only when it asks to wait (not the shared settled SENT): no await per row.
    let wait: Promise<void> | undefined;
    for (const row of e.rows as (RowImage | UpdateImages)[]) {
      const seq = this.txSeq++;
      if (op !== "u") {
        if ((wait = this.writeDoc(b, st, op, row as RowImage, seq))) await wait;
        continue;
      }
      const { before, after } = row as UpdateImages;
      const out = this.docs;
      out.begin();
      out.byte(0x7b /* { */);
      const afterKey = this.propsAndKey(w, after);
      this.meta(st, "u", seq, b.table.key.length === 0);
      out.bytes(BEFORE);
      w.writeProps(out, before);
      out.bytes(CLOSE3);
      if (afterKey === null || sameKey(out, afterKey, w.spans)) {
        if (afterKey === null || this.passes(b, out, afterKey)) {
          if ((wait = this.emit(b))) await wait;
        } else out.discard();
        continue;
      }
      // The row moved to another key: delete the old document, create the new one.
      out.discard();
      if ((wait = this.writeDoc(b, st, "d", before, seq))) await wait;
      if ((wait = this.writeDoc(b, st, "c", after, seq))) await wait;
    }
  }

  /** Writes a row's properties; returns its key columns' spans (a copy), or null for a keyless table. */
  private propsAndKey(w: ImageWriter, img: RowImage): Int32Array | null {
    w.writeProps(this.docs, img);
    return w.spans.length === 0 ? null : w.spans.slice();
  }

  /** Writes and emits a create or delete document of `img` (when it passes); the output's wait, if any. */
  private writeDoc(b: Bound, st: StreamTable, op: "c" | "d", img: RowImage, seq: number): Promise<void> | undefined {
    const out = this.docs;
    out.begin();
    out.byte(0x7b /* { */);
    st.writer!.writeProps(out, img);
    this.meta(st, op, seq, b.table.key.length === 0);
    out.bytes(CLOSE2);
    if (!this.passes(b, out, st.writer!.spans)) {
      out.discard();
      return undefined;
    }
    return this.emit(b);
  }

  /** `"_meta":{"op":…,"source":{…}` (the source object closed, _meta not), after the properties if any. */
  private meta(st: StreamTable, op: "c" | "u" | "d", seq: number, keyless: boolean): void {
    const out = this.docs;
    if (out.mark() > 1) out.byte(0x2c /* , */);
    out.bytes(op === "c" ? META_C : op === "u" ? META_U : META_D);
    out.bytes(st.sourcePrefix!);
    out.bytes(this.txSource);
    out.bytes(CURSOR);
    const at = out.mark();
    out.bytes(this.txCursor);
    out.byte(0x3a /* : */);
    out.ascii("" + seq);
    const atEnd = out.mark();
    out.byte(0x22 /* " */);
    if (keyless) {
      // The row locator is the cursor.
      out.bytes(LOC);
      out.repeat(at, atEnd);
      out.byte(0x22);
    }
    out.byte(0x7d /* } */);
  }

  /** Whether a change of a backfilling table is emitted now (see the module comment); `spans` are its key's JSON in `buf`. */
  private passes(b: Bound, out: DocBytes, spans: Int32Array): boolean {
    if (b.state.mode !== "backfill" || !b.precise) return true;
    const after = b.filterAfter;
    if (!after) return false;
    for (let k = 0; k < after.length; k++) {
      const from = spans[2 * k]!;
      if (from < 0) return true;
      const text = out.buf.toString("latin1", out.start + from, out.start + spans[2 * k + 1]!);
      if (text === "null") return true;
      const x = BigInt(text);
      if (x < after[k]) return true;
      if (x > after[k]) return false;
    }
    return true;
  }

  /** Emits the document just written; the output's wait, if it asks for one. */
  private emit(b: Bound): Promise<void> | undefined {
    this.docsSinceCheckpoint++;
    return mustWait(this.out.document(b.index, new RawJsonBytes(this.docs.end())));
  }
}

const META_C = Buffer.from('"_meta":{"op":"c","source":{');
const META_U = Buffer.from('"_meta":{"op":"u","source":{');
const META_D = Buffer.from('"_meta":{"op":"d","source":{');
const CURSOR = Buffer.from(',"cursor":"');
const LOC = Buffer.from(',"loc":"');
const BEFORE = Buffer.from(',"before":{');
const CLOSE2 = Buffer.from("}}");
const CLOSE3 = Buffer.from("}}}");
/**
 * Backfill documents are handed to the output in batches of about this many bytes (~160 of the bench's rows):
 * over stdio they are framed in one pass, with no call, checks or view per document.
 */
const BATCH_BYTES = 64 * 1024;

/** Whether two key spans (in `buf`) hold the same JSON, as their documents write the key. */
function sameKey(out: DocBytes, a: Int32Array, b: Int32Array): boolean {
  const buf = out.buf;
  const s = out.start;
  for (let k = 0; k < a.length; k += 2) {
    const la = a[k + 1]! - a[k]!;
    if (a[k]! < 0 || b[k]! < 0) {
      if (a[k] !== b[k]) return false;
      continue;
    }
    if (la !== b[k + 1]! - b[k]! || buf.compare(buf, s + a[k]!, s + a[k + 1]!, s + b[k]!, s + b[k + 1]!) !== 0) return false;
  }
  return true;
}
