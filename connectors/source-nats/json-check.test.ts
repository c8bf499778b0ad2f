/**
 * The payload grammar check against JSON.parse: the same texts accepted and
 * refused (fixed edge cases, then seeded random texts and their single-byte
 * mutations), and the kind it reports.
 */
import { describe, expect, it } from "vitest";
import { checkJson, valueStart, NOT_JSON, OBJECT, EMPTY_OBJECT, OBJECT_WITH_META, OTHER_JSON } from "./json-check.js";
import { rng } from "../../test/support/rng.js";

/** What JSON.parse says the kind is. */
function expected(text: string): number {
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

function randomJson(r: (n: number) => number, depth = 0): string {
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

describe("checkJson", () => {
  it("agrees with JSON.parse on edge cases", () => {
    const cases = [
      "", " ", "{", "}", "{}", " { } ", "[]", "[ ]", "[1,]", "[,1]", "{,}", '{"a":1,}', '{"a" 1}', '{"a":}', "{a:1}", "{'a':1}",
      "0", "-0", "01", "-", "1.", ".5", "1e", "1e+", "1E-5", "-1.5e+10", "12345678901234567890123", "+1", "0x10", "NaN", "Infinity",
      '"a"', '"', '"\\x"', '"\\u12"', '"\\u12G4"', '"\\uD800"', '"tab\there"', '"nl\nhere"', '"\u007f"', '"é😀"',
      "true", "tru", "truee", "false", "null", "nul", "True",
      '{"_meta":1}', '{"a":1,"_meta":{}}', '{"\\u005fmeta":1}', '{"_meta ":1}', '{"_Meta":1}', '{"b":{"_meta":1}}', '[{"_meta":1}]',
      '{"a":1} x', '{"a":1}{"b":2}', "1 2", "\u00a0{}", "\ufeff{}", "{}\u00a0", "\v{}", "\f{}",
      '{"a":[1,{"b":[true,false,null,"x"]}],"c":-0.5e-3}',
    ];
    for (const c of cases) expect([c, checkJson(c)]).toEqual([c, expected(c)]);
  });

  it("agrees with JSON.parse on seeded random texts and their mutations", () => {
    const r = rng(16);
    const junk = ['"', "\\", ",", ":", "{", "}", "[", "]", " ", "0", "-", ".", "e", "\u0001", "x", "n"];
    for (let k = 0; k < 3000; k++) {
      const text = randomJson(r);
      expect([text, checkJson(text)]).toEqual([text, expected(text)]);
      const at = r(text.length + 1);
      const mutated = r(2) ? text.slice(0, at) + junk[r(junk.length)] + text.slice(at) : text.slice(0, at) + text.slice(at + 1);
      expect([mutated, checkJson(mutated)]).toEqual([mutated, expected(mutated)]);
    }
  });

  it("says where the value starts and has no nesting limit of its own", () => {
    expect(checkJson('  \n {"a": 1}')).toBe(OBJECT);
    expect(valueStart).toBe(4);
    const deep = "[".repeat(5000) + "]".repeat(5000);
    expect(checkJson(deep)).toBe(OTHER_JSON);
    expect(checkJson(`{"a":${deep}}`)).toBe(OBJECT);
    expect(checkJson("[".repeat(5000) + "]".repeat(4999))).toBe(NOT_JSON);
  });
});
