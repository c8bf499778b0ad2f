/**
 * One capture session: backfills tables chunk by chunk while the change
 * stream runs, and turns pgoutput messages into documents and checkpoints.
 *
 * Consistency between backfill and stream (the fence approach): after each
 * backfill chunk, a logical message (the fence) is committed, and the stream
 * is read up to its commit before the single checkpoint that records the
 * chunk. Every change committed after the chunk's snapshot is in the WAL
 * before the fence, so it is emitted after the chunk's rows in the same
 * transaction; earlier changes replayed there are harmless duplicates. A
 * table being backfilled has its changes emitted only for keys already read
 * (for integer keys, whose order we can compare exactly) or all of them
 * (other keys: a later chunk overwrites any row emitted ahead of it).
 *
 * The slot's confirmed position moves only when the runtime acknowledges a
 * checkpoint: each checkpoint's cursor is queued and popped by Acknowledge.
 */
import { randomBytes } from "node:crypto";
import type pg from "pg";
import { RawJson, type CaptureOpen, type CaptureOutput, type Context } from "../../src/sdk/types.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { mustWait } from "../../src/sdk/capture.js";
import { connect, qualified, quoteIdent, quoteLiteral } from "./connection.js";
import type { EndpointConfig, ResourceConfig } from "./config.js";
import { listTables, sourcedSchema, type TableInfo } from "./discovery.js";
import { RowEncoder } from "./documents.js";
import { DocumentWriter } from "./document-bytes.js";
import { copyDocuments, copyQuery, keyedChunkSql, keylessChunkSql, leafPartitions, tablePages } from "./backfill.js";
import { formatLsn, parseLsn, type Lsn } from "./lsn.js";
import {
  decodeBegin,
  decodeCommit,
  decodeMessage,
  decodeRelation,
  decodeTruncate,
  pgTimeToMillis,
  readTuple,
  type Relation,
  type TupleValue,
} from "./pgoutput.js";
import { ReplicationStream } from "./replication-stream.js";
import { TypeCatalog } from "./type-catalog.js";
import { OID } from "./text-values.js";
import { ensurePrerequisites, ensureSlot } from "./prerequisites.js";

export type Mode = "pending" | "backfill" | "active";

export interface BindingState {
  mode: Mode;
  /** Keyed backfill: key (as text) of the last row read; null before the first chunk. */
  after?: (string | null)[] | null;
  /** Keyless backfill: the next page to read (of `partition`, for a partitioned table). */
  page?: number;
  /** Keyless partitioned backfill: the leaf partition being read (regclass text). */
  partition?: string;
  /** Rows read by the backfill so far. */
  backfilled?: number;
}

export interface CaptureState {
  cursor?: string;
  bindingStateV1?: Record<string, BindingState | null>;
}

/** Logical-message prefix of fences and heartbeats. */
const MESSAGE_PREFIX = "tributary";
const INTEGER_KEYS: Set<number> = new Set([OID.int2, OID.int4, OID.int8, OID.oid]);

interface Bound {
  index: number;
  stateKey: string;
  table: TableInfo;
  /** Encoder of backfill rows (catalog column order). */
  encoder: RowEncoder;
  /** The state as of the last checkpoint. */
  state: BindingState;
  /** Stream filter: keys ≤ this were read by the backfill (precise mode only). */
  filterAfter: bigint[] | null;
  /** Integer keys: changes ahead of the backfill cursor are held back. */
  precise: boolean;
  /** Columns as last announced by the stream (or the catalog at start). */
  streamColumns: { name: string; typeOid: number }[];
}

interface RelationEntry {
  relation: Relation;
  bound?: Bound;
  encoder?: RowEncoder;
}

export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (err instanceof ConnectorError) return false;
  if (typeof e?.code === "string" && (/^(08|57P)/.test(e.code) || /^E(CONNREFUSED|CONNRESET|PIPE|TIMEDOUT|HOSTUNREACH)$/.test(e.code))) return true;
  return /Connection terminated|not queryable|connection (?:is )?closed|server closed the connection|terminating connection|the database system is (?:starting up|shutting down)|ended unexpectedly/i.test(
    String(e?.message ?? ""),
  );
}

export class PostgresCapture {
  private sql!: pg.Client;
  private repl!: ReplicationStream;
  private readonly types = new TypeCatalog();
  private readonly bound: Bound[] = [];
  private relations = new Map<number, RelationEntry>();

  /** End LSN of the last transaction (or fence/heartbeat) fully processed. */
  private cursor: Lsn = 0n;
  /** Cursor of the last checkpoint emitted. */
  private checkpointed: Lsn = 0n;
  private readonly ackQueue: Lsn[] = [];
  private acked: Lsn = 0n;
  private docsSinceCheckpoint = 0;
  private lastCheckpointAt = 0;

  private txSource = "";
  private txLsnHex = "";
  private txSeq = 0;
  /** Between a Begin and its Commit: no checkpoint may be taken. */
  private inTx = false;
  private readonly newVals: TupleValue[] = [];
  private readonly oldVals: TupleValue[] = [];

  private stopping = false;
  private fatal: Error | null = null;
  private fenceSeq = 0;
  private readonly sessionId = randomBytes(6).toString("hex");
  private heartbeatTimer?: NodeJS.Timeout;

  constructor(
    private readonly cfg: EndpointConfig,
    private readonly req: CaptureOpen<EndpointConfig, ResourceConfig, CaptureState>,
    private readonly out: CaptureOutput,
    private readonly ctx: Context,
  ) {}

  async run(): Promise<void> {
    const { log, signal } = this.ctx;
    const onAbort = () => {
      this.stopping = true;
      void this.closeConnections();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      this.sql = await connect(this.cfg);
      await ensurePrerequisites(this.sql, this.cfg, this.req.bindings.map((b) => b.resourceConfig));
      await this.loadBindings();
      const patch = this.reconcile();
      const slot = await ensureSlot(this.sql, this.cfg);
      log.debug("capture prepared", { slotCreated: slot.created, slotLsn: formatLsn(slot.confirmedFlush) });
      if (slot.created) {
        // A slot outlives the capture and holds WAL until it is read or dropped: say so where it can be seen.
        const drop = `SELECT pg_drop_replication_slot(${quoteLiteral(this.cfg.slot)});`;
        log.info("created replication slot", { slot: this.cfg.slot, leftBehind: `replication slot ${this.cfg.slot} in database ${this.cfg.database}: it holds WAL until a capture reads from it or it is dropped (${drop})` });
      }
      const state = this.req.state ?? {};
      if (state.cursor) {
        this.cursor = parseLsn(state.cursor);
        if (slot.created && this.bound.some((b) => b.state.mode !== "pending")) {
          throw new ConnectorError(
            `replication slot ${JSON.stringify(this.cfg.slot)} did not exist, so changes since ${state.cursor} are lost; ` +
              `re-backfill every binding (increment their backfill counters) to recover`,
          );
        }
        if (slot.confirmedFlush > this.cursor) {
          log.warn("the slot is ahead of the checkpoint; resuming from the slot", { slot: formatLsn(slot.confirmedFlush), checkpoint: state.cursor });
        }
      } else {
        this.cursor = slot.confirmedFlush;
      }
      this.checkpointed = this.cursor;
      // Never report a position below the slot's: PostgreSQL 15 would move it back.
      this.acked = slot.confirmedFlush > this.cursor ? slot.confirmedFlush : this.cursor;

      await this.out.opened({ explicitAcknowledgements: true });
      this.out.onAcknowledge((n) => this.onAcknowledge(n));
      for (const b of this.bound) await this.out.sourcedSchema(b.index, sourcedSchema(b.table.columns, b.table.key, this.types));
      await this.checkpoint({ cursor: formatLsn(this.cursor), bindingStateV1: patch });

      this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.cfg.heartbeat_interval_seconds * 1000);
      this.heartbeatTimer.unref();
      await this.runWithReconnects();
    } catch (err) {
      if (this.stopping && !(err instanceof ConnectorError)) return;
      throw err;
    } finally {
      signal.removeEventListener("abort", onAbort);
      clearInterval(this.heartbeatTimer);
      await this.closeConnections();
    }
  }

  // ------------------------------------------------------------------ setup

  private async loadBindings(): Promise<void> {
    const wanted = this.req.bindings.map((b) => ({ schema: b.resourceConfig.namespace, table: b.resourceConfig.stream }));
    const tables = await listTables(this.sql, [], wanted);
    await this.types.ensure(this.sql, tables.flatMap((t) => t.columns.map((c) => c.typeOid)));
    this.req.bindings.forEach((b, index) => {
      const r = b.resourceConfig;
      const table = tables.find((t) => t.schema === r.namespace && t.name === r.stream);
      if (!table) throw new ConnectorError(`binding ${index} (${r.namespace}.${r.stream}): the table does not exist or is not visible to the capture user`);
      const precise = table.key.length > 0 && table.key.every((k) => INTEGER_KEYS.has(table.columns.find((c) => c.name === k)!.typeOid));
      this.bound.push({
        index,
        stateKey: b.stateKey,
        table,
        encoder: new RowEncoder(table.schema, table.name, table.columns, table.key, this.types),
        state: { mode: "pending" },
        filterAfter: null,
        precise,
        streamColumns: table.columns.map((c) => ({ name: c.name, typeOid: c.typeOid })),
      });
    });
  }

  /** Binding states from the runtime's state; returns the patch that records new and removed bindings. */
  private reconcile(): Record<string, BindingState | null> {
    const prev = this.req.state?.bindingStateV1 ?? {};
    const patch: Record<string, BindingState | null> = {};
    const skip = new Set(this.cfg.skip_backfills);
    for (const b of this.bound) {
      let s = prev[b.stateKey];
      if (!s) {
        s = skip.has(`${b.table.schema}.${b.table.name}`) ? { mode: "active" } : { mode: "pending" };
        patch[b.stateKey] = s;
      }
      b.state = s;
      this.resetFilter(b);
    }
    for (const k of Object.keys(prev)) if (!this.bound.some((b) => b.stateKey === k)) patch[k] = null;
    return patch;
  }

  private resetFilter(b: Bound): void {
    b.filterAfter = b.precise && b.state.after ? b.state.after.map((v) => BigInt(v!)) : null;
  }

  private async closeConnections(): Promise<void> {
    await this.repl?.close().catch(() => {});
    await this.sql?.end().catch(() => {});
  }

  // ------------------------------------------------------------- main loop

  private async runWithReconnects(): Promise<void> {
    let failures = 0;
    for (;;) {
      try {
        if (!this.repl) await this.startReplication();
        await this.mainLoop();
        return;
      } catch (err) {
        if (this.stopping) return;
        if ((err as { code?: string }).code === "55006") {
          throw new ConnectorError(`replication slot ${JSON.stringify(this.cfg.slot)} is in use by another connection: is another capture running with the same slot?`);
        }
        if (!isConnectionError(err) || failures >= 8) throw err;
        failures++;
        const delay = Math.min(30_000, 500 * 2 ** failures);
        this.ctx.log.warn("lost the connection to the database; reconnecting", { error: String((err as Error).message), attempt: failures, delayMs: delay });
        await this.closeConnections();
        await new Promise((r) => setTimeout(r, delay));
        if (this.stopping) return;
        try {
          this.sql = await connect(this.cfg);
          // Everything after the last checkpoint is read again; documents already sent are repeated, not lost.
          this.cursor = this.checkpointed;
          this.inTx = false;
          for (const b of this.bound) this.resetFilter(b);
          this.relations = new Map();
          await this.startReplication();
          failures = 0;
        } catch (e) {
          if (!isConnectionError(e)) throw e;
          this.repl = undefined as unknown as ReplicationStream;
        }
      }
    }
  }

  private async startReplication(): Promise<void> {
    const client = await connect(this.cfg, { replication: true });
    this.repl = ReplicationStream.start(client, { slot: this.cfg.slot, publication: this.cfg.publication, startLsn: this.checkpointed });
    if (this.acked > this.checkpointed) this.repl.acknowledge(this.acked);
  }

  private async mainLoop(): Promise<void> {
    while (!this.stopping) {
      const b = this.bound.find((x) => x.state.mode !== "active");
      if (b) await this.backfillChunk(b);
      else await this.pump(null);
    }
  }

  // --------------------------------------------------------------- backfill

  /**
   * One keyless chunk: the rows of about a chunk's worth of pages from
   * `page` on, of the table or of its leaf partition `leaf`, each located by
   * its ctid (prefixed by the leaf's name). `last`: the pages ran out.
   */
  private async readPages(b: Bound, source: string, page: number, leaf?: string): Promise<{ rows: number; next: number; last: boolean }> {
    const t = b.table;
    const { pages, rowsPerPage } = await tablePages(this.sql, t, leaf);
    const n = Math.max(1, Math.ceil(this.cfg.backfill_chunk_size / rowsPerPage));
    const writer = new DocumentWriter(b.encoder, source, leaf ?? "");
    const { rows } = await copyDocuments(this.sql, keylessChunkSql(t, page, n, leaf), writer, (doc) => mustWait(this.out.document(b.index, doc)));
    return { rows, next: page + n, last: page + n >= pages };
  }

  private async backfillChunk(b: Bound): Promise<void> {
    const t = b.table;
    if (b.state.mode === "pending") await this.beginBackfill(b);
    const state: BindingState = { ...b.state };
    const limit = this.cfg.backfill_chunk_size;
    const source = `,"snapshot":true,"ts_ms":${Date.now()}`;
    let rows = 0;
    let done: boolean;
    try {
      if (t.key.length > 0) {
        const writer = new DocumentWriter(b.encoder, source);
        const read = await copyDocuments(this.sql, keyedChunkSql(t, state.after ?? null, limit), writer, (doc) => mustWait(this.out.document(b.index, doc)));
        rows = read.rows;
        done = rows < limit;
        if (read.last) state.after = b.encoder.keyText(read.last);
      } else if (t.kind === "p") {
        // Leaf by leaf, each by ranges of pages: a crash resumes at the partition and page in the state.
        const leaves = await leafPartitions(this.sql, t);
        // The partition in the state, or the next one by name if it was dropped since.
        const at = state.partition === undefined ? 0 : leaves.findIndex((l) => l >= state.partition!);
        if (leaves.length === 0 || at < 0) {
          done = true;
        } else {
          const leaf = leaves[at]!;
          const read = await this.readPages(b, source, leaf === state.partition ? (state.page ?? 0) : 0, leaf);
          rows = read.rows;
          done = read.last && at === leaves.length - 1;
          state.partition = read.last ? leaves[at + 1] : leaf;
          state.page = read.last ? 0 : read.next;
        }
      } else {
        const read = await this.readPages(b, source, state.page ?? 0);
        rows = read.rows;
        state.page = read.next;
        done = read.last;
      }
    } catch (err) {
      throw this.describeTableError(err, b);
    }
    state.backfilled = (state.backfilled ?? 0) + rows;
    if (done) {
      state.mode = "active";
      delete state.after;
      delete state.page;
      delete state.partition;
    }
    // Changes to rows this chunk covered are emitted from here on; then stream to the fence.
    b.filterAfter = b.precise && state.after ? state.after.map((v) => BigInt(v!)) : null;
    const activeBefore = b.state;
    b.state = { ...state, mode: state.mode === "active" ? "active" : "backfill" };
    try {
      await this.pump(await this.writeFence());
    } catch (err) {
      b.state = activeBefore;
      throw err;
    }
    this.ctx.log.debug("backfill chunk", { table: `${t.schema}.${t.name}`, rows, done });
    if (done) this.ctx.log.info("backfill complete", { table: `${t.schema}.${t.name}`, rows: state.backfilled });
    const updated = { cursor: formatLsn(this.cursor), bindingStateV1: { [b.stateKey]: state } };
    // The last chunk commits with the backfill-complete marker, so the marker
    // is sent exactly when the state says the table is active.
    if (done) await this.markerCheckpoint("complete", b, updated);
    else await this.checkpoint(updated);
  }

  /** Tells the runtime the table's backfill starts, committing its first backfill state with the marker. */
  private async beginBackfill(b: Bound): Promise<void> {
    const state: BindingState = { mode: "backfill", after: null, backfilled: 0 };
    await this.markerCheckpoint("begin", b, { cursor: formatLsn(this.cursor), bindingStateV1: { [b.stateKey]: state } });
    b.state = state;
    this.resetFilter(b);
  }

  /**
   * A backfill marker, which the SDK sends alone in its checkpoint after
   * committing anything pending (with no state change, so that checkpoint
   * acknowledges only what was already checkpointed).
   */
  private async markerCheckpoint(kind: "begin" | "complete", b: Bound, updated: CaptureState): Promise<void> {
    const update = { updated, mergePatch: true };
    const sent = kind === "begin" ? await this.out.backfillBegin(b.index, update) : await this.out.backfillComplete(b.index, update);
    for (let i = 1; i < sent; i++) this.ackQueue.push(this.checkpointed);
    this.ackQueue.push(this.cursor);
    this.checkpointed = this.cursor;
    this.docsSinceCheckpoint = 0;
    this.lastCheckpointAt = Date.now();
  }

  private describeTableError(err: unknown, b: Bound): Error {
    if ((err as { code?: string }).code === "42P01") {
      return new ConnectorError(
        `binding ${b.index} (${b.table.schema}.${b.table.name}): the table no longer exists; remove the binding or re-create the table`,
      );
    }
    return err as Error;
  }

  /**
   * Writes a fence: a transactional logical message committed with a
   * synchronous (flushing) commit, so the walsender sees it at once rather
   * than after the WAL writer's next flush.
   */
  private async writeFence(): Promise<string> {
    const token = `${this.cfg.slot}:${this.sessionId}:${++this.fenceSeq}`;
    await this.sql.query(`BEGIN; SET LOCAL synchronous_commit = on; SELECT pg_logical_emit_message(true, ${quoteLiteral(MESSAGE_PREFIX)}, ${quoteLiteral(token)}); COMMIT`);
    return token;
  }

  private async heartbeat(): Promise<void> {
    if (this.stopping) return;
    try {
      // DROP TABLE leaves nothing in the stream: look for captured tables that are gone.
      const names = this.bound.map((b) => qualified(b.table.schema, b.table.name));
      const gone = await this.sql.query("SELECT n FROM unnest($1::text[]) WITH ORDINALITY AS t(n, i) WHERE to_regclass(n) IS NULL ORDER BY i", [names]);
      if (gone.rows.length > 0) {
        const b = this.bound[names.indexOf(gone.rows[0].n)];
        this.fatal = new ConnectorError(`binding ${b.index} (${b.table.schema}.${b.table.name}): the table no longer exists; remove the binding or re-create the table`);
      }
      await this.sql.query("SELECT pg_logical_emit_message(false, $1, $2)", [MESSAGE_PREFIX, `${this.cfg.slot}:heartbeat`]);
    } catch (err) {
      this.ctx.log.warn("heartbeat failed", { error: String((err as Error).message) });
    }
  }

  // ---------------------------------------------------------------- stream

  /**
   * Reads the change stream. With a fence token, returns once the fence
   * arrives, without checkpoints of its own (the caller checkpoints);
   * without one, runs until the session stops, checkpointing at commits.
   */
  private async pump(fence: string | null): Promise<void> {
    let fenceSeen = false;
    for (;;) {
      if (this.fatal) throw this.fatal;
      // Commits coalesced while catching up are checkpointed before waiting for more.
      if (fence === null && !this.inTx && this.docsSinceCheckpoint > 0 && this.repl.caughtUp()) await this.checkpoint({ cursor: formatLsn(this.cursor) });
      const m = await this.repl.next();
      if (!m) {
        if (this.stopping) return;
        throw new Error("the server ended the replication stream: Connection terminated");
      }
      const { buf, off } = m;
      switch (buf[off]) {
        case 0x49: // I
        case 0x55: // U
        case 0x44: {
          // D
          const p = this.onChange(buf, off);
          if (p) await p;
          break;
        }
        case 0x42: {
          // B
          const begin = decodeBegin(buf, off);
          this.txLsnHex = begin.finalLsn.toString(16).padStart(16, "0");
          this.txSource = `,"lsn":"${formatLsn(begin.finalLsn)}","txid":${begin.xid},"ts_ms":${pgTimeToMillis(begin.commitTime)}`;
          this.txSeq = 0;
          this.inTx = true;
          break;
        }
        case 0x43: {
          // C
          const commit = decodeCommit(buf, off);
          this.inTx = false;
          if (commit.endLsn > this.cursor) this.cursor = commit.endLsn;
          if (fenceSeen) return;
          if (fence === null) await this.maybeCheckpoint();
          break;
        }
        case 0x52: // R
          await this.onRelation(decodeRelation(buf, off));
          break;
        case 0x4d: {
          // M: fences (in their own transactions) and heartbeats (outside any)
          const msg = decodeMessage(buf, off);
          if (msg.prefix !== MESSAGE_PREFIX) break;
          if (msg.transactional) {
            // Our fence: everything before its commit has been read once the commit arrives.
            if (fence !== null && msg.content === fence) fenceSeen = true;
            break;
          }
          if (msg.lsn > this.cursor) this.cursor = msg.lsn;
          if (fence === null && this.cursor > this.checkpointed) await this.checkpoint({ cursor: formatLsn(this.cursor) });
          break;
        }
        case 0x54: {
          // T
          for (const id of decodeTruncate(buf, off).relationIds) {
            const e = this.relations.get(id);
            if (e?.bound) {
              this.ctx.log.warn("TRUNCATE is not captured: the collection keeps documents of the removed rows", {
                table: `${e.relation.namespace}.${e.relation.name}`,
                binding: e.bound.index,
              });
            }
          }
          break;
        }
        default:
          // Y (type) and O (origin) carry nothing the capture needs.
          break;
      }
      if (this.stopping) return;
    }
  }

  private async maybeCheckpoint(): Promise<void> {
    // Coalesce commits while catching up: checkpoint when the stream has no
    // more buffered messages, or after enough documents or time.
    const now = Date.now();
    const caughtUp = this.repl.caughtUp();
    if (this.docsSinceCheckpoint === 0) {
      if (caughtUp && now - this.lastCheckpointAt >= 1000 && this.cursor > this.checkpointed) await this.checkpoint({ cursor: formatLsn(this.cursor) });
      return;
    }
    if (caughtUp || this.docsSinceCheckpoint >= 20_000 || now - this.lastCheckpointAt >= 250) {
      await this.checkpoint({ cursor: formatLsn(this.cursor) });
    }
  }

  private async checkpoint(updated: CaptureState): Promise<void> {
    await this.out.checkpoint({ updated, mergePatch: true });
    this.ackQueue.push(this.cursor);
    this.checkpointed = this.cursor;
    this.docsSinceCheckpoint = 0;
    this.lastCheckpointAt = Date.now();
  }

  private onAcknowledge(n: number): void {
    let lsn: Lsn | undefined;
    for (let i = 0; i < n && this.ackQueue.length > 0; i++) lsn = this.ackQueue.shift();
    if (lsn !== undefined && lsn > this.acked) {
      this.acked = lsn;
      this.repl?.acknowledge(lsn);
    }
  }

  private async onRelation(rel: Relation): Promise<void> {
    await this.types.ensure(this.sql, rel.columns.map((c) => c.typeOid));
    const b = this.bound.find((x) => x.table.schema === rel.namespace && x.table.name === rel.name);
    const entry: RelationEntry = { relation: rel, bound: b };
    this.relations.set(rel.id, entry);
    if (!b) return;
    const missingKey = b.table.key.filter((k) => !rel.columns.some((c) => c.name === k));
    if (missingKey.length > 0) {
      throw new ConnectorError(`binding ${b.index} (${rel.namespace}.${rel.name}): key column(s) ${missingKey.join(", ")} no longer exist`);
    }
    entry.encoder = new RowEncoder(rel.namespace, rel.name, rel.columns, b.table.key, this.types);
    const prev = b.streamColumns;
    const same = rel.columns.length === prev.length && rel.columns.every((c, i) => c.name === prev[i].name && c.typeOid === prev[i].typeOid);
    if (same) return;
    // The table changed shape: tell the runtime, and refresh what the backfill reads.
    b.streamColumns = rel.columns.map((c) => ({ name: c.name, typeOid: c.typeOid }));
    const [fresh] = await listTables(this.sql, [], [{ schema: rel.namespace, table: rel.name }]);
    if (fresh) {
      b.table = { ...b.table, columns: fresh.columns };
      b.encoder = new RowEncoder(b.table.schema, b.table.name, b.table.columns, b.table.key, this.types);
    }
    // Nullability is not in the Relation message; the catalog may already be newer, so unknown columns are nullable.
    const columns = rel.columns.map((c) => ({ ...c, notNull: fresh?.columns.find((f) => f.name === c.name && f.typeOid === c.typeOid)?.notNull ?? false }));
    this.ctx.log.info("table columns changed", { table: `${rel.namespace}.${rel.name}`, columns: rel.columns.map((c) => c.name) });
    await this.out.sourcedSchema(b.index, sourcedSchema(columns, b.table.key, this.types));
  }

  /** Insert, update or delete: returns a promise only when the output pushes back. */
  private onChange(buf: Buffer, off: number): void | Promise<void> {
    const tag = buf[off];
    const entry = this.relations.get(buf.readUInt32BE(off + 1));
    if (!entry) throw new Error(`pgoutput change for relation ${buf.readUInt32BE(off + 1)} before its Relation message`);
    const b = entry.bound;
    this.txSeq++;
    if (!b || b.state.mode === "pending") return;
    const enc = entry.encoder!;
    const keyless = enc.keyIdx.length === 0;
    const source = keyless ? `${this.txSource},"loc":"${this.txLsnHex}:${this.txSeq}"` : this.txSource;
    let p = off + 5;
    const nv = this.newVals;
    const ov = this.oldVals;

    if (tag === 0x49) {
      readTuple(buf, p + 1, nv);
      if (!this.passes(b, enc, nv)) return;
      return this.emit(b, enc.document(enc.properties(nv), "c", source));
    }
    if (tag === 0x44) {
      const kind = buf[p];
      readTuple(buf, p + 1, ov);
      if (!this.passes(b, enc, ov)) return;
      return this.emit(b, enc.document(enc.properties(ov, kind === 0x4b /* K */), "d", source));
    }
    // Update: an optional old tuple (K: key changed, O: full old row), then the new one.
    let oldKind = 0;
    if (buf[p] === 0x4b || buf[p] === 0x4f) {
      oldKind = buf[p];
      p = readTuple(buf, p + 1, ov);
    }
    readTuple(buf, p + 1, nv);
    if (oldKind === 0x4f) {
      // Unchanged TOAST values are not in the new tuple but are in a full old one.
      for (let i = 0; i < nv.length; i++) if (nv[i] === undefined && ov[i] !== undefined) nv[i] = ov[i];
    }
    let keyChanged = false;
    if (oldKind !== 0 && !keyless) for (const i of enc.keyIdx) if (ov[i] !== nv[i]) keyChanged = true;
    if (keyChanged) {
      // The row moved to another key: delete the old document, create the new one.
      const p1 = this.passes(b, enc, ov) ? this.emit(b, enc.document(enc.properties(ov, oldKind === 0x4b), "d", source)) : undefined;
      if (!this.passes(b, enc, nv)) return p1;
      if (nv.includes(undefined)) {
        // Unchanged out-of-line values are not in the WAL, and no document holds them under the new key: read them.
        const row = nv.slice();
        return (async () => {
          await p1;
          await this.readUnchanged(b, enc, row);
          await this.emit(b, enc.document(enc.properties(row), "c", source));
        })();
      }
      const next = () => this.emit(b, enc.document(enc.properties(nv), "c", source));
      return p1 ? p1.then(next) : next();
    }
    if (!this.passes(b, enc, nv)) return;
    return this.emit(b, enc.document(enc.properties(nv), "u", source, oldKind === 0x4f ? enc.properties(ov) : undefined));
  }

  /**
   * Fills the values a key-changing update left out (unchanged TOAST) by
   * reading the row from the table by its new key, in the same text form as
   * the stream's. The row may have changed since this change was committed:
   * its current values then appear a little early, and the later changes
   * follow in the stream, so the collection (reduced by key) ends the same.
   * If the row is gone, a later delete (or key change) of this key is still
   * to come; the values stay absent and a warning names the columns.
   */
  private async readUnchanged(b: Bound, enc: RowEncoder, row: TupleValue[]): Promise<void> {
    const t = b.table;
    const missing: number[] = [];
    row.forEach((v, i) => v === undefined && missing.push(i));
    const where = enc.keyIdx.map((i) => {
      const col = t.columns.find((c) => c.name === enc.names[i]);
      const v = row[i];
      if (!col || v === null || v === undefined) throw new ConnectorError(`binding ${b.index} (${t.schema}.${t.name}): key column ${enc.names[i]} is missing from a change`);
      return `${quoteIdent(col.name)} = ${quoteLiteral(v)}::${col.declaredType}`;
    });
    const sql = `SELECT ${missing.map((i) => quoteIdent(enc.names[i])).join(", ")} FROM ${qualified(t.schema, t.name)} WHERE ${where.join(" AND ")} LIMIT 1`;
    let found = 0;
    try {
      found = await copyQuery(this.sql, sql, (vals) => missing.forEach((i, j) => (row[i] = vals[j])));
    } catch (err) {
      // A column or the table dropped since: as if the row were gone.
      if (!["42703", "42P01"].includes((err as { code?: string }).code ?? "")) throw err;
    }
    if (found === 0) {
      this.ctx.log.warn("a row whose key changed is gone from the table; its unchanged out-of-line values are left out until its removal arrives", {
        table: `${t.schema}.${t.name}`,
        binding: b.index,
        columns: missing.map((i) => enc.names[i]),
      });
    }
  }

  /** Whether a change of a backfilling table is emitted now (see the module comment). */
  private passes(b: Bound, enc: RowEncoder, vals: TupleValue[]): boolean {
    if (b.state.mode !== "backfill" || !b.precise) return true;
    const after = b.filterAfter;
    if (!after) return false;
    for (let k = 0; k < after.length; k++) {
      const v = vals[enc.keyIdx[k]];
      if (v === null || v === undefined) return true;
      const x = BigInt(v);
      if (x < after[k]) return true;
      if (x > after[k]) return false;
    }
    return true;
  }

  private emit(b: Bound, doc: string): void | Promise<void> {
    this.docsSinceCheckpoint++;
    return mustWait(this.out.document(b.index, new RawJson(doc)));
  }
}
