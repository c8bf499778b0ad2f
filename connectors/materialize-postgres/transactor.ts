/**
 * Transactions against PostgreSQL: Loads are staged with COPY and answered
 * by one join; Stores are staged with COPY and merged set-based; the fence
 * row takes the runtime checkpoint in the same database transaction as the
 * data, which commits before StartedCommit.
 */
import { toBinary } from "@bufbuild/protobuf";
import { CheckpointSchema } from "../../src/gen/consumer/protocol/protocol_pb.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { docBytes } from "../../src/sdk/materialize.js";
import { type BackfillMarker, type LoadIterator, type StartCommitFn, type StoreIterator, type Transactor } from "../../src/sdk/types.js";
import type { Logger } from "../../src/log.js";
import { updateFence, type Fence } from "../../src/sql/fence.js";
import type { Table } from "../../src/sql/table.js";
import { statementError, type PgClient } from "./client.js";
import { CopyStager } from "./copy-stream.js";
import { RowEncoder } from "./copy-text.js";
import type { ValueEncoding } from "../../src/sql/dialect.js";
import { copyOutBinarySpans } from "./copy-out.js";
import { KeyChunk } from "./load-keys.js";
import { LoadedRows } from "./loaded-rows.js";


/** Keys a load chunk waits for before it goes to PostgreSQL while the connection is free. */
const MIN_LOAD_CHUNK = 2048;
/** The most keys (or bytes of COPY text) a load chunk gathers while the previous chunk runs. */
const MAX_LOAD_CHUNK = 65536;
const MAX_LOAD_CHUNK_BYTES = 4 * 1024 * 1024;

/** Key column types whose chunk statement is bounded by the chunk's smallest and largest integer key (KeyChunk.range). */
const RANGED_KEY_TYPES = new Set(["bigint", "numeric"]);

/**
 * Opens the load's transaction, with no parallel plans for its chunk
 * statements: each parallel worker would unnest and sort the whole chunk
 * again (the function scan is not shared), and at 4-30k keys the planner
 * picks a 2-worker Gather costing 3x the CPU of the serial plan (1.3 µs/key
 * in the backend + 1.8 in workers, against 1.0). SET LOCAL: it ends with the
 * transaction; one round trip, as BEGIN alone.
 */
export const LOAD_BEGIN = "BEGIN; SET LOCAL max_parallel_workers_per_gather = 0";

/** Marks staged rows that are hard deletes. */
const DELETE_FLAG = "_flow_delete";
/** Its values in COPY text, as bytes: "t" and "f". */
const FLAG_TRUE = 0x74;
const FLAG_FALSE = 0x66;

interface BindingPlan {
  index: number;
  table: Table;
  encoder: RowEncoder;
  storeStage: string;
  copyStore: string;
  /** COPY straight into the target, for rows the runtime reports as new. */
  copyInsert: string;
  direct: boolean;
  /** How key values are read from their JSON, and each key column's type as the table has it (SQL). */
  keyEncodings: ValueEncoding[];
  keyTypes: string[];
  merge: string[];
}

export interface TransactorOptions {
  tables: Table[];
  /** The one connection for loads and stores, which never overlap (see the connector's open). */
  conn: PgClient;
  fence: Fence;
  checkpointsIdent: string;
  hardDelete: boolean;
  /** Per binding: whether new rows may be COPY'd straight into the table (see OWNED_TABLE_COMMENT). */
  directInserts: boolean[];
  /** Per binding, the table's key column types (see keyColumnTypes); empty for delta bindings. */
  keyTypes: string[][];
  log: Logger;
}

const cols = (cs: { ident: string }[]) => cs.map((c) => c.ident).join(", ");

function planBinding(table: Table, index: number, hardDelete: boolean, direct: boolean, keyTypes: string[]): BindingPlan {
  const storeStage = `flow_store_${index}`;
  const all = cols(table.columns);
  const keyMatch = (a: string, b: string) => table.keys.map((k) => `${a}.${k.ident} = ${b}.${k.ident}`).join(" AND ");
  const merge: string[] = [];
  if (!table.deltaUpdates) {
    if (hardDelete) {
      merge.push(`DELETE FROM ${table.ident} AS t USING ${storeStage} AS s WHERE ${keyMatch("t", "s")} AND s.${DELETE_FLAG}`);
    }
    const updates = [...table.values, ...(table.document ? [table.document] : [])];
    const onConflict = updates.length
      ? `DO UPDATE SET ${updates.map((c) => `${c.ident} = EXCLUDED.${c.ident}`).join(", ")}`
      : "DO NOTHING";
    merge.push(
      `INSERT INTO ${table.ident} (${all}) SELECT ${all} FROM ${storeStage} WHERE NOT ${DELETE_FLAG} ` +
        `ON CONFLICT (${cols(table.keys)}) ${onConflict}`,
    );
  }
  return {
    index,
    table,
    encoder: new RowEncoder(table.keys, table.values),
    storeStage,
    copyStore: table.deltaUpdates ? `COPY ${table.ident} (${all}) FROM STDIN` : `COPY ${storeStage} (${all}, ${DELETE_FLAG}) FROM STDIN`,
    copyInsert: `COPY ${table.ident} (${all}) FROM STDIN`,
    direct: direct && !table.deltaUpdates,
    keyEncodings: table.keys.map((k) => k.mapped.encoding),
    keyTypes,
    merge,
  };
}

/** Creates the session's temporary staging tables, shaped like their targets. */
export async function createStagingTables(opts: Omit<TransactorOptions, "keyTypes">): Promise<void> {
  for (const [i, table] of opts.tables.entries()) {
    if (table.deltaUpdates) continue;
    const p = planBinding(table, i, opts.hardDelete, false, []);
    try {
      await opts.conn.query(
        `CREATE TEMPORARY TABLE ${p.storeStage} ON COMMIT DELETE ROWS AS SELECT ${cols(table.columns)} FROM ${table.ident} WITH NO DATA`,
      );
      await opts.conn.query(`ALTER TABLE ${p.storeStage} ADD COLUMN ${DELETE_FLAG} BOOLEAN NOT NULL`);
    } catch (err) {
      throw statementError(err, `preparing staging tables for ${table.ident}`);
    }
  }
}

/**
 * Per binding, the types of its table's key columns as SQL (format_type),
 * which the load query casts its key arrays to: the table's own types, so
 * that the join compares like with like and can use the key's index.
 */
export async function keyColumnTypes(conn: PgClient, tables: Table[]): Promise<string[][]> {
  const out: string[][] = [];
  for (const table of tables) {
    if (table.deltaUpdates) {
      out.push([]);
      continue;
    }
    let rows: { name: string; type: string }[];
    try {
      ({ rows } = await conn.query<{ name: string; type: string }>(
        `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`,
        [table.ident],
      ));
    } catch (err) {
      throw statementError(err, `reading the key column types of ${table.ident}`);
    }
    const types = new Map(rows.map((r) => [r.name, r.type]));
    out.push(
      table.keys.map((k) => {
        const type = types.get(k.name);
        if (type === undefined) throw new ConnectorError(`table ${table.ident} has no key column ${JSON.stringify(k.name)} (has Apply run?)`);
        return type;
      }),
    );
  }
  return out;
}

export class PgTransactor implements Transactor {
  private readonly plans: BindingPlan[];
  /** Standard bindings whose backfill begins with this transaction's Stores: emptied in its transaction. */
  private truncate = new Set<number>();

  constructor(private readonly opts: TransactorOptions) {
    this.plans = opts.tables.map((t, i) => planBinding(t, i, opts.hardDelete, opts.directInserts[i] ?? false, opts.keyTypes[i] ?? []));
  }

  /**
   * Keys are gathered into chunks while they arrive; each chunk is one
   * statement: the keys as array literals, unnested and joined with the
   * tables, its rows read as binary COPY so that a document's bytes go into
   * its Loaded frame as they are. A chunk goes to PostgreSQL as soon as the
   * connection is free and it holds MIN_LOAD_CHUNK keys, so chunks stay
   * small while PostgreSQL keeps up and grow (to MAX_LOAD_CHUNK keys or
   * bytes) when it does not: the join of one chunk overlaps the arrival of
   * the next. A chunk that fills up while another runs, and the last one,
   * are sent at once, behind the running one (at most two in flight, three
   * chunks in memory), so PostgreSQL starts on them as soon as it is done
   * with the one before instead of a round trip later, while this process
   * still reads that one's rows. The planner sees each chunk's exact size
   * (no staging table, no ANALYZE).
   */
  async load(it: LoadIterator, loaded: (binding: number, doc: unknown) => void | Promise<void>): Promise<void> {
    const conn = this.opts.conn;
    const begun = performance.now();
    await conn.query(LOAD_BEGIN);
    /** Chunks sent and not finished, oldest first; they never reject (see `failure`). */
    const inFlight: Promise<void>[] = [];
    try {
      let chunk = new Map<number, KeyChunk>();
      let chunkKeys = 0;
      let chunkBytes = 0;
      let count = 0;
      let found = 0;
      let chunks = 0;
      let failure: unknown;
      let committed: Promise<void> | undefined;
      const run = async (c: Map<number, KeyChunk>): Promise<void> => {
        chunks++;
        // Read-committed: the previous transaction's stores must be visible.
        await (committed ??= it.committed());
        // Not `found += await ...`: that reads `found` before the await, and chunks run two at a time.
        const n = await this.loadChunk(conn, c, loaded);
        found += n;
      };
      const start = () => {
        const c = chunk;
        chunk = new Map();
        chunkKeys = 0;
        chunkBytes = 0;
        const p: Promise<void> = run(c).then(
          () => void inFlight.splice(inFlight.indexOf(p), 1),
          (err) => {
            failure ??= err;
            inFlight.splice(inFlight.indexOf(p), 1);
          },
        );
        inFlight.push(p);
      };
      /** Starts the chunk behind the one running, after the oldest when two run already. */
      const startBehind = async (): Promise<void> => {
        if (inFlight.length >= 2) await inFlight[0];
        if (failure !== undefined) throw failure;
        start();
      };
      /** Counts one key taken into the chunk and starts the chunk when it is due; a promise only when it must wait for a chunk running. */
      const added = (bytes: number): Promise<void> | undefined => {
        count++;
        chunkBytes += bytes;
        chunkKeys++;
        if (failure !== undefined) throw failure;
        if (inFlight.length === 0) {
          if (chunkKeys >= MIN_LOAD_CHUNK) start();
        } else if (chunkKeys >= MAX_LOAD_CHUNK || chunkBytes >= MAX_LOAD_CHUNK_BYTES) {
          if (inFlight.length >= 2) return startBehind();
          start();
        }
        return undefined;
      };
      const keysOf = (binding: number): KeyChunk => {
        let keys = chunk.get(binding);
        if (!keys) chunk.set(binding, (keys = new KeyChunk(this.plan(binding).keyEncodings)));
        return keys;
      };
      const badKey = (binding: number, err: unknown) =>
        new ConnectorError(`binding ${binding} (${this.plan(binding).table.ident}): bad Load key: ${(err as Error).message}`);
      /** A chunk running that the keys taken must wait for (set by takeKeys). */
      let pending: Promise<void> | undefined;
      /**
       * Takes a batch's keys from `from` on, until one must wait for a chunk
       * running (then `pending` is set); returns the index reached. The
       * per-key loop lives here, not in this async function: V8 then
       * optimizes this small function for the load's hot path instead of
       * compiling (and, on a branch first taken late, recompiling) all of
       * load() for it (--trace-opt, a cold 100,000-key load: 0.17 s of
       * compile time, wall clock on a loaded machine).
       */
      const takeKeys = (bindings: readonly number[], keys: readonly Uint8Array[], from: number): number => {
        for (let i = from; i < keys.length; i++) {
          const binding = bindings[i]!;
          let bytes: number;
          try {
            bytes = keysOf(binding).addBytes(keys[i]!);
          } catch (err) {
            throw badKey(binding, err);
          }
          const wait = added(bytes);
          if (wait !== undefined) {
            pending = wait;
            return i + 1;
          }
        }
        return keys.length;
      };
      if (it.batches) {
        // Key bytes as they came, written into the statement as bytes.
        for await (const batch of it.batches()) {
          const { bindings, keys } = batch;
          for (let i = 0; i < keys.length; ) {
            i = takeKeys(bindings, keys, i);
            if (pending !== undefined) {
              const wait = pending;
              pending = undefined;
              await wait;
            }
          }
        }
      } else {
        for await (const l of it) {
          let bytes: number;
          try {
            bytes = keysOf(l.binding).add(l.keyJson);
          } catch (err) {
            throw badKey(l.binding, err);
          }
          const wait = added(bytes);
          if (wait) await wait;
        }
      }
      if (chunkKeys > 0) await startBehind();
      while (inFlight.length > 0) await inFlight[0];
      if (failure !== undefined) throw failure;
      await conn.query("COMMIT");
      this.opts.log.debug("loaded documents", { keys: count, found, chunks, ms: Math.round(performance.now() - begun) });
    } catch (err) {
      // Chunks still running own the connection: let them stop before rolling back.
      while (inFlight.length > 0) await inFlight[0];
      await conn.query("ROLLBACK").catch(() => undefined);
      throw statementError(err, "loading documents", (rel) => this.bindingOf(rel));
    }
  }

  /** Sends what the tables hold for one chunk of keys. */
  private async loadChunk(conn: PgClient, chunk: Map<number, KeyChunk>, loaded: (binding: number, doc: unknown) => void | Promise<void>): Promise<number> {
    const text = (t: string) => Buffer.from(t, "utf8");
    const sql: Buffer[] = [text("COPY (")];
    for (const b of [...chunk.keys()].sort((x, y) => x - y)) {
      const { table, keyTypes } = this.plans[b]!;
      if (!table.document) throw new ConnectorError(`binding ${b} (${table.ident}) has no document column to load from`);
      const keys = chunk.get(b)!;
      if (sql.length > 1) sql.push(text(" UNION ALL "));
      sql.push(text(`SELECT ${b}::int4, t.${table.document.ident}::text FROM unnest(`));
      keyTypes.forEach((type, i) => {
        if (i > 0) sql.push(text(", "));
        keys.literal(i, type, sql);
      });
      let on = table.keys.map((k, i) => `t.${k.ident} = l.k${i}`).join(" AND ");
      // Exact bounds of the chunk's keys: the same rows, and a merge join no longer reads the index from the table's first key.
      const range = RANGED_KEY_TYPES.has(keyTypes[0]!) ? keys.range() : undefined;
      if (range) on += ` AND t.${table.keys[0]!.ident} BETWEEN ${range[0]}::${keyTypes[0]} AND ${range[1]}::${keyTypes[0]}`;
      const names = table.keys.map((_, i) => `k${i}`).join(", ");
      sql.push(text(`) AS l(${names}) JOIN ${table.ident} AS t ON ${on}`));
    }
    sql.push(text(") TO STDOUT (FORMAT binary)"));
    // Rows go on as batches of spans of the bytes they were read into, one batch per socket read (loaded-rows.ts).
    const rows = new LoadedRows(loaded, (b) => this.plans[b]?.table.ident);
    await copyOutBinarySpans(conn, sql, rows.row, { ahead: true, onRead: () => rows.flush() });
    const found = rows.found;
    return found;
  }

  /**
   * A backfill begin means the source is being captured again from scratch:
   * rows stored before are superseded, and the refill may not contain all of
   * them (rows deleted at the source while nothing captured). A standard
   * binding's table is emptied in the transaction that stores the refill's
   * first rows, so readers never see it empty. Delta bindings keep their
   * rows: they are a history, and a refill appends to it.
   */
  async flush({ backfillBegins }: { backfillBegins: BackfillMarker[] }): Promise<void> {
    for (const m of backfillBegins) {
      if (!this.plan(m.binding).table.deltaUpdates) this.truncate.add(m.binding);
    }
  }

  async store(it: StoreIterator): Promise<StartCommitFn> {
    const conn = this.opts.conn;
    const hard = this.opts.hardDelete;
    const begun = performance.now();
    const cpu = process.cpuUsage();
    const truncate = [...this.truncate].sort((a, b) => a - b);
    await conn.query("BEGIN");
    try {
      for (const b of truncate) {
        const ident = this.plans[b]!.table.ident;
        await conn.query(`TRUNCATE ${ident}`);
        this.opts.log.info("emptied the table of a binding whose backfill begins", { binding: b, table: ident });
      }
      // Two COPY targets per binding: 2b stages rows for the merge, 2b+1
      // takes new rows straight into the table.
      const stager = new CopyStager(conn, (k) => (k & 1 ? this.plans[k >> 1]!.copyInsert : this.plans[k >> 1]!.copyStore));
      let count = 0;
      for await (const s of it) {
        const plan = this.plan(s.binding);
        const isDelete = hard && s.delete;
        // A hard delete of a row that was never stored has nothing to remove.
        if (isDelete && !s.exists) continue;
        const direct = plan.direct && !s.exists;
        let fields: string;
        try {
          fields = plan.encoder.keyValueFields(s.keyJson, s.valuesJson);
        } catch (err) {
          throw new ConnectorError(`binding ${s.binding} (${plan.table.ident}): bad Store: ${(err as Error).message}`);
        }
        // Only a valid row may claim the connection for a COPY: a failed one must leave it free to roll back.
        const target = s.binding * 2 + (direct ? 1 : 0);
        // The document's bytes go into the COPY as they came, without a string made of them.
        const doc = plan.table.document ? (docBytes(s) ?? s.docJson) : undefined;
        const flag = plan.table.deltaUpdates || direct ? undefined : isDelete ? FLAG_TRUE : FLAG_FALSE;
        plan.encoder.storeInto(stager.buffer(target), fields, doc, flag);
        const wait = stager.wrote(target);
        if (wait) await wait;
        count++;
      }
      await stager.finish();
      const staged = performance.now();
      for (const k of [...stager.touched].sort((a, b) => a - b)) {
        if ((k & 1) === 0) for (const sql of this.plans[k >> 1]!.merge) await conn.query(sql);
      }
      if (this.opts.log.enabled("debug")) {
        const used = process.cpuUsage(cpu);
        const mem = process.memoryUsage();
        this.opts.log.debug("stored documents", {
          count,
          targets: stager.touched.size,
          stageMs: Math.round(staged - begun),
          mergeMs: Math.round(performance.now() - staged),
          cpuMs: Math.round((used.user + used.system) / 1000),
          heapMb: Math.round(mem.heapUsed / 1e6),
          rssMb: Math.round(mem.rss / 1e6),
        });
      }
    } catch (err) {
      await conn.query("ROLLBACK").catch(() => undefined);
      if ((err as { code?: string }).code === "23505") {
        // The runtime called a key new that the table already holds: the
        // table has rows this materialization did not write, or the
        // runtime's record of stored keys is behind the table. Nothing of
        // the transaction committed. Drop the ownership marker so the next
        // session merges every row (and loads every key); the runtime
        // retries the transaction when it restarts the session.
        const direct = this.plans.filter((p) => p.direct).map((p) => p.table.ident);
        for (const ident of direct) await conn.query(`COMMENT ON TABLE ${ident} IS NULL`).catch(() => undefined);
        throw new ConnectorError(
          `storing documents: ${(err as Error).message}: the runtime reported the row as new, but the table already holds it. ` +
            `Nothing was committed; ${direct.join(", ")} will merge every row from the next session on, which retries this transaction`,
          { cause: err },
        );
      }
      throw statementError(err, "storing documents", (rel) => this.bindingOf(rel));
    }
    return async ({ runtimeCheckpoint }) => {
      try {
        await updateFence(conn, this.opts.checkpointsIdent, this.opts.fence, toBinary(CheckpointSchema, runtimeCheckpoint));
        await conn.query("COMMIT");
        for (const b of truncate) this.truncate.delete(b);
      } catch (err) {
        await conn.query("ROLLBACK").catch(() => undefined);
        throw statementError(err, "committing the transaction");
      }
    };
  }

  async acknowledge(): Promise<void> {
    // The commit already happened in StartCommit: nothing is left to do.
  }

  async destroy(): Promise<void> {
    await this.opts.conn.end().catch(() => undefined);
  }

  /** Names the binding that writes `relation` (a staging table or a target), for error messages. */
  private bindingOf(relation: string): string | undefined {
    const staged = /^flow_store_(\d+)$/.exec(relation);
    const plan = staged ? this.plans[Number(staged[1])] : this.plans.find((p) => p.table.path[1] === relation);
    return plan ? `binding ${plan.index} (table ${plan.table.ident})` : undefined;
  }

  private plan(binding: number): BindingPlan {
    const p = this.plans[binding];
    if (!p) throw new ConnectorError(`request for unknown binding ${binding}`);
    return p;
  }
}
