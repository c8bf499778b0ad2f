/**
 * Reader of PostgreSQL's binary COPY output (`COPY ... TO STDOUT (FORMAT
 * binary)`): a signature, flags and a header extension, then per row a
 * 16-bit field count and per field a 32-bit length (-1 for NULL) and that
 * many bytes, then a field count of -1. A text column's field is its UTF-8
 * text as is: no escapes to undo, so a document's bytes can go into a
 * response frame without being decoded to a string.
 *
 * Rows may be split anywhere between chunks; fields are handed over as
 * views of the chunk holding them (or of a joined copy when a row straddles
 * two chunks), valid for as long as the caller keeps them.
 */

const SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");
const HEADER = SIGNATURE.length + 8;

export class BinaryCopyReader {
  /** Bytes of an unfinished row (or header), and how many bytes it takes to get further. */
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private need = HEADER;
  private headerDone = false;
  private ended = false;
  private readonly fields: (Buffer | null)[] = [];
  private spans = new Int32Array(16);

  /**
   * Parses what `chunk` completes and calls `onRow` per whole row (the
   * array is reused between rows: copy what you keep). A row longer than a
   * chunk is gathered and joined once, when its last byte arrives.
   */
  push(chunk: Buffer, onRow: (fields: (Buffer | null)[]) => void): void {
    const fields = this.fields;
    this.pushSpans(chunk, (buf, spans, n) => {
      fields.length = n;
      for (let i = 0; i < n; i++) {
        const start = spans[2 * i]!;
        const len = spans[2 * i + 1]!;
        fields[i] = len < 0 ? null : buf.subarray(start, start + len);
      }
      onRow(fields);
    });
  }

  /**
   * push() without a Buffer per field: `onRow` gets the buffer holding the
   * row and, per field i, its start at spans[2i] and its length at
   * spans[2i+1] (-1 for NULL). Both are valid only during the call (spans
   * is reused); take views of `buf` to keep bytes. Only chunk[from..to) is
   * read (the whole chunk by default), so a caller holding a larger buffer
   * needs no view of its part.
   */
  pushSpans(chunk: Buffer, onRow: (buf: Buffer, spans: Int32Array, n: number) => void, from = 0, to = chunk.length): void {
    if (this.ended) {
      if (to > from) throw new Error("binary COPY output continues after its trailer");
      return;
    }
    if (this.pendingLen > 0) {
      this.pending.push(chunk.subarray(from, to));
      this.pendingLen += to - from;
      if (this.pendingLen < this.need) return;
      chunk = Buffer.concat(this.pending, this.pendingLen);
      this.pending = [];
      this.pendingLen = 0;
      from = 0;
      to = chunk.length;
    }
    const buf = chunk;
    const end = to;
    let pos = from;
    if (!this.headerDone) {
      pos = this.header(buf, pos, end);
      if (pos < 0) return;
    }
    while (pos < end) {
      // Walk the row's fields before handing any over, so a row is whole. A row cut by the
      // chunk's end (in its field count, a length or a value) only sets `short`, with no
      // arithmetic or call of its own: a branch that first runs late with no type feedback
      // deoptimized this function (once per load, on a cut length).
      let p = pos + 2;
      let short = 0;
      let n = 0;
      if (p > end) short = p;
      else {
        // Big-endian int16 and int32 read byte by byte: cheaper than Buffer's bounds-checked readers, per row.
        n = ((buf[pos]! << 24) | (buf[pos + 1]! << 16)) >> 16;
        if (n < 0) return this.trailer(n, pos, end);
      }
      let spans = this.spans;
      if (spans.length < 2 * n) spans = this.spans = new Int32Array(2 * n);
      for (let i = 0; i < n; i++) {
        let next = p + 4;
        if (next > end) {
          short = next;
          break;
        }
        const len = (buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!;
        p = next;
        spans[2 * i] = p;
        if (len < 0) {
          spans[2 * i + 1] = -1;
          continue;
        }
        next = p + len;
        if (next > end) {
          short = next;
          break;
        }
        spans[2 * i + 1] = len;
        p = next;
      }
      if (short > 0) return this.keep(buf.subarray(pos, end), short - pos);
      pos = p;
      onRow(buf, spans, n);
    }
  }

  /**
   * Reads the header at buf[pos..end) and returns where rows start, or -1
   * when the header is not whole yet (its bytes are kept). Apart from the
   * row loop, which every chunk runs: it runs once per COPY.
   */
  private header(buf: Buffer, pos: number, end: number): number {
    if (end - pos < HEADER) {
      this.keep(buf.subarray(pos, end), HEADER);
      return -1;
    }
    if (!buf.subarray(pos, pos + SIGNATURE.length).equals(SIGNATURE)) throw new Error("binary COPY output does not start with its signature");
    const ext = buf.readUInt32BE(pos + SIGNATURE.length + 4);
    if (end - pos < HEADER + ext) {
      this.keep(buf.subarray(pos, end), HEADER + ext);
      return -1;
    }
    this.headerDone = true;
    return pos + HEADER + ext;
  }

  /** A negative field count at buf[pos]: the trailer (-1), which must end the output, or an error. */
  private trailer(n: number, pos: number, end: number): void {
    if (n !== -1) throw new Error(`binary COPY output has a row of ${n} fields`);
    this.ended = true;
    if (pos + 2 !== end) throw new Error("binary COPY output continues after its trailer");
  }

  private keep(part: Buffer, need: number): void {
    this.pending = [part];
    this.pendingLen = part.length;
    this.need = need;
  }

  /** Throws unless the output ended with its trailer. */
  finish(): void {
    if (!this.ended) throw new Error("binary COPY output ended in the middle of a row");
  }
}
