import { describe, expect, it } from "vitest";
import { parseJson, stringifyJson, withoutBigInts } from "../../src/harness/lossless-json.js";
import { compareJson, reduce } from "../../src/harness/reduce.js";
import { packTuple } from "../../src/harness/tuple.js";

describe("lossless JSON for documents", () => {
  it("keeps integers beyond 2^53 digit for digit, and leaves the rest to JSON", () => {
    const text = '{"max":9223372036854775807,"odd":9007199254740993,"neg":-9223372036854775808,"small":42,"f":1.5e+300,"s":"12345678901234567890","a":[18446744073709551615]}';
    const v = parseJson(text) as Record<string, unknown>;
    expect(v.max).toBe(9223372036854775807n);
    expect(v.odd).toBe(9007199254740993n);
    expect(v.small).toBe(42);
    expect(v.f).toBe(1.5e300);
    expect(v.s).toBe("12345678901234567890");
    expect(stringifyJson(v)).toBe(text);
    expect(parseJson('{"a":1}')).toEqual({ a: 1 });
    expect(() => parseJson('{"a":12345678901234567,}')).toThrow(SyntaxError);
  });

  it("reads __proto__ as a plain key", () => {
    const v = parseJson('{"__proto__":{"x":1},"n":12345678901234567890}') as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(["__proto__", "n"]);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it("sums, orders and packs big integers exactly", () => {
    const sum = { reduce: "sum" } as never;
    expect(reduce(sum, 9007199254740993n, 2)).toBe(9007199254740995n);
    expect(reduce(sum, 9007199254740993n, -9007199254740990n)).toBe(3);
    expect(reduce(sum, 1.5, 2n)).toBe(3.5);
    expect(compareJson(9007199254740993n, 9007199254740992)).toBe(1);
    expect(compareJson(9007199254740992, 9007199254740993n)).toBeLessThan(0);
    expect(Buffer.from(packTuple([9007199254740993n])).equals(Buffer.from(packTuple([9007199254740992n])))).toBe(false);
    expect(withoutBigInts({ a: [1n] })).toEqual({ a: [1] });
  });
});
