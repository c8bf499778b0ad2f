import { describe, expect, it } from "vitest";
import type { Column } from "../../src/sql/table.js";
import type { ValueEncoding } from "../../src/sql/dialect.js";
import { copyEscape, copyUnescape, encodeField, RowEncoder } from "./copy-text.js";

const col = (encoding: ValueEncoding) => ({ mapped: { encoding } }) as unknown as Column;

describe("COPY text encoding", () => {
  it("escapes backslash, newline, carriage return and tab, and reverses it", () => {
    const s = "a\\b\nc\rd\te";
    expect(copyEscape(s)).toBe("a\\\\b\\nc\\rd\\te");
    expect(copyUnescape(copyEscape(s))).toBe(s);
    expect(copyEscape("plain")).toBe("plain");
  });

  it("escapes long text (the byte path) exactly as short text, non-ASCII included", () => {
    const oneByOne = (s: string) => s.replace(/[\\\n\r\t]/g, (c) => ({ "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" })[c]!);
    for (const piece of ['{"q":"\\"é😀\\\\"}\t', "\n\r", "ascii only, no escapes ", "ü\\"]) {
      const s = piece.repeat(Math.ceil(10_000 / piece.length));
      expect(s.length).toBeGreaterThan(4096);
      const got = copyEscape(s);
      expect(got).toBe(oneByOne(s));
      expect(copyUnescape(got)).toBe(s);
    }
  });

  it("converts JSON tokens by column encoding without touching number digits", () => {
    expect(encodeField("123456789012345678901234567890", "verbatim")).toBe("123456789012345678901234567890");
    expect(encodeField("1.10", "string")).toBe("1.10");
    expect(encodeField('"1.10"', "string")).toBe("1.10");
    expect(encodeField("null", "text")).toBe("\\N");
    expect(encodeField('"a\\u0000b\\\\"', "text")).toBe("ab\\\\");
    expect(encodeField('"aGk="', "base64")).toBe("\\\\x6869");
    expect(encodeField('{"k":"v\\n"}', "verbatim")).toBe('{"k":"v\\\\n"}');
  });

  it("builds whole rows on the fast path and the escaping path alike", () => {
    const enc = new RowEncoder([col("verbatim")], [col("text"), col("verbatim"), col("string")]);
    expect(enc.storeLine("[1]", '["x",2.50,"2024-01-01"]', '{"id":1}', "f")).toBe('1\tx\t2.50\t2024-01-01\t{"id":1}\tf\n');
    expect(enc.storeLine("[1]", '["tab\\there",null,"d"]', '{"s":"\\\\"}')).toBe('1\ttab\\there\t\\N\td\t{"s":"\\\\\\\\"}\n');
    expect(enc.keyLine("[42]")).toBe("42\n");
    expect(() => enc.storeLine("[1]", '["x"]', "{}")).toThrow(/has 1 elements, expected 3/);
  });
});
