/**
 * COPY text built as bytes: lines are written straight into fixed-size
 * buffers, which go to the socket as they fill, so a Store's document goes
 * from its frame to COPY with no JS string made of it and no string
 * re-encoded by the COPY stream (see copy-text.ts for the rules).
 */

/** Bytes per buffer handed to the COPY stream. */
export const COPY_CHUNK = 256 * 1024;

/** From this size on, a document's escapes are counted first, so its room is exact rather than twice its size. */
const LARGE = 64 * 1024;

/** Per byte: 0 if COPY text takes it as is, else the letter written after a backslash. */
const ESCAPE = new Uint8Array(256);
ESCAPE[0x5c] = 0x5c; // \ → \\
ESCAPE[0x0a] = 0x6e; // newline → \n
ESCAPE[0x0d] = 0x72; // carriage return → \r
ESCAPE[0x09] = 0x74; // tab → \t

/**
 * A growing run of COPY text: full buffers wait in `chunks` until the owner
 * takes them; the last one is still being filled.
 */
export class CopyBuffer {
  private buf: Buffer;
  private pos = 0;
  private full: Buffer[] = [];
  private fullBytes = 0;

  constructor(private readonly chunkSize = COPY_CHUNK) {
    this.buf = Buffer.allocUnsafe(chunkSize);
  }

  /** Bytes written and not yet taken. */
  get size(): number {
    return this.fullBytes + this.pos;
  }

  /** Whether a full buffer is waiting to be taken. */
  get hasFull(): boolean {
    return this.full.length > 0;
  }

  /** Text as UTF-8, unescaped: the caller has escaped it. */
  text(s: string): void {
    this.room(s.length * 3);
    this.pos += this.buf.write(s, this.pos, "utf8");
  }

  /** One ASCII byte (a separator, a flag). */
  byte(c: number): void {
    this.room(1);
    this.buf[this.pos++] = c;
  }

  /** UTF-8 bytes, escaped as copyEscape escapes their text. */
  escaped(src: Uint8Array): void {
    const n = src.length;
    let need = 2 * n;
    if (n >= LARGE) {
      need = n;
      for (let i = 0; i < n; i++) if (ESCAPE[src[i]!] !== 0) need++;
    }
    this.room(need);
    const b = this.buf;
    let j = this.pos;
    for (let i = 0; i < n; i++) {
      const c = src[i]!;
      const e = ESCAPE[c]!;
      if (e === 0) b[j++] = c;
      else {
        b[j++] = 0x5c;
        b[j++] = e;
      }
    }
    this.pos = j;
  }

  /** The full buffers, emptied out of this one (the one being filled stays). */
  takeFull(): Buffer[] {
    const out = this.full;
    this.full = [];
    this.fullBytes = 0;
    return out;
  }

  /** Everything written, emptied out. */
  takeAll(): Buffer[] {
    if (this.pos > 0) {
      this.full.push(this.buf.subarray(0, this.pos));
      // Later text goes into the rest of the same buffer.
      this.buf = this.buf.subarray(this.pos);
      this.pos = 0;
    }
    return this.takeFull();
  }

  private room(n: number): void {
    if (this.buf.length - this.pos < n) this.spill(n);
  }

  /** Moves the filled part to `full` and starts a buffer with room for `n` bytes. */
  private spill(n: number): void {
    if (this.pos > 0) {
      this.full.push(this.buf.subarray(0, this.pos));
      this.fullBytes += this.pos;
    }
    // The rest of a buffer stays unused: the COPY stream still holds its filled part.
    this.buf = Buffer.allocUnsafe(Math.max(this.chunkSize, n));
    this.pos = 0;
  }
}
