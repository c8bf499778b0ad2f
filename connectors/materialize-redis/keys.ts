/**
 * Redis key names and field values from the runtime's verbatim JSON.
 *
 * A document's key is `<prefix>:<c1>:<c2>...`, one component per key field.
 * Strings are written as-is with `\` and `:` escaped by a backslash, so that
 * no two different keys map to the same name; numbers keep their exact JSON
 * text (no float rounding of big integers); true, false and null are
 * written as those words.
 */
import { arrayElements, elementText } from "../../src/codec/json-elements.js";

/** A string component with `\` and `:` escaped. */
export function escapeComponent(s: string): string {
  return /[\\:]/.test(s) ? s.replace(/[\\:]/g, (c) => `\\${c}`) : s;
}

/**
 * A key of one integer, or of one string with nothing to escape or decode:
 * the common keys, whose component is the text between the brackets (or
 * quotes) as it stands. Anything else, valid or not, goes to the scanner.
 */
const SIMPLE_INTEGER = /^\[-?(?:0|[1-9][0-9]*)\]$/;
const SIMPLE_STRING = /^\["[^"\\:\u0000-\u001f]*"\]$/;

/** The one component of a simple key (see above), or undefined. */
export function simpleComponent(keyJson: string): string | undefined {
  if (SIMPLE_INTEGER.test(keyJson)) return keyJson.slice(1, -1);
  if (SIMPLE_STRING.test(keyJson)) return keyJson.slice(2, -2);
  return undefined;
}

/** The Redis key of a document: prefix, then the escaped key components. */
export function redisKey(prefix: string, keyJson: string): string {
  const simple = simpleComponent(keyJson);
  return simple === undefined ? scannedKey(prefix, keyJson) : `${prefix}:${simple}`;
}

/** redisKey for any key: each element scanned, decoded and escaped. */
export function scannedKey(prefix: string, keyJson: string): string {
  let out = prefix;
  for (const el of arrayElements(keyJson, "document key")) out += ":" + escapeComponent(elementText(el));
  return out;
}

/** Escapes glob metacharacters so a prefix can be used in SCAN MATCH. */
export function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
