import { describe, expect, it } from "vitest";
import { redisKey, scannedKey, simpleComponent } from "./keys.js";
import { rng } from "../../test/support/rng.js";

describe("materialize-redis key names", () => {
  it("names simple keys without the scanner, exactly as the scanner names them", () => {
    const edge = [
      "[0]", "[-0]", "[7]", "[-12]", "[12345678901234567890123]", "[01]", "[1.5]", "[1e3]", "[-]", "[ 1]", "[1,2]",
      '[""]', '["a"]', '["a:b"]', '["a\\\\b"]', '["a\\"b"]', '["\\u00e9"]', '["é中文😀"]', '["\u2028"]', '["a","b"]',
      '["x"', "[true]", "[null]", '[1,"a:b"]', "[]",
    ];
    const next = rng(31);
    const alphabet = ["a", "Z", "0", "-", ":", "\\\\", '\\"', "é", "😀", " ", ".", "e"];
    const random: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const n = next(1_000_000_000) - 500_000_000;
      random.push(`[${n}]`);
      let s = "";
      for (let j = next(12); j > 0; j--) s += alphabet[next(alphabet.length)];
      random.push(`["${s}"]`, `[${n},"${s}"]`);
    }
    let simple = 0;
    for (const k of [...edge, ...random]) {
      let general: string | Error;
      try {
        general = scannedKey("p", k);
      } catch (err) {
        general = err as Error;
      }
      if (simpleComponent(k) !== undefined) {
        simple++;
        expect(redisKey("p", k)).toBe(general);
      } else if (general instanceof Error) {
        expect(() => redisKey("p", k)).toThrow(general.message);
      } else {
        expect(redisKey("p", k)).toBe(general);
      }
    }
    // Every integer key and every string key without ':', '\\' or '"' took the simple path.
    expect(["[0]", "[-12]", "[12345678901234567890123]", '[""]', '["é中文😀"]'].map((k) => simpleComponent(k))).toEqual(["0", "-12", "12345678901234567890123", "", "é中文😀"]);
    expect(simple).toBeGreaterThan(5000);
  });
});
