/**
 * Stdio framing as Flow's connector-init does it:
 *   proto: a 4-byte little-endian uint32 length, then that many bytes;
 *   json:  one message per line, terminated by "\n".
 */
import type { WireCodec } from "./wire.js";

/** Frames larger than this are refused (documents reach 16 MB; Flow's own cap is below this). */
export const DEFAULT_MAX_FRAME = 256 * 1024 * 1024;

const EMPTY = Buffer.alloc(0);

/**
 * Splits a byte stream into frame payloads. Payloads are views into the
 * pushed chunks (no copy) unless a frame spans chunks, in which case its
 * pieces are joined once, when the frame is complete.
 */
export class FrameDecoder {
  /** Unconsumed bytes: `head[pos..]` followed by the chunks in `tail`. */
  private head: Buffer = EMPTY;
  private pos = 0;
  private tail: Buffer[] = [];
  private tailLen = 0;
  /** Bytes needed (from pos) before parsing can progress; 0 when unknown. */
  private need = 0;

  constructor(
    readonly wire: WireCodec,
    readonly maxFrame: number = DEFAULT_MAX_FRAME,
  ) {}

  /** Bytes received but not yet returned as frames. */
  get pending(): number {
    return this.head.length - this.pos + this.tailLen;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length === 0) return [];
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (this.head.length === this.pos && this.tailLen === 0) {
      this.head = buf;
      this.pos = 0;
    } else {
      this.tail.push(buf);
      this.tailLen += buf.length;
      // Wait cheaply while a known-size frame is still incomplete, or while
      // a JSON line has no newline yet.
      if (this.wire === "proto" ? this.pending < this.need : buf.indexOf(0x0a) < 0) {
        this.checkJsonLine();
        return [];
      }
      this.head = Buffer.concat([this.head.subarray(this.pos), ...this.tail]);
      this.pos = 0;
      this.tail = [];
      this.tailLen = 0;
    }
    return this.wire === "proto" ? this.proto() : this.json();
  }

  private proto(): Uint8Array[] {
    const out: Uint8Array[] = [];
    const b = this.head;
    let pos = this.pos;
    for (;;) {
      const avail = b.length - pos;
      if (avail < 4) {
        this.need = 4;
        break;
      }
      const len = b.readUInt32LE(pos);
      if (len > this.maxFrame) {
        throw new Error(`protobuf frame of ${len} bytes exceeds the ${this.maxFrame}-byte limit (corrupt length prefix?)${jsonHint(b, pos)}`);
      }
      if (avail < 4 + len) {
        this.need = 4 + len;
        break;
      }
      out.push(b.subarray(pos + 4, pos + 4 + len));
      pos += 4 + len;
    }
    this.pos = pos;
    return out;
  }

  private json(): Uint8Array[] {
    const out: Uint8Array[] = [];
    const b = this.head;
    let pos = this.pos;
    for (;;) {
      const nl = b.indexOf(0x0a, pos);
      if (nl < 0) break;
      let end = nl;
      if (end > pos && b[end - 1] === 0x0d) end--;
      if (!isBlank(b, pos, end)) out.push(b.subarray(pos, end));
      pos = nl + 1;
    }
    this.pos = pos;
    this.checkJsonLine();
    return out;
  }

  private checkJsonLine(): void {
    if (this.wire === "json" && this.pending > this.maxFrame) {
      throw new Error(`JSON line longer than the ${this.maxFrame}-byte limit without a newline`);
    }
  }

  /** Call at end of input: throws if it ended inside a frame. */
  finish(): void {
    const left = this.pending;
    if (left === 0) return;
    if (this.wire === "proto") {
      const b = Buffer.concat([this.head.subarray(this.pos), ...this.tail]);
      const detail = left < 4 ? `${left} of 4 length-prefix bytes` : `${left - 4} of ${b.readUInt32LE(0)} payload bytes`;
      throw new Error(`input ended inside a protobuf frame: got ${detail}`);
    }
    const rest = Buffer.concat([this.head.subarray(this.pos), ...this.tail]);
    if (isBlank(rest, 0, rest.length)) return;
    throw new Error(`input ended inside a JSON line: ${left} bytes without a terminating newline`);
  }
}

function isBlank(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = b[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) return false;
  }
  return true;
}

/**
 * Accumulates framed payloads in one growing buffer, so that many small
 * messages become a single write.
 */
export class FrameWriter {
  private buf: Buffer;
  private len = 0;
  /** A buffer handed back by recycle(), for the next large take(). */
  private spare: Buffer | undefined;
  /** The memory of the working buffers take() handed over and recycle() may take back. */
  private readonly handed = new WeakSet<ArrayBufferLike>();

  constructor(readonly wire: WireCodec) {
    this.buf = Buffer.allocUnsafe(16 * 1024);
  }

  /** Bytes appended (framed) since the last take(). */
  get size(): number {
    return this.len;
  }

  append(payload: Uint8Array): void {
    const buf = this.reserve(payload.length);
    buf.set(payload, this.payloadOffset);
    this.commit(payload.length);
  }

  /**
   * Makes room for a payload of up to `max` bytes and returns the buffer to
   * write it into, at `payloadOffset`; `commit(n)` then frames the `n` bytes
   * written there. Encoders write straight into the batch this way: no
   * per-message buffer, no copy.
   */
  reserve(max: number): Buffer {
    const need = this.len + max + 4;
    if (need > this.buf.length) this.grow(need);
    return this.buf;
  }

  /** Where the payload of the next frame starts in the buffer `reserve` returns. */
  get payloadOffset(): number {
    return this.wire === "proto" ? this.len + 4 : this.len;
  }

  /** Frames the `n` payload bytes written at `payloadOffset` (at most what was reserved). */
  commit(n: number): void {
    if (this.wire === "proto") {
      this.buf.writeUInt32LE(n, this.len);
      this.len += 4 + n;
    } else {
      this.buf[this.len + n] = 0x0a;
      this.len += n + 1;
    }
  }

  private grow(need: number): void {
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** Everything appended so far, framed, as one buffer; the writer is then empty. */
  take(): Buffer {
    const n = this.len;
    this.len = 0;
    // Small batches are copied out so the working buffer is reused; large
    // ones hand the buffer over (no copy) and start a fresh one.
    if (n * 4 < this.buf.length) {
      const copy = Buffer.from(this.buf.subarray(0, n));
      if (this.buf.length > 1024 * 1024) this.buf = Buffer.allocUnsafe(16 * 1024);
      return copy;
    }
    const out = this.buf.subarray(0, n);
    this.handed.add(out.buffer);
    // The next batch is likely as large: start at the same size (up to 2 MiB), not growing again by copies.
    // (A sender flushing at 1 MiB ends each batch a little past it: with a 1 MiB start, every batch
    // copied its first MiB into a 2 MiB buffer for its last message.)
    const size = Math.min(Math.max(this.buf.length, 16 * 1024), 2 * 1024 * 1024);
    const spare = this.spare;
    this.spare = undefined;
    this.buf = spare !== undefined && spare.length >= size ? spare : Buffer.allocUnsafe(size);
    return out;
  }

  /**
   * Gives back a buffer take() handed over, once nothing reads it any more
   * (its write completed and the writer kept no reference): the next large
   * take() starts in it instead of in fresh memory. Fresh memory costs a
   * page fault per 4 KiB on first write, which on a VM that hands freed
   * pages back to its host made the copy of each document into its frame
   * ~4x as costly (a 2 MiB buffer per MiB of output).
   */
  recycle(taken: Buffer): void {
    // Only a working buffer that take() handed over whole: never a copy, which may share a pool.
    if (!this.handed.delete(taken.buffer)) return;
    if (this.spare === undefined || this.spare.length < taken.buffer.byteLength) this.spare = Buffer.from(taken.buffer);
  }
}

/** Yields each frame payload of `stream`; throws if it ends inside a frame. */
export async function* readFrames(stream: NodeJS.ReadableStream, wire: WireCodec): AsyncGenerator<Uint8Array> {
  for await (const batch of readFrameBatches(stream, wire)) yield* batch;
}

/**
 * Yields the frames completed by each chunk of `stream`, as one array per
 * chunk (never empty). Cheaper than readFrames for many small frames: an
 * async generator pays a promise round trip per yield, which costs about as
 * much as decoding a small message.
 */
export async function* readFrameBatches(stream: NodeJS.ReadableStream, wire: WireCodec): AsyncGenerator<Uint8Array[]> {
  const dec = new FrameDecoder(wire);
  for await (const chunk of stream) {
    const frames = dec.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Uint8Array));
    if (frames.length > 0) yield frames;
  }
  dec.finish();
}

/**
 * A hint for protobuf input that is really JSON text (a length prefix read
 * from `{"sp…` is a 1.8 GB frame): the sender speaks Flow's JSON codec.
 */
function jsonHint(b: Uint8Array, pos: number): string {
  let i = pos;
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0a || b[i] === 0x0d)) i++;
  const first = b[i];
  const second = b[i + 1];
  const looksJson = first === 0x7b && (second === 0x22 || second === 0x7d || second === 0x20 || second === 0x0a || second === undefined);
  return looksJson ? "; the input looks like JSON: for Flow's JSON codec set FLOW_RUNTIME_CODEC=json" : "";
}
