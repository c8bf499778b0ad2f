/**
 * The fence that makes a destination-authoritative materialization
 * exactly-once: a checkpoints table keyed by (materialization, key_begin,
 * key_end), whose `fence` nonce is bumped by each new session on every
 * overlapping range and checked by every commit. The runtime checkpoint is
 * written by the same transaction as the data it covers.
 *
 * The statements are standard SQL except where a FenceDialect says
 * otherwise: bind parameters, the table's DDL, and the upsert of a range's row.
 */
import { ConnectorError } from "../sdk/errors.js";

export const CHECKPOINTS_TABLE = "flow_checkpoints_v1";

export interface Querier {
  query(text: string, values?: unknown[]): Promise<{ rows: any[]; rowCount: number | null }>;
}

export interface FenceRange {
  materialization: string;
  /** Inclusive 32-bit hash bounds of the session's key range. */
  keyBegin: number;
  keyEnd: number;
}

export interface Fence extends FenceRange {
  /** The nonce this session owns (BIGINT, as decimal text). */
  fence: string;
  /** The stored runtime checkpoint, or undefined when none is stored. */
  checkpoint?: Uint8Array;
}

/** What differs between destinations in the fence's SQL. */
export interface FenceDialect {
  /** The n-th bind parameter (from 1); every statement binds its values in order of appearance. */
  param(n: number): string;
  /** Creates the checkpoints table (columns materialization, key_begin, key_end, fence, checkpoint). */
  createTable(tableIdent: string): string;
  /**
   * Inserts a range's row from parameters (materialization, key_begin,
   * key_end, fence, checkpoint); when the row exists, its fence becomes the
   * greater of its own plus one and the given one, and it takes the checkpoint.
   */
  upsert(tableIdent: string): string;
  /**
   * Whether `err` means the server rolled the transaction back over a
   * conflict with a concurrent one (a deadlock or serialization failure),
   * so running it again is the fix: two shards of a split claiming their
   * halves at once can deadlock on the rows and gaps they both lock.
   */
  conflict(err: unknown): boolean;
}

const pgParam = (n: number) => `$${n}`;

export const postgresFence: FenceDialect = {
  param: pgParam,
  // serialization_failure, deadlock_detected
  conflict: (err) => ["40001", "40P01"].includes((err as { code?: string })?.code ?? ""),
  createTable: (tableIdent) =>
    `CREATE TABLE IF NOT EXISTS ${tableIdent} (\n` +
    `  materialization TEXT NOT NULL,\n` +
    `  key_begin BIGINT NOT NULL,\n` +
    `  key_end BIGINT NOT NULL,\n` +
    `  fence BIGINT NOT NULL,\n` +
    `  checkpoint TEXT NOT NULL,\n` +
    `  PRIMARY KEY (materialization, key_begin, key_end)\n)`,
  upsert: (t) =>
    `INSERT INTO ${t} (materialization, key_begin, key_end, fence, checkpoint) VALUES ($1, $2, $3, $4, $5) ` +
    `ON CONFLICT (materialization, key_begin, key_end) DO UPDATE SET fence = GREATEST(${t}.fence + 1, EXCLUDED.fence), checkpoint = EXCLUDED.checkpoint`,
};

/** The PostgreSQL checkpoints table. */
export function createCheckpointsTable(tableIdent: string): string {
  return postgresFence.createTable(tableIdent);
}

interface FenceRow {
  begin: number;
  end: number;
  fence: bigint;
  checkpoint: string;
}

/**
 * Claims `range` for a new session, in one transaction of `q` (which must be
 * a single connection):
 *
 * 1. Every row overlapping the range gets its fence bumped, so no session
 *    that held any part of it can commit again.
 * 2. For each part of the range, the authoritative row is the narrowest row
 *    holding it: a split child is newer than the parent it forked from, and
 *    merged children are newer than their old parent (adopting a range
 *    deletes the rows inside it, so rows inside a range always postdate it).
 *    All parts must agree on one checkpoint: a split child inherits its
 *    parent's, merged children that stopped at the same checkpoint hand it
 *    on. Parts that disagree cannot be resumed exactly once from a single
 *    checkpoint, and are refused rather than guessed at.
 * 3. The range's own row is written with that checkpoint and rows strictly
 *    inside it are removed. No row at all means nothing was ever committed
 *    for this range: no checkpoint (start from scratch).
 *
 * `same` decides whether two stored checkpoints are equivalent (by default,
 * byte-identical). A transaction the server rolls back over a conflict with
 * a concurrent session (dialect.conflict) is run again, a few times.
 */
export async function installFence(
  q: Querier,
  tableIdent: string,
  range: FenceRange,
  same: (a: string, b: string) => boolean = (a, b) => a === b,
  dialect: FenceDialect = postgresFence,
): Promise<Fence> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await claimRange(q, tableIdent, range, same, dialect);
    } catch (err) {
      if (attempt >= CONFLICT_ATTEMPTS || !dialect.conflict(err)) throw err;
      // Apart, so the sessions that collided do not collide again.
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40 * attempt));
    }
  }
}

/** Attempts of installFence's transaction when the server rolls it back over a conflict with a concurrent one. */
const CONFLICT_ATTEMPTS = 8;

/** installFence's one transaction. */
async function claimRange(
  q: Querier,
  tableIdent: string,
  range: FenceRange,
  same: (a: string, b: string) => boolean,
  dialect: FenceDialect,
): Promise<Fence> {
  const { materialization: m, keyBegin: b, keyEnd: e } = range;
  const $ = dialect.param;
  const overlapping = `materialization = ${$(1)} AND key_end >= ${$(2)} AND key_begin <= ${$(3)}`;
  await q.query("BEGIN");
  try {
    await q.query(`UPDATE ${tableIdent} SET fence = fence + 1 WHERE ${overlapping}`, [m, b, e]);
    const bumped = await q.query(`SELECT key_begin, key_end, fence, checkpoint FROM ${tableIdent} WHERE ${overlapping} FOR UPDATE`, [m, b, e]);
    const rows: FenceRow[] = bumped.rows.map((r) => ({
      begin: Number(r.key_begin),
      end: Number(r.key_end),
      fence: BigInt(r.fence),
      checkpoint: r.checkpoint,
    }));
    const checkpoint = agreedCheckpoint(rows, range, same);

    const exact = rows.find((r) => r.begin === b && r.end === e);
    const fence = exact ? exact.fence : rows.reduce((max, r) => (r.fence > max ? r.fence : max), 0n) + 1n;
    await q.query(
      `DELETE FROM ${tableIdent} WHERE materialization = ${$(1)} AND key_begin >= ${$(2)} AND key_end <= ${$(3)} ` +
        `AND NOT (key_begin = ${$(4)} AND key_end = ${$(5)})`,
      [m, b, e, b, e],
    );
    // A racing session inserting the same row makes us bump and take over its fence.
    await q.query(dialect.upsert(tableIdent), [m, b, e, fence.toString(), checkpoint]);
    const own = await q.query(
      `SELECT fence FROM ${tableIdent} WHERE materialization = ${$(1)} AND key_begin = ${$(2)} AND key_end = ${$(3)}`,
      [m, b, e],
    );
    const owned = BigInt(own.rows[0].fence);
    await q.query("COMMIT");
    return { ...range, fence: owned.toString(), checkpoint: checkpoint ? new Uint8Array(Buffer.from(checkpoint, "base64")) : undefined };
  } catch (err) {
    await q.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}

/** The one checkpoint every part of `range` agrees on ("" for none), or a ConnectorError. */
function agreedCheckpoint(rows: FenceRow[], range: FenceRange, same: (a: string, b: string) => boolean): string {
  const { keyBegin: b, keyEnd: e } = range;
  // Split the range at every row boundary inside it; each segment has one authoritative row set.
  const cuts = new Set<number>([b]);
  for (const r of rows) {
    if (r.begin > b && r.begin <= e) cuts.add(r.begin);
    if (r.end + 1 > b && r.end + 1 <= e) cuts.add(r.end + 1);
  }
  let agreed: string | undefined;
  let agreedAt = "";
  for (const s of [...cuts].sort((x, y) => x - y)) {
    const holding = rows.filter((r) => r.begin <= s && s <= r.end);
    const width = Math.min(...holding.map((r) => r.end - r.begin));
    const narrowest = holding.filter((r) => r.end - r.begin === width);
    for (const cp of narrowest.length ? narrowest.map((r) => r.checkpoint) : [""]) {
      if (agreed === undefined) {
        agreed = cp;
        agreedAt = hex(s);
      } else if (!(agreed === cp || (agreed !== "" && cp !== "" && same(agreed, cp)))) {
        throw new ConnectorError(
          `cannot resume ${range.materialization} for key range [${hex(b)}, ${hex(e)}]: the sessions that last held its parts ` +
            `stopped at different checkpoints (at key ${agreedAt} and at key ${hex(s)}), so no single checkpoint resumes it exactly once. ` +
            `Run the previous key ranges until they reach the same point before merging them, or backfill the materialization`,
        );
      }
    }
  }
  return agreed ?? "";
}

/**
 * Writes `checkpoint` under this session's fence, inside the caller's open
 * transaction. Fails when another session has since claimed the range.
 */
export async function updateFence(
  q: Querier,
  tableIdent: string,
  fence: Fence,
  checkpoint: Uint8Array,
  dialect: FenceDialect = postgresFence,
): Promise<void> {
  const $ = dialect.param;
  // rowCount must count matched rows (MySQL connections need CLIENT_FOUND_ROWS): an unchanged checkpoint still matches.
  const res = await q.query(
    `UPDATE ${tableIdent} SET checkpoint = ${$(1)} WHERE materialization = ${$(2)} AND key_begin = ${$(3)} AND key_end = ${$(4)} AND fence = ${$(5)}`,
    [Buffer.from(checkpoint).toString("base64"), fence.materialization, fence.keyBegin, fence.keyEnd, fence.fence],
  );
  if (res.rowCount !== 1) {
    throw new ConnectorError(
      `this materialization session was fenced off: another session of ${fence.materialization} has claimed key range ` +
        `[${hex(fence.keyBegin)}, ${hex(fence.keyEnd)}] since this one started; its transaction was rolled back`,
    );
  }
}

const hex = (n: number) => n.toString(16).padStart(8, "0");
