/**
 * JSON grammar checks over UTF-8 bytes, for fast paths that slice raw values
 * out of a frame without decoding it to a JS string first. Each function
 * returns the index just past what it scanned, or -1 if the input is not
 * well-formed (callers then fall back to the string decoder, which reports
 * the error properly).
 */

import { BACKSLASH, COLON, COMMA, IN_ARRAY, IN_OBJECT, LBRACE, LBRACKET, MINUS, QUOTE, RBRACE, RBRACKET } from "./json-chars.js";

// Deeper documents fall back to the string scanner, which has no limit.
const MAX_DEPTH = 512;
const STACK = new Uint8Array(MAX_DEPTH);

export function skipWsBytes(b: Uint8Array, i: number): number {
  for (;;) {
    const c = b[i];
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46));
}

/** Skips the string whose opening quote is at i. */
export function skipStringBytes(b: Uint8Array, i: number): number {
  i++;
  const n = b.length;
  while (i < n) {
    const c = b[i]!;
    if (c === QUOTE) return i + 1;
    if (c === BACKSLASH) {
      const e = b[i + 1];
      if (e === 0x75) {
        if (!(isHex(b[i + 2]) && isHex(b[i + 3]) && isHex(b[i + 4]) && isHex(b[i + 5]))) return -1;
        i += 6;
        continue;
      }
      if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
        i += 2;
        continue;
      }
      return -1;
    }
    if (c < 0x20) return -1;
    i++;
  }
  return -1;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

export function skipNumberBytes(b: Uint8Array, i: number): number {
  if (b[i] === MINUS) i++;
  if (b[i] === 0x30) {
    i++;
  } else if (b[i]! >= 0x31 && b[i]! <= 0x39) {
    do i++;
    while (isDigit(b[i]));
  } else {
    return -1;
  }
  if (b[i] === 0x2e) {
    i++;
    if (!isDigit(b[i])) return -1;
    do i++;
    while (isDigit(b[i]));
  }
  if (b[i] === 0x65 || b[i] === 0x45) {
    i++;
    if (b[i] === 0x2b || b[i] === MINUS) i++;
    if (!isDigit(b[i])) return -1;
    do i++;
    while (isDigit(b[i]));
  }
  return i;
}

/** True if the ASCII string `lit` is at b[i..]. */
export function literalAt(b: Uint8Array, i: number, lit: string): boolean {
  for (let k = 0; k < lit.length; k++) if (b[i + k] !== lit.charCodeAt(k)) return false;
  return true;
}

/** Skips `"key" :` at i (after whitespace); returns the index after the colon. */
function memberKey(b: Uint8Array, i: number): number {
  if (b[i] !== QUOTE) return -1;
  i = skipStringBytes(b, i);
  if (i < 0) return -1;
  i = skipWsBytes(b, i);
  return b[i] === COLON ? i + 1 : -1;
}

/** Skips one well-formed JSON value starting at i (no leading whitespace). */
export function skipValueBytes(b: Uint8Array, i: number): number {
  const stack = STACK;
  let depth = 0;
  value: for (;;) {
    i = skipWsBytes(b, i);
    const c = b[i];
    if (c === LBRACE) {
      i = skipWsBytes(b, i + 1);
      if (b[i] === RBRACE) {
        i++;
      } else {
        if (depth === MAX_DEPTH) return -1;
        stack[depth++] = IN_OBJECT;
        i = memberKey(b, i);
        if (i < 0) return -1;
        continue value;
      }
    } else if (c === LBRACKET) {
      i = skipWsBytes(b, i + 1);
      if (b[i] === RBRACKET) {
        i++;
      } else {
        if (depth === MAX_DEPTH) return -1;
        stack[depth++] = IN_ARRAY;
        continue value;
      }
    } else if (c === QUOTE) {
      i = skipStringBytes(b, i);
    } else if (c === MINUS || isDigit(c)) {
      i = skipNumberBytes(b, i);
    } else if (c === 0x74 && literalAt(b, i, "true")) {
      i += 4;
    } else if (c === 0x66 && literalAt(b, i, "false")) {
      i += 5;
    } else if (c === 0x6e && literalAt(b, i, "null")) {
      i += 4;
    } else {
      return -1;
    }
    if (i < 0) return -1;
    for (;;) {
      if (depth === 0) return i;
      i = skipWsBytes(b, i);
      const d = b[i];
      const top = stack[depth - 1];
      if (d === COMMA) {
        i++;
        if (top === IN_OBJECT) {
          i = memberKey(b, skipWsBytes(b, i));
          if (i < 0) return -1;
        }
        continue value;
      }
      if ((top === IN_OBJECT && d === RBRACE) || (top === IN_ARRAY && d === RBRACKET)) {
        i++;
        depth--;
        continue;
      }
      return -1;
    }
  }
}
