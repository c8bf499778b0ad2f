/**
 * The documents a materialization reads: JSON lines `["<collection>", doc]`,
 * with `{"commit": true}` closing a transaction (end of input closes the
 * last one). Lines are kept in memory with their end offsets, so the
 * harness can re-read from any committed position after a crash, even
 * when the input is a pipe.
 */
import type { Readable } from "node:stream";
import { open } from "node:fs/promises";
import { HarnessError } from "./errors.js";
import { parseJson } from "./lossless-json.js";

export interface FixtureDoc {
  collection: string;
  doc: unknown;
  /** Where the document is, for messages: "name:line", or "name@offset" when the line is unknown. */
  where: string;
  /** Byte offset of the document's line: stable across re-reads. */
  offset: number;
}

export interface FixtureTxn {
  docs: FixtureDoc[];
  /** Byte offset just past the transaction's last line. */
  end: number;
  /** Byte offset of its first line. */
  begin: number;
}

interface Line {
  begin: number;
  end: number;
  commit: boolean;
  line: number;
  /** The document line's text, parsed again on every read (parsed documents are not retained). */
  text?: Buffer;
}

/** Where a materialization reads its transactions from. */
export interface FixtureInput {
  readonly name: string;
  /** The transaction starting at byte offset `from`, or undefined at the end of input. */
  readTxn(from: number): Promise<FixtureTxn | undefined>;
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
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === "string") return { commit: false, doc: { collection: v[0], doc: v[1], where, offset } };
  throw new HarnessError(`${where}: expected ["<collection>", document] or {"commit": true}`);
}

/**
 * A stream input (e.g. stdin) kept in memory as raw lines, so that any
 * committed offset can be read again after a crash.
 */
export class FixtureSource implements FixtureInput {
  private readonly lines: Line[] = [];
  private ended = false;
  private failure: Error | undefined;
  private waiters: (() => void)[] = [];
  private offset = 0;

  /** `name` identifies the source in runtime checkpoints, e.g. "fixture/data.jsonl". */
  constructor(
    readonly name: string,
    private readonly input: Readable,
  ) {
    let partial = Buffer.alloc(0);
    let lineNo = 0;
    input.on("data", (data: Buffer | string) => {
      const chunk = typeof data === "string" ? Buffer.from(data, "utf8") : data;
      const buf = partial.length ? Buffer.concat([partial, chunk]) : chunk;
      let start = 0;
      for (let nl = buf.indexOf(0x0a, start); nl >= 0; nl = buf.indexOf(0x0a, start)) {
        this.addLine(buf.subarray(start, nl), nl + 1 - start, ++lineNo);
        start = nl + 1;
      }
      partial = Buffer.from(buf.subarray(start));
      this.wake();
    });
    input.on("end", () => {
      if (partial.length) this.addLine(partial, partial.length, ++lineNo);
      this.ended = true;
      this.wake();
    });
    input.on("error", (err) => {
      this.failure = new HarnessError(`cannot read ${name}: ${err.message}`);
      this.wake();
    });
  }

  private addLine(bytes: Buffer, length: number, lineNo: number) {
    const begin = this.offset;
    this.offset += length;
    if (this.failure) return;
    try {
      const parsed = parseLine(`${this.name}:${lineNo}`, bytes, begin);
      if (!parsed) return;
      this.lines.push({ begin, end: this.offset, commit: parsed.commit, line: lineNo, text: parsed.commit ? undefined : Buffer.from(bytes) });
    } catch (err) {
      this.failure = err as Error;
    }
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async waitMore(): Promise<void> {
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /**
   * The transaction starting at byte offset `from`, or undefined at the end
   * of input. Waits for more input when the stream is still open.
   */
  async readTxn(from: number): Promise<FixtureTxn | undefined> {
    for (;;) {
      if (this.failure) throw this.failure;
      let i = this.firstAtOrAfter(from);
      const docs: FixtureDoc[] = [];
      let j = i;
      for (; j < this.lines.length; j++) {
        const l = this.lines[j]!;
        if (l.commit) {
          if (docs.length === 0) {
            // An empty transaction: skip the marker.
            i = j + 1;
            continue;
          }
          return { docs, begin: this.lines[i]!.begin, end: l.end };
        }
        docs.push((parseLine(`${this.name}:${l.line}`, l.text!, l.begin) as { doc: FixtureDoc }).doc);
      }
      if (this.ended) {
        if (docs.length === 0) return undefined;
        return { docs, begin: this.lines[i]!.begin, end: this.offset };
      }
      await this.waitMore();
    }
  }

  private firstAtOrAfter(offset: number): number {
    let lo = 0, hi = this.lines.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.lines[mid]!.begin < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  get totalBytes(): number {
    return this.offset;
  }

  /** Stops reading the stream (it is not destroyed: it belongs to the caller). */
  async close(): Promise<void> {
    this.input.removeAllListeners("data");
    this.input.pause();
  }
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

  constructor(
    readonly name: string,
    private readonly path: string,
  ) {}

  private async fill(): Promise<boolean> {
    if (this.eof) return false;
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
    if (from !== this.pos) {
      // Seek: drop the buffer and continue from `from`.
      if (from < this.pos || from > this.pos + this.buf.length) {
        this.buf = Buffer.alloc(0);
        this.eof = false;
      } else {
        this.buf = this.buf.subarray(from - this.pos);
      }
      this.pos = from;
      this.lineNo = this.linesAt.get(from) ?? NaN;
    }
    const docs: FixtureDoc[] = [];
    let begin = -1;
    let start = 0; // consumed bytes of buf
    for (;;) {
      const nl = this.buf.indexOf(0x0a, start);
      let lineBytes: Buffer;
      let next: number;
      if (nl < 0) {
        if (await this.fill()) continue;
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
        if (docs.length === 0) continue;
        return this.finish(docs, begin, start);
      }
      if (begin < 0) begin = lineBegin;
      docs.push(parsed.doc);
    }
    if (docs.length === 0) {
      this.advance(start);
      return undefined;
    }
    return this.finish(docs, begin, start);
  }

  private finish(docs: FixtureDoc[], begin: number, consumed: number): FixtureTxn {
    this.advance(consumed);
    return { docs, begin, end: this.pos };
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
