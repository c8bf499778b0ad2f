import { describe, expect, it } from "vitest";
import { arrayElements, elementText } from "./json-elements.js";

describe("arrayElements", () => {
  it("keeps each element's verbatim text, big integers included", () => {
    expect(arrayElements('[12345678901234567890, "a,b", {"x":[1,2]}, null, true]', "key")).toEqual([
      "12345678901234567890",
      '"a,b"',
      '{"x":[1,2]}',
      "null",
      "true",
    ]);
  });
  it("gives no elements for an empty array, and names the text when it is not an array", () => {
    expect(arrayElements("[]", "key")).toEqual([]);
    expect(() => arrayElements('{"a":1}', "store key")).toThrow(/store key/);
  });
});

describe("elementText", () => {
  it("unquotes strings, decoding escapes, and leaves other elements as JSON text", () => {
    expect(elementText('"plain"')).toBe("plain");
    expect(elementText('"a\\"b\\\\c\\u00e9"')).toBe('a"b\\cé');
    expect(elementText("-1.5e3")).toBe("-1.5e3");
    expect(elementText("null")).toBe("null");
  });
});
