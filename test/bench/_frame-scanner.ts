/**
 * Splits a stream of length-prefixed frames (4-byte little-endian length,
 * then the payload) into payloads, as Flow's runtime reads a connector's
 * stdout: `onFrame(buf, start, end)` for each one, in place.
 *
 * No allocation per chunk or frame: frames inside a chunk are handed over
 * where they lie, and only a frame that spans chunks is copied, into one
 * scratch buffer kept for the whole stream. The previous scanner joined the
 * unread tail with the whole next chunk (a new 64 KiB buffer per pipe read,
 * as much again as Node's own read buffer): in the benchmarks' driver that
 * external memory set off V8's "external memory pressure" collections, a
 * full mark-compact every ~100 ms, and the driver's CPU swung from 0.4 s to
 * 2 s per million documents between runs.
 */
export class FrameScanner {
  /** The frame that spans chunks: its first `carried` bytes (prefix included). */
  private scratch = Buffer.allocUnsafe(64 * 1024);
  private carried = 0;

  constructor(private readonly onFrame: (buf: Buffer, start: number, end: number) => void) {}

  push(chunk: Buffer): void {
    let pos = 0;
    if (this.carried > 0) {
      pos = this.complete(chunk);
      if (pos < 0) return;
    }
    for (;;) {
      const avail = chunk.length - pos;
      if (avail < 4) break;
      const end = pos + 4 + chunk.readUInt32LE(pos);
      if (end > chunk.length) break;
      this.onFrame(chunk, pos + 4, end);
      pos = end;
    }
    if (pos < chunk.length) this.carry(chunk, pos, chunk.length);
  }

  /** Bytes that are part of a frame not yet complete. */
  get pending(): number {
    return this.carried;
  }

  /**
   * Adds the start of `chunk` to the carried frame; when that completes it,
   * hands the frame over and returns how much of `chunk` it took, else -1
   * (the whole chunk was carried).
   */
  private complete(chunk: Buffer): number {
    let taken = 0;
    if (this.carried < 4) {
      taken = Math.min(4 - this.carried, chunk.length);
      this.carry(chunk, 0, taken);
      if (this.carried < 4) return -1;
    }
    const total = 4 + this.scratch.readUInt32LE(0);
    const more = Math.min(total - this.carried, chunk.length - taken);
    this.carry(chunk, taken, taken + more);
    taken += more;
    if (this.carried < total) return -1;
    this.carried = 0;
    this.onFrame(this.scratch, 4, total);
    return taken;
  }

  private carry(chunk: Buffer, from: number, to: number): void {
    const need = this.carried + (to - from);
    if (need > this.scratch.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.scratch.length * 2));
      this.scratch.copy(grown, 0, 0, this.carried);
      this.scratch = grown;
    }
    chunk.copy(this.scratch, this.carried, from, to);
    this.carried = need;
  }
}
