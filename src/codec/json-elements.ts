/**
 * The elements of a verbatim JSON array text, kept as text: numbers are not
 * turned into JavaScript numbers, so big integers keep every digit.
 */
import { JsonScanner } from "./json-scan.js";

/** Splits the text of a JSON array into the verbatim text of its elements. */
export function arrayElements(text: string, what: string): string[] {
  const sc = new JsonScanner(text, what);
  const out: string[] = [];
  if (!sc.openArray(what)) return out;
  do out.push(sc.rawValue());
  while (sc.next(0x5d));
  return out;
}

/** The string an element holds when it is a JSON string; else its JSON text. */
export function elementText(element: string): string {
  if (element.charCodeAt(0) !== 0x22) return element;
  // Strings without escapes are the common case: no need to parse.
  return element.indexOf("\\") < 0 ? element.slice(1, -1) : (JSON.parse(element) as string);
}
