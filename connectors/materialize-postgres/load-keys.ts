/**
 * The keys of one load chunk, written as the load statement's array
 * literals: per binding and key column, the elements of a PostgreSQL array
 * literal inside an E'...' string (each escaped for both, NULL for a null
 * key value, which matches no row), kept as UTF-8 bytes so that the
 * statement goes to the server without a string per key nor one for the
 * whole statement. A key that is one JSON integer (the common key) is
 * copied from its bytes as it came; any other key is read as text and
 * written element by element.
 */
import { loadKeyText } from "../../src/sdk/materialize.js";
import { splitJsonArray } from "../../src/sql/json-tuple.js";
import type { ValueEncoding } from "../../src/sql/dialect.js";
import { fieldText } from "./copy-text.js";

const COMMA = 0x2c;

/** A growing byte buffer of array elements joined by commas. */
class Elements {
  buf = Buffer.allocUnsafe(1024);
  len = 0;

  /** Room for `n` more bytes. */
  reserve(n: number): Buffer {
    if (this.len + n > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
      this.buf.copy(grown, 0, 0, this.len);
      this.buf = grown;
    }
    return this.buf;
  }

  /** Starts an element: a comma unless it is the first. */
  separate(): void {
    if (this.len > 0) this.reserve(1)[this.len++] = COMMA;
  }

  /** Adds an element given as text; returns the bytes added. */
  addText(elem: string): number {
    const before = this.len;
    this.separate();
    const max = elem.length * 3;
    this.len += this.reserve(max).write(elem, this.len, max, "utf8");
    return this.len - before;
  }
}

/** Digits a JS number holds exactly (every integer below 10^15). */
const EXACT_DIGITS = 15;

export class KeyChunk {
  private readonly cols: Elements[];
  /** Keys added from their bytes as one JSON integer (the fast path), for tests. */
  integerKeys = 0;
  /** Smallest and largest key so far while every key is a short integer (see range()). */
  private lo = Infinity;
  private hi = -Infinity;
  private ranged = true;

  constructor(private readonly encodings: ValueEncoding[]) {
    this.cols = encodings.map(() => new Elements());
  }

  /** Adds one key from the bytes of its JSON array; returns the bytes it added. */
  addBytes(key: Uint8Array): number {
    const n = key.length - 1;
    const encs = this.encodings;
    if (encs.length === 1 && encs[0] !== "base64" && isIntegerKey(key, n)) {
      const col = this.cols[0]!;
      const before = col.len;
      col.separate();
      const buf = col.reserve(n - 1);
      let len = col.len;
      const neg = key[1] === 0x2d;
      let v = 0;
      for (let i = 1; i < n; i++) {
        const c = key[i]!;
        buf[len++] = c;
        v = v * 10 + (c - 0x30);
      }
      col.len = len;
      this.integerKeys++;
      if (this.ranged) {
        // The minus sign went into v as 0x2d - 0x30 = -3 times a power of ten: take it back out.
        const digits = neg ? n - 2 : n - 1;
        if (digits > EXACT_DIGITS) this.ranged = false;
        else {
          if (neg) v = -(v + 3 * 10 ** digits);
          // Stored every time, not only when they move: a store first reached late (a chunk's second key lower than its first) deoptimized this function.
          const lo = this.lo;
          const hi = this.hi;
          this.lo = v < lo ? v : lo;
          this.hi = v > hi ? v : hi;
        }
      }
      return len - before;
    }
    return this.add(loadKeyText(key));
  }

  /**
   * The smallest and largest key of a chunk of one-column keys that all
   * came as integers of at most 15 digits (exact as JS numbers), as
   * decimal text; undefined otherwise. The load statement bounds the
   * table's side of its join with them, so that a merge join's index scan
   * starts at the chunk's first key instead of the table's.
   */
  range(): [string, string] | undefined {
    if (!this.ranged || this.cols.length !== 1 || this.integerKeys === 0) return undefined;
    return [String(this.lo === 0 ? 0 : this.lo), String(this.hi === 0 ? 0 : this.hi)];
  }

  /** Adds one key's JSON array text; returns the bytes it added. */
  add(keyJson: string): number {
    this.ranged = false;
    const encs = this.encodings;
    const tokens = splitJsonArray(keyJson);
    if (tokens.length !== encs.length) throw new Error(`key has ${tokens.length} elements, expected ${encs.length}`);
    let added = 0;
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i]!;
      let elem: string;
      if (token === "null") elem = "NULL";
      else if (encs[i] !== "base64" && isIntegerToken(token)) elem = token;
      else {
        const text = fieldText(token, encs[i]!);
        // PostgreSQL text cannot hold NUL: such a key cannot have been stored.
        if (text.includes("\u0000")) throw new Error("a key value holds a NUL character");
        elem = ELEMENT_ESCAPE.test(text) ? `"${text.replace(ELEMENT_ESCAPES, (c) => ESCAPED_IN_ELEMENT[c]!)}"` : `"${text}"`;
      }
      added += this.cols[i]!.addText(elem);
    }
    return added;
  }

  /** Column `i`'s keys as a string literal of an array cast to `type`[], appended to `out` as bytes. */
  literal(i: number, type: string, out: Buffer[]): void {
    const col = this.cols[i]!;
    out.push(Buffer.from("E'{", "latin1"), col.buf.subarray(0, col.len), Buffer.from(`}'::${type}[]`, "utf8"));
  }
}

/** `[` digits `]`, with an optional minus (b[n] is the last byte): a key that is one JSON integer. */
function isIntegerKey(b: Uint8Array, n: number): boolean {
  if (n < 2 || b[0] !== 0x5b || b[n] !== 0x5d) return false;
  let i = b[1] === 0x2d ? 2 : 1;
  if (i === n) return false;
  for (; i < n; i++) {
    const c = b[i]!;
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Digits with an optional minus: written into the array literal as they are, like isIntegerKey's. */
function isIntegerToken(t: string): boolean {
  let i = t.charCodeAt(0) === 0x2d ? 1 : 0;
  if (i === t.length) return false;
  for (; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * Inside a quoted array element, backslash and double quote take a
 * backslash; inside E'...', every backslash is doubled and a single quote
 * is written twice. Both at once: \ → \\\\, " → \\", ' → ''.
 */
const ELEMENT_ESCAPE = /["\\']/;
const ELEMENT_ESCAPES = /["\\']/g;
const ESCAPED_IN_ELEMENT: Record<string, string> = { "\\": "\\\\\\\\", '"': '\\\\"', "'": "''" };
