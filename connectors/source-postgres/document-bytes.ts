/**
 * The backfill's byte path: documents written as UTF-8 JSON straight from
 * the bytes of COPY text rows, into chunk buffers that are never written
 * again once a document is in them, and sent as RawJsonBytes (the stdio
 * transport copies them into its frame as they are).
 *
 * The documents are byte for byte those of RowEncoder.document(properties())
 * (documents.ts) over the values parseCopyLine gives (document-bytes.test.ts
 * compares both): the converters of text-values.ts that this file knows (by
 * identity) are written here from bytes; any other converter, and any value
 * the fast writers do not handle (an unusual escape, invalid UTF-8, a
 * timestamp that is not UTC...), is decoded to a string and converted by
 * its converter as the string path does.
 */
import { isUtf8 } from "node:buffer";
import { RawJsonBytes } from "../../src/sdk/types.js";
import { unescapeCopy } from "./copy-text.js";
import type { RowEncoder } from "./documents.js";
import { CONVERTERS, type Converter } from "./text-values.js";

const enum Kind {
  Verbatim,
  Float,
  Quote,
  Bool,
  Str,
  Json,
  Date,
  Time,
  Timestamp,
  Timestamptz,
  Other,
}

const KINDS = new Map<Converter, Kind>([
  [CONVERTERS.verbatim, Kind.Verbatim],
  [CONVERTERS.float, Kind.Float],
  [CONVERTERS.quote, Kind.Quote],
  [CONVERTERS.bool, Kind.Bool],
  [CONVERTERS.jsonString, Kind.Str],
  [CONVERTERS.json, Kind.Json],
  [CONVERTERS.date, Kind.Date],
  [CONVERTERS.time, Kind.Time],
  [CONVERTERS.timestamp, Kind.Timestamp],
  [CONVERTERS.timestamptz, Kind.Timestamptz],
]);

/** Size of the chunks documents are written into (a larger document gets a chunk of its own size). */
const CHUNK = 256 * 1024;
/** Output bytes a COPY byte can become at most on the fast paths (a control character as `\u00XX`). */
const EXPANSION = 6;
const HEX = Buffer.from("0123456789abcdef", "latin1");
const TRUE = Buffer.from("true", "latin1");
const FALSE = Buffer.from("false", "latin1");
const NULL = Buffer.from("null", "latin1");

/** Writes the backfill documents of one table's rows (of one COPY query) as UTF-8 JSON bytes. */
export class DocumentWriter {
  private buf = Buffer.allocUnsafe(CHUNK);
  private pos = 0;
  /** Start of the document being written (in `buf`). */
  private docStart = 0;
  private readonly kinds: Kind[];
  private readonly convs: Converter[];
  /** `"name":` of each column, with a leading comma after the first. */
  private readonly prefixes: Buffer[];
  /** `"_meta":{...,"source":{` up to the source's last property (with a leading comma if there are columns). */
  private readonly meta: Buffer;
  /** For keyless rows (`located`): `,"loc":"` and the partition's name, JSON-escaped. */
  private readonly locHead: Buffer | undefined;
  /** Bytes a row adds besides its own (times EXPANSION). */
  private readonly fixed: number;

  /**
   * `source`: the inside of _meta.source after schema and table, as
   * RowEncoder.document takes it. `located`: rows start with their ctid,
   * which goes into `"loc"` after the partition name `located` ("" for a table).
   */
  constructor(enc: RowEncoder, source: string, located?: string) {
    this.convs = enc.convs;
    this.kinds = enc.convs.map((c) => KINDS.get(c) ?? Kind.Other);
    this.prefixes = enc.prefixes.map((p, i) => Buffer.from((i > 0 ? "," : "") + p, "utf8"));
    const comma = this.prefixes.length > 0 ? "," : "";
    this.meta = Buffer.from(comma + enc.document("", "c", source).slice(1, -3), "utf8");
    this.locHead = located === undefined ? undefined : Buffer.from(',"loc":' + JSON.stringify(located).slice(0, -1), "utf8");
    this.fixed = 16 + this.meta.length + (this.locHead?.length ?? 0) + this.prefixes.reduce((n, p) => n + p.length + 8, 0);
  }

  /** The document of the COPY row in bytes [s, e) of `src` (without its newline). */
  row(src: Buffer, s: number, e: number): RawJsonBytes {
    this.docStart = this.pos;
    let p = this.room(this.pos, (e - s) * EXPANSION + this.fixed);
    let buf = this.buf;
    buf[p++] = 0x7b; // {
    let i = s;
    let ctid = s;
    if (this.locHead !== undefined) {
      const tab = src.indexOf(9, s);
      i = tab < 0 || tab > e ? e : tab + 1;
    }
    const kinds = this.kinds;
    const prefixes = this.prefixes;
    const n = kinds.length;
    for (let c = 0; c < n; c++) {
      const prefix = prefixes[c]!;
      // A short copy is cheaper in a loop, a longer one natively.
      if (prefix.length <= 16) for (let k = 0; k < prefix.length; k++) buf[p++] = prefix[k]!;
      else {
        buf.set(prefix, p);
        p += prefix.length;
      }
      // \N: null.
      if (src[i] === 0x5c && src[i + 1] === 0x4e && (i + 2 === e || src[i + 2] === 9)) {
        for (let k = 0; k < 4; k++) buf[p++] = NULL[k]!;
        i += 3;
        continue;
      }
      const kind = kinds[c]!;
      let j = i;
      let ok = true;
      const q = p;
      if (kind === Kind.Str) {
        buf[p++] = 0x22;
        let hi = 0;
        while (j < e) {
          const b = src[j]!;
          if (b >= 0x20 && b !== 0x22 && b !== 0x5c) {
            buf[p++] = b;
            hi |= b;
            j++;
          } else if (b === 9) break;
          else if (b === 0x22) {
            buf[p++] = 0x5c;
            buf[p++] = 0x22;
            j++;
          } else if (b === 0x5c) {
            // A COPY escape: the character it stands for, as JSON.stringify escapes it.
            const x = src[j + 1];
            let esc: number;
            if (x === 0x6e) esc = 0x6e; // \n
            else if (x === 0x74) esc = 0x74; // \t
            else if (x === 0x72) esc = 0x72; // \r
            else if (x === 0x5c) esc = 0x5c; // \\
            else if (x === 0x62) esc = 0x62; // \b
            else if (x === 0x66) esc = 0x66; // \f
            else if (x === 0x76) esc = 0x0b; // \v: \u000b
            else {
              ok = false;
              break;
            }
            buf[p++] = 0x5c;
            if (esc === 0x0b) p = hex4(buf, p, 0x0b);
            else buf[p++] = esc;
            j += 2;
          } else {
            // Another control character.
            buf[p++] = 0x5c;
            if (b === 8) buf[p++] = 0x62;
            else if (b === 12) buf[p++] = 0x66;
            else if (b === 13) buf[p++] = 0x72;
            else if (b === 10) buf[p++] = 0x6e;
            else p = hex4(buf, p, b);
            j++;
          }
        }
        buf[p++] = 0x22;
        if (ok && hi >= 0x80 && !this.validUtf8(src, i, j)) ok = false;
      } else if (kind === Kind.Json) {
        // Runs without a backslash are copied natively (JSON text is mostly such runs).
        let tab = src.indexOf(9, i);
        if (tab < 0 || tab > e) tab = e;
        for (;;) {
          let bs = this.nextBackslash(src, j);
          if (bs > tab) bs = tab;
          if (bs - j > 48) {
            // A native copy from a plain view (Buffer's copy() costs several times more to call).
            buf.set(new Uint8Array(src.buffer, src.byteOffset + j, bs - j), p);
            p += bs - j;
          }
          else for (let k = j; k < bs; k++) buf[p++] = src[k]!;
          j = bs;
          if (j >= tab) break;
          const x = src[j + 1];
          if (x === 0x5c) {
            // An escape of the JSON text; a \u of a surrogate half takes the general path (which checks pairs).
            if (src[j + 2] === 0x75 && (src[j + 3]! | 0x20) === 0x64) {
              ok = false;
              break;
            }
            buf[p++] = 0x5c;
          } else if (x === 0x6e || x === 0x72 || x === 0x74) {
            buf[p++] = 0x20; // newlines and tabs between tokens become spaces
          } else {
            ok = false;
            break;
          }
          j += 2;
        }
        if (ok && !this.validUtf8(src, i, j)) ok = false;
      } else if (kind !== Kind.Other) {
        // Values the type prints in ASCII with no escapes; anything else takes the general path.
        if (kind !== Kind.Verbatim && kind !== Kind.Float && kind !== Kind.Bool) buf[p++] = 0x22;
        const v = p;
        while (j < e) {
          const b = src[j]!;
          if (b === 9) break;
          if (b === 0x5c || b >= 0x80) ok = false;
          buf[p++] = b;
          j++;
        }
        const len = j - i;
        if (ok) {
          switch (kind) {
            case Kind.Float: {
              const last = len > 0 ? buf[p - 1]! : 0;
              if (last < 0x30 || last > 0x39) {
                // NaN, Infinity, -Infinity: strings.
                buf.copyWithin(v + 1, v, p);
                buf[v] = 0x22;
                p++;
                buf[p++] = 0x22;
              }
              break;
            }
            case Kind.Bool: {
              const word = len === 1 && src[i] === 0x74 ? TRUE : FALSE;
              p = v;
              for (let k = 0; k < word.length; k++) buf[p++] = word[k]!;
              break;
            }
            case Kind.Quote:
              buf[p++] = 0x22;
              break;
            case Kind.Date:
              if (len === 10) buf[p++] = 0x22;
              else ok = false;
              break;
            case Kind.Time:
              buf[p++] = 0x5a; // Z
              buf[p++] = 0x22;
              break;
            case Kind.Timestamp:
              // "2024-01-02 03:04:05[.ffffff]" (not BC): T between date and time, Z after.
              if (len >= 19 && buf[v + 10] === 0x20 && buf[v + 4] === 0x2d && !(buf[p - 2] === 0x42 && buf[p - 1] === 0x43)) {
                buf[v + 10] = 0x54;
                buf[p++] = 0x5a;
                buf[p++] = 0x22;
              } else ok = false;
              break;
            case Kind.Timestamptz:
              // In UTC, "...+00": as Timestamp, the offset becoming Z.
              if (len >= 22 && buf[v + 10] === 0x20 && buf[v + 4] === 0x2d && buf[p - 3] === 0x2b && buf[p - 2] === 0x30 && buf[p - 1] === 0x30) {
                buf[v + 10] = 0x54;
                p -= 3;
                buf[p++] = 0x5a;
                buf[p++] = 0x22;
              } else ok = false;
              break;
          }
        }
      } else ok = false;
      if (!ok) {
        // The general path: the value as a string, converted as the string path converts it.
        const tab = src.indexOf(9, j);
        j = tab < 0 || tab > e ? e : tab;
        const text = src.toString("utf8", i, j);
        const json = this.convs[c]!(text.indexOf("\\") < 0 ? text : unescapeCopy(text));
        p = this.room(q, json.length * 3 + (e - j) * EXPANSION + this.fixed);
        buf = this.buf;
        p += buf.write(json, p, "utf8");
      }
      i = j + 1;
    }
    // _meta, the row's location if it has one, and the closing braces.
    buf.set(this.meta, p);
    p += this.meta.length;
    if (this.locHead !== undefined) {
      const tab = src.indexOf(9, ctid);
      const ctidEnd = tab < 0 || tab > e ? e : tab;
      const text = src.toString("utf8", ctid, ctidEnd);
      const loc = JSON.stringify(text.indexOf("\\") < 0 ? text : unescapeCopy(text)).slice(1);
      p = this.room(p, this.locHead.length + loc.length * 3 + 3);
      buf = this.buf;
      buf.set(this.locHead, p);
      p += this.locHead.length;
      p += buf.write(loc, p, "utf8");
    }
    buf[p++] = 0x7d;
    buf[p++] = 0x7d;
    buf[p++] = 0x7d;
    // A plain view: several times cheaper to make than a Buffer's subarray.
    const doc = new RawJsonBytes(new Uint8Array(buf.buffer, buf.byteOffset + this.docStart, p - this.docStart));
    this.pos = p;
    return doc;
  }

  /** The buffer last searched for a backslash, from where, and the first one found (its length if none). */
  private bsIn: Buffer | undefined;
  private bsFrom = 0;
  private bsAt = 0;

  /**
   * The first backslash at or after `from` in `src` (its length if none).
   * A search runs to the buffer's end, so its answer is kept for the rows
   * before that backslash: a block is searched about once per backslash.
   */
  private nextBackslash(src: Buffer, from: number): number {
    if (src !== this.bsIn || from < this.bsFrom || from > this.bsAt) {
      const at = src.indexOf(0x5c, from);
      this.bsIn = src;
      this.bsFrom = from;
      this.bsAt = at < 0 ? src.length : at;
    }
    return this.bsAt;
  }

  /** The last buffer checked whole, and whether it is valid UTF-8. */
  private checked: Buffer | undefined;
  private checkedValid = false;

  /**
   * Whether bytes [i, j) of `src` are valid UTF-8. The whole buffer is
   * checked once (natively); only when it is not are its fields checked one
   * by one. (Fields end at ASCII bytes, so parts of valid UTF-8 are valid.)
   */
  private validUtf8(src: Buffer, i: number, j: number): boolean {
    if (src !== this.checked) {
      this.checked = src;
      this.checkedValid = isUtf8(src);
    }
    return this.checkedValid || isUtf8(src.subarray(i, j));
  }

  /**
   * Makes `need` bytes of room after offset `at` of the document being
   * written, moving the document so far (from docStart to `at`) to a new
   * chunk if the current one is too small. Returns where `at` is now.
   */
  private room(at: number, need: number): number {
    if (this.buf.length - at >= need) return at;
    const done = at - this.docStart;
    const next = Buffer.allocUnsafe(Math.max(CHUNK, done + need));
    this.buf.copy(next, 0, this.docStart, at);
    this.buf = next;
    this.docStart = 0;
    return done;
  }
}

/** `u00XX` of a control character (after its backslash). */
function hex4(buf: Buffer, p: number, b: number): number {
  buf[p++] = 0x75;
  buf[p++] = 0x30;
  buf[p++] = 0x30;
  buf[p++] = HEX[b >> 4]!;
  buf[p++] = HEX[b & 15]!;
  return p;
}
