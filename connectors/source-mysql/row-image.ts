/**
 * Binlog row images written as document JSON straight from their bytes.
 *
 * zongji would decode every value of every row into a JS value (a string
 * per DATETIME built from zero-padded pieces, a string per text column
 * decoded from UTF-8 that the document then encodes back): the most of the
 * change stream's CPU. Instead, while zongji parses a rows event, only the
 * extent of each row image is found (`skimRow`: the widths of the common
 * types are read from their length prefixes; other types are decoded by
 * zongji's own readMysqlValue, and their values kept). When the capture
 * takes the event, `ImageWriter` writes each column's JSON from the image:
 * integers, DOUBLE, UTF-8 text, JSON text, byte strings and DATETIMEs by
 * the fast paths below, everything else from the kept value through the
 * column's converter (values.ts), which every fast path falls back to for
 * values it does not handle (non-finite doubles, text needing escapes or
 * not valid UTF-8, zero dates). The JSON is the converters' text, byte for
 * byte (row-image.test.ts compares the two on edge and random values).
 */
import { plainText, validUtf8, type DocBytes } from "./doc-bytes.js";
import type { RowEncoder } from "./encoder.js";

/** One row image in a rows event's packet. */
export interface RowImage {
  buf: Buffer;
  /** Offset of the image's null bitmap. */
  at: number;
  /** The columns-present bitmap of the event. */
  present: Buffer;
  /** For columns zongji decoded: [2i] its value, [2i + 1] the offset after it. Null when there are none. */
  slow: unknown[] | null;
}

export interface UpdateImages {
  before: RowImage;
  after: RowImage;
}

/** Binlog type codes handled here (see values.ts for the full list). */
const TINY = 1, SHORT = 2, LONG = 3, DOUBLE = 5, LONGLONG = 8, INT24 = 9, VARCHAR = 15, DATETIME2 = 18;
const TINY_BLOB = 249, MEDIUM_BLOB = 250, LONG_BLOB = 251, BLOB = 252;

/** How a column's image is skimmed and written. */
const enum Plan {
  Slow = 0,
  Int,
  Double,
  /** Text, JSON or binary with a 1- or 2-byte length prefix (VARCHAR) or a 1..4-byte one (BLOB). */
  Var,
  DateTime2,
}

/** zongji's per-TABLE_MAP column description (the parts read here). */
interface ZColumn {
  name: string;
  type: number;
  charset: string | null;
  metadata: { max_length?: number; length_size?: number; decimals?: number } | undefined;
}
interface ZTableMap {
  columns: ZColumn[];
  columnSchemas: { UNSIGNED?: boolean; COLUMN_TYPE: string }[];
}

/** Per-column skim facts, cached on zongji's table map entry (one per TABLE_MAP event). */
interface Skim {
  plan: Plan[];
  /** Bytes of a fixed-width column; of the length prefix of a Var column. */
  width: number[];
  hasSlow: boolean;
}

const SKIM = Symbol("tributary.skim");

const UTF8_CHARSETS = new Set(["utf8", "utf8mb3", "utf8mb4"]);

function planOf(c: ZColumn, schema: { UNSIGNED?: boolean; COLUMN_TYPE: string } | undefined): [Plan, number] {
  switch (c.type) {
    case TINY:
      return [Plan.Int, 1];
    case SHORT:
      return [Plan.Int, 2];
    case INT24:
      return [Plan.Int, 3];
    case LONG:
      return [Plan.Int, 4];
    case LONGLONG:
      return [Plan.Int, 8];
    case DOUBLE:
      return [Plan.Double, 8];
    case DATETIME2: {
      const d = c.metadata?.decimals ?? 0;
      return Number.isInteger(d) && d >= 0 && d <= 6 ? [Plan.DateTime2, 5 + Math.ceil(d / 2)] : [Plan.Slow, 0];
    }
    case VARCHAR: {
      // zongji reads binary-charset VARCHARs by their column type (UUID, INET, VECTOR ride on them): only
      // VARBINARY is a plain byte string.
      const text = c.charset !== null && UTF8_CHARSETS.has(c.charset);
      const bytes = c.charset === null && schema?.COLUMN_TYPE.startsWith("varbinary");
      if (!text && !bytes) return [Plan.Slow, 0];
      return [Plan.Var, (c.metadata?.max_length ?? 0) > 255 ? 2 : 1];
    }
    case TINY_BLOB:
    case MEDIUM_BLOB:
    case LONG_BLOB:
    case BLOB: {
      const n = c.metadata?.length_size ?? 0;
      if (n < 1 || n > 4 || (c.charset !== null && !UTF8_CHARSETS.has(c.charset))) return [Plan.Slow, 0];
      return [Plan.Var, n];
    }
    default:
      return [Plan.Slow, 0];
  }
}

function skimOf(map: ZTableMap): Skim {
  const cached = (map as unknown as { [SKIM]?: Skim })[SKIM];
  if (cached) return cached;
  const plan: Plan[] = [];
  const width: number[] = [];
  map.columns.forEach((c, i) => {
    const [p, w] = planOf(c, map.columnSchemas[i]);
    plan.push(p);
    width.push(w);
  });
  const skim = { plan, width, hasSlow: plan.includes(Plan.Slow) };
  (map as unknown as { [SKIM]?: Skim })[SKIM] = skim;
  return skim;
}

function bitCount(b: Buffer): number {
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    let x = b[i]!;
    while (x) {
      n += x & 1;
      x >>= 1;
    }
  }
  return n;
}

function varLength(buf: Buffer, at: number, width: number): number {
  switch (width) {
    case 1:
      return buf[at]!;
    case 2:
      return buf.readUInt16LE(at);
    case 3:
      return buf.readUIntLE(at, 3);
    default:
      return buf.readUInt32LE(at);
  }
}

/** zongji's parser over a packet: the parts used here. */
interface ZParser {
  _buffer: Buffer;
  _offset: number;
}

export type ReadValue = (parser: ZParser, column: ZColumn, schema: unknown, map: ZTableMap, zongji: unknown) => unknown;

/**
 * Finds the extent of one row image at the parser's offset and moves past it, as zongji's readRow would,
 * decoding (by `readValue`, zongji's readMysqlValue) only the columns without a fast path here.
 */
export function skimRow(parser: ZParser, map: ZTableMap, present: Buffer, zongji: unknown, readValue: ReadValue): RowImage {
  const skim = skimOf(map);
  const buf = parser._buffer;
  const at = parser._offset;
  let off = at + ((bitCount(present) + 7) >> 3);
  let slow: unknown[] | null = null;
  const cols = map.columns;
  for (let i = 0, nullBit = 0; i < cols.length; i++) {
    if ((present[i >> 3]! & (1 << (i & 7))) === 0) continue;
    const isNull = (buf[at + (nullBit >> 3)]! & (1 << (nullBit & 7))) !== 0;
    nullBit++;
    if (isNull) continue;
    switch (skim.plan[i]) {
      case Plan.Var: {
        const w = skim.width[i]!;
        off += w + varLength(buf, off, w);
        break;
      }
      case Plan.Slow: {
        parser._offset = off;
        const v = readValue(parser, cols[i]!, map.columnSchemas[i], map, zongji);
        off = parser._offset;
        slow ??= new Array(2 * cols.length);
        slow[2 * i] = v;
        slow[2 * i + 1] = off;
        break;
      }
      default:
        off += skim.width[i]!;
    }
  }
  parser._offset = off;
  return { buf, at, present, slow };
}

const QUOTE = 0x22;
const NULL_JSON = Buffer.from("null");

/** Two digits of 0..99. */
function twoDigits(out: DocBytes, n: number): void {
  out.ensure(2);
  out.buf[out.pos++] = 48 + ((n / 10) | 0);
  out.buf[out.pos++] = 48 + (n % 10);
}

/** zongji's sliceBits: bits [start, end) of a 32-bit integer. */
function sliceBits(input: number, start: number, end: number): number {
  const match = ((1 << end) - 1) ^ ((1 << start) - 1);
  return (input & match) >> start;
}

/** zongji's zeroPad. */
function pad(n: number, size: number): string {
  const s = "00000000000000000000000000000000" + n;
  return s.substr(s.length - size);
}

/**
 * Writes the properties of row images of one TABLE_MAP (its columns, in the encoder's order) into a
 * document. Per column: the `"name":` prefixes and converter of the RowEncoder, and the skim plan.
 */
export class ImageWriter {
  private readonly skim: Skim;
  /** Per column, whether it has no character set (a byte string). */
  private readonly binary: boolean[];
  private readonly prefixes: Buffer[];
  private readonly commaPrefixes: Buffer[];
  private readonly unsigned: boolean[];
  private readonly decimals: number[];
  /** Per DATETIME2 column: the minute last seen (its packed value without seconds) and its JSON head `"YYYY-MM-DDTHH:MM`. */
  private readonly minuteKey: number[];
  private readonly minuteHead: (Buffer | null)[];
  /** Per column, its position in the key, else -1. */
  private readonly keyPos: number[];
  /** Where each key column's JSON was written by the last writeProps, as document marks: [2k] start, [2k + 1] end; -1 when absent. */
  readonly spans: Int32Array;

  constructor(
    readonly enc: RowEncoder,
    map: ZTableMap,
  ) {
    this.skim = skimOf(map);
    const n = enc.names.length;
    this.prefixes = enc.names.map((name) => Buffer.from(JSON.stringify(name) + ":"));
    this.commaPrefixes = enc.names.map((name) => Buffer.from("," + JSON.stringify(name) + ":"));
    this.unsigned = map.columns.map((_, i) => {
      const s = map.columnSchemas[i];
      // As zongji decides it (parseAnyInt).
      return s ? (s.UNSIGNED !== undefined ? s.UNSIGNED : s.COLUMN_TYPE.indexOf("unsigned") !== -1) : false;
    });
    this.decimals = map.columns.map((c) => c.metadata?.decimals ?? 0);
    this.minuteKey = new Array(n).fill(-1);
    this.minuteHead = new Array(n).fill(null);
    this.keyPos = new Array(n).fill(-1);
    enc.keyIdx.forEach((i, k) => (this.keyPos[i] = k));
    this.spans = new Int32Array(2 * enc.keyIdx.length);
    // Integers, DOUBLEs and DATETIMEs have one kind whatever the catalog says (values.ts, kindOfBinlogType).
    for (let i = 0; i < n; i++) {
      const p = this.skim.plan[i];
      const want = p === Plan.Int ? "int" : p === Plan.Double ? "double" : p === Plan.DateTime2 ? "datetime" : undefined;
      if (want !== undefined && enc.kinds[i] !== want) throw new Error(`column ${JSON.stringify(enc.names[i])}: binlog type read as ${enc.kinds[i]}`);
    }
    this.binary = map.columns.map((c) => c.charset === null);
  }

  /**
   * Writes the properties (without braces) of `img`; returns whether any was written. Key columns' spans are
   * left in `spans`.
   */
  writeProps(out: DocBytes, img: RowImage): boolean {
    const spans = this.spans;
    spans.fill(-1);
    const { buf, at, present, slow } = img;
    const plan = this.skim.plan;
    const n = plan.length;
    let off = at + ((bitCount(present) + 7) >> 3);
    let first = true;
    let i = 0;
    try {
      for (let nullBit = 0; i < n; i++) {
        let isNull = true;
        if ((present[i >> 3]! & (1 << (i & 7))) !== 0) {
          isNull = (buf[at + (nullBit >> 3)]! & (1 << (nullBit & 7))) !== 0;
          nullBit++;
        }
        if (isNull) {
          out.bytes(first ? this.prefixes[i]! : this.commaPrefixes[i]!);
          first = false;
          const k = this.keyPos[i]!;
          if (k >= 0) spans[2 * k] = out.mark();
          out.bytes(NULL_JSON);
          if (k >= 0) spans[2 * k + 1] = out.mark();
          continue;
        }
        const isSlow = plan[i] === Plan.Slow;
        let value: unknown;
        if (isSlow) {
          value = slow![2 * i];
          off = slow![2 * i + 1] as number;
          if (value === undefined && !this.enc.undefinedIsValue[i]) continue;
        }
        out.bytes(first ? this.prefixes[i]! : this.commaPrefixes[i]!);
        first = false;
        const k = this.keyPos[i]!;
        if (k >= 0) spans[2 * k] = out.mark();
        if (isSlow) out.utf8(value === null ? "null" : this.enc.convs[i]!(value));
        else off = this.fast(out, i, buf, off);
        if (k >= 0) spans[2 * k + 1] = out.mark();
      }
    } catch (err) {
      throw this.enc.columnError(i, err);
    }
    return !first;
  }

  /** Writes column `i`'s JSON from the image at `off`; returns the offset after its value. */
  private fast(out: DocBytes, i: number, buf: Buffer, off: number): number {
    const w = this.skim.width[i]!;
    switch (this.skim.plan[i]) {
      case Plan.Int: {
        const u = this.unsigned[i];
        let x: number;
        switch (w) {
          case 1:
            x = u ? buf[off]! : (buf[off]! << 24) >> 24;
            break;
          case 2:
            x = u ? buf.readUInt16LE(off) : buf.readInt16LE(off);
            break;
          case 3:
            x = u ? buf.readUIntLE(off, 3) : buf.readIntLE(off, 3);
            break;
          case 4:
            x = u ? buf.readUInt32LE(off) : buf.readInt32LE(off);
            break;
          default: {
            const lo = buf.readUInt32LE(off);
            const hi = u ? buf.readUInt32LE(off + 4) : buf.readInt32LE(off + 4);
            // Within ±2^53 the double is exact.
            if (hi >= -0x200000 && hi < 0x200000) x = hi * 0x100000000 + lo;
            else {
              out.ascii((u ? buf.readBigUInt64LE(off) : buf.readBigInt64LE(off)).toString());
              return off + 8;
            }
          }
        }
        out.ascii("" + x);
        return off + w;
      }
      case Plan.Double: {
        const x = buf.readDoubleLE(off);
        out.ascii(Number.isFinite(x) ? "" + x : this.enc.convs[i]!(x));
        return off + 8;
      }
      case Plan.Var: {
        const len = varLength(buf, off, w);
        const from = off + w;
        const to = from + len;
        const kind = this.enc.kinds[i];
        if (this.binary[i]) {
          // A byte string (zongji's value is a Buffer of these bytes); a catalog kind other than binary (a column
          // changed from UUID, say) takes its converter.
          if (kind === "binary") {
            out.byte(QUOTE);
            out.ascii(buf.toString("base64", from, to));
            out.byte(QUOTE);
          } else out.utf8(this.enc.convs[i]!(buf.subarray(from, to)));
        } else if (kind === "json") {
          // Passed as it is (values.ts): the bytes are the text when they are valid UTF-8.
          if (validUtf8(buf, from, to)) out.slice(buf, from, to);
          else out.utf8(this.enc.convs[i]!(buf.toString("utf8", from, to)));
        } else if (kind === "text" && plainText(buf, from, to)) {
          out.byte(QUOTE);
          out.slice(buf, from, to);
          out.byte(QUOTE);
        } else out.utf8(this.enc.convs[i]!(buf.toString("utf8", from, to)));
        return to;
      }
      default:
        return this.dateTime2(out, i, buf, off);
    }
  }

  /**
   * DATETIME2: 5 bytes big-endian (sign, year*13+month, day, hour, minute, second), then the fraction. The
   * converter turns zongji's "YYYY-MM-DD HH:MM:SS[.f]" into UTC; within one minute only the seconds differ, so
   * the converted minute is kept and the seconds and fraction appended, as the converter itself does.
   */
  private dateTime2(out: DocBytes, i: number, buf: Buffer, off: number): number {
    const d = this.decimals[i]!;
    const packed = buf.readUIntBE(off, 5);
    let fraction = -1;
    if (d > 0) {
      const size = Math.ceil(d / 2);
      // As zongji's readTemporalFraction.
      let f = size === 1 ? buf.readInt8(off + 5) : size === 2 ? buf.readInt16BE(off + 5) : buf.readIntBE(off + 5, 3);
      if (d % 2 !== 0) f /= 10;
      if (f < 0) f = -f;
      fraction = f;
    }
    const end = off + 5 + (d > 0 ? Math.ceil(d / 2) : 0);
    const second = packed % 64;
    const minute = Math.floor(packed / 64);
    const fractionOk = fraction < 0 || (Number.isInteger(fraction) && fraction < 10 ** d);
    if (minute === this.minuteKey[i] && fractionOk) {
      out.bytes(this.minuteHead[i]!);
      out.byte(58 /* : */);
      twoDigits(out, second);
      if (fraction >= 0) {
        out.byte(46 /* . */);
        out.ascii(pad(fraction, d));
      }
      out.ascii('Z"');
      return end;
    }
    // zongji's string, through the converter.
    const rawHigh = buf.readInt32BE(off);
    const rawLow = buf.readInt32BE(off + 1);
    const yearMonth = sliceBits(rawHigh, 14, 31);
    const year = Math.floor(yearMonth / 13);
    const month = yearMonth % 13;
    const day = sliceBits(rawLow, 17, 22);
    const s =
      pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + " " +
      pad(sliceBits(rawLow, 12, 17), 2) + ":" + pad(sliceBits(rawLow, 6, 12), 2) + ":" + pad(sliceBits(rawLow, 0, 6), 2) +
      (fraction >= 0 ? "." + pad(fraction, d) : "");
    const json = this.enc.convs[i]!(s);
    out.utf8(json);
    // The converter's usual form: the minute's UTC head, then the seconds as given, then Z (a zero or partial-zero
    // date is written whole, whatever its time).
    const usual = fractionOk && year > 0 && month > 0 && day > 0 && json.length === s.length + 3 && json.charCodeAt(0) === QUOTE;
    if (usual && json.endsWith(s.slice(16) + 'Z"')) {
      this.minuteKey[i] = minute;
      this.minuteHead[i] = Buffer.from(json.slice(0, 17), "latin1");
    } else this.minuteKey[i] = -1;
    return end;
  }
}
