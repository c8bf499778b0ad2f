import { describe, expect, it } from "vitest";
import { jsonStringValue, splitJsonArray } from "./json-tuple.js";

describe("splitJsonArray", () => {
  it("keeps every element's source text, numbers digit for digit", () => {
    expect(splitJsonArray('[18446744073709551616,1.10,-0.5e-3,"a,b",null,true]')).toEqual([
      "18446744073709551616",
      "1.10",
      "-0.5e-3",
      '"a,b"',
      "null",
      "true",
    ]);
  });

  it("handles nesting, escapes and whitespace", () => {
    expect(splitJsonArray(' [ {"a":[1,2],"b":"]"} , [ "x\\"]" ] ,"\\\\" ] ')).toEqual([
      '{"a":[1,2],"b":"]"}',
      '[ "x\\"]" ]',
      '"\\\\"',
    ]);
    expect(splitJsonArray("[]")).toEqual([]);
  });

  it("rejects what is not an array", () => {
    expect(() => splitJsonArray('{"a":1}')).toThrow(/expected a JSON array/);
    expect(() => splitJsonArray("[1,2")).toThrow(/unterminated/);
    expect(() => splitJsonArray('["abc')).toThrow(/unterminated/);
  });

  it("decodes strings without escapes by slicing and with escapes by parsing", () => {
    expect(jsonStringValue('"plain"')).toBe("plain");
    expect(jsonStringValue('"tab\\there \\u00e9"')).toBe("tab\there é");
    expect(jsonStringValue("12")).toBeUndefined();
  });
});
