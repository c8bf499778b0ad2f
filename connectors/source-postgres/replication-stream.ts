/**
 * The streaming-replication connection: START_REPLICATION over a CopyBoth
 * stream, yielding pgoutput messages one at a time, answering keepalives,
 * and reporting the acknowledged position in standby status updates.
 *
 * Reading is pull-based: when the capture stops asking for messages (it is
 * waiting for the runtime), the socket is no longer read and the server
 * blocks, so memory stays bounded however large a transaction is.
 */
import type pg from "pg";
import { CopyBothQuery } from "./copy-both.js";
import { formatLsn, type Lsn } from "./lsn.js";
import { quoteIdent } from "./connection.js";

/** Microseconds between 1970-01-01 and 2000-01-01, PostgreSQL's epoch. */
const PG_EPOCH_MICROS = 946_684_800_000_000n;
const STATUS_INTERVAL_MS = 10_000;

export interface ReplicationOptions {
  slot: string;
  publication: string;
  startLsn: Lsn;
}

/** A pgoutput message: `buf[off]` is its tag byte. */
export interface XLogData {
  buf: Buffer;
  off: number;
}

export class ReplicationStream {
  private readonly copy: CopyBothQuery;
  private ackedLsn: Lsn;
  private timer: NodeJS.Timeout;
  private closed = false;
  /** The server's WAL end from the latest keepalive. */
  serverWalEnd: Lsn = 0n;

  private constructor(private readonly client: pg.Client, opts: ReplicationOptions) {
    const sql =
      `START_REPLICATION SLOT ${quoteIdent(opts.slot)} LOGICAL ${formatLsn(opts.startLsn)} ` +
      `(proto_version '1', publication_names '${quoteIdent(opts.publication).replace(/'/g, "''")}', messages 'true')`;
    // At most ~1024 frames wait in memory; beyond that the socket is paused.
    this.copy = new CopyBothQuery(sql, 1024);
    client.query(this.copy as unknown as pg.Submittable);
    this.ackedLsn = opts.startLsn;
    this.timer = setInterval(() => this.sendStatus(false), STATUS_INTERVAL_MS);
    this.timer.unref();
  }

  static start(client: pg.Client, opts: ReplicationOptions): ReplicationStream {
    return new ReplicationStream(client, opts);
  }

  /** The next pgoutput message, or null when the server ended the stream. */
  async next(): Promise<XLogData | null> {
    for (;;) {
      const chunk = await this.copy.next();
      if (chunk === null) return null;
      const tag = chunk[0];
      if (tag === 0x77 /* w: XLogData, 25-byte header */) return { buf: chunk, off: 25 };
      if (tag === 0x6b /* k: primary keepalive */) this.onKeepalive(chunk);
    }
  }

  /** Records that everything before `lsn` is durable downstream, and tells the server. */
  acknowledge(lsn: Lsn): void {
    if (lsn > this.ackedLsn) {
      this.ackedLsn = lsn;
      this.sendStatus(false);
    }
  }

  /**
   * Whether no change is waiting: the capture has read all the server has
   * sent. Keepalives at the head of the queue are consumed on the way.
   */
  caughtUp(): boolean {
    for (let f = this.copy.peek(); f && f[0] === 0x6b; f = this.copy.peek()) {
      this.copy.take();
      this.onKeepalive(f);
    }
    return this.copy.buffered === 0;
  }

  private onKeepalive(chunk: Buffer): void {
    this.serverWalEnd = chunk.readBigUInt64BE(1);
    if (chunk[17] === 1) this.sendStatus(false);
  }

  /** Bytes the frame splitter has scanned or copied so far (linear in the bytes received). */
  get workBytes(): number {
    return this.copy.workBytes;
  }

  get acknowledged(): Lsn {
    return this.ackedLsn;
  }

  /** Standby status update: write, flush and apply positions are all the acknowledged LSN. */
  sendStatus(replyRequested: boolean): void {
    if (this.closed) return;
    const b = Buffer.alloc(34);
    b[0] = 0x72; // r
    b.writeBigUInt64BE(this.ackedLsn, 1);
    b.writeBigUInt64BE(this.ackedLsn, 9);
    b.writeBigUInt64BE(this.ackedLsn, 17);
    b.writeBigInt64BE(BigInt(Date.now()) * 1000n - PG_EPOCH_MICROS, 25);
    b[33] = replyRequested ? 1 : 0;
    this.copy.write(b);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    this.sendStatus(false);
    this.closed = true;
    // Ending the connection ends the walsender; the slot keeps its confirmed position.
    await this.client.end().catch(() => {});
  }
}
