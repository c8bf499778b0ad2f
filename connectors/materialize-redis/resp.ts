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

/** Bytes of one bulk string of `n` bytes: "$<n>\r\n", the bytes, "\r\n". */
const bulkSize = (n: number) => 1 + digits(n) + CRLF + n + CRLF;

/** Writes `a` as a bulk string (text as UTF-8) at `at`; returns the next position. */
function bulk(buf: Buffer, at: number, a: string | Uint8Array): number {
  if (typeof a === "string") {
    at = header(buf, at, 0x24, Buffer.byteLength(a));
    at += buf.write(a, at, "utf8");
  } else {
    at = header(buf, at, 0x24, a.length);
    buf.set(a, at);
    at += a.length;
  }
  buf[at++] = 0x0d;
  buf[at++] = 0x0a;
  return at;
}

/** Bytes of a command's array header and name, for `argc` arguments after the name. */
const headSize = (name: string, argc: number) => 1 + digits(argc + 1) + CRLF + bulkSize(Buffer.byteLength(name));

/** Writes a command's array header and name at `at`; returns the next position. */
const writeHead = (buf: Buffer, at: number, name: string, argc: number) => bulk(buf, header(buf, at, 0x2a, argc + 1), name);

/** The RESP encoding of the command `name` with `args` (bulk strings; text as UTF-8). */
export function encodeCommand(name: string, args: ReadonlyArray<string | Uint8Array>): Buffer {
  let size = headSize(name, args.length);
  for (const a of args) size += bulkSize(lengthOf(a));
  const buf = Buffer.allocUnsafe(size);
  let at = writeHead(buf, 0, name, args.length);
  for (const a of args) at = bulk(buf, at, a);
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
  let size = headSize(name, ranges.length / 2);
  for (let i = 0; i < ranges.length; i += 2) size += bulkSize(ranges[i + 1]! - ranges[i]!);
  return size;
}

/** Writes that encoding into `buf` at `at` (commandSizeOf bytes); returns the position after it. */
export function writeCommandOf(buf: Buffer, at: number, name: string, source: Uint8Array, ranges: Uint32Array): number {
  at = writeHead(buf, at, name, ranges.length / 2);
  for (let i = 0; i < ranges.length; i += 2) at = bulk(buf, at, source.subarray(ranges[i]!, ranges[i + 1]!));
  return at;
}
