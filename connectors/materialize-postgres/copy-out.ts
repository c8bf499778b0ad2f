/**
 * `COPY ... TO STDOUT (FORMAT binary)` as a pg query object: pg's own
 * protocol parser hands over each CopyData message (a view of the socket's
 * bytes), which goes straight to the binary row reader. No stream in
 * between: pg-copy-streams' COPY TO takes the socket over and parses the
 * messages again, then copies them into a Readable, a cost per row that the
 * load path paid for every key.
 */
import type { PgClient } from "./client.js";
import { BinaryCopyReader } from "./copy-binary.js";

type OnRow = (fields: (Buffer | null)[]) => void | Promise<void>;

/** The part of pg's connection this query uses: the socket, to pause it while rows wait. */
interface Connection {
  query(text: string): void;
  stream: { pause(): void; resume(): void };
}

class BinaryCopyOut {
  private readonly reader = new BinaryCopyReader();
  private failure: unknown;
  /** Rows handed over whose onRow has not settled: the socket is paused until they do. */
  private waiting: Promise<void>[] | undefined;
  private connection: Connection | undefined;
  private ended = false;

  constructor(
    private readonly text: string,
    private readonly onRow: OnRow,
    private readonly settle: (err?: unknown) => void,
  ) {}

  // ---- pg's query interface (a "Submittable")
  submit(connection: Connection): void {
    this.connection = connection;
    connection.query(this.text);
  }

  handleCopyData(msg: { chunk: Buffer }): void {
    if (this.failure !== undefined) return;
    try {
      this.reader.push(msg.chunk, (fields) => {
        const p = this.onRow(fields);
        if (p) this.wait(p);
      });
    } catch (err) {
      this.fail(err);
    }
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
 * Runs a binary COPY ... TO STDOUT and hands each row's fields to `onRow`
 * (the array is reused: copy what you keep); reading pauses while `onRow`
 * waits, so rows never pile up in memory. Resolves when the connection is
 * ready for the next statement; rejects with the server's error or the
 * first error `onRow` threw or rejected with.
 */
export function copyOutBinary(conn: PgClient, sql: string, onRow: OnRow): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      if (err === undefined) resolve();
      else reject(err);
    };
    conn.query(new BinaryCopyOut(sql, onRow, settle) as never);
  });
}
