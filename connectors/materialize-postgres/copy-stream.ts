/**
 * Promise-shaped COPY FROM STDIN: rows are written as bytes into a
 * CopyBuffer, whose full buffers go to the socket; writes wait for the
 * socket to drain, so a producer can never queue more than one buffer
 * ahead of the database.
 */
import type { Writable } from "node:stream";
import { from as copyFrom } from "pg-copy-streams";
import type { PgClient } from "./client.js";
import { CopyBuffer } from "./copy-bytes.js";

export class CopyIn {
  private readonly stream: Writable;
  private failure: Error | undefined;
  private readonly done: Promise<void>;

  /** `out` may already hold rows (staged while another COPY had the connection). */
  constructor(
    client: PgClient,
    sql: string,
    readonly out: CopyBuffer = new CopyBuffer(),
  ) {
    this.stream = client.query(copyFrom(sql));
    this.done = new Promise((resolve, reject) => {
      this.stream.on("finish", () => resolve());
      this.stream.on("error", (err) => {
        this.failure = err;
        reject(err);
      });
    });
    this.done.catch(() => undefined);
  }

  /**
   * Call after writing rows into `out`. Returns a promise only when the
   * caller must wait (a buffer went out and the socket is full): most rows
   * cost no await.
   */
  wrote(): void | Promise<void> {
    if (this.out.hasFull) return this.send(this.out.takeFull());
  }

  /** Sends every row written so far, waiting only if the socket is full. */
  flushAll(): Promise<void> {
    return this.send(this.out.takeAll());
  }

  private async send(chunks: Buffer[]): Promise<void> {
    if (this.failure) throw this.failure;
    let ok = true;
    for (const c of chunks) ok = this.stream.write(c);
    if (!ok) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          this.stream.off("error", onError);
          resolve();
        };
        const onError = (err: Error) => {
          this.stream.off("drain", onDrain);
          reject(err);
        };
        this.stream.once("drain", onDrain);
        this.stream.once("error", onError);
      });
    }
  }

  /** Completes the COPY; rejects with the server's error if a row was refused. */
  async end(): Promise<void> {
    await this.flushAll();
    this.stream.end();
    await this.done;
  }
}

/**
 * Stages rows of several targets on one connection, which can run only one
 * COPY at a time: the target being written streams straight through, rows
 * of other targets wait in a bounded buffer and take over the connection
 * when their buffer fills.
 */
export class CopyStager {
  private current: { target: number; copy: CopyIn } | undefined;
  private readonly pending = new Map<number, CopyBuffer>();
  /** Targets that received rows since the last reset. */
  readonly touched = new Set<number>();

  constructor(
    private readonly client: PgClient,
    private readonly sqlFor: (target: number) => string,
    private readonly maxPendingBytes = 2 * 1024 * 1024,
  ) {}

  /**
   * Where the next row of `target` goes. Write one whole row into it, then
   * call wrote(target) (and await it when it returns a promise).
   */
  buffer(target: number): CopyBuffer {
    const cur = this.current;
    if (cur && cur.target === target) return cur.copy.out;
    this.touched.add(target);
    if (!cur) {
      this.current = { target, copy: new CopyIn(this.client, this.sqlFor(target)) };
      return this.current.copy.out;
    }
    let out = this.pending.get(target);
    if (!out) this.pending.set(target, (out = new CopyBuffer()));
    return out;
  }

  wrote(target: number): void | Promise<void> {
    const cur = this.current!;
    if (cur.target === target) return cur.copy.wrote();
    if (this.pending.get(target)!.size >= this.maxPendingBytes) return this.switchTo(target);
  }

  private async switchTo(target: number): Promise<void> {
    if (this.current) await this.current.copy.end();
    const copy = new CopyIn(this.client, this.sqlFor(target), this.pending.get(target));
    this.pending.delete(target);
    this.current = { target, copy };
    await copy.flushAll();
  }

  /** Ends every COPY; all staged rows are then in their tables. */
  async finish(): Promise<void> {
    if (this.current) await this.current.copy.end();
    this.current = undefined;
    for (const target of [...this.pending.keys()]) {
      await this.switchTo(target);
      await this.current!.copy.end();
      this.current = undefined;
    }
  }

  reset(): void {
    this.current = undefined;
    this.pending.clear();
    this.touched.clear();
  }
}
