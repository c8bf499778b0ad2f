/**
 * Redis key names and field values from the runtime's verbatim JSON.
 *
 * A document's key is `<prefix>:<c1>:<c2>...`, one component per key field.
 * Strings are written as-is with `\` and `:` escaped by a backslash, so that
 * no two different keys map to the same name; numbers keep their exact JSON
 * text (no float rounding of big integers); true, false and null are
 * written as those words.
 */
import { JsonScanner } from "../../src/codec/json-scan.js";

const QUOTE = 0x22;

/** Splits the text of a JSON array into the verbatim text of its elements. */
export function arrayElements(text: string, what: string): string[] {
  const sc = new JsonScanner(text, what);
  const out: string[] = [];
  if (!sc.openArray(what)) return out;
  do out.push(sc.rawValue());
  while (sc.next(0x5d));
  return out;
}

/** A string component with `\` and `:` escaped. */
export function escapeComponent(s: string): string {
  return /[\\:]/.test(s) ? s.replace(/[\\:]/g, (c) => `\\${c}`) : s;
}

/** The text of one JSON element as a Redis key component or hash value. */
export function plainText(element: string): string {
  if (element.charCodeAt(0) !== QUOTE) return element;
  // Strings without escapes are the common case: no need to parse.
  return element.indexOf("\\") < 0 ? element.slice(1, -1) : (JSON.parse(element) as string);
}

/** The Redis key of a document: prefix, then the escaped key components. */
export function redisKey(prefix: string, keyJson: string): string {
  let out = prefix;
  for (const el of arrayElements(keyJson, "document key")) out += ":" + escapeComponent(plainText(el));
  return out;
}

/** Escapes glob metacharacters so a prefix can be used in SCAN MATCH. */
export function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
