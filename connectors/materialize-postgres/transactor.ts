/**
 * Transactions against PostgreSQL: Loads are staged with COPY and answered
 * by one join; Stores are staged with COPY and merged set-based; the fence
 * row takes the runtime checkpoint in the same database transaction as the
 * data, which commits before StartedCommit.
 */
import { toBinary } from "@bufbuild/protobuf";
import { to as copyTo } from "pg-copy-streams";
import { CheckpointSchema } from "../../src/gen/consumer/protocol/protocol_pb.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { RawJson, type BackfillMarker, type LoadIterator, type StartCommitFn, type StoreIterator, type Transactor } from "../../src/sdk/types.js";
import type { Logger } from "../../src/log.js";
import { updateFence, type Fence } from "../../src/sql/fence.js";
import type { Table } from "../../src/sql/table.js";
import { statementError, type PgClient } from "./client.js";
import { CopyStager } from "./copy-stream.js";
import { copyUnescape, RowEncoder } from "./copy-text.js";


/** Marks staged rows that are hard deletes. */
const DELETE_FLAG = "_flow_delete";

interface BindingPlan {
  index: number;
  table: Table;
  encoder: RowEncoder;
  storeStage: string;
  loadStage: string;
  copyStore: string;
  /** COPY straight into the target, for rows the runtime reports as new. */
  copyInsert: string;
  direct: boolean;
  copyLoadKeys: string;
  merge: string[];
}

export interface TransactorOptions {
  tables: Table[];
  storeConn: PgClient;
  loadConn: PgClient;
  fence: Fence;
  checkpointsIdent: string;
  hardDelete: boolean;
  /** Per binding: whether new rows may be COPY'd straight into the table (see OWNED_TABLE_COMMENT). */
  directInserts: boolean[];
  log: Logger;
}

const cols = (cs: { ident: string }[]) => cs.map((c) => c.ident).join(", ");

function planBinding(table: Table, index: number, hardDelete: boolean, direct: boolean): BindingPlan {
  const storeStage = `flow_store_${index}`;
  const loadStage = `flow_load_${index}`;
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
    loadStage,
    copyStore: table.deltaUpdates ? `COPY ${table.ident} (${all}) FROM STDIN` : `COPY ${storeStage} (${all}, ${DELETE_FLAG}) FROM STDIN`,
    copyInsert: `COPY ${table.ident} (${all}) FROM STDIN`,
    direct: direct && !table.deltaUpdates,
    copyLoadKeys: `COPY ${loadStage} (${cols(table.keys)}) FROM STDIN`,
    merge,
  };
}

/** Creates the session's temporary staging tables, shaped like their targets. */
export async function createStagingTables(opts: TransactorOptions): Promise<void> {
  for (const [i, table] of opts.tables.entries()) {
    if (table.deltaUpdates) continue;
    const p = planBinding(table, i, opts.hardDelete, false);
    try {
      await opts.storeConn.query(
        `CREATE TEMPORARY TABLE ${p.storeStage} ON COMMIT DELETE ROWS AS SELECT ${cols(table.columns)} FROM ${table.ident} WITH NO DATA`,
      );
      await opts.storeConn.query(`ALTER TABLE ${p.storeStage} ADD COLUMN ${DELETE_FLAG} BOOLEAN NOT NULL`);
      await opts.loadConn.query(
        `CREATE TEMPORARY TABLE ${p.loadStage} ON COMMIT DELETE ROWS AS SELECT ${cols(table.keys)} FROM ${table.ident} WITH NO DATA`,
      );
    } catch (err) {
      throw statementError(err, `preparing staging tables for ${table.ident}`);
    }
  }
}

export class PgTransactor implements Transactor {
  private readonly plans: BindingPlan[];
  /** Standard bindings whose backfill begins with this transaction's Stores: emptied in its transaction. */
  private truncate = new Set<number>();

  constructor(private readonly opts: TransactorOptions) {
    this.plans = opts.tables.map((t, i) => planBinding(t, i, opts.hardDelete, opts.directInserts[i] ?? false));
  }

  async load(it: LoadIterator, loaded: (binding: number, doc: unknown) => void | Promise<void>): Promise<void> {
    const conn = this.opts.loadConn;
    const begun = performance.now();
    await conn.query("BEGIN");
    try {
      const stager = new CopyStager(conn, (b) => this.plans[b]!.copyLoadKeys);
      let count = 0;
      for await (const l of it) {
        count++;
        const plan = this.plan(l.binding);
        let line: string;
        try {
          line = plan.encoder.keyLine(l.keyJson);
        } catch (err) {
          throw new ConnectorError(`binding ${l.binding} (${plan.table.ident}): bad Load key: ${(err as Error).message}`);
        }
        const wait = stager.write(l.binding, line);
        if (wait) await wait;
      }
      await stager.finish();
      const staged = performance.now();
      let found = 0;
      // Read-committed: the previous transaction's stores must be visible.
      await it.committed();
      const touched = [...stager.touched].sort((a, b) => a - b);
      if (touched.length > 0) {
        for (const b of touched) await conn.query(`ANALYZE ${this.plans[b]!.loadStage}`);
        const query = touched
          .map((b) => {
            const { table, loadStage } = this.plans[b]!;
            if (!table.document) throw new ConnectorError(`binding ${b} (${table.ident}) has no document column to load from`);
            const on = table.keys.map((k) => `t.${k.ident} = l.${k.ident}`).join(" AND ");
            return `SELECT ${b}, t.${table.document.ident}::text FROM ${loadStage} AS l JOIN ${table.ident} AS t ON ${on}`;
          })
          .join(" UNION ALL ");
        await this.streamRows(conn, `COPY (${query}) TO STDOUT`, (fields) => {
          found++;
          return loaded(Number(fields[0]), new RawJson(copyUnescape(fields[1]!)));
        });
      }
      await conn.query("COMMIT");
      this.opts.log.debug("loaded documents", {
        keys: count,
        found,
        stageMs: Math.round(staged - begun),
        queryMs: Math.round(performance.now() - staged),
      });
    } catch (err) {
      await conn.query("ROLLBACK").catch(() => undefined);
      throw statementError(err, "loading documents", (rel) => this.bindingOf(rel));
    }
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
    const conn = this.opts.storeConn;
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
        let line: string;
        try {
          const doc = plan.table.document ? s.docJson : undefined;
          const flag = plan.table.deltaUpdates || direct ? undefined : isDelete ? "t" : "f";
          line = plan.encoder.storeLine(s.keyJson, s.valuesJson, doc, flag);
        } catch (err) {
          throw new ConnectorError(`binding ${s.binding} (${plan.table.ident}): bad Store: ${(err as Error).message}`);
        }
        const wait = stager.write(s.binding * 2 + (direct ? 1 : 0), line);
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
    await Promise.allSettled([this.opts.storeConn.end(), this.opts.loadConn.end()]);
  }

  /** Names the binding that writes `relation` (a staging table or a target), for error messages. */
  private bindingOf(relation: string): string | undefined {
    const staged = /^flow_(?:store|load)_(\d+)$/.exec(relation);
    const plan = staged ? this.plans[Number(staged[1])] : this.plans.find((p) => p.table.path[1] === relation);
    return plan ? `binding ${plan.index} (table ${plan.table.ident})` : undefined;
  }

  private plan(binding: number): BindingPlan {
    const p = this.plans[binding];
    if (!p) throw new ConnectorError(`request for unknown binding ${binding}`);
    return p;
  }

  /**
   * Runs COPY ... TO STDOUT and hands each row's fields to `onRow`; the
   * stream pauses while `onRow` waits, so rows never pile up in memory.
   */
  private streamRows(conn: PgClient, sql: string, onRow: (fields: string[]) => void | Promise<void>): Promise<void> {
    const stream = conn.query(copyTo(sql));
    return new Promise<void>((resolve, reject) => {
      let rest: Buffer | undefined;
      let failed = false;
      const fail = (err: unknown) => {
        if (failed) return;
        failed = true;
        stream.destroy();
        reject(err);
      };
      stream.on("data", (chunk: Buffer) => {
        if (failed) return;
        const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
        let start = 0;
        let pending: Promise<void>[] | undefined;
        try {
          for (let nl = buf.indexOf(0x0a, start); nl >= 0; nl = buf.indexOf(0x0a, start)) {
            const p = onRow(buf.toString("utf8", start, nl).split("\t"));
            if (p) (pending ??= []).push(p);
            start = nl + 1;
          }
        } catch (err) {
          return fail(err);
        }
        rest = start < buf.length ? buf.subarray(start) : undefined;
        if (pending) {
          stream.pause();
          Promise.all(pending).then(() => stream.resume(), fail);
        }
      });
      stream.on("error", fail);
      stream.on("end", () => {
        if (rest && rest.length > 0) fail(new Error("COPY output ended in the middle of a row"));
        else if (!failed) resolve();
      });
    });
  }
}
