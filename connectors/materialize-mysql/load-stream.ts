/**
 * Promise-shaped LOAD DATA LOCAL INFILE: the statement reads a stream this
 * process fills, and writes wait while the socket to the server is full, so
 * a producer never queues more than a chunk or two ahead of the database.
 */
import { once } from "node:events";
import { PassThrough } from "node:stream";
import type { Socket } from "node:net";
import type { ResultSetHeader } from "mysql2";
import type { MysqlConnection } from "../../src/mysql/connect.js";

const CHUNK = 256 * 1024;

export class LoadDataIn {
  private readonly stream = new PassThrough();
  private readonly socket: Socket | undefined;
  private readonly done: Promise<ResultSetHeader>;
  private failure: unknown;
  private buf = "";

  constructor(conn: MysqlConnection, sql: string) {
    this.socket = (conn as unknown as { connection?: { stream?: Socket } }).connection?.stream;
    this.done = conn.query<ResultSetHeader>({ sql, infileStreamFactory: () => this.stream }).then(([res]) => res);
    this.done.catch((err) => {
      this.failure = err;
    });
  }

  /** Queues text; returns a promise only when the caller must wait. */
  write(text: string): void | Promise<void> {
    this.buf += text;
    if (this.buf.length >= CHUNK) return this.flush();
  }

  private async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.buf === "") return;
    const more = this.stream.write(this.buf);
    this.buf = "";
    // Before the server asks for the file, the stream itself holds back.
    if (!more) await Promise.race([once(this.stream, "drain"), this.done]);
    if (this.socket?.writableNeedDrain) {
      await Promise.race([once(this.socket, "drain"), this.done]);
    }
  }

  /** Ends the stream and resolves with the statement's result (row and warning counts). */
  async finish(): Promise<ResultSetHeader> {
    if (this.failure) throw this.failure;
    if (this.buf !== "") this.stream.write(this.buf);
    this.buf = "";
    this.stream.end();
    return this.done;
  }

  /** Abandons the statement (its error, if any, is the caller's to report). */
  abort(): void {
    this.stream.end();
  }
}
