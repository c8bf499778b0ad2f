/**
 * A single-pass JSON grammar check over a payload's text, for passing the
 * payload through verbatim: it builds no values (no garbage, every digit of
 * a number kept as written) and reports only what the document builder
 * needs — whether the text is one JSON value, whether that value is an
 * object, whether the object is empty, and whether it has a top-level
 * `_meta` member (which the connector's own `_meta` replaces).
 *
 * It accepts exactly what JSON.parse accepts (RFC 8259: whitespace is space,
 * tab, CR and LF only; no leading zeros, no trailing commas, no control
 * characters in strings), and has no nesting limit of its own.
 */

import { scanNumber, skipString } from "../../src/codec/json-scan.js";

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

/** Where the value began (after leading whitespace) in the last text checked. */
export let valueStart = 0;

const IN_OBJECT = 1;
const IN_ARRAY = 2;
/** Open containers; grown when a payload nests deeper. */
let stack = new Uint8Array(64);

const isWs = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/** True if the key whose quotes span s[from, to) is `_meta`, however it is escaped. */
function isMetaKey(s: string, from: number, to: number): boolean {
  if (to - from === 7) return s.charCodeAt(from + 1) === 0x5f && s.startsWith("meta", from + 2);
  // An escaped spelling ("\u005fmeta") is longer; decode it to compare.
  if (to - from < 7) return false;
  const backslash = s.indexOf("\\", from);
  return backslash !== -1 && backslash < to && JSON.parse(s.slice(from, to)) === "_meta";
}

/** Checks `s` is exactly one JSON value (surrounding whitespace allowed) and says what kind. */
export function checkJson(s: string): JsonKind {
  const n = s.length;
  let i = 0;
  while (isWs(s.charCodeAt(i))) i++;
  valueStart = i;
  const top = s.charCodeAt(i);
  let depth = 0;
  let meta = false;
  let empty = false;
  value: for (;;) {
    while (isWs(s.charCodeAt(i))) i++;
    const c = s.charCodeAt(i);
    if (c === 0x22) {
      i = skipString(s, i);
    } else if (c === 0x7b) {
      i++;
      while (isWs(s.charCodeAt(i))) i++;
      if (s.charCodeAt(i) === 0x7d) {
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
        if (s.charCodeAt(i) !== 0x22) return NOT_JSON;
        const k = i;
        i = skipString(s, i);
        if (i < 0) return NOT_JSON;
        if (depth === 1 && isMetaKey(s, k, i)) meta = true;
        while (isWs(s.charCodeAt(i))) i++;
        if (s.charCodeAt(i) !== 0x3a) return NOT_JSON;
        i++;
        continue value;
      }
    } else if (c === 0x5b) {
      i++;
      while (isWs(s.charCodeAt(i))) i++;
      if (s.charCodeAt(i) === 0x5d) {
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
      i = scanNumber(s, i);
    } else if (c === 0x74 && s.startsWith("true", i)) {
      i += 4;
    } else if (c === 0x66 && s.startsWith("false", i)) {
      i += 5;
    } else if (c === 0x6e && s.startsWith("null", i)) {
      i += 4;
    } else {
      return NOT_JSON;
    }
    if (i < 0) return NOT_JSON;
    // After a value: close containers, or go on to the next element or member.
    for (;;) {
      while (isWs(s.charCodeAt(i))) i++;
      if (depth === 0) {
        if (i !== n) return NOT_JSON;
        if (top !== 0x7b) return OTHER_JSON;
        return empty ? EMPTY_OBJECT : meta ? OBJECT_WITH_META : OBJECT;
      }
      const d = s.charCodeAt(i);
      const open = stack[depth - 1];
      if (d === 0x2c) {
        i++;
        if (open === IN_OBJECT) {
          while (isWs(s.charCodeAt(i))) i++;
          if (s.charCodeAt(i) !== 0x22) return NOT_JSON;
          const k = i;
          i = skipString(s, i);
          if (i < 0) return NOT_JSON;
          if (depth === 1 && isMetaKey(s, k, i)) meta = true;
          while (isWs(s.charCodeAt(i))) i++;
          if (s.charCodeAt(i) !== 0x3a) return NOT_JSON;
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
