/**
 * Test helpers for payload kinds: what JSON.parse says a text is, and
 * seeded random JSON texts with the edge cases the document builder meets.
 */
import { NOT_JSON, OBJECT, EMPTY_OBJECT, OBJECT_WITH_META, OTHER_JSON } from "./json-check.js";

/** What JSON.parse says the kind of `text` is. */
export function jsonKindOf(text: string): number {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return NOT_JSON;
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) return OTHER_JSON;
  if (Object.keys(v).length === 0) return EMPTY_OBJECT;
  return Object.prototype.hasOwnProperty.call(v, "_meta") ? OBJECT_WITH_META : OBJECT;
}

const PIECES = ["a", "é", "😀", "\\n", '\\"', "\\\\", "\\u0000", "\\ud83d\\ude00", " ", "/", "\\/", "\u2028", "_meta", "\\u005fmeta"];
const WS = ["", " ", "\n", "\t", "\r\n  "];

/** A seeded random JSON text: numbers, strings with escapes and non-ASCII, literals, arrays and objects (with `_meta` keys), odd whitespace. */
export function randomJson(r: (n: number) => number, depth = 0): string {
  const ws = () => WS[r(WS.length)]!;
  const kind = depth > 4 ? r(4) : r(6);
  switch (kind) {
    case 0: {
      const digits = Array.from({ length: 1 + r(25) }, () => r(10)).join("").replace(/^0+(?=\d)/, "");
      const frac = r(3) === 0 ? "." + Array.from({ length: 1 + r(5) }, () => r(10)).join("") : "";
      const exp = r(5) === 0 ? `${r(2) ? "e" : "E"}${["", "-", "+"][r(3)]}${r(400)}` : "";
      return (r(2) ? "-" : "") + digits + frac + exp;
    }
    case 1:
      return '"' + Array.from({ length: r(6) }, () => PIECES[r(PIECES.length)]).join("") + '"';
    case 2:
      return ["true", "false", "null"][r(3)]!;
    case 3:
      return "[]";
    case 4:
      return "[" + Array.from({ length: 1 + r(4) }, () => ws() + randomJson(r, depth + 1) + ws()).join(",") + "]";
    default: {
      const keys = ["_meta", "a", "b", "\\u005fmeta", "_met", "_metaa", "id"];
      return "{" + Array.from({ length: r(5) }, () => `${ws()}"${keys[r(keys.length)]}"${ws()}:${ws()}${randomJson(r, depth + 1)}${ws()}`).join(",") + "}";
    }
  }
}
