/** LOAD DATA text: escapes, NULLs, and values converted by their column's encoding. */
import { describe, expect, it } from "vitest";
import { encodeField, loadColumns, loadEscape, utcDatetime } from "./load-text.js";

describe("LOAD DATA text", () => {
  it("escapes exactly the characters LOAD DATA interprets, and writes NULL as \\N", () => {
    expect(loadEscape("a\tb\nc\rd\\e\u0000f")).toBe("a\\tb\\nc\\rd\\\\e\\0f");
    expect(loadEscape("plain 'quotes' \"and\" ✓")).toBe("plain 'quotes' \"and\" ✓");
    expect(encodeField("null", "string")).toBe("\\N");
    // The text "\N" is a value, not NULL.
    expect(encodeField(JSON.stringify("\\N"), "string")).toBe("\\\\N");
  });

  it("converts date-times to UTC across day, month and year boundaries, keeping microseconds", () => {
    expect(utcDatetime("2024-05-01T10:00:00Z")).toBe("2024-05-01 10:00:00");
    expect(utcDatetime("2024-12-31T23:30:00.5-01:00")).toBe("2025-01-01 00:30:00.5");
    expect(utcDatetime("2024-03-01T01:00:00.123456789+05:30")).toBe("2024-02-29 19:30:00.123456");
    expect(utcDatetime("0099-01-01T00:00:00+01:00")).toBe("0098-12-31 23:00:00");
    expect(() => utcDatetime("yesterday")).toThrow(/not RFC 3339/);
  });

  it("writes booleans as digits and refuses anything else without quoting it", () => {
    expect(encodeField("true", "boolean_digit")).toBe("1");
    expect(encodeField("false", "boolean_digit")).toBe("0");
    expect(() => encodeField('"secret"', "boolean_digit")).toThrow(/not true, false or null/);
    expect(() => encodeField('"secret"', "boolean_digit")).not.toThrow(/secret/);
  });

  it("reads base64 columns into variables decoded by FROM_BASE64", () => {
    const col = (ident: string, encoding: any) => ({ ident, mapped: { encoding } }) as any;
    expect(loadColumns([col("`k`", "verbatim"), col("`b`", "base64")], ["`_flow_delete`"])).toBe("(`k`, @b1, `_flow_delete`) SET `b` = FROM_BASE64(@b1)");
  });
});
