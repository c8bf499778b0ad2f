/**
 * Promise-shaped COPY FROM STDIN: writes wait for the socket to drain, so a
 * producer can never queue more than one chunk ahead of the database.
 */
import type { Writable } from "node:stream";
import { from as copyFrom } from "pg-copy-streams";
import type { PgClient } from "./client.js";

const CHUNK = 256 * 1024;

export class CopyIn {
  private readonly stream: Writable;
  private failure: Error | undefined;
  private buf = "";
  private readonly done: Promise<void>;

  constructor(client: PgClient, sql: string) {
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
   * Queues COPY text. Returns a promise only when the caller must wait
   * (a chunk went out and the socket is full): most rows cost no await.
   */
  write(text: string): void | Promise<void> {
    this.buf += text;
    if (this.buf.length >= CHUNK) return this.flush();
  }

  private async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.buf === "") return;
    const chunk = this.buf;
    this.buf = "";
    if (!this.stream.write(chunk)) {
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
    await this.flush();
    this.stream.end();
    await this.done;
  }
}

/**
 * Stages rows of several bindings on one connection, which can run only one
 * COPY at a time: the binding being written streams straight through, rows
 * of other bindings wait in a bounded buffer and take over the connection
 * when their buffer fills.
 */
export class CopyStager {
  private current: { binding: number; copy: CopyIn } | undefined;
  private readonly pending = new Map<number, string[]>();
  private readonly pendingBytes = new Map<number, number>();
  /** Bindings that received rows since the last reset. */
  readonly touched = new Set<number>();

  constructor(
    private readonly client: PgClient,
    private readonly sqlFor: (binding: number) => string,
    private readonly maxPendingBytes = 2 * 1024 * 1024,
  ) {}

  /** Stages one line; await the result only when it is a promise. */
  write(binding: number, line: string): void | Promise<void> {
    const cur = this.current;
    if (cur && cur.binding === binding) return cur.copy.write(line);
    this.touched.add(binding);
    if (!cur) {
      this.current = { binding, copy: new CopyIn(this.client, this.sqlFor(binding)) };
      return this.current.copy.write(line);
    }
    return this.defer(binding, line);
  }

  private async defer(binding: number, line: string): Promise<void> {
    const list = this.pending.get(binding) ?? [];
    list.push(line);
    this.pending.set(binding, list);
    const size = (this.pendingBytes.get(binding) ?? 0) + line.length;
    this.pendingBytes.set(binding, size);
    if (size >= this.maxPendingBytes) await this.switchTo(binding);
  }

  private async switchTo(binding: number): Promise<void> {
    if (this.current) await this.current.copy.end();
    const copy = new CopyIn(this.client, this.sqlFor(binding));
    this.current = { binding, copy };
    for (const line of this.pending.get(binding) ?? []) await copy.write(line);
    this.pending.delete(binding);
    this.pendingBytes.delete(binding);
  }

  /** Ends every COPY; all staged rows are then in their tables. */
  async finish(): Promise<void> {
    if (this.current) await this.current.copy.end();
    this.current = undefined;
    for (const binding of [...this.pending.keys()]) {
      await this.switchTo(binding);
      await this.current!.copy.end();
      this.current = undefined;
    }
  }

  reset(): void {
    this.current = undefined;
    this.pending.clear();
    this.pendingBytes.clear();
    this.touched.clear();
  }
}
