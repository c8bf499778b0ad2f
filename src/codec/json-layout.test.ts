import { describe, expect, it } from "vitest";
import { indentJson } from "./json-pretty.js";

describe("indentJson", () => {
  it("lays out JSON without touching numbers, strings or key order", () => {
    const input = '{"z":12345678901234567890,"a":[1.000000000000000000001,"x\\"],{}",{},[]],"e":{"k":"\\u00e9 ü"}}';
    const out = indentJson(input);
    expect(out).toBe(
      [
        "{",
        '  "z": 12345678901234567890,',
        '  "a": [',
        "    1.000000000000000000001,",
        '    "x\\"],{}",',
        "    {},",
        "    []",
        "  ],",
        '  "e": {',
        '    "k": "\\u00e9 ü"',
        "  }",
        "}",
      ].join("\n"),
    );
    expect(indentJson(out)).toBe(out);
    expect(indentJson(" 42 ")).toBe("42");
  });

  it("rejects malformed input", () => {
    expect(() => indentJson('{"a":}')).toThrow(/expected a JSON value/);
    expect(() => indentJson("[1] 2")).toThrow(/unexpected content/);
  });
});
