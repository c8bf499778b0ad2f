/**
 * Documents written straight into UTF-8 bytes, handed to the output as
 * RawJsonBytes (over stdio they are copied into the frame as they are: no
 * string to build, measure or encode).
 *
 * One document at a time is written at the end of a chunk; a finished
 * document is a subarray of its chunk that is never written again (a new
 * chunk is taken when one fills up, the unfinished document moved into it),
 * so the output may hold it as long as it likes.
 *
 * Documents may also be gathered into a batch (openBatch, endInBatch,
 * takeBatch): consecutive documents in one buffer with their ends, handed
 * to the output at once (CaptureOutput.documents). A chunk that fills up
 * then moves the whole unsent batch into the next one.
 */
import { isUtf8 } from "node:buffer";

const CHUNK = 256 * 1024;

export class DocBytes {
  buf: Buffer = Buffer.allocUnsafe(CHUNK);
  /** `buf` as a DataView, for writers that store 4 bytes at a time. */
  view: DataView = viewOf(this.buf);
  pos = 0;
  /** Where the current document starts in `buf` (it moves when a chunk fills up: keep positions as marks). */
  start = 0;

  /** Where the open batch starts in `buf`, or -1 when none is open. */
  private batchStart = -1;
  /** The open batch's document ends, relative to its start, and their number. */
  private batchEnds = new Int32Array(256);
  batchCount = 0;

  /** Starts a document. */
  begin(): void {
    this.start = this.pos;
  }

  /** Drops the document being written. */
  discard(): void {
    this.pos = this.start;
  }

  /**
   * The finished document: a plain Uint8Array view (a Buffer's subarray() costs about twice as much, through
   * its species constructor, and this is once per document).
   */
  end(): Uint8Array {
    const buf = this.buf;
    const doc = new Uint8Array(buf.buffer, buf.byteOffset + this.start, this.pos - this.start);
    this.start = this.pos;
    return doc;
  }

  /** Room for `n` more bytes at `pos`. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    // The open batch (unsent finished documents) moves with the document being written.
    const from = this.batchStart >= 0 ? this.batchStart : this.start;
    const used = this.pos - from;
    const next = Buffer.allocUnsafe(Math.max(CHUNK, 2 * (used + n)));
    this.buf.copy(next, 0, from, this.pos);
    this.buf = next;
    this.view = viewOf(next);
    this.start -= from;
    if (this.batchStart >= 0) this.batchStart = 0;
    this.pos = used;
  }

  /** Opens a batch at the current position (no document may be in progress). */
  openBatch(): void {
    this.batchStart = this.start = this.pos;
    this.batchCount = 0;
  }

  /** Ends the document being written as the open batch's next one. */
  endInBatch(): void {
    if (this.batchCount === this.batchEnds.length) {
      const ends = new Int32Array(2 * this.batchEnds.length);
      ends.set(this.batchEnds);
      this.batchEnds = ends;
    }
    this.batchEnds[this.batchCount++] = this.pos - this.batchStart;
    this.start = this.pos;
  }

  /** Bytes of the open batch's documents. */
  get batchBytes(): number {
    return this.start - this.batchStart;
  }

  /**
   * The open batch's documents and their ends (see CaptureOutput.documents); a new batch is open from here.
   * The bytes are never written again; the ends array is reused by the next batch.
   */
  takeBatch(): { bytes: Uint8Array; ends: Int32Array; count: number } {
    const buf = this.buf;
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset + this.batchStart, this.start - this.batchStart);
    const batch = { bytes, ends: this.batchEnds, count: this.batchCount };
    this.batchStart = this.start;
    this.batchCount = 0;
    return batch;
  }

  /** Drops the open batch's documents (never sent) and closes it. */
  dropBatch(): void {
    if (this.batchStart >= 0) this.pos = this.start = this.batchStart;
    this.batchStart = -1;
    this.batchCount = 0;
  }

  /** Closes the open batch, which must be empty (taken). */
  closeBatch(): void {
    if (this.batchStart >= 0 && this.batchCount !== 0) throw new Error("a batch of documents was closed unsent");
    this.batchStart = -1;
  }

  /** The current position relative to the document's start (stays valid when the document moves). */
  mark(): number {
    return this.pos - this.start;
  }

  /** Copies the current document's bytes [from, to) (marks) to its end. */
  repeat(from: number, to: number): void {
    this.ensure(to - from);
    this.buf.copyWithin(this.pos, this.start + from, this.start + to);
    this.pos += to - from;
  }

  /** Copies `b` (short byte strings: a loop beats set() below a few dozen bytes). */
  bytes(b: Uint8Array): void {
    const n = b.length;
    this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    if (n > 32) {
      buf.set(b, p);
      p += n;
    } else for (let i = 0; i < n; i++) buf[p++] = b[i]!;
    this.pos = p;
  }

  /** Copies `src[from, to)` (a short run by a loop, as bytes()). */
  slice(src: Buffer, from: number, to: number): void {
    const n = to - from;
    this.ensure(n);
    if (n > 32) src.copy(this.buf, this.pos, from, to);
    else {
      const buf = this.buf;
      for (let i = from, p = this.pos; i < to; i++) buf[p++] = src[i]!;
    }
    this.pos += n;
  }

  byte(c: number): void {
    this.ensure(1);
    this.buf[this.pos++] = c;
  }

  /** A string of code units below 0x80 (digits, base64, RFC 3339 times). */
  ascii(s: string): void {
    const n = s.length;
    this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) buf[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  /** Any string, as UTF-8 (lone surrogates as U+FFFD, as every other UTF-8 encoding of ours). */
  utf8(s: string): void {
    this.ensure(s.length * 3);
    this.pos += this.buf.utf8Write(s, this.pos);
  }
}

/** A DataView of all of `buf`. */
export function viewOf(buf: Buffer): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.length);
}

/** Whether UTF-8 bytes can be a JSON string's content as they are: no control character, quote or backslash, and valid UTF-8. */
export function plainText(buf: Buffer, from: number, to: number): boolean {
  let ascii = true;
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    if (c < 0x20 || c === 0x22 || c === 0x5c) return false;
    if (c >= 0x80) ascii = false;
  }
  return ascii || isUtf8(buf.subarray(from, to));
}

/** Whether bytes are valid UTF-8 (a short run checked as ASCII first, a long one by Node's native check). */
export function validUtf8(buf: Buffer, from: number, to: number): boolean {
  if (to - from > 48) return isUtf8(buf.subarray(from, to));
  for (let i = from; i < to; i++) if (buf[i]! >= 0x80) return isUtf8(buf.subarray(from, to));
  return true;
}

declare global {
  interface Buffer {
    /** Node's own UTF-8 writer behind write(s, offset, "utf8"), without its argument checks. */
    utf8Write(s: string, offset: number): number;
  }
}
