/**
 * A single-pass JSON grammar check over a payload's UTF-8 bytes, for passing
 * the payload through verbatim: it builds no values and makes no string (no
 * garbage, every digit of a number kept as written) and reports only what
 * the document builder needs — whether the bytes are one JSON value, whether
 * that value is an object, whether the object is empty, whether it has a
 * top-level `_meta` member (which the connector's own `_meta` replaces), and
 * where the value starts and ends.
 *
 * It accepts exactly what JSON.parse accepts of the same text decoded
 * (RFC 8259: whitespace is space, tab, CR and LF only; no leading zeros, no
 * trailing commas, no control characters in strings), given bytes that are
 * valid UTF-8 (the caller checks that: it is not checked here), and has no
 * nesting limit of its own.
 */

import { literalAt, skipNumberBytes, skipStringBytes } from "../../src/codec/json-bytes.js";
import { IN_ARRAY, IN_OBJECT } from "../../src/codec/json-chars.js";

/** Not one JSON value. */
export const NOT_JSON = 0;
/** A non-empty object without a top-level `_meta`. */
export const OBJECT = 1;
/** `{}` (possibly with whitespace inside). */
export const EMPTY_OBJECT = 2;
/** An object with a top-level `_meta` member. */
export const OBJECT_WITH_META = 3;
/** Any other JSON value: array, string, number, true, false, null. */
export const OTHER_JSON = 4;

export type JsonKind = typeof NOT_JSON | typeof OBJECT | typeof EMPTY_OBJECT | typeof OBJECT_WITH_META | typeof OTHER_JSON;

/** Where the value began (after leading whitespace) in the last payload checked. */
export let valueStart = 0;
/** Where the value ended (before trailing whitespace) in the last payload checked. */
export let valueEnd = 0;

/** Open containers; grown when a payload nests deeper. */
let stack = new Uint8Array(64);

const isWs = (c: number | undefined) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const isDigit = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39;

const utf8 = new TextDecoder();

/** 1 for the bytes that end a string's plain run: quote, backslash and control characters. */
const STOP = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) STOP[c] = 1;
STOP[0x22] = STOP[0x5c] = 1;

/**
 * Skips the string whose opening quote is at i: a table lookup per plain
 * byte, the codec's skipStringBytes from the start for one with escapes.
 */
function skipString(b: Uint8Array, i: number): number {
  let k = i + 1;
  for (;;) {
    const c = b[k];
    if (c === undefined) return -1;
    if (STOP[c] === 0) k++;
    else if (c === 0x22) return k + 1;
    else if (c === 0x5c) return skipStringBytes(b, i);
    else return -1;
  }
}

/** True if the key whose quotes span b[from, to) is `_meta`, however it is escaped. */
function isMetaKey(b: Uint8Array, from: number, to: number): boolean {
  if (to - from === 7) return b[from + 1] === 0x5f && literalAt(b, from + 2, "meta");
  // An escaped spelling ("\u005fmeta") is longer; decode it to compare.
  if (to - from < 7) return false;
  let escaped = false;
  for (let i = from + 1; i < to - 1 && !escaped; i++) escaped = b[i] === 0x5c;
  return escaped && JSON.parse(utf8.decode(b.subarray(from, to))) === "_meta";
}

/** Checks the UTF-8 bytes `s` are exactly one JSON value (surrounding whitespace allowed) and says what kind. */
export function checkJson(s: Uint8Array): JsonKind {
  const n = s.length;
  let i = 0;
  while (isWs(s[i])) i++;
  valueStart = i;
  const top = s[i];
  let depth = 0;
  let meta = false;
  let empty = false;
  value: for (;;) {
    while (isWs(s[i])) i++;
    const c = s[i];
    if (c === 0x22) {
      i = skipString(s, i);
    } else if (c === 0x7b) {
      i++;
      while (isWs(s[i])) i++;
      if (s[i] === 0x7d) {
        i++;
        if (depth === 0) empty = true;
      } else {
        if (depth === stack.length) {
          const grown = new Uint8Array(stack.length * 2);
          grown.set(stack);
          stack = grown;
        }
        stack[depth++] = IN_OBJECT;
        // A member's key and colon.
        if (s[i] !== 0x22) return NOT_JSON;
        const k = i;
        i = skipString(s, i);
        if (i < 0) return NOT_JSON;
        if (depth === 1 && isMetaKey(s, k, i)) meta = true;
        while (isWs(s[i])) i++;
        if (s[i] !== 0x3a) return NOT_JSON;
        i++;
        continue value;
      }
    } else if (c === 0x5b) {
      i++;
      while (isWs(s[i])) i++;
      if (s[i] === 0x5d) {
        i++;
      } else {
        if (depth === stack.length) {
          const grown = new Uint8Array(stack.length * 2);
          grown.set(stack);
          stack = grown;
        }
        stack[depth++] = IN_ARRAY;
        continue value;
      }
    } else if (c === 0x2d || isDigit(c)) {
      i = skipNumberBytes(s, i);
    } else if (c === 0x74 && literalAt(s, i, "true")) {
      i += 4;
    } else if (c === 0x66 && literalAt(s, i, "false")) {
      i += 5;
    } else if (c === 0x6e && literalAt(s, i, "null")) {
      i += 4;
    } else {
      return NOT_JSON;
    }
    if (i < 0) return NOT_JSON;
    // After a value: close containers, or go on to the next element or member.
    for (;;) {
      if (depth === 0) valueEnd = i;
      while (isWs(s[i])) i++;
      if (depth === 0) {
        if (i !== n) return NOT_JSON;
        if (top !== 0x7b) return OTHER_JSON;
        return empty ? EMPTY_OBJECT : meta ? OBJECT_WITH_META : OBJECT;
      }
      const d = s[i];
      const open = stack[depth - 1];
      if (d === 0x2c) {
        i++;
        if (open === IN_OBJECT) {
          while (isWs(s[i])) i++;
          if (s[i] !== 0x22) return NOT_JSON;
          const k = i;
          i = skipString(s, i);
          if (i < 0) return NOT_JSON;
          if (depth === 1 && isMetaKey(s, k, i)) meta = true;
          while (isWs(s[i])) i++;
          if (s[i] !== 0x3a) return NOT_JSON;
          i++;
        }
        continue value;
      }
      if ((d === 0x7d && open === IN_OBJECT) || (d === 0x5d && open === IN_ARRAY)) {
        i++;
        depth--;
        continue;
      }
      return NOT_JSON;
    }
  }
}
