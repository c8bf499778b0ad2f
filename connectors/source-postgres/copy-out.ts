/**
 * COPY ... TO STDOUT as a readable stream of the copied bytes: pg-copy-streams'
 * stream (which takes over the connection's socket, keeps its flow control
 * and hands the end of the copy or an error back to pg), with its message
 * parser replaced.
 *
 * The server sends each row as its own CopyData message. pg-copy-streams cut
 * every message's content out (a buffer object per row) and then copied
 * them all into a fresh zero-filled buffer per socket read; here the rows'
 * bytes are moved down over the 5-byte message headers in place, in the
 * buffer the socket read into (which nothing else holds), and pushed as one
 * piece: no object per row and one native move per row.
 */
import type { Readable } from "node:stream";
import copyStreams from "pg-copy-streams";

const ERROR = 0x45; // E
const COPY_OUT = 0x48; // H
const COPY_DATA = 0x64; // d
const NOTICE = 0x4e; // N
const NOTIFICATION = 0x41; // A
const PARAMETER_STATUS = 0x53; // S

/** The parts of pg-copy-streams' CopyToQueryStream this subclass relies on. */
interface CopyToBase extends Readable {
  /** Unparsed bytes, handed back to pg's parser by _detach. */
  _buffer: { push(b: Buffer): void };
  _detach(): void;
  _cleanup(): void;
  /** pg's Submittable: called when the query reaches the front of the client's queue. */
  submit(connection: unknown): void;
}

// The package exports only a factory; its class is the prototype of what the factory makes.
const Base = Object.getPrototypeOf(copyStreams.to("")).constructor as new (text: string) => CopyToBase;

class CopyOutStream extends Base {
  /** Content bytes of the current message still to come, and its type. */
  private left = 0;
  private code = 0;
  /** The start of a message header cut by the end of a socket read. */
  private head: Buffer | null = null;

  /** Called by the base with each socket read; returns whether it may read more. */
  _parse(chunk: Buffer): boolean {
    let buf = chunk;
    if (this.head !== null) {
      buf = Buffer.concat([this.head, chunk]);
      this.head = null;
    }
    let pos = 0;
    let out = 0;
    let done = false;
    while (pos < buf.length) {
      if (this.left > 0) {
        const n = Math.min(this.left, buf.length - pos);
        if (this.code === COPY_DATA) {
          if (out !== pos) buf.copyWithin(out, pos, pos + n);
          out += n;
        }
        pos += n;
        this.left -= n;
        continue;
      }
      if (buf.length - pos < 5) {
        this.head = buf.subarray(pos);
        break;
      }
      const code = buf[pos]!;
      if (code === ERROR) {
        // pg reads the error and fails the query (the base's way; rows before it are dropped, as there).
        this._buffer.push(buf.subarray(pos));
        this._detach();
        return false;
      }
      this.code = code;
      this.left = buf.readUInt32BE(pos + 1) - 4;
      pos += 5;
      if (code === COPY_DATA || code === COPY_OUT || code === NOTICE || code === NOTIFICATION || code === PARAMETER_STATUS) continue;
      // CopyDone (or any other message, which ends copy-out too): what follows is pg's.
      if (this.left > buf.length - pos) throw new Error(`COPY: message ${code} of ${this.left} bytes ends the copy but is cut by a socket read`);
      pos += this.left;
      this.left = 0;
      done = true;
      break;
    }
    const drained = out > 0 ? this.push(buf.subarray(0, out)) : true;
    if (done) {
      if (pos < buf.length) this._buffer.push(buf.subarray(pos));
      this._detach();
      this.push(null);
      this._cleanup();
    }
    return drained;
  }
}

/** The submittable of `COPY (sql) TO STDOUT`, for client.query(). */
export function copyOut(sql: string): CopyToBase {
  return new CopyOutStream(`COPY (${sql}) TO STDOUT`);
}
