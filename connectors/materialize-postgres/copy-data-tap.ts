/**
 * A connection's socket bytes, read before pg's parser: a CopyData message
 * ('d') for a query that takes them itself (a CopyDataTarget) goes to it as
 * a range of the buffer the socket read into; every other byte goes on to
 * pg's parser unchanged and in order. pg's parser makes an object, a Buffer
 * view and an event per message, and the server sends one CopyData per
 * row: for a load that is one of each per document.
 *
 * The tap sees the byte stream from a message boundary on (it is installed
 * between queries, see tapCopyData) and follows message boundaries itself,
 * so it never needs pg's state. Before a CopyData goes to a target, every
 * byte before it has gone to pg, so the query pg holds as active is the one
 * the CopyData belongs to (a ReadyForQuery of the query before it, and this
 * one's CopyOutResponse, have been handled).
 */

const COPY_DATA = 0x64;
/** A message's type byte and its 32-bit length (which counts itself). */
const HEADER = 5;

/** A query that reads its own CopyData contents. */
export interface CopyDataTarget {
  /** The content of one CopyData message, or the part of it in this read: buf[start..end), valid as long as the caller keeps it. */
  copyData(buf: Buffer, start: number, end: number): void;
}

const isTarget = (q: unknown): q is CopyDataTarget => typeof (q as Partial<CopyDataTarget> | null | undefined)?.copyData === "function";

/** Follows message boundaries across socket reads; `toPg` takes every byte not handed to a target. */
export class CopyDataTap {
  /** Content bytes of the message being read that are still to come, and the target taking them (undefined: pg's). */
  private left = 0;
  private target: CopyDataTarget | undefined;
  /** The start of a message header cut by the end of a read. */
  private head: Buffer | undefined;

  constructor(
    private readonly toPg: (bytes: Buffer) => void,
    /** The query pg holds as active now. */
    private readonly active: () => unknown,
  ) {}

  readonly onData = (chunk: Buffer): void => {
    let buf = chunk;
    if (this.head !== undefined) {
      buf = Buffer.concat([this.head, chunk]);
      this.head = undefined;
    }
    const end = buf.length;
    let pos = 0;
    /** The start of the bytes not yet handed to anyone: they are pg's. */
    let pgFrom = 0;
    while (pos < end) {
      if (this.left > 0) {
        const n = Math.min(this.left, end - pos);
        this.left -= n;
        const target = this.target;
        if (target !== undefined) {
          if (this.left === 0) this.target = undefined;
          target.copyData(buf, pos, pos + n);
          pgFrom = pos + n;
        }
        pos += n;
        continue;
      }
      if (end - pos < HEADER) {
        this.head = Buffer.from(buf.subarray(pos));
        break;
      }
      const code = buf[pos]!;
      const len = ((buf[pos + 1]! << 24) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 8) | buf[pos + 4]!) - 4;
      if (len < 0) throw new Error(`PostgreSQL sent a message of length ${len + 4}`);
      if (code === COPY_DATA) {
        // What came before it is pg's first: it may end the query before this one, or start this one.
        if (pgFrom < pos) {
          this.toPg(buf.subarray(pgFrom, pos));
          pgFrom = pos;
        }
        const q = this.active();
        if (isTarget(q)) {
          const start = pos + HEADER;
          const stop = Math.min(start + len, end);
          this.left = len - (stop - start);
          if (this.left > 0) this.target = q;
          q.copyData(buf, start, stop);
          pos = pgFrom = stop;
          continue;
        }
      }
      // pg's message: passed on with its neighbours.
      const stop = Math.min(pos + HEADER + len, end);
      this.left = pos + HEADER + len - stop;
      this.target = undefined;
      pos = stop;
    }
    const pgTo = this.head !== undefined ? end - this.head.length : end;
    if (pgFrom < pgTo) this.toPg(buf.subarray(pgFrom, pgTo));
  };
}

interface ClientInternals {
  connection?: { stream?: { listeners(e: string): Function[]; removeListener(e: string, f: Function): unknown; on(e: string, f: Function): unknown } };
  _getActiveQuery?(): unknown;
  _activeQuery?: unknown;
  _queryQueue?: unknown[];
}

const tapped = new WeakSet<object>();

/**
 * Puts a CopyDataTap in front of pg's parser on `client`'s socket, once,
 * and only between queries (nothing running or queued: the stream is at a
 * message boundary). False when it is not in place (then pg's parser hands
 * every message over as before). The connection must not be handed to
 * anything else that takes its socket's data (pg-copy-streams' COPY TO).
 */
export function tapCopyData(client: object): boolean {
  if (tapped.has(client)) return true;
  const c = client as ClientInternals;
  const stream = c.connection?.stream;
  if (!stream || typeof stream.listeners !== "function" || !Array.isArray(c._queryQueue)) return false;
  const active = typeof c._getActiveQuery === "function" ? () => c._getActiveQuery!() : () => c._activeQuery;
  if (active() || c._queryQueue.length > 0) return false;
  const listeners = stream.listeners("data");
  if (listeners.length !== 1) return false;
  const pgData = listeners[0] as (b: Buffer) => void;
  const tap = new CopyDataTap(pgData, active);
  stream.removeListener("data", pgData);
  stream.on("data", tap.onData);
  tapped.add(client);
  return true;
}
