/**
 * Backfill rows written as document JSON straight from the text protocol's
 * packets, as row-image.ts does for the binlog.
 *
 * mysql2 would decode every value of a row into a string (or number, or
 * Buffer) and the document would then encode them back: most of the
 * backfill's CPU besides the wire. `rawRows` makes a query hand out each
 * row's packet instead of its values; `TextRowWriter` writes each column's
 * JSON from the packet's bytes, for the forms whose value mysql2 would have
 * given as a string of those bytes (integers' canonical digits, text, JSON
 * text, dates, times, decimals, the DOUBLE text the backfill selects) or as
 * a Buffer (byte strings), through the same converters (values.ts). A row
 * holding a value it cannot vouch for (not valid UTF-8, an integer with
 * leading zeros) and every row of a table with other forms (FLOAT, BIT,
 * GEOMETRY, UUID…) go through mysql2's own parser and the RowEncoder
 * instead. text-rows.test.ts compares the two on edge and random values.
 */
import { isUtf8 } from "node:buffer";
import { plainText, viewOf, type DocBytes } from "./doc-bytes.js";
import type { RowEncoder } from "./encoder.js";
import { hourCarries } from "./timezone.js";

/** mysql2's packet (the parts read here). */
export interface Packet {
  buffer: Buffer;
  offset: number;
  end: number;
}

/** mysql2's column definition (the parts read here). */
export interface Field {
  columnType: number;
  characterSet: number;
  encoding: string;
  extendedFormat?: string;
}

/** The current row of a rawRows query: its packet, where the row starts, and mysql2's parser for the general path. */
export interface RawRow {
  packet: Packet;
  start: number;
  fields: Field[];
  /** mysql2's values of the row (its own parser, from the row's start). */
  values(): unknown[];
}

/**
 * Makes a mysql2 text query emit a RawRow (the same object for every row, valid until the next) as its
 * 'result' instead of the row's values, keeping mysql2's own parser for `values()`.
 */
export function rawRows(query: any): void {
  let general: { next(packet: Packet, fields: Field[], options: unknown): unknown[] } | null = null;
  const row: RawRow & { options: unknown } = {
    packet: null as unknown as Packet,
    start: 0,
    fields: [],
    options: undefined,
    values() {
      this.packet.offset = this.start;
      return general!.next(this.packet, this.fields, this.options);
    },
  };
  const parser = {
    next(packet: Packet, fields: Field[], options: unknown): RawRow {
      row.packet = packet;
      row.start = packet.offset;
      row.fields = fields;
      row.options = options;
      return row;
    },
  };
  // mysql2 assigns the parser it generates for the result's fields to _rowParser and calls its next() per row.
  Object.defineProperty(query, "_rowParser", {
    configurable: true,
    get: () => (general ? parser : null),
    set: (p) => {
      general = p;
    },
  });
}

/** MYSQL_TYPE_* of the text protocol's column definitions. */
const TINY = 1, SHORT = 2, LONG = 3, FLOAT = 4, DOUBLE = 5, NULL = 6, LONGLONG = 8, INT24 = 9, YEAR = 13;
const DECIMAL = 0, NEWDECIMAL = 246, DATE = 10, NEWDATE = 14, DATETIME = 12, TIMESTAMP = 7, TIME = 11;
const GEOMETRY = 255, VECTOR = 242, JSON_TYPE = 245, BIT = 16;
const BINARY_CHARSET = 63;

const enum Plan {
  /** mysql2 gives a number or an exact integer string: the canonical digits. */
  Int,
  /** mysql2 gives the bytes as a string (in the field's encoding: "ascii" ones must be ASCII). */
  Text,
  Json,
  /** A string kind (dates, decimals, DOUBLE text…) through its converter. */
  Str,
  /** DOUBLE text: as it is when the converter would give it back unchanged (plainDouble), else as Str. */
  Double,
  /** DATETIME text: its converter, once per minute (see dateTime()). */
  DateTime,
  /** mysql2 gives a Buffer of the bytes: base64. */
  Bytes,
  /** No fast form: every row of the table takes the general path. */
  None,
}

function planOf(f: Field, kind: string): [Plan, boolean] {
  const utf8 = f.encoding === "utf8";
  if (f.extendedFormat === "json") return [utf8 && (kind === "json" || kind === "text") ? (kind === "json" ? Plan.Json : Plan.Text) : Plan.None, false];
  switch (f.columnType) {
    case TINY:
    case SHORT:
    case LONG:
    case INT24:
    case LONGLONG:
      return [kind === "int" ? Plan.Int : Plan.None, true];
    case YEAR:
    case FLOAT:
    case DOUBLE:
    case NULL:
    case GEOMETRY:
    case VECTOR:
    case BIT:
      return [Plan.None, false];
    case DECIMAL:
    case NEWDECIMAL:
    case DATE:
    case NEWDATE:
    case DATETIME:
    case TIMESTAMP:
    case TIME:
      // Read by mysql2 as "ascii".
      if (f.columnType === DATETIME && kind === "datetime") return [Plan.DateTime, true];
      return [kind === "int" || kind === "json" || kind === "binary" ? Plan.None : Plan.Str, true];
    case JSON_TYPE:
      return [kind === "json" ? Plan.Json : Plan.None, false];
    default:
      if (f.characterSet === BINARY_CHARSET) return [kind === "binary" ? Plan.Bytes : Plan.None, false];
      if (!utf8) return [Plan.None, false];
      if (kind === "text") return [Plan.Text, false];
      if (kind === "json") return [Plan.Json, false];
      if (kind === "double") return [Plan.Double, false];
      return [kind === "int" || kind === "binary" || kind === "float" || kind === "year" || kind === "bit" ? Plan.None : Plan.Str, false];
  }
}

const QUOTE = 0x22;
const NULL_JSON = Buffer.from("null");

function asciiOnly(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i]! >= 0x80) return false;
  return true;
}

/** Whether bytes are an integer as a number prints it: -?(0|[1-9][0-9]*), not -0. */
function canonicalInt(buf: Buffer, from: number, to: number): boolean {
  let i = from;
  if (buf[i] === 0x2d) i++;
  if (i >= to) return false;
  if (buf[i] === 0x30) return to === i + 1 && i === from;
  for (; i < to; i++) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * Copies src[from, to) to dst at p and returns the position after it. A long run by one native copy; a short
 * one 4 bytes at a time through the DataViews (a byte loop costs twice as much), which may read up to 3 bytes
 * past `to` (when src has them) and write up to 3 past the copy (the caller's room covers them; later
 * writes replace them).
 */
function copy(dst: Buffer, dv: DataView, p: number, src: Buffer, sv: DataView, from: number, to: number): number {
  if (to - from > 32) {
    // A plain view: cheaper than a Buffer's subarray() or copy().
    dst.set(new Uint8Array(src.buffer, src.byteOffset + from, to - from), p);
    return p + to - from;
  }
  let i = from;
  if (to + 3 < src.length) {
    for (; i < to; i += 4, p += 4) dv.setInt32(p, sv.getInt32(i, true), true);
    return p - (i - to);
  }
  for (; i < to; i++) dst[p++] = src[i]!;
  return p;
}

/**
 * Copies src[from, to) to dst at p as copy() does (4 bytes at a time, but never past `to`), and returns the
 * position after it, or -1 when a byte of it is not ASCII: it is copied all the same, and the caller checks
 * it as UTF-8. JSON values are ASCII far more often than not; a JS loop that copies and checks them at once
 * costs about what a view and a native copy cost, and no per-value or per-document UTF-8 check is left.
 */
function copyAscii(dst: Buffer, dv: DataView, p: number, src: Buffer, sv: DataView, from: number, to: number): number {
  let high = 0;
  let i = from;
  for (const last = to - 8; i <= last; i += 8, p += 8) {
    const a = sv.getInt32(i, true);
    const b = sv.getInt32(i + 4, true);
    dv.setInt32(p, a, true);
    dv.setInt32(p + 4, b, true);
    high |= a | b;
  }
  for (; i < to; i++) {
    const c = src[i]!;
    high |= c;
    dst[p++] = c;
  }
  return (high & 0x80808080) === 0 ? p : -1;
}

/** `b` as little-endian 32-bit words (the last one padded with zeros). */
function wordsOf(b: Buffer): Int32Array {
  const padded = Buffer.alloc(Math.ceil(b.length / 4) * 4);
  b.copy(padded);
  const words = new Int32Array(padded.length / 4);
  for (let k = 0; k < words.length; k++) words[k] = padded.readInt32LE(4 * k);
  return words;
}

export class TextRowWriter {
  private readonly plans: Plan[];
  private readonly asciiOnly: boolean[];
  /** Per column, the bytes before its value: `"name":` for the first, `,"name":` for the others. */
  private readonly heads: Buffer[];
  /** The heads as words (stored 4 bytes at a time, see copy()). */
  private readonly headWords: Int32Array[];
  /** The heads' total length. */
  private readonly headsLength: number;
  /** The packet buffer last read, as a DataView. */
  private src: Buffer | null = null;
  private srcView: DataView | null = null;
  /**
   * Per DATETIME column: the first 16 bytes (date, hour, minute) of the last value converted, and its JSON head
   * (17 bytes), both as little-endian words (compared and stored 4 bytes at a time, see copy()).
   */
  private readonly minute: Int32Array[];
  private readonly minuteHead: Int32Array[];
  /** Per DATETIME column: whether minute and minuteHead hold a value converted in the usual form. */
  private readonly minuteKnown: boolean[];
  /**
   * Per DATETIME column: whether the known head serves every minute of its hour, the minute's digits patched in
   * (the zone's hourCarries(), and the conversion kept the minute's digits).
   */
  private readonly hourKnown: boolean[];
  private readonly zoneCarries: boolean;
  /** Whether no column has a fast form for every value: the table's rows take the general path. */
  readonly general: boolean;

  constructor(
    readonly enc: RowEncoder,
    fields: Field[],
  ) {
    const planned = fields.map((f, i) => (i < enc.kinds.length ? planOf(f, enc.kinds[i]!) : ([Plan.None, false] as [Plan, boolean])));
    this.plans = planned.map((p) => p[0]);
    this.asciiOnly = planned.map((p) => p[1]);
    this.general = fields.length !== enc.kinds.length || this.plans.includes(Plan.None);
    this.heads = enc.names.map((name, i) => Buffer.from((i === 0 ? "" : ",") + JSON.stringify(name) + ":"));
    this.headWords = this.heads.map(wordsOf);
    this.headsLength = this.heads.reduce((n, h) => n + h.length, 0);
    this.minute = this.plans.map(() => new Int32Array(4));
    this.minuteHead = this.plans.map(() => new Int32Array(Math.ceil(MINUTE_HEAD / 4)));
    this.minuteKnown = this.plans.map(() => false);
    this.hourKnown = this.plans.map(() => false);
    this.zoneCarries = hourCarries(enc.vctx.zone);
  }

  /**
   * Room for the rest of a row whose values start at `off`: the heads, and at most twice each value's packet
   * bytes plus 6 (base64 is 4/3 of them with 2 quotes, NULL's 1 byte is 4, a DATETIME's minute head adds 3;
   * the rest is as long as its bytes), and 8 for copy()'s words. Only converters write more, and they make
   * their own room.
   */
  private room(out: DocBytes, off: number, end: number): void {
    out.ensure(this.headsLength + 2 * (end - off) + 6 * this.plans.length + 8);
  }

  /**
   * DATETIME text: within the minute last converted (and in the converter's usual form) only the seconds
   * differ, so the minute's UTC head is written with the text's seconds, as the converter itself does
   * (writeProps, inline); any other value through the converter, here. False for text that is not ASCII.
   */
  private dateTime(out: DocBytes, i: number, buf: Buffer, from: number, to: number): boolean {
    if (!asciiOnly(buf, from, to)) return false;
    const json = this.enc.convs[i]!(buf.latin1Slice(from, to));
    out.ascii(json);
    // Usual: `"`, the UTC minute, then the text's own seconds, `Z"`. Checked and kept with no string or
    // buffer made: this runs once a minute of rows, where each allocation showed (~20 µs a call in place).
    const n = to - from;
    let usual = n >= 19 && !zeroDate(buf, from) && secondsTail(buf, from, to) && json.length === n + 3 && json.charCodeAt(0) === QUOTE;
    for (let k = 16; usual && k < n; k++) usual = json.charCodeAt(k + 1) === buf[from + k];
    usual &&= json.charCodeAt(n + 1) === 0x5a /* Z */ && json.charCodeAt(n + 2) === QUOTE;
    this.minuteKnown[i] = usual;
    this.hourKnown[i] = usual && this.zoneCarries && json.charCodeAt(15) === buf[from + 14] && json.charCodeAt(16) === buf[from + 15];
    if (usual) {
      const minute = this.minute[i]!;
      for (let k = 0; k < 4; k++) minute[k] = buf.readInt32LE(from + 4 * k);
      const head = this.minuteHead[i]!;
      for (let k = 0; k < head.length; k++) {
        let w = 0;
        for (let b = 3; b >= 0; b--) w = (w << 8) | (4 * k + b < MINUTE_HEAD ? json.charCodeAt(4 * k + b) : 0);
        head[k] = w;
      }
    }
    return true;
  }

  /** A string kind's text through its converter; false for text that is not valid UTF-8 (or not ASCII where it must be). */
  private str(out: DocBytes, i: number, buf: Buffer, from: number, to: number): boolean {
    // ASCII text converts to ASCII JSON.
    if (asciiOnly(buf, from, to)) out.ascii(this.enc.convs[i]!(buf.latin1Slice(from, to)));
    else if (!this.asciiOnly[i] && isUtf8(buf.subarray(from, to))) out.utf8(this.enc.convs[i]!(buf.toString("utf8", from, to)));
    else return false;
    return true;
  }

  /** Any other value of column `i` (through its converter, or base64); false when it needs the general path. */
  private slow(out: DocBytes, i: number, buf: Buffer, from: number, to: number): boolean {
    switch (this.plans[i]) {
      case Plan.Text:
        if (!isUtf8(buf.subarray(from, to))) return false;
        out.utf8(this.enc.convs[i]!(buf.toString("utf8", from, to)));
        return true;
      case Plan.DateTime:
        return this.dateTime(out, i, buf, from, to);
      case Plan.Double:
      case Plan.Str:
        return this.str(out, i, buf, from, to);
      default:
        out.byte(QUOTE);
        out.ascii(buf.base64Slice(from, to));
        out.byte(QUOTE);
        return true;
    }
  }

  /**
   * Writes the properties (without braces) of the row at the packet's offset; false (having written part of
   * them) when a value needs the general path (text that is not valid UTF-8, as mysql2's strings would
   * replace it). The usual values are copied here into the output's buffer
   * (room made once per row, see room()); the rest go through slow() and the output's own writers.
   */
  writeProps(out: DocBytes, packet: Packet): boolean {
    const src = packet.buffer;
    const end = packet.end;
    let off = packet.offset;
    const plans = this.plans;
    const heads = this.heads;
    const headWords = this.headWords;
    const n = plans.length;
    if (src !== this.src) {
      this.src = src;
      this.srcView = viewOf(src);
    }
    const sv = this.srcView!;
    this.room(out, off, end);
    let buf = out.buf;
    let dv = out.view;
    let p = out.pos;
    let i = 0;
    try {
      for (; i < n; i++) {
        const words = headWords[i]!;
        for (let k = 0; k < words.length; k++) dv.setInt32(p + 4 * k, words[k]!, true);
        p += heads[i]!.length;
        const first = src[off]!;
        let len: number;
        if (first < 0xfb) {
          len = first;
          off += 1;
        } else if (first === 0xfb) {
          buf[p++] = 0x6e; // null
          buf[p++] = 0x75;
          buf[p++] = 0x6c;
          buf[p++] = 0x6c;
          off += 1;
          continue;
        } else if (first === 0xfc) {
          len = src[off + 1]! | (src[off + 2]! << 8);
          off += 3;
        } else if (first === 0xfd) {
          len = src[off + 1]! | (src[off + 2]! << 8) | (src[off + 3]! << 16);
          off += 4;
        } else {
          len = src.readUInt32LE(off + 1) + src.readUInt32LE(off + 5) * 0x100000000;
          off += 9;
        }
        const from = off;
        const to = (off += len);
        const plan = plans[i];
        if (plan === Plan.Int) {
          if (!canonicalInt(src, from, to)) return false;
          p = copy(buf, dv, p, src, sv, from, to);
          continue;
        }
        if (plan === Plan.Json) {
          const q = copyAscii(buf, dv, p, src, sv, from, to);
          if (q >= 0) p = q;
          else if (isUtf8(src.subarray(from, to))) p += to - from;
          else return false;
          continue;
        }
        if (plan === Plan.Text && plainText(src, from, to)) {
          buf[p++] = QUOTE;
          p = copy(buf, dv, p, src, sv, from, to);
          buf[p++] = QUOTE;
          continue;
        }
        if (plan === Plan.Double && plainDouble(src, from, to)) {
          p = copy(buf, dv, p, src, sv, from, to);
          continue;
        }
        if (plan === Plan.DateTime && this.minuteKnown[i]) {
          const hour = this.hourKnown[i]!;
          if (hour ? sameHour(src, sv, from, to, this.minute[i]!) : sameMinute(sv, from, to, this.minute[i]!)) {
            if (secondsTail(src, from, to)) {
              // 20 bytes stored for the head's 17: the seconds' copy replaces the last 3.
              const mh = this.minuteHead[i]!;
              for (let k = 0; k < 5; k++) dv.setInt32(p + 4 * k, mh[k]!, true);
              if (hour) {
                buf[p + 15] = src[from + 14]!;
                buf[p + 16] = src[from + 15]!;
              }
              p = copy(buf, dv, p + MINUTE_HEAD, src, sv, from + 16, to);
              buf[p++] = 0x5a; // Z
              buf[p++] = QUOTE;
              continue;
            }
          }
        }
        out.pos = p;
        if (!this.slow(out, i, src, from, to)) return false;
        this.room(out, off, end);
        buf = out.buf;
        dv = out.view;
        p = out.pos;
      }
    } catch (err) {
      throw this.enc.columnError(i, err);
    }
    out.pos = p;
    return true;
  }
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

/**
 * Whether DOUBLE text is one the converter gives back unchanged (values.ts PLAIN_DOUBLE, at most 15 bytes):
 * "0", or -?[1-9]\d*(\.\d*[1-9])?, or -?0\.0{0,5}[1-9](\d*[1-9])?. Read from the bytes, with no string and no
 * regular expression per value; a false answer only sends the text through the converter.
 */
export function plainDouble(buf: Buffer, from: number, to: number): boolean {
  const n = to - from;
  if (n < 1 || n > 15) return false;
  let i = from;
  if (n === 1 && buf[i] === 0x30) return true;
  if (buf[i] === 0x2d) i++;
  if (i >= to) return false;
  if (buf[i] === 0x30) {
    // 0.0{0,5}[1-9]…
    if (i + 1 >= to || buf[i + 1] !== 0x2e) return false;
    i += 2;
    const zerosFrom = i;
    while (i < to && buf[i] === 0x30) i++;
    if (i - zerosFrom > 5 || i >= to) return false;
  } else {
    if (!isDigit(buf[i])) return false;
    while (i < to && isDigit(buf[i])) i++;
    if (i === to) return true;
    if (buf[i] !== 0x2e || ++i >= to) return false;
  }
  // The digits after the point, the last not a zero.
  for (let k = i; k < to; k++) if (!isDigit(buf[k])) return false;
  return buf[to - 1] !== 0x30;
}

/** Whether bytes [from + 16, to) are ":SS" and an optional "." with digits (the converter's secondsTail). */
function secondsTail(buf: Buffer, from: number, to: number): boolean {
  const n = to - from;
  if (n < 19 || buf[from + 16] !== 0x3a || !isDigit(buf[from + 17]) || !isDigit(buf[from + 18])) return false;
  if (n === 19) return true;
  if (n === 20 || buf[from + 19] !== 0x2e) return false;
  for (let i = from + 20; i < to; i++) if (!isDigit(buf[i])) return false;
  return true;
}

/** Whether bytes [from, to) start with the 16 bytes of `minute` (4 words, the minute's first: it changes most). */
function sameMinute(sv: DataView, from: number, to: number, minute: Int32Array): boolean {
  if (to - from < 16) return false;
  return sv.getInt32(from + 12, true) === minute[3] && sv.getInt32(from + 8, true) === minute[2] && sv.getInt32(from + 4, true) === minute[1] && sv.getInt32(from, true) === minute[0];
}

/**
 * Whether bytes [from, to) hold a time of the hour of `minute` (its first 14 bytes, "YYYY-MM-DD HH:") with
 * minute digits 00–59.
 */
function sameHour(src: Buffer, sv: DataView, from: number, to: number, minute: Int32Array): boolean {
  if (to - from < 16) return false;
  if (sv.getInt32(from + 8, true) !== minute[2] || (sv.getInt32(from + 12, true) & 0xffff) !== (minute[3]! & 0xffff)) return false;
  if (sv.getInt32(from + 4, true) !== minute[1] || sv.getInt32(from, true) !== minute[0]) return false;
  const tens = src[from + 14]!;
  const ones = src[from + 15]!;
  return tens >= 0x30 && tens <= 0x35 && ones >= 0x30 && ones <= 0x39;
}

/** The bytes of a DATETIME's JSON before its seconds: `"YYYY-MM-DDTHH:MM` in UTC. */
const MINUTE_HEAD = 17;

/** Whether a DATETIME text's date is a zero or partial-zero one (the converter's zeroDate). */
function zeroDate(buf: Buffer, from: number): boolean {
  const z = 0x30;
  return (
    (buf[from] === z && buf[from + 1] === z && buf[from + 2] === z && buf[from + 3] === z) ||
    (buf[from + 5] === z && buf[from + 6] === z) ||
    (buf[from + 8] === z && buf[from + 9] === z)
  );
}

declare global {
  interface Buffer {
    latin1Slice(start: number, end: number): string;
    base64Slice(start: number, end: number): string;
  }
}
