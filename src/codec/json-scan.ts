/**
 * A cursor over JSON text that the Flow JSON decoder drives field by field.
 *
 * It never turns a value into JS numbers on its own: callers ask for the
 * extent of a value (to keep raw JSON verbatim) or for a token's text, and
 * decide how to interpret it from the field's descriptor.
 */

import { BACKSLASH, COLON, COMMA, IN_ARRAY, IN_OBJECT, LBRACE, LBRACKET, MINUS, QUOTE, RBRACE, RBRACKET } from "./json-chars.js";

export class JsonScanner {
  pos = 0;

  /** `what` names the message being decoded, for error messages. */
  constructor(
    readonly text: string,
    readonly what: string,
  ) {}

  fail(message: string, at = this.pos): never {
    const near = this.text.slice(at, at + 24);
    throw new Error(`${this.what}: ${message} at offset ${at}${near ? ` (near ${JSON.stringify(near)})` : " (end of input)"}`);
  }

  /** Skips whitespace and returns the next character code, or -1 at the end. */
  peek(): number {
    const s = this.text;
    let i = this.pos;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        i++;
        continue;
      }
      this.pos = i;
      return c === c ? c : -1; // NaN past the end
    }
  }

  expect(code: number, what: string): void {
    if (this.peek() !== code) this.fail(`expected ${what}`);
    this.pos++;
  }

  /** After a member or item: true if another follows, false at the closing bracket. */
  next(close: number): boolean {
    const c = this.peek();
    if (c === COMMA) {
      this.pos++;
      return true;
    }
    if (c === close) {
      this.pos++;
      return false;
    }
    return this.fail(`expected ',' or '${String.fromCharCode(close)}'`);
  }

  /** Consumes `{`; returns false (and consumes `}`) when the object is empty. */
  openObject(what: string): boolean {
    if (this.peek() !== LBRACE) this.fail(`expected an object for ${what}`);
    this.pos++;
    if (this.peek() === RBRACE) {
      this.pos++;
      return false;
    }
    return true;
  }

  openArray(what: string): boolean {
    if (this.peek() !== LBRACKET) this.fail(`expected an array for ${what}`);
    this.pos++;
    if (this.peek() === RBRACKET) {
      this.pos++;
      return false;
    }
    return true;
  }

  /** Reads an object key and its colon. */
  key(): string {
    if (this.peek() !== QUOTE) this.fail("expected a quoted object key");
    const k = this.string();
    this.expect(COLON, "':'");
    return k;
  }

  /** Consumes the literal `null` if it is next. */
  takeNull(): boolean {
    if (this.peek() === 0x6e && this.text.startsWith("null", this.pos)) {
      this.pos += 4;
      return true;
    }
    return false;
  }

  /** Reads a JSON string (the cursor must be at its opening quote) and unescapes it. */
  string(): string {
    const s = this.text;
    const start = this.pos;
    let i = start + 1;
    let escaped = false;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        escaped = true;
        i += 2;
        continue;
      }
      if (c !== c) this.fail("unterminated string", start);
      i++;
    }
    this.pos = i + 1;
    if (!escaped) return s.slice(start + 1, i);
    try {
      return JSON.parse(s.slice(start, i + 1)) as string;
    } catch {
      return this.fail("invalid string escape", start);
    }
  }

  /** Reads a number token and returns its text exactly as written. */
  numberText(): string {
    const start = this.pos;
    const end = scanNumber(this.text, start);
    if (end < 0) this.fail("invalid number");
    this.pos = end;
    return this.text.slice(start, end);
  }

  /** Consumes `true` or `false`, or fails. */
  bool(what: string): boolean {
    const c = this.peek();
    if (c === 0x74 && this.text.startsWith("true", this.pos)) {
      this.pos += 4;
      return true;
    }
    if (c === 0x66 && this.text.startsWith("false", this.pos)) {
      this.pos += 5;
      return false;
    }
    return this.fail(`expected true or false for ${what}`);
  }

  /**
   * Skips one complete JSON value, checking its grammar, and returns the
   * exact source text it spans.
   */
  rawValue(): string {
    this.peek();
    const start = this.pos;
    this.skipValue();
    return this.text.slice(start, this.pos);
  }

  /** Skips one complete, well-formed JSON value. Iterative, so deep nesting is safe. */
  skipValue(): void {
    const s = this.text;
    const stack: number[] = [];
    this.peek();
    let i = this.pos;
    value: for (;;) {
      i = skipWs(s, i);
      const c = s.charCodeAt(i);
      if (c === LBRACE) {
        i = skipWs(s, i + 1);
        if (s.charCodeAt(i) === RBRACE) {
          i++;
        } else {
          stack.push(IN_OBJECT);
          i = this.memberKey(i);
          continue value;
        }
      } else if (c === LBRACKET) {
        i = skipWs(s, i + 1);
        if (s.charCodeAt(i) === RBRACKET) {
          i++;
        } else {
          stack.push(IN_ARRAY);
          continue value;
        }
      } else if (c === QUOTE) {
        i = skipString(s, i);
        if (i < 0) this.fail("invalid string", this.pos);
      } else if (c === MINUS || (c >= 0x30 && c <= 0x39)) {
        const end = scanNumber(s, i);
        if (end < 0) this.fail("invalid number", i);
        i = end;
      } else if (c === 0x74 && s.startsWith("true", i)) {
        i += 4;
      } else if (c === 0x66 && s.startsWith("false", i)) {
        i += 5;
      } else if (c === 0x6e && s.startsWith("null", i)) {
        i += 4;
      } else {
        this.fail(c !== c ? "unexpected end of input" : "expected a JSON value", i);
      }
      // A value is complete: close containers or move to the next member.
      for (;;) {
        if (stack.length === 0) {
          this.pos = i;
          return;
        }
        i = skipWs(s, i);
        const d = s.charCodeAt(i);
        const top = stack[stack.length - 1];
        if (d === COMMA) {
          i++;
          if (top === IN_OBJECT) i = this.memberKey(skipWs(s, i));
          continue value;
        }
        if ((top === IN_OBJECT && d === RBRACE) || (top === IN_ARRAY && d === RBRACKET)) {
          i++;
          stack.pop();
          continue;
        }
        this.fail(top === IN_OBJECT ? "expected ',' or '}'" : "expected ',' or ']'", i);
      }
    }
  }

  /** Skips `"key" :` starting at i; returns the position after the colon. */
  private memberKey(i: number): number {
    const s = this.text;
    if (s.charCodeAt(i) !== QUOTE) this.fail("expected a quoted object key", i);
    const end = skipString(s, i);
    if (end < 0) this.fail("invalid string", i);
    const j = skipWs(s, end);
    if (s.charCodeAt(j) !== COLON) this.fail("expected ':'", j);
    return j + 1;
  }

  /** Fails unless only whitespace remains. */
  end(): void {
    if (this.peek() !== -1) this.fail("unexpected content after the JSON value");
  }
}

function skipWs(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/** Returns the index after the closing quote of the string at i, or -1 if it is malformed. */
export function skipString(s: string, i: number): number {
  i++;
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    if (c === BACKSLASH) {
      const e = s.charCodeAt(i + 1);
      if (e === 0x75) {
        if (!(isHex(s.charCodeAt(i + 2)) && isHex(s.charCodeAt(i + 3)) && isHex(s.charCodeAt(i + 4)) && isHex(s.charCodeAt(i + 5)))) return -1;
        i += 6;
        continue;
      }
      // " \ / b f n r t
      if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
        i += 2;
        continue;
      }
      return -1;
    }
    if (c < 0x20 || c !== c) return -1; // control character or end of input
    i++;
  }
}

/** Returns the index after the JSON number at i, or -1 if it is malformed. */
export function scanNumber(s: string, i: number): number {
  if (s.charCodeAt(i) === MINUS) i++;
  let c = s.charCodeAt(i);
  if (c === 0x30) {
    i++;
  } else if (c >= 0x31 && c <= 0x39) {
    do c = s.charCodeAt(++i);
    while (c >= 0x30 && c <= 0x39);
  } else {
    return -1;
  }
  c = s.charCodeAt(i);
  if (c === 0x2e) {
    c = s.charCodeAt(++i);
    if (!(c >= 0x30 && c <= 0x39)) return -1;
    do c = s.charCodeAt(++i);
    while (c >= 0x30 && c <= 0x39);
  }
  if (c === 0x65 || c === 0x45) {
    c = s.charCodeAt(++i);
    if (c === 0x2b || c === MINUS) c = s.charCodeAt(++i);
    if (!(c >= 0x30 && c <= 0x39)) return -1;
    do c = s.charCodeAt(++i);
    while (c >= 0x30 && c <= 0x39);
  }
  return i;
}

/** Checks that `text` is exactly one JSON value (surrounding whitespace allowed). */
export function isJsonValue(text: string): boolean {
  const sc = new JsonScanner(text, "");
  try {
    if (sc.peek() === -1) return false;
    sc.skipValue();
    return sc.peek() === -1;
  } catch {
    return false;
  }
}
