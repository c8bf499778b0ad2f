/**
 * The staged form of apply records: many records framed into one message
 * body, so staging costs a few large publishes rather than one per document.
 *
 * Each record: kind (u8), binding (u32), then subject, key and payload, each
 * as a u32 byte length and UTF-8 bytes. Big-endian throughout.
 */
import type { ApplyRecord, RecordKind } from "./records.js";

const HEADER = 1 + 4 + 3 * 4;

export class ChunkBuilder {
  private parts: Buffer[] = [];
  bytes = 0;
  records = 0;

  /** The encoded size of a record. */
  static sizeOf(r: ApplyRecord): number {
    return HEADER + Buffer.byteLength(r.subject) + Buffer.byteLength(r.key) + Buffer.byteLength(r.payload);
  }

  add(r: ApplyRecord): void {
    const subject = Buffer.from(r.subject, "utf8");
    const key = Buffer.from(r.key, "utf8");
    const payload = Buffer.from(r.payload, "utf8");
    const head = Buffer.allocUnsafe(HEADER);
    head.writeUInt8(r.kind, 0);
    head.writeUInt32BE(r.binding, 1);
    head.writeUInt32BE(subject.length, 5);
    head.writeUInt32BE(key.length, 9);
    head.writeUInt32BE(payload.length, 13);
    this.parts.push(head, subject, key, payload);
    this.bytes += HEADER + subject.length + key.length + payload.length;
    this.records++;
  }

  /** The chunk's bytes; the builder starts empty again. */
  take(): Buffer {
    const out = Buffer.concat(this.parts, this.bytes);
    this.parts = [];
    this.bytes = 0;
    this.records = 0;
    return out;
  }
}

/** The records of a chunk; payloads stay bytes, as they are published. */
export interface ChunkRecord {
  kind: RecordKind;
  binding: number;
  subject: string;
  key: string;
  payload: Uint8Array;
}

export function decodeChunk(data: Uint8Array, what: string): ChunkRecord[] {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out: ChunkRecord[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + HEADER > buf.length) throw new Error(`${what} is truncated`);
    const kind = buf.readUInt8(at) as RecordKind;
    const binding = buf.readUInt32BE(at + 1);
    const sl = buf.readUInt32BE(at + 5);
    const kl = buf.readUInt32BE(at + 9);
    const pl = buf.readUInt32BE(at + 13);
    let p = at + HEADER;
    if (p + sl + kl + pl > buf.length) throw new Error(`${what} is truncated`);
    const subject = buf.toString("utf8", p, p + sl);
    p += sl;
    const key = buf.toString("utf8", p, p + kl);
    p += kl;
    const payload = buf.subarray(p, p + pl);
    at = p + pl;
    out.push({ kind, binding, subject, key, payload });
  }
  return out;
}
