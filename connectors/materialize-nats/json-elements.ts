/**
 * Members of the runtime's verbatim JSON object texts, read and built without
 * turning numbers into JavaScript numbers (big integers keep every digit).
 * Array elements are split by src/codec/json-elements.ts.
 */
import { JsonScanner } from "../../src/codec/json-scan.js";

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
