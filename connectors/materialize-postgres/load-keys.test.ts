/** KeyChunk: keys taken as bytes write the same array literals as keys taken as text. */
import { describe, expect, it } from "vitest";
import { loadKeyText } from "../../src/sdk/materialize.js";
import type { ValueEncoding } from "../../src/sql/dialect.js";
import { rng } from "../../test/support/rng.js";
import { KeyChunk } from "./load-keys.js";

const utf8 = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));

/** Every column's literal, as text. */
function literals(chunk: KeyChunk, types: string[]): string {
  const out: Buffer[] = [];
  types.forEach((type, i) => chunk.literal(i, type, out));
  return Buffer.concat(out).toString("utf8");
}

/** Adds `keys` both ways and checks that the literals and byte counts agree; returns the bytes path's chunk. */
function both(encs: ValueEncoding[], keys: Uint8Array[]): KeyChunk {
  const types = encs.map((e) => (e === "verbatim" ? "bigint" : "text"));
  const fromBytes = new KeyChunk(encs);
  const fromText = new KeyChunk(encs);
  for (const k of keys) expect(fromBytes.addBytes(k)).toBe(fromText.add(loadKeyText(k)));
  expect(literals(fromBytes, types)).toBe(literals(fromText, types));
  expect(fromText.integerKeys).toBe(0);
  return fromBytes;
}

describe("KeyChunk", () => {
  it("copies integer keys from their bytes, writing what the text path writes", () => {
    const keys = ["[1]", "[0]", "[-1]", "[9223372036854775807]", "[-9223372036854775808]", "[123456789012345678901234567890]"].map(utf8);
    const chunk = both(["verbatim"], keys);
    expect(chunk.integerKeys).toBe(keys.length);
    expect(literals(chunk, ["bigint"])).toBe("E'{1,0,-1,9223372036854775807,-9223372036854775808,123456789012345678901234567890}'::bigint[]");
  });

  it("reads other keys as text: whitespace, floats, strings with quotes, backslashes and unicode, nulls, composite keys", () => {
    const single = ["[ 7 ]", "[1.5]", "[1e3]", "[-]", "[]", "[null]", "[-0]"].map(utf8);
    const chunk = both(["verbatim"], single.filter((k) => !["[-]", "[]"].includes(Buffer.from(k).toString())));
    expect(chunk.integerKeys).toBe(1); // only [-0]
    const strings = ['["plain"]', '["it\'s"]', '["say \\"hi\\""]', '["back\\\\slash"]', '["é😀\\u00e9"]', '["{,}"]', '[" NULL"]', '["NULL"]', '[null]', '["12"]'].map(utf8);
    expect(both(["string"], strings).integerKeys).toBe(0);
    const composite = ['["a",1]', '["b\'\\"",-2]', "[null,3]", '["x",null]', '["😀",9223372036854775807]'].map(utf8);
    expect(both(["string", "verbatim"], composite).integerKeys).toBe(0);
    // Invalid UTF-8 reads as its replacement text on both paths.
    both(["string"], [new Uint8Array([0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d])]);
  });

  it("rejects what the text path rejects", () => {
    for (const [encs, key] of [
      [["verbatim"], "[1,2]"],
      [["string", "verbatim"], "[1]"],
      [["string"], '["nul\\u0000"]'],
    ] as const) {
      expect(() => new KeyChunk([...encs]).addBytes(utf8(key))).toThrow();
      expect(() => new KeyChunk([...encs]).add(key)).toThrow();
    }
  });

  it("agrees with the text path on seeded random keys", () => {
    const r = rng(17);
    const alphabet = ["a", "Z", "0", " ", "'", '"', "\\", ",", "{", "}", "é", "😀", "\t", "\n", "N", "U", "L"];
    const ints: Uint8Array[] = [];
    const strs: Uint8Array[] = [];
    for (let i = 0; i < 2000; i++) {
      const digits = String(r(1_000_000_000)) + String(r(1_000_000_000));
      ints.push(utf8(`[${r(2) ? "-" : ""}${digits.replace(/^0+(?=\d)/, "")}]`));
      let s = "";
      for (let n = r(12); n > 0; n--) s += alphabet[r(alphabet.length)];
      strs.push(utf8(JSON.stringify([s, r(3) === 0 ? null : r(1000) - 500])));
    }
    expect(both(["verbatim"], ints).integerKeys).toBe(ints.length);
    both(["string", "verbatim"], strs);
  });

  it("grows past its first buffer", () => {
    const keys = Array.from({ length: 5000 }, (_, i) => utf8(`[${i * 1_000_003}]`));
    const chunk = both(["verbatim"], keys);
    expect(literals(chunk, ["bigint"])).toBe(`E'{${keys.map((k) => Buffer.from(k).toString().slice(1, -1)).join(",")}}'::bigint[]`);
  });

  it("gives the exact smallest and largest of short integer keys, and no range otherwise", () => {
    const range = (keys: string[], encs: ValueEncoding[] = ["verbatim"]) => {
      const c = new KeyChunk(encs);
      for (const k of keys) c.addBytes(utf8(k));
      return c.range();
    };
    expect(range(["[5]", "[-0]", "[007]", "[-12]", "[3]"])).toEqual(["-12", "7"]);
    expect(range(["[-0]"])).toEqual(["0", "0"]);
    expect(range(["[999999999999999]", "[-999999999999999]"])).toEqual(["-999999999999999", "999999999999999"]);
    // 16 digits, a non-integer, a null, a string, a composite key: no range (the statement is then unbounded).
    expect(range(["[1]", "[1000000000000000]"])).toBeUndefined();
    expect(range(["[1]", "[-1000000000000000]"])).toBeUndefined();
    expect(range(["[1]", "[1.5]"])).toBeUndefined();
    expect(range(["[1]", "[null]"])).toBeUndefined();
    expect(range(['["1"]'], ["string"])).toBeUndefined();
    expect(range(["[1, 2]"], ["verbatim", "verbatim"])).toBeUndefined();
    expect(range([])).toBeUndefined();
    const viaText = new KeyChunk(["verbatim"]);
    viaText.add("[1]");
    expect(viaText.range()).toBeUndefined();
    // Seeded random keys against BigInt arithmetic on their text.
    const r = rng(29);
    for (let round = 0; round < 200; round++) {
      const keys: string[] = [];
      for (let n = 1 + r(50); n > 0; n--) {
        const digits = String(r(1_000_000_000)).padStart(r(2) ? 9 : 1, "0") + String(r(1_000_000)).slice(0, r(7)) + (r(10) === 0 ? "1" : "");
        keys.push(`[${r(2) ? "-" : ""}${digits}]`);
      }
      const values = keys.map((k) => BigInt(k.slice(1, -1)));
      const short = keys.every((k) => k.replace(/[-[\]]/g, "").length <= 15);
      const want = short ? [values.reduce((a, b) => (b < a ? b : a)), values.reduce((a, b) => (b > a ? b : a))].map(String) : undefined;
      expect(range(keys)).toEqual(want);
    }
  });
});
