/**
 * The encoding of one staged chunk: a MessagePack array of strings
 *   [first record index, op1, key1, payload1, op2, key2, payload2, ...]
 * or, when every record is a plain SET (op "S", the common json binding),
 *   [first record index, "M", key1, payload1, key2, payload2, ...]
 * which the apply script decodes with Redis's built-in cmsgpack in one C
 * call. One list element per chunk keeps the stage cheap for Redis (one
 * bulk string, not three per record) and for the client (one argument).
 * The "M" form lets the script hand the decoded array straight to MSET
 * (no op is named "M"); walking the general form record by record in Lua
 * cost the apply about as much again as the MSET itself.
 *
 * A payload may be given as UTF-8 bytes (a Store's document as received,
 * records.ts): they are copied into the chunk as they are, which encodes
 * exactly what writing the same text as UTF-8 would, without making a
 * string of the document first.
 */

const ARRAY32 = 0xdd;
const STR32 = 0xdb;
/** The second element of a chunk of plain SETs (see above). */
export const PLAIN_SETS = "M";

/** A record's payload: text, or its UTF-8 bytes. */
export type Payload = string | Uint8Array;

function byteLength(p: Payload): number {
  return typeof p === "string" ? Buffer.byteLength(p) : p.length;
}

/** Bytes as a Buffer (a view, not a copy), which is what ioredis sends as they are. */
function asBuffer(p: Uint8Array): Buffer {
  return Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.length);
}

export class ChunkBuilder {
  private strings: Payload[] = [];
  private byteLen = 0;
  records = 0;
  /** Whether every record since the last take is a plain SET (op "S", no TTL). */
  plain = true;

  constructor(private first: number) {}

  add(op: string, key: string, payload: Payload): void {
    this.strings.push(op, key, payload);
    if (op !== "S") this.plain = false;
    this.byteLen += Buffer.byteLength(key) + byteLength(payload) + op.length + 15;
    this.records++;
  }

  /** Approximate encoded size, for closing chunks by size. */
  get bytes(): number {
    return this.byteLen;
  }

  /**
   * Encodes the chunk and starts the next one after it. `general` keeps
   * the op-by-op form even for plain SETs (what earlier versions staged;
   * tests compare the two).
   */
  take(general = false): Buffer {
    const head = String(this.first);
    const plain = this.plain && !general;
    const strings = this.strings;
    const count = 1 + (plain ? (strings.length / 3) * 2 + 1 : strings.length);
    const buf = Buffer.allocUnsafe(this.byteLen + head.length + 20);
    let at = 0;
    buf[at++] = ARRAY32;
    buf.writeUInt32BE(count, at);
    at += 4;
    const put = (s: Payload) => {
      buf[at] = STR32;
      let n: number;
      if (typeof s === "string") {
        n = buf.write(s, at + 5, "utf8");
      } else {
        buf.set(s, at + 5);
        n = s.length;
      }
      buf.writeUInt32BE(n, at + 1);
      at += 5 + n;
    };
    put(head);
    if (plain) {
      put(PLAIN_SETS);
      for (let i = 0; i < strings.length; i += 3) {
        put(strings[i + 1]!);
        put(strings[i + 2]!);
      }
    } else {
      for (const s of strings) put(s);
    }
    this.reset();
    return buf.subarray(0, at);
  }

  /**
   * For a chunk of plain SETs only: the MSET arguments (key, payload, ...)
   * in record order; the builder starts the next chunk. Undefined (and the
   * chunk kept) when any record is something else.
   */
  takePlainSets(): Array<string | Buffer> | undefined {
    if (!this.plain) return undefined;
    const out = new Array<string | Buffer>((this.strings.length / 3) * 2);
    for (let i = 0, o = 0; i < this.strings.length; i += 3) {
      const payload = this.strings[i + 2]!;
      out[o++] = this.strings[i + 1] as string;
      out[o++] = typeof payload === "string" ? payload : asBuffer(payload);
    }
    this.reset();
    return out;
  }

  private reset(): void {
    this.first += this.records;
    this.strings = [];
    this.byteLen = 0;
    this.records = 0;
    this.plain = true;
  }
}

/**
 * Where the MSET arguments (key, payload, ...) of an encoded chunk in the
 * "M" form lie in `blob`: start and end offsets, two per argument; undefined
 * for a chunk in the general form. The client-side reading of exactly what
 * the apply script would decode.
 */
export function plainSetRanges(blob: Buffer): Uint32Array | undefined {
  if (blob[0] !== ARRAY32) return undefined;
  const count = blob.readUInt32BE(1);
  let at = 5;
  const skip = (): number => {
    if (blob[at] !== STR32) throw new Error("malformed chunk");
    const n = blob.readUInt32BE(at + 1);
    at += 5 + n;
    return n;
  };
  skip(); // first record index
  const second = at + 5;
  if (skip() !== 1 || blob[second] !== PLAIN_SETS.charCodeAt(0)) return undefined;
  const ranges = new Uint32Array((count - 2) * 2);
  for (let i = 0; i < ranges.length; i += 2) {
    ranges[i] = at + 5;
    ranges[i + 1] = at + 5 + skip();
  }
  return ranges;
}
