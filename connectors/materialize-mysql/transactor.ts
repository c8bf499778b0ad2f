/**
 * Transactions against MySQL/MariaDB: Load keys are streamed by LOAD DATA
 * into a temporary table and answered by one join; Stores are streamed by
 * LOAD DATA into a temporary staging table and merged set-based (delete of
 * hard deletes, INSERT … ON DUPLICATE KEY UPDATE of the rest); delta
 * bindings load straight into their table. The fence row takes the runtime
 * checkpoint in the same database transaction as the data, which commits
 * before StartedCommit.
 */
import { toBinary } from "@bufbuild/protobuf";
import { CheckpointSchema } from "../../src/gen/consumer/protocol/protocol_pb.js";
import type { Logger } from "../../src/log.js";
import { ConnectorError } from "../../src/sdk/errors.js";
import { RawJson, type BackfillMarker, type LoadIterator, type StartCommitFn, type StoreIterator, type Transactor } from "../../src/sdk/types.js";
import { updateFence, type Fence } from "../../src/sql/fence.js";
import type { Table } from "../../src/sql/table.js";
import { querier, redactValues, statementError, type MysqlConnection } from "./client.js";
import { mysqlFence } from "./dialect.js";
import { loadColumns, loadDataSql, RowEncoder } from "./load-text.js";
import { LoadDataIn } from "./load-stream.js";

/** Marks staged rows that are hard deletes. */
const DELETE_FLAG = "`_flow_delete`";

interface BindingPlan {
  index: number;
  table: Table;
  encoder: RowEncoder;
  storeStage: string;
  loadStage: string;
  /** LOAD DATA of Stores: into the staging table, or the table itself for delta updates. */
  loadStores: string;
  loadKeys: string;
  merge: string[];
}

export interface TransactorOptions {
  tables: Table[];
  storeConn: MysqlConnection;
  loadConn: MysqlConnection;
  fence: Fence;
  checkpointsIdent: string;
  hardDelete: boolean;
  log: Logger;
}

const cols = (cs: { ident: string }[]) => cs.map((c) => c.ident).join(", ");

function planBinding(table: Table, index: number, hardDelete: boolean): BindingPlan {
  const storeStage = `\`flow_store_${index}\``;
  const loadStage = `\`flow_load_${index}\``;
  const all = cols(table.columns);
  const keyMatch = table.keys.map((k) => `t.${k.ident} = s.${k.ident}`).join(" AND ");
  const merge: string[] = [];
  if (!table.deltaUpdates) {
    if (hardDelete) merge.push(`DELETE t FROM ${table.ident} AS t JOIN ${storeStage} AS s ON ${keyMatch} WHERE s.${DELETE_FLAG} = 1`);
    const updates = [...table.values, ...(table.document ? [table.document] : [])];
    const set = (updates.length ? updates : table.keys).map((c) => `${c.ident} = VALUES(${c.ident})`).join(", ");
    merge.push(`INSERT INTO ${table.ident} (${all}) SELECT ${all} FROM ${storeStage} WHERE ${DELETE_FLAG} = 0 ON DUPLICATE KEY UPDATE ${set}`);
  }
  return {
    index,
    table,
    encoder: new RowEncoder(table.keys, table.values),
    storeStage,
    loadStage,
    loadStores: table.deltaUpdates
      ? loadDataSql(table.ident, loadColumns(table.columns))
      : loadDataSql(storeStage, loadColumns(table.columns, [DELETE_FLAG])),
    loadKeys: loadDataSql(loadStage, loadColumns(table.keys)),
    merge,
  };
}

/** Creates the session's temporary staging tables. */
export async function createStagingTables(opts: TransactorOptions): Promise<void> {
  for (const [i, table] of opts.tables.entries()) {
    if (table.deltaUpdates) continue;
    const p = planBinding(table, i, opts.hardDelete);
    try {
      await opts.storeConn.query(`CREATE TEMPORARY TABLE ${p.storeStage} LIKE ${table.ident}`);
      await opts.storeConn.query(`ALTER TABLE ${p.storeStage} ADD COLUMN ${DELETE_FLAG} TINYINT NOT NULL`);
      const keyDefs = table.keys.map((k) => `${k.ident} ${k.mapped.ddl} NOT NULL`).join(", ");
      await opts.loadConn.query(`CREATE TEMPORARY TABLE ${p.loadStage} (${keyDefs}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
    } catch (err) {
      throw statementError(err, `preparing staging tables for ${table.ident}`);
    }
  }
}

export class MysqlTransactor implements Transactor {
  private readonly plans: BindingPlan[];
  /** Standard bindings whose backfill begins with this transaction's Stores: emptied in its transaction. */
  private truncate = new Set<number>();
  /**
   * Standard bindings whose store staging table may hold rows (of the last
   * transaction, committed or rolled back): emptied by TRUNCATE before the
   * next BEGIN. Not inside the transaction: a row-by-row DELETE of a large
   * stage costs several times the TRUNCATE, and TRUNCATE commits implicitly
   * (even of a temporary table, on MariaDB 10.11).
   */
  private stagedStores = new Set<number>();

  constructor(private readonly opts: TransactorOptions) {
    this.plans = opts.tables.map((t, i) => planBinding(t, i, opts.hardDelete));
  }

  async load(it: LoadIterator, loaded: (binding: number, doc: unknown) => void | Promise<void>): Promise<void> {
    const conn = this.opts.loadConn;
    const begun = performance.now();
    const touched = new Set<number>();
    let loader: { binding: number; load: LoadDataIn } | undefined;
    try {
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
        if (loader?.binding !== l.binding) {
          if (loader) await this.finishLoad(conn, loader.load, "staging Load keys");
          // Autocommit: TRUNCATE (cheaper than a DELETE of every row) commits nothing of ours.
          if (!touched.has(l.binding)) await conn.query(`TRUNCATE TABLE ${plan.loadStage}`);
          touched.add(l.binding);
          loader = { binding: l.binding, load: new LoadDataIn(conn, plan.loadKeys) };
        }
        const wait = loader.load.write(line);
        if (wait) await wait;
      }
      if (loader) await this.finishLoad(conn, loader.load, "staging Load keys");
      loader = undefined;
      const staged = performance.now();
      let found = 0;
      // Autocommit: the join is its own transaction with a fresh snapshot, so the previous transaction's stores are visible.
      await it.committed();
      const bindings = [...touched].sort((a, b) => a - b);
      if (bindings.length > 0) {
        const sql = bindings
          .map((b) => {
            const { table, loadStage } = this.plans[b]!;
            if (!table.document) throw new ConnectorError(`binding ${b} (${table.ident}) has no document column to load from`);
            const on = table.keys.map((k) => `t.${k.ident} = l.${k.ident}`).join(" AND ");
            return `SELECT ${b}, CAST(t.${table.document.ident} AS CHAR) FROM ${loadStage} AS l JOIN ${table.ident} AS t ON ${on}`;
          })
          .join(" UNION ALL ");
        found = await streamRows(conn, sql, (b, doc) => loaded(b, new RawJson(doc)));
      }
      this.opts.log.debug("loaded documents", { keys: count, found, stageMs: Math.round(staged - begun), queryMs: Math.round(performance.now() - staged) });
    } catch (err) {
      loader?.load.abort();
      throw statementError(err, "loading documents");
    }
  }

  /** See the Postgres connector: a backfill begin empties a standard binding's table in the refill's first transaction. */
  async flush({ backfillBegins }: { backfillBegins: BackfillMarker[] }): Promise<void> {
    for (const m of backfillBegins) {
      if (!this.plan(m.binding).table.deltaUpdates) this.truncate.add(m.binding);
    }
  }

  async store(it: StoreIterator): Promise<StartCommitFn> {
    const conn = this.opts.storeConn;
    const hard = this.opts.hardDelete;
    const begun = performance.now();
    const truncate = [...this.truncate].sort((a, b) => a - b);
    let loader: { binding: number; load: LoadDataIn } | undefined;
    try {
      for (const b of [...this.stagedStores]) {
        await conn.query(`TRUNCATE TABLE ${this.plans[b]!.storeStage}`);
        this.stagedStores.delete(b);
      }
    } catch (err) {
      throw statementError(err, "emptying the staging tables");
    }
    await conn.query("BEGIN");
    try {
      for (const b of truncate) {
        const ident = this.plans[b]!.table.ident;
        // DELETE, not TRUNCATE: TRUNCATE would commit the transaction.
        await conn.query(`DELETE FROM ${ident}`);
        this.opts.log.info("emptied the table of a binding whose backfill begins", { binding: b, table: ident });
      }
      const touched = new Set<number>();
      let count = 0;
      for await (const s of it) {
        const plan = this.plan(s.binding);
        const isDelete = hard && s.delete;
        // A hard delete of a row that was never stored has nothing to remove.
        if (isDelete && !s.exists) continue;
        let line: string;
        try {
          const doc = plan.table.document ? s.docJson : undefined;
          line = plan.encoder.storeLine(s.keyJson, s.valuesJson, doc, plan.table.deltaUpdates ? undefined : isDelete ? "1" : "0");
        } catch (err) {
          throw new ConnectorError(`binding ${s.binding} (${plan.table.ident}): bad Store: ${(err as Error).message}`);
        }
        if (loader?.binding !== s.binding) {
          if (loader) await this.finishLoad(conn, loader.load, `staging rows of ${this.plans[loader.binding]!.table.ident}`);
          touched.add(s.binding);
          if (!plan.table.deltaUpdates) this.stagedStores.add(s.binding);
          loader = { binding: s.binding, load: new LoadDataIn(conn, plan.loadStores) };
        }
        const wait = loader.load.write(line);
        if (wait) await wait;
        count++;
      }
      if (loader) await this.finishLoad(conn, loader.load, `staging rows of ${this.plans[loader.binding]!.table.ident}`);
      loader = undefined;
      const staged = performance.now();
      for (const b of [...touched].sort((a, b) => a - b)) {
        for (const sql of this.plans[b]!.merge) await conn.query(sql);
      }
      this.opts.log.debug("stored documents", { count, stageMs: Math.round(staged - begun), mergeMs: Math.round(performance.now() - staged) });
    } catch (err) {
      loader?.load.abort();
      await conn.query("ROLLBACK").catch(() => undefined);
      throw statementError(err, "storing documents");
    }
    return async ({ runtimeCheckpoint }) => {
      try {
        await updateFence(querier(conn), this.opts.checkpointsIdent, this.opts.fence, toBinary(CheckpointSchema, runtimeCheckpoint), mysqlFence);
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

  private plan(binding: number): BindingPlan {
    const p = this.plans[binding];
    if (!p) throw new ConnectorError(`request for unknown binding ${binding}`);
    return p;
  }

  /**
   * Ends a LOAD DATA and fails on any warning: with LOCAL the server turns
   * bad values (too long, out of range, invalid) into warnings and keeps
   * going, and a value it altered must not be committed.
   */
  private async finishLoad(conn: MysqlConnection, load: LoadDataIn, what: string): Promise<void> {
    const res = await load.finish();
    if (res.warningStatus > 0) {
      const [warnings] = await conn.query<any[]>("SHOW WARNINGS LIMIT 3");
      const text = warnings.map((w) => `${w.Level} ${w.Code}: ${redactValues(String(w.Message))}`).join("; ");
      throw new ConnectorError(`${what}: the server reported ${res.warningStatus} warning(s) and would have altered values: ${text}`);
    }
  }
}

interface CoreQuery {
  on(event: "result", fn: (row: [number | string, string]) => void): CoreQuery;
  on(event: "end", fn: () => void): CoreQuery;
  on(event: "error", fn: (err: Error) => void): CoreQuery;
}
interface CoreConnection {
  query(opts: { sql: string; rowsAsArray: boolean }): CoreQuery;
  pause(): void;
  resume(): void;
}

/**
 * Runs `sql` (rows of [binding, document text]) and hands each row to
 * `onRow`; the connection stops reading while `onRow` waits, so rows never
 * pile up in memory. Resolves with the number of rows.
 */
function streamRows(conn: MysqlConnection, sql: string, onRow: (binding: number, doc: string) => void | Promise<void>): Promise<number> {
  const core = (conn as unknown as { connection: CoreConnection }).connection;
  return new Promise((resolve, reject) => {
    let rows = 0;
    let failed = false;
    let paused = 0;
    let inflight: Promise<unknown> = Promise.resolve();
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      reject(err);
    };
    core
      .query({ sql, rowsAsArray: true })
      .on("result", (row) => {
        if (failed) return;
        rows++;
        let p: void | Promise<void>;
        try {
          p = onRow(Number(row[0]), row[1]);
        } catch (err) {
          return fail(err);
        }
        if (p) {
          if (paused++ === 0) core.pause();
          const done = p.then(() => {
            if (--paused === 0) core.resume();
          });
          done.catch(fail);
          inflight = Promise.all([inflight, done]);
        }
      })
      .on("error", fail)
      .on("end", () => {
        inflight.then(() => {
          if (!failed) resolve(rows);
        }, fail);
      });
  });
}
