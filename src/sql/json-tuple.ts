/**
 * Lossless access to the JSON arrays the runtime sends for keys and values.
 * Elements are returned as their source text, so a number such as
 * 18446744073709551616 or 1.10 reaches the destination digit for digit
 * instead of passing through a JS double.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const COMMA = 0x2c;

function isSpace(ch: number): boolean {
  return ch === 0x20 || ch === 0x0a || ch === 0x0d || ch === 0x09;
}

/** Splits the text of a JSON array into the source text of each element. */
export function splitJsonArray(text: string): string[] {
  const n = text.length;
  let i = 0;
  while (i < n && isSpace(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i) !== OPEN_BRACKET) throw new SyntaxError(`expected a JSON array ${where(text, i)}`);
  i++;
  const out: string[] = [];
  let depth = 0;
  let start = -1;
  for (; i < n; i++) {
    const ch = text.charCodeAt(i);
    if (ch === QUOTE) {
      if (start < 0) start = i;
      i = closingQuote(text, i + 1);
      if (i < 0) throw new SyntaxError(`unterminated string in a JSON array ${where(text, n)}`);
      continue;
    }
    if (isSpace(ch)) continue;
    if (ch === OPEN_BRACKET || ch === OPEN_BRACE) {
      if (start < 0) start = i;
      depth++;
    } else if (ch === CLOSE_BRACE || (ch === CLOSE_BRACKET && depth > 0)) {
      depth--;
    } else if (ch === CLOSE_BRACKET) {
      if (start >= 0) out.push(text.slice(start, i).trimEnd());
      return out;
    } else if (ch === COMMA && depth === 0) {
      if (start < 0) throw new SyntaxError(`empty element in a JSON array ${where(text, i)}`);
      out.push(text.slice(start, i).trimEnd());
      start = -1;
    } else if (start < 0) {
      start = i;
    }
  }
  throw new SyntaxError(`unterminated JSON array ${where(text, n)}`);
}

/**
 * The index of the quote closing a string whose content starts at `from`,
 * or -1. Jumps between quotes with indexOf rather than scanning each
 * character; a quote preceded by an odd run of backslashes is escaped.
 */
function closingQuote(text: string, from: number): number {
  for (let q = text.indexOf('"', from); q >= 0; q = text.indexOf('"', q + 1)) {
    let slashes = 0;
    while (text.charCodeAt(q - 1 - slashes) === BACKSLASH) slashes++;
    if ((slashes & 1) === 0) return q;
  }
  return -1;
}

/** The string value of a JSON string token, or undefined when it is not a string. */
export function jsonStringValue(token: string): string | undefined {
  if (token.charCodeAt(0) !== QUOTE) return undefined;
  // Most strings carry no escapes: slicing is much cheaper than parsing.
  if (token.indexOf("\\") < 0) return token.slice(1, -1);
  return JSON.parse(token) as string;
}

/** A position for error messages: never the text itself, which is document content. */
function where(text: string, at: number): string {
  return `(at character ${at} of ${text.length})`;
}
