/**
 * The documents a materialization reads: JSON lines `["<collection>", doc]`,
 * with `{"commit": true}` closing a transaction (end of input closes the
 * last one). The harness re-reads from any committed byte offset after a
 * crash, from a file directly or from a pipe spooled to a temporary file.
 */
import type { Readable } from "node:stream";
import { open } from "node:fs/promises";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HarnessError } from "./errors.js";
import { parseJson } from "./lossless-json.js";

export interface FixtureDoc {
  collection: string;
  doc: unknown;
  /** Where the document is, for messages: "name:line", or "name@offset" when the line is unknown. */
  where: string;
  /** Byte offset of the document's line: stable across re-reads. */
  offset: number;
  /** Length of the document's line in bytes. */
  size: number;
}

export interface FixtureTxn {
  docs: FixtureDoc[];
  /** Byte offset just past the transaction's last line. */
  end: number;
  /** Byte offset of its first line. */
  begin: number;
}

/** A transaction's extent, once all its documents were visited. */
export type TxnBounds = Omit<FixtureTxn, "docs">;

/** Returned by scanTxn when waiting for more of a growing input passed its time limit. */
export const INPUT_TIMED_OUT = Symbol("input timed out");

export interface ScanOptions {
  /**
   * Until when (ms since the epoch) to wait for more bytes of a growing
   * input, given whether the transaction has begun; undefined waits forever.
   */
  waitUntil?: (begun: boolean) => number | undefined;
}

/** Where a materialization reads its transactions from. */
export interface FixtureInput {
  readonly name: string;
  /** The transaction starting at byte offset `from`, or undefined at the end of input. */
  readTxn(from: number): Promise<FixtureTxn | undefined>;
  /**
   * Visits the documents of the transaction starting at `from` one by one,
   * without holding them (awaiting `visit` when it returns a promise).
   * Undefined at the end of input, INPUT_TIMED_OUT past `waitUntil`.
   */
  scanTxn(from: number, visit: (doc: FixtureDoc) => void | Promise<void>, opts?: ScanOptions): Promise<TxnBounds | undefined | typeof INPUT_TIMED_OUT>;
  close?(): Promise<void>;
}

/** Classifies one line: a document, a commit marker, or nothing (blank). Throws on anything else. */
function parseLine(where: string, bytes: Buffer, offset: number): { commit: true } | { commit: false; doc: FixtureDoc } | undefined {
  const text = bytes.toString("utf8");
  if (/^\s*$/.test(text)) return undefined;
  let v: unknown;
  try {
    v = parseJson(text);
  } catch {
    throw new HarnessError(`${where}: not valid JSON`);
  }
  if (v && typeof v === "object" && !Array.isArray(v) && (v as { commit?: unknown }).commit === true) return { commit: true };
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === "string") return { commit: false, doc: { collection: v[0], doc: v[1], where, offset, size: bytes.length } };
  throw new HarnessError(`${where}: expected ["<collection>", document] or {"commit": true}`);
}

/**
 * A stream input (stdin, a pipe from a capture preview) spooled to a
 * temporary file as it arrives, so that any committed offset can be read
 * again after a crash while memory stays bounded however long the stream
 * runs. Each shard reads the spool through its own `reader()`; a reader at
 * the end of what has arrived waits for more until the stream ends.
 */
export class FixtureSource implements FixtureInput {
  private readonly dir: string;
  private readonly path: string;
  private fd: number | undefined;
  private written = 0;
  private ended = false;
  private failure: Error | undefined;
  private waiters: (() => void)[] = [];
  private readonly readers: FileFixture[] = [];
  private defaultReader: FileFixture | undefined;

  /** `name` identifies the source in runtime checkpoints, e.g. "fixture/stdin". */
  constructor(
    readonly name: string,
    private readonly input: Readable,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), "tributary-spool-"));
    this.path = join(this.dir, "input.jsonl");
    this.fd = openSync(this.path, "w");
    input.on("data", (data: Buffer | string) => {
      if (this.fd === undefined) return;
      const chunk = typeof data === "string" ? Buffer.from(data, "utf8") : data;
      try {
        // Synchronous: the bytes are in the file before readers are told.
        for (let at = 0; at < chunk.length; ) at += writeSync(this.fd, chunk, at, chunk.length - at);
      } catch (err) {
        this.failure = new HarnessError(`cannot spool ${name} to ${this.path}: ${(err as Error).message}`);
      }
      this.written += chunk.length;
      this.wake();
    });
    input.on("end", () => {
      this.ended = true;
      this.wake();
    });
    input.on("error", (err) => {
      this.failure = new HarnessError(`cannot read ${name}: ${err.message}`);
      this.wake();
    });
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** A reader of its own, with its own position (one per shard). */
  reader(): FileFixture {
    const r = new FileFixture(this.name, this.path, {
      available: () => {
        if (this.failure) throw this.failure;
        return { bytes: this.written, ended: this.ended };
      },
      more: () => new Promise<void>((resolve) => this.waiters.push(resolve)),
    });
    this.readers.push(r);
    return r;
  }

  readTxn(from: number): Promise<FixtureTxn | undefined> {
    this.defaultReader ??= this.reader();
    return this.defaultReader.readTxn(from);
  }

  scanTxn(from: number, visit: (doc: FixtureDoc) => void | Promise<void>, opts?: ScanOptions) {
    this.defaultReader ??= this.reader();
    return this.defaultReader.scanTxn(from, visit, opts);
  }

  get totalBytes(): number {
    return this.written;
  }

  /** The temporary file holding the stream's bytes, removed by close(). */
  get spoolPath(): string {
    return this.path;
  }

  /** Stops reading the stream (it is not destroyed: it belongs to the caller) and deletes the spool. */
  async close(): Promise<void> {
    this.input.removeAllListeners("data");
    this.input.pause();
    await Promise.all(this.readers.map((r) => r.close()));
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** How a reader of a file that is still being written learns about new bytes. */
export interface GrowingFile {
  /** Bytes in the file so far and whether more can come; throws if the writer failed. */
  available(): { bytes: number; ended: boolean };
  /** Resolves when more bytes arrive or the writer ends. */
  more(): Promise<void>;
}

/**
 * A fixture file read from any offset without keeping it in memory: each
 * reader (one per shard) keeps a cursor and reopens the file when asked for
 * another position.
 */
export class FileFixture implements FixtureInput {
  private fd: import("node:fs/promises").FileHandle | undefined;
  private pos = 0; // file offset of buf[0]
  private buf = Buffer.alloc(0);
  private eof = false;
  /** Line number of the last line read; NaN after a seek to an offset whose line is unknown. */
  private lineNo = 0;
  /** Line numbers at transaction boundaries seen so far, for seeks. */
  private readonly linesAt = new Map<number, number>([[0, 0]]);

  /** `growing`: the file is still being written (a spooled stream). */
  constructor(
    readonly name: string,
    private readonly path: string,
    private readonly growing?: GrowingFile,
  ) {}

  /** Reads more bytes into the buffer: false at the end of input, INPUT_TIMED_OUT when waiting passed `until`. */
  private async fill(until?: number): Promise<boolean | typeof INPUT_TIMED_OUT> {
    if (this.eof) return false;
    if (this.growing) {
      const at = this.pos + this.buf.length;
      for (let a = this.growing.available(); a.bytes <= at; a = this.growing.available()) {
        if (a.ended) {
          this.eof = true;
          return false;
        }
        if (until === undefined) {
          await this.growing.more();
          continue;
        }
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<typeof INPUT_TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(INPUT_TIMED_OUT), Math.max(0, until - Date.now()))));
        try {
          if ((await Promise.race([this.growing.more(), late])) === INPUT_TIMED_OUT) return INPUT_TIMED_OUT;
        } finally {
          clearTimeout(timer);
        }
      }
    }
    if (!this.fd) {
      try {
        this.fd = await open(this.path, "r");
      } catch (err) {
        throw new HarnessError(`cannot read fixture ${this.path}: ${(err as Error).message}`);
      }
    }
    const chunk = Buffer.allocUnsafe(1 << 20);
    const { bytesRead } = await this.fd.read(chunk, 0, chunk.length, this.pos + this.buf.length);
    if (bytesRead === 0) {
      this.eof = true;
      return false;
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
    return true;
  }

  async readTxn(from: number): Promise<FixtureTxn | undefined> {
    const docs: FixtureDoc[] = [];
    const bounds = await this.scanTxn(from, (d) => void docs.push(d));
    if (bounds === undefined || bounds === INPUT_TIMED_OUT) return undefined;
    return { ...bounds, docs };
  }

  async scanTxn(from: number, visit: (doc: FixtureDoc) => void | Promise<void>, opts: ScanOptions = {}): Promise<TxnBounds | undefined | typeof INPUT_TIMED_OUT> {
    if (from !== this.pos) {
      // Seek: drop the buffer and continue from `from`.
      if (from < this.pos || from > this.pos + this.buf.length) {
        this.buf = Buffer.alloc(0);
        this.eof = false;
      } else {
        this.buf = this.buf.subarray(from - this.pos);
      }
      this.pos = from;
    }
    // Also after a scan that ended early (a failed visit, a timeout).
    this.lineNo = this.linesAt.get(from) ?? NaN;
    let docs = 0;
    let begin = -1;
    let start = 0; // consumed bytes of buf
    for (;;) {
      const nl = this.buf.indexOf(0x0a, start);
      let lineBytes: Buffer;
      let next: number;
      if (nl < 0) {
        // Drop the lines already visited: a transaction is never held whole.
        this.buf = this.buf.subarray(start);
        this.pos += start;
        start = 0;
        const got = await this.fill(opts.waitUntil?.(docs > 0));
        if (got === INPUT_TIMED_OUT) return INPUT_TIMED_OUT;
        if (got) continue;
        if (start >= this.buf.length) break;
        lineBytes = this.buf.subarray(start);
        next = this.buf.length;
      } else {
        lineBytes = this.buf.subarray(start, nl);
        next = nl + 1;
      }
      const lineBegin = this.pos + start;
      this.lineNo++;
      const where = Number.isNaN(this.lineNo) ? `${this.name}@${lineBegin}` : `${this.name}:${this.lineNo}`;
      const parsed = parseLine(where, lineBytes, lineBegin);
      start = next;
      if (!parsed) continue;
      if (parsed.commit) {
        if (docs === 0) continue;
        return this.finish(begin, start);
      }
      if (begin < 0) begin = lineBegin;
      docs++;
      const p = visit(parsed.doc);
      if (p) await p;
    }
    if (docs === 0) {
      this.advance(start);
      return undefined;
    }
    return this.finish(begin, start);
  }

  private finish(begin: number, consumed: number): TxnBounds {
    this.advance(consumed);
    return { begin, end: this.pos };
  }

  private advance(consumed: number) {
    this.buf = this.buf.subarray(consumed);
    this.pos += consumed;
    if (!Number.isNaN(this.lineNo)) this.linesAt.set(this.pos, this.lineNo);
  }

  async close(): Promise<void> {
    await this.fd?.close();
    this.fd = undefined;
  }
}
