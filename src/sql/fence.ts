/**
 * The fence that makes a destination-authoritative materialization
 * exactly-once: a checkpoints table keyed by (materialization, key_begin,
 * key_end), whose `fence` nonce is bumped by each new session on every
 * overlapping range and checked by every commit. The runtime checkpoint is
 * written by the same transaction as the data it covers.
 *
 * SQL uses $n placeholders and standard syntax plus ON CONFLICT.
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

export function createCheckpointsTable(tableIdent: string): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${tableIdent} (\n` +
    `  materialization TEXT NOT NULL,\n` +
    `  key_begin BIGINT NOT NULL,\n` +
    `  key_end BIGINT NOT NULL,\n` +
    `  fence BIGINT NOT NULL,\n` +
    `  checkpoint TEXT NOT NULL,\n` +
    `  PRIMARY KEY (materialization, key_begin, key_end)\n)`
  );
}

/**
 * Claims `range` for a new session, in one transaction of `q` (which must be
 * a single connection): fences every overlapping row, then adopts the
 * narrowest row covering the whole range, forking a row for exactly this
 * range when the cover is wider (a split child). No cover at all means the
 * destination holds nothing for this range: a fresh row, no checkpoint.
 */
export async function installFence(q: Querier, tableIdent: string, range: FenceRange): Promise<Fence> {
  const { materialization: m, keyBegin: b, keyEnd: e } = range;
  await q.query("BEGIN");
  try {
    await q.query(
      `UPDATE ${tableIdent} SET fence = fence + 1 WHERE materialization = $1 AND key_end >= $2 AND key_begin <= $3`,
      [m, b, e],
    );
    const cover = await q.query(
      `SELECT key_begin, key_end, fence, checkpoint FROM ${tableIdent}
        WHERE materialization = $1 AND key_begin <= $2 AND key_end >= $3
        ORDER BY key_end - key_begin ASC LIMIT 1`,
      [m, b, e],
    );
    let fence: string;
    let checkpoint: string;
    const row = cover.rows[0];
    if (row && Number(row.key_begin) === b && Number(row.key_end) === e) {
      fence = String(row.fence);
      checkpoint = row.checkpoint;
    } else {
      // Fork from the cover (already fenced above) or start empty; a racing
      // session inserting the same row makes us bump and adopt its fence.
      const ins = await q.query(
        `INSERT INTO ${tableIdent} (materialization, key_begin, key_end, fence, checkpoint) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (materialization, key_begin, key_end) DO UPDATE SET fence = ${tableIdent}.fence + 1
         RETURNING fence, checkpoint`,
        [m, b, e, row ? String(row.fence) : "1", row ? row.checkpoint : ""],
      );
      fence = String(ins.rows[0].fence);
      checkpoint = ins.rows[0].checkpoint;
    }
    await q.query("COMMIT");
    return { ...range, fence, checkpoint: checkpoint ? new Uint8Array(Buffer.from(checkpoint, "base64")) : undefined };
  } catch (err) {
    await q.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}

/**
 * Writes `checkpoint` under this session's fence, inside the caller's open
 * transaction. Fails when another session has since claimed the range.
 */
export async function updateFence(q: Querier, tableIdent: string, fence: Fence, checkpoint: Uint8Array): Promise<void> {
  const res = await q.query(
    `UPDATE ${tableIdent} SET checkpoint = $1 WHERE materialization = $2 AND key_begin = $3 AND key_end = $4 AND fence = $5`,
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
