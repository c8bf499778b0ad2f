/**
 * Commands encoded in RESP by the connector itself and handed to ioredis
 * as bytes. ioredis encodes a command argument by argument (a header
 * string and a buffer entry each, then one more copy into the write
 * buffer); for an MSET of 2,000 arguments taken from a staged chunk that
 * was most of the apply's client CPU. Here the arguments are copied once,
 * into one buffer, with their headers written as digits in place.
 *
 * ioredis itself sends scripts through a Command subclass that overrides
 * toWritable (EVALSHA/EVAL); EncodedCommand does the same to send bytes
 * already encoded, and keeps ioredis's reply handling.
 */
import { Command } from "ioredis";

const CRLF = 2;

/** Bytes of `n`'s decimal digits. */
function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Writes "<type><n>\r\n" at `at`; returns the next position. */
function header(buf: Buffer, at: number, type: number, n: number): number {
  buf[at++] = type;
  const end = at + digits(n);
  for (let i = end - 1; i >= at; i--) {
    buf[i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  buf[end] = 0x0d;
  buf[end + 1] = 0x0a;
  return end + CRLF;
}

const lengthOf = (a: string | Uint8Array) => (typeof a === "string" ? Buffer.byteLength(a) : a.length);

/** The RESP encoding of the command `name` with `args` (bulk strings; text as UTF-8). */
export function encodeCommand(name: string, args: ReadonlyArray<string | Uint8Array>): Buffer {
  let size = 1 + digits(args.length + 1) + CRLF;
  size += 1 + digits(Buffer.byteLength(name)) + CRLF + Buffer.byteLength(name) + CRLF;
  for (const a of args) {
    const n = lengthOf(a);
    size += 1 + digits(n) + CRLF + n + CRLF;
  }
  const buf = Buffer.allocUnsafe(size);
  let at = header(buf, 0, 0x2a, args.length + 1);
  const bulk = (a: string | Uint8Array) => {
    if (typeof a === "string") {
      const n = Buffer.byteLength(a);
      at = header(buf, at, 0x24, n);
      at += buf.write(a, at, "utf8");
    } else {
      at = header(buf, at, 0x24, a.length);
      buf.set(a, at);
      at += a.length;
    }
    buf[at++] = 0x0d;
    buf[at++] = 0x0a;
  };
  bulk(name);
  for (const a of args) bulk(a);
  return buf;
}

/** A command sent as bytes encoded by encodeCommand; its reply is handled as any command's. */
export class EncodedCommand extends Command {
  constructor(
    name: string,
    private readonly bytes: Buffer,
  ) {
    super(name, []);
  }

  override toWritable(): Buffer {
    return this.bytes;
  }
}

/** Bytes of the RESP encoding of the command `name` whose arguments are the byte ranges `ranges` (start, end, ...) of a source. */
export function commandSizeOf(name: string, ranges: Uint32Array): number {
  const nameLength = Buffer.byteLength(name);
  let size = 1 + digits(ranges.length / 2 + 1) + CRLF + 1 + digits(nameLength) + CRLF + nameLength + CRLF;
  for (let i = 0; i < ranges.length; i += 2) {
    const n = ranges[i + 1]! - ranges[i]!;
    size += 1 + digits(n) + CRLF + n + CRLF;
  }
  return size;
}

/** Writes that encoding into `buf` at `at` (commandSizeOf bytes); returns the position after it. */
export function writeCommandOf(buf: Buffer, at: number, name: string, source: Uint8Array, ranges: Uint32Array): number {
  at = header(buf, at, 0x2a, ranges.length / 2 + 1);
  at = header(buf, at, 0x24, Buffer.byteLength(name));
  at += buf.write(name, at, "utf8");
  buf[at++] = 0x0d;
  buf[at++] = 0x0a;
  for (let i = 0; i < ranges.length; i += 2) {
    const from = ranges[i]!;
    const to = ranges[i + 1]!;
    at = header(buf, at, 0x24, to - from);
    buf.set(source.subarray(from, to), at);
    at += to - from;
    buf[at++] = 0x0d;
    buf[at++] = 0x0a;
  }
  return at;
}
