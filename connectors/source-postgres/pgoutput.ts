/**
 * Decoding of pgoutput (protocol version 1) messages.
 *
 * Only what the capture uses is decoded, and row tuples are decoded into
 * reusable arrays of text (no per-row objects): the change stream's cost is
 * dominated by this loop, so it avoids allocation beyond the strings.
 * Begin/Commit/Relation messages are rare and decoded into objects.
 */

/** Node's Buffer#utf8Slice: toString("utf8") without its argument checks. */
type FastSlice = Buffer & { utf8Slice(start: number, end: number): string };

/** A column value in a tuple: text, null, or "unchanged TOAST value, not sent". */
export type TupleValue = string | null | undefined;
export const UNCHANGED: undefined = undefined;

export interface Begin {
  finalLsn: bigint;
  /** Microseconds since 2000-01-01 UTC. */
  commitTime: bigint;
  xid: number;
}

export interface Commit {
  commitLsn: bigint;
  endLsn: bigint;
  commitTime: bigint;
}

export interface RelationColumn {
  name: string;
  typeOid: number;
  typmod: number;
  /** Part of the replica identity (the key sent with updates and deletes). */
  isKey: boolean;
}

export interface Relation {
  id: number;
  namespace: string;
  name: string;
  /** d default, n nothing, f full, i index. */
  replicaIdentity: string;
  columns: RelationColumn[];
}

export interface LogicalMessage {
  transactional: boolean;
  lsn: bigint;
  prefix: string;
  content: string;
}

export interface Truncate {
  relationIds: number[];
  cascade: boolean;
  restartIdentity: boolean;
}

/** Microseconds since 2000-01-01 → milliseconds since 1970-01-01. */
export function pgTimeToMillis(t: bigint): number {
  return Number(t / 1000n) + 946_684_800_000;
}

function cstring(buf: Buffer, off: number): [string, number] {
  const end = buf.indexOf(0, off);
  return [buf.toString("utf8", off, end), end + 1];
}

export function decodeBegin(buf: Buffer, off: number): Begin {
  return { finalLsn: buf.readBigUInt64BE(off + 1), commitTime: buf.readBigInt64BE(off + 9), xid: buf.readUInt32BE(off + 17) };
}

export function decodeCommit(buf: Buffer, off: number): Commit {
  return { commitLsn: buf.readBigUInt64BE(off + 2), endLsn: buf.readBigUInt64BE(off + 10), commitTime: buf.readBigInt64BE(off + 18) };
}

export function decodeRelation(buf: Buffer, off: number): Relation {
  const id = buf.readUInt32BE(off + 1);
  let p = off + 5;
  let namespace: string, name: string;
  [namespace, p] = cstring(buf, p);
  [name, p] = cstring(buf, p);
  const replicaIdentity = String.fromCharCode(buf[p]);
  const n = buf.readUInt16BE(p + 1);
  p += 3;
  const columns: RelationColumn[] = [];
  for (let i = 0; i < n; i++) {
    const flags = buf[p];
    let colName: string;
    [colName, p] = cstring(buf, p + 1);
    columns.push({ name: colName, isKey: (flags & 1) === 1, typeOid: buf.readUInt32BE(p), typmod: buf.readInt32BE(p + 4) });
    p += 8;
  }
  return { id, namespace: namespace || "pg_catalog", name, replicaIdentity, columns };
}

export function decodeTruncate(buf: Buffer, off: number): Truncate {
  const n = buf.readUInt32BE(off + 1);
  const opts = buf[off + 5];
  const relationIds: number[] = [];
  for (let i = 0; i < n; i++) relationIds.push(buf.readUInt32BE(off + 6 + 4 * i));
  return { relationIds, cascade: (opts & 1) === 1, restartIdentity: (opts & 2) === 2 };
}

export function decodeMessage(buf: Buffer, off: number): LogicalMessage {
  const transactional = buf[off + 1] === 1;
  const lsn = buf.readBigUInt64BE(off + 2);
  const [prefix, p] = cstring(buf, off + 10);
  const len = buf.readUInt32BE(p);
  return { transactional, lsn, prefix, content: buf.toString("utf8", p + 4, p + 4 + len) };
}

/**
 * Reads a TupleData at `off` into `out` (reused between rows) and returns
 * the offset after it. Values are text; 'n' is null, 'u' (unchanged TOAST)
 * is undefined.
 */
export function readTuple(buf: Buffer, off: number, out: TupleValue[]): number {
  const n = buf.readUInt16BE(off);
  let p = off + 2;
  out.length = n;
  for (let i = 0; i < n; i++) {
    const kind = buf[p];
    if (kind === 0x74 /* t */) {
      const len = buf.readUInt32BE(p + 1);
      out[i] = (buf as FastSlice).utf8Slice(p + 5, p + 5 + len);
      p += 5 + len;
    } else if (kind === 0x6e /* n */) {
      out[i] = null;
      p += 1;
    } else if (kind === 0x75 /* u */) {
      out[i] = UNCHANGED;
      p += 1;
    } else {
      throw new Error(`pgoutput tuple column ${i} has kind ${JSON.stringify(String.fromCharCode(kind))}; only text values are supported`);
    }
  }
  return p;
}
