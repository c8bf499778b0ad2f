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

/** The Redis key of a document: prefix, then the escaped key components. */
export function redisKey(prefix: string, keyJson: string): string {
  let out = prefix;
  for (const el of arrayElements(keyJson, "document key")) out += ":" + escapeComponent(elementText(el));
  return out;
}

/** Escapes glob metacharacters so a prefix can be used in SCAN MATCH. */
export function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
