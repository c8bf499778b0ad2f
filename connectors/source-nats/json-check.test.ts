/**
 * The payload grammar check against JSON.parse: the same texts accepted and
 * refused (fixed edge cases, then seeded random texts and their single-byte
 * mutations), and the kind it reports. It reads UTF-8 bytes; JSON.parse reads
 * the same bytes decoded.
 */
import { describe, expect, it } from "vitest";
import { checkJson as checkBytes, valueStart, valueEnd, NOT_JSON, OBJECT, OTHER_JSON } from "./json-check.js";
import { rng } from "../../test/support/rng.js";
import { jsonKindOf as expected, randomJson } from "./test-json.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const checkJson = (text: string) => checkBytes(encoder.encode(text));

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
      // The same cut made in the bytes (it may split a character: the caller only checks valid UTF-8).
      const bytes = encoder.encode(text);
      const b = r(bytes.length + 1);
      const cut = new Uint8Array([...bytes.subarray(0, b), ...bytes.subarray(b + 1)]);
      let decoded: string | undefined;
      try {
        decoded = decoder.decode(cut);
      } catch {
        decoded = undefined;
      }
      if (decoded !== undefined) expect([decoded, checkBytes(cut)]).toEqual([decoded, expected(decoded)]);
    }
  });

  it("says where the value starts and ends and has no nesting limit of its own", () => {
    expect(checkJson('  \n {"a": 1}')).toBe(OBJECT);
    expect([valueStart, valueEnd]).toEqual([4, 12]);
    expect(checkJson(' "é" \r\n')).toBe(OTHER_JSON);
    expect([valueStart, valueEnd]).toEqual([1, 5]);
    expect(checkJson("[1, [2]]\t")).toBe(OTHER_JSON);
    expect([valueStart, valueEnd]).toEqual([0, 8]);
    const deep = "[".repeat(5000) + "]".repeat(5000);
    expect(checkJson(deep)).toBe(OTHER_JSON);
    expect(checkJson(`{"a":${deep}}`)).toBe(OBJECT);
    expect(checkJson("[".repeat(5000) + "]".repeat(4999))).toBe(NOT_JSON);
  });
});
