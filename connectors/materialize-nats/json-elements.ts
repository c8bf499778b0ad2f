/**
 * The runtime's verbatim JSON texts, taken apart without turning numbers
 * into JavaScript numbers (big integers keep every digit).
 */
import { JsonScanner } from "../../src/codec/json-scan.js";

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
  return element.indexOf("\\") < 0 ? element.slice(1, -1) : (JSON.parse(element) as string);
}

/** The verbatim text of member `name` of a JSON object's text, or undefined. */
export function memberText(text: string, name: string, what: string): string | undefined {
  const sc = new JsonScanner(text, what);
  if (!sc.openObject(what)) return undefined;
  do {
    const k = sc.key();
    const v = sc.rawValue();
    if (k === name) return v;
  } while (sc.next(0x7d));
  return undefined;
}

/** A JSON object's text from member names and their verbatim value texts. */
export function objectText(names: string[], values: string[]): string {
  let out = "{";
  for (let i = 0; i < names.length; i++) {
    if (i) out += ",";
    out += JSON.stringify(names[i]) + ":" + values[i];
  }
  return out + "}";
}
