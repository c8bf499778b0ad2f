/**
 * The CopyBoth sub-protocol that START_REPLICATION switches to, as a pg
 * Submittable: it takes over the connection's socket, splits CopyData
 * frames, and hands anything else (an error, the end of the copy) back to
 * pg's own parser.
 *
 * Written here rather than using pg-copy-streams' copy-both because flow
 * control must be exact: a consumer that stops reading must pause the socket
 * (so the server waits, and memory stays bounded) and one that resumes must
 * always wake it again. Frames queue up to `highWater`, then the socket is
 * paused until the queue is half empty.
 */
import type { Socket } from "node:net";

interface PgConnection {
  stream: Socket;
  query(text: string): void;
}

const COPY_BOTH = 0x57; // W
const COPY_DATA = 0x64; // d
const COPY_DONE = 0x63; // c
const NOTICE = 0x4e; // N
const PARAMETER_STATUS = 0x53; // S

export class CopyBothQuery {
  private conn?: PgConnection;
  private pgDataHandler?: (chunk: Buffer) => void;
  /** Bytes of an incomplete frame, as the chunks they arrived in (never re-joined per chunk). */
  private parts: Buffer[] = [];
  private partsLen = 0;
  /** Length of the frame `parts` begins, once its header has arrived; 0 before. */
  private frameLen = 0;
  /** Bytes scanned or copied while splitting frames: linear in the input when all is well. */
  workBytes = 0;
  private queue: Buffer[] = [];
  private head = 0;
  private paused = false;
  private started = false;
  private ended = false;
  private error: Error | null = null;
  private outbox: Buffer[] = [];
  private wake: (() => void) | null = null;
  private readonly onData = (chunk: Buffer) => this.parse(chunk);

  constructor(
    readonly text: string,
    private readonly highWater = 1024,
  ) {}

  /** Called by pg when the query reaches the front of the client's queue. */
  submit(connection: PgConnection): void {
    this.conn = connection;
    const stream = connection.stream;
    this.pgDataHandler = stream.listeners("data")[0] as (chunk: Buffer) => void;
    stream.removeListener("data", this.pgDataHandler);
    stream.on("data", this.onData);
    connection.query(this.text);
  }

  private parse(chunk: Buffer): void {
    this.workBytes += chunk.length;
    let buf = chunk;
    if (this.partsLen > 0) {
      // Part of a frame is waiting: join the chunks only once the frame is complete.
      this.parts.push(chunk);
      this.partsLen += chunk.length;
      if (this.frameLen === 0 && this.partsLen >= 5) this.frameLen = 1 + Buffer.concat(this.parts, 5).readUInt32BE(1);
      if (this.frameLen === 0 || this.partsLen < this.frameLen) return;
      buf = Buffer.concat(this.parts, this.partsLen);
      this.workBytes += buf.length;
      this.parts = [];
      this.partsLen = 0;
      this.frameLen = 0;
    }
    let off = 0;
    while (buf.length - off >= 5) {
      const code = buf[off];
      const len = buf.readUInt32BE(off + 1);
      if (buf.length - off < 1 + len) break;
      if (code === COPY_DATA) {
        this.queue.push(buf.subarray(off + 5, off + 1 + len));
      } else if (code === COPY_BOTH) {
        this.started = true;
        for (const b of this.outbox) this.conn!.stream.write(b);
        this.outbox = [];
      } else if (code !== NOTICE && code !== PARAMETER_STATUS) {
        // An error, CopyDone or anything else ends the copy: pg parses the rest.
        if (code === COPY_DONE) this.ended = true;
        this.detach(buf.subarray(off));
        this.notify();
        return;
      }
      off += 1 + len;
    }
    if (off < buf.length) {
      // The start of the next frame: copied, so the chunk it came in is not kept alive by it.
      const rest = Buffer.from(buf.subarray(off));
      this.workBytes += rest.length;
      this.parts = [rest];
      this.partsLen = rest.length;
      this.frameLen = rest.length >= 5 ? 1 + rest.readUInt32BE(1) : 0;
    }
    if (!this.paused && this.queue.length - this.head >= this.highWater) {
      this.paused = true;
      this.conn!.stream.pause();
    }
    this.notify();
  }

  private detach(rest: Buffer): void {
    const stream = this.conn!.stream;
    stream.removeListener("data", this.onData);
    stream.on("data", this.pgDataHandler!);
    if (this.paused) {
      this.paused = false;
      stream.resume();
    }
    if (rest.length > 0) this.pgDataHandler!(rest);
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** The next CopyData payload; null once the server ends the copy. Rejects on errors. */
  async next(): Promise<Buffer | null> {
    for (;;) {
      const b = this.take();
      if (b) return b;
      if (this.error) throw this.error;
      if (this.ended) return null;
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** Consumes the next frame if one is already here. */
  take(): Buffer | undefined {
    if (this.head >= this.queue.length) return undefined;
    const b = this.queue[this.head++];
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.paused && this.queue.length - this.head <= this.highWater >> 1) {
      this.paused = false;
      this.conn!.stream.resume();
    }
    return b;
  }

  /** The next frame if one is already here, without consuming it. */
  peek(): Buffer | undefined {
    return this.head < this.queue.length ? this.queue[this.head] : undefined;
  }

  /** Frames waiting to be read. */
  get buffered(): number {
    return this.queue.length - this.head;
  }

  /** Sends one CopyData message to the server. */
  write(payload: Buffer): void {
    const frame = Buffer.allocUnsafe(5 + payload.length);
    frame[0] = COPY_DATA;
    frame.writeUInt32BE(4 + payload.length, 1);
    payload.copy(frame, 5);
    if (this.started && !this.ended && !this.error) this.conn!.stream.write(frame);
    else if (!this.started) this.outbox.push(frame);
  }

  // pg's query interface: it calls these for the messages handed back to it.
  handleError(err: Error): void {
    this.error = err;
    this.notify();
  }
  handleReadyForQuery(): void {
    this.ended = true;
    this.notify();
  }
  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleCopyInResponse(): void {}
  handleCopyData(): void {}
  handlePortalSuspended(): void {}
}
