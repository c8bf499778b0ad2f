/**
 * `COPY ... TO STDOUT (FORMAT binary)` as a pg query object: each
 * CopyData message goes straight to the binary row reader, as a range of
 * the socket's bytes (copy-data-tap.ts) or, before the connection is
 * tapped, as the view pg's own protocol parser makes. No stream in
 * between: pg-copy-streams' COPY TO takes the socket over and parses the
 * messages again, then copies them into a Readable, a cost per row that the
 * load path paid for every key.
 */
import type { PgClient } from "./client.js";
import { BinaryCopyReader } from "./copy-binary.js";
import { tapCopyData } from "./copy-data-tap.js";

type OnRow = (fields: (Buffer | null)[]) => void | Promise<void>;
/** A row as BinaryCopyReader.pushSpans hands it over. */
type OnRowSpans = (buf: Buffer, spans: Int32Array, n: number) => void | Promise<void>;

/** The part of pg's connection this query uses: sending the query, and the socket, to pause it while rows wait. */
interface Connection {
  query(text: string): void;
  _send(message: Buffer): unknown;
  stream: { pause(): void; resume(): void };
}

/** A simple-protocol Query message ('Q', its length, the text, a NUL), as pg's connection.query(text) writes it. */
function queryMessage(sql: readonly Uint8Array[]): Buffer {
  let len = 0;
  for (const part of sql) len += part.length;
  const msg = Buffer.allocUnsafe(1 + 4 + len + 1);
  msg[0] = 0x51;
  msg.writeUInt32BE(4 + len + 1, 1);
  let pos = 5;
  for (const part of sql) {
    msg.set(part, pos);
    pos += part.length;
  }
  msg[pos] = 0;
  return msg;
}

class BinaryCopyOut {
  private readonly reader = new BinaryCopyReader();
  private failure: unknown;
  /** Rows handed over whose onRow has not settled: the socket is paused until they do. */
  private waiting: Promise<void>[] | undefined;
  private connection: Connection | undefined;
  private ended = false;
  /** The Query message went out before pg submitted this query (see sendAhead). */
  sent = false;

  constructor(
    private readonly text: string | readonly Uint8Array[],
    private readonly onRow: OnRowSpans,
    private readonly settle: (err?: unknown) => void,
    private readonly onRead: (() => void | Promise<void>) | undefined,
  ) {}

  /** Each row of a CopyData message, to onRow (one function for the whole query, not one per message). */
  private readonly row = (buf: Buffer, spans: Int32Array, n: number): void => {
    const p = this.onRow(buf, spans, n);
    if (p) this.wait(p);
  };

  // ---- pg's query interface (a "Submittable")
  submit(connection: Connection): void {
    this.connection = connection;
    if (this.sent) return;
    this.send(connection);
  }

  /**
   * Sends the Query message now, while the connection still runs an earlier
   * query: PostgreSQL reads it once that one is done and starts on it
   * without waiting for a round trip, while this process still reads the
   * earlier query's rows. Only when every query queued before it in pg's
   * client is on the wire already, so queries reach the server in the
   * order pg hands their answers back.
   */
  sendAhead(client: unknown): void {
    const c = client as { connection?: Connection; _queryQueue?: unknown[]; _activeQuery?: unknown };
    if (!c.connection || !Array.isArray(c._queryQueue) || !c._activeQuery) return;
    if (!c._queryQueue.every((q) => q instanceof BinaryCopyOut && q.sent)) return;
    this.send(c.connection);
    this.sent = true;
  }

  private send(connection: Connection): void {
    if (typeof this.text === "string") connection.query(this.text);
    else connection._send(queryMessage(this.text));
  }

  /** A CopyData message's content (or part of it) straight from the socket's bytes (see copy-data-tap.ts). */
  copyData(buf: Buffer, start: number, end: number): void {
    if (this.failure !== undefined) return;
    try {
      this.reader.pushSpans(buf, this.row, start, end);
      if (this.onRead !== undefined) {
        const p = this.onRead();
        if (p) this.wait(p);
      }
    } catch (err) {
      this.fail(err);
    }
  }

  /** A CopyData message as pg's parser hands it over (when the socket is not tapped). */
  handleCopyData(msg: { chunk: Buffer }): void {
    this.copyData(msg.chunk, 0, msg.chunk.length);
  }

  handleError(err: unknown): void {
    this.failure ??= err;
    this.finish();
  }

  handleReadyForQuery(): void {
    if (this.failure === undefined) {
      try {
        this.reader.finish();
      } catch (err) {
        this.failure = err;
      }
    }
    this.finish();
  }

  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(): void {
    this.fail(new Error("COPY TO answered as COPY FROM"));
  }

  // ----

  /** Pauses the socket until every pending onRow has settled. */
  private wait(p: Promise<void>): void {
    if (this.waiting) {
      this.waiting.push(p);
      return;
    }
    this.waiting = [p];
    this.connection?.stream.pause();
    const drain = (): void => {
      const taken = this.waiting!.length;
      Promise.all(this.waiting!).then(
        () => {
          // More may have joined while these settled.
          if (this.waiting!.length > taken) {
            this.waiting = this.waiting!.slice(taken);
            return drain();
          }
          this.waiting = undefined;
          this.connection?.stream.resume();
          if (this.ended) this.finish();
        },
        (err) => {
          this.waiting = undefined;
          this.connection?.stream.resume();
          this.fail(err);
          if (this.ended) this.finish();
        },
      );
    };
    drain();
  }

  /** Keeps the first failure; rows after it are dropped, and the query still runs to its end so the connection stays usable. */
  private fail(err: unknown): void {
    this.failure ??= err;
  }

  /** Settles once the server is done with the query and every row handed over has been taken. */
  private finish(): void {
    this.ended = true;
    if (this.waiting) return;
    this.settle(this.failure);
  }
}

/**
 * Runs a binary COPY ... TO STDOUT (`sql` as text, or as the parts of its
 * UTF-8 bytes, sent as they are) and hands each row's fields to `onRow`
 * (the array is reused: copy what you keep); reading pauses while `onRow`
 * waits, so rows never pile up in memory. Resolves when the connection is
 * ready for the next statement; rejects with the server's error or the
 * first error `onRow` threw or rejected with.
 */
export function copyOutBinary(conn: PgClient, sql: string | readonly Uint8Array[], onRow: OnRow): Promise<void> {
  const fields: (Buffer | null)[] = [];
  return copyOutBinarySpans(conn, sql, (buf, spans, n) => {
    fields.length = n;
    for (let i = 0; i < n; i++) {
      const start = spans[2 * i]!;
      const len = spans[2 * i + 1]!;
      fields[i] = len < 0 ? null : buf.subarray(start, start + len);
    }
    return onRow(fields);
  });
}

/**
 * copyOutBinary without a Buffer per field: each row as
 * BinaryCopyReader.pushSpans hands it over (the spans are valid only during
 * the call; take views of `buf` to keep bytes). With `ahead`, a query
 * issued while another runs on the connection is sent at once rather than
 * when that one ends (see BinaryCopyOut.sendAhead): the caller must not
 * mind the earlier query's failure failing this one too (in a transaction
 * it would anyway). Unless `tap` is false, the connection is tapped (see
 * tapCopyData) the first time this runs while it is idle: from then on its
 * COPY rows are read from the socket's bytes, not through pg's parser.
 * `onRead`, if given, runs after the rows of each piece of CopyData bytes
 * (one socket read when tapped) were handed to `onRow`, and may return a
 * promise to wait for as onRow may: a caller can gather the rows of a read
 * and hand them on at once.
 */
export function copyOutBinarySpans(
  conn: PgClient,
  sql: string | readonly Uint8Array[],
  onRow: OnRowSpans,
  opts: { ahead?: boolean; tap?: boolean; onRead?: () => void | Promise<void> } = {},
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      if (err === undefined) resolve();
      else reject(err);
    };
    const q = new BinaryCopyOut(sql, onRow, settle, opts.onRead);
    // Rows read from the socket's bytes rather than through pg's parser, once the connection is tapped (it is from its first idle COPY on).
    if (opts.tap !== false) tapCopyData(conn);
    if (opts.ahead) q.sendAhead(conn);
    conn.query(q as never);
  });
}
