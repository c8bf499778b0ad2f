import { describe, expect, it } from "vitest";
import { compactJson, indentJson } from "./json-layout.js";

describe("compactJson", () => {
  it("drops whitespace outside strings and keeps every token verbatim", () => {
    const input = ' {\n "a b" : [ 1.000000000000000000001 , "x \\" y" ,\r\n\t{ } ] , "z":12345678901234567890 }\n';
    expect(compactJson(input)).toBe('{"a b":[1.000000000000000000001,"x \\" y",{}],"z":12345678901234567890}');
    expect(compactJson('"\\\\"')).toBe('"\\\\"'); // a string ending in an escaped backslash
  });

  it("names the value when it is not exactly one JSON value", () => {
    expect(() => compactJson("{} []", "doc")).toThrow(/^doc: unexpected content after the JSON value/);
    expect(() => compactJson("", "doc")).toThrow(/^doc: /);
  });
});

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
