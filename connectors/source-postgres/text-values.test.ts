/** Pure conversions: text values, COPY lines, LSNs and pgoutput tuples, without a server. */
import { describe, expect, it } from "vitest";
import { converterFor, OID } from "./text-values.js";
import { parseCopyLine } from "./copy-text.js";
import { formatLsn, parseLsn } from "./lsn.js";
import { readTuple, type TupleValue } from "./pgoutput.js";
import type { PgType, TypeLookup } from "./type-catalog.js";

const types = new Map<number, PgType>([
  [1007, { oid: 1007, name: "_int4", namespace: "pg_catalog", typtype: "b", category: "A", elem: OID.int4, base: 0, delim: "," }],
  [1009, { oid: 1009, name: "_text", namespace: "pg_catalog", typtype: "b", category: "A", elem: OID.text, base: 0, delim: "," }],
  [1020, { oid: 1020, name: "_box", namespace: "pg_catalog", typtype: "b", category: "A", elem: 603, base: 0, delim: ";" }],
  [50000, { oid: 50000, name: "money_amount", namespace: "public", typtype: "d", category: "N", elem: 0, base: OID.numeric, delim: "," }],
]);
const lookup: TypeLookup = { get: (o) => types.get(o) };
const conv = (oid: number, text: string) => converterFor(oid, lookup)(text);
/** No unpaired surrogate in any string or key of a parsed JSON value. */
const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const wellFormed = (v: unknown): boolean =>
  typeof v === "string" ? !LONE.test(v) : v !== null && typeof v === "object" ? Object.entries(v).every(([k, x]) => !LONE.test(k) && wellFormed(x)) : true;

describe("text values to JSON", () => {
  it("keeps integers and numerics exact", () => {
    expect(conv(OID.int8, "-9223372036854775808")).toBe("-9223372036854775808");
    expect(conv(OID.numeric, "0.000000000000000000001")).toBe('"0.000000000000000000001"');
    expect(conv(50000, "12.50")).toBe('"12.50"');
  });
  it("writes float specials as strings and finite floats as numbers", () => {
    expect(conv(OID.float8, "1e+308")).toBe("1e+308");
    expect(JSON.parse(conv(OID.float8, "1e+308"))).toBe(1e308);
    expect(conv(OID.float4, "-Infinity")).toBe('"-Infinity"');
    expect(conv(OID.float8, "NaN")).toBe('"NaN"');
  });
  it("converts timestamptz in any offset to UTC", () => {
    expect(conv(OID.timestamptz, "2024-01-02 03:04:05.123456+00")).toBe('"2024-01-02T03:04:05.123456Z"');
    expect(conv(OID.timestamptz, "2024-01-01 00:30:00+05:30")).toBe('"2023-12-31T19:00:00Z"');
    expect(conv(OID.timestamptz, "1883-11-18 12:00:00-07:52:58")).toBe('"1883-11-18T19:52:58Z"');
    expect(conv(OID.timestamptz, "9999-12-31 23:00:00-05")).toBe('"9999-12-31T23:59:59.999999Z"');
    expect(conv(OID.timestamp, "0044-03-15 12:00:00 BC")).toBe('"0000-01-01T00:00:00Z"');
  });
  it("parses arrays with quotes, escapes, NULLs, bounds and other delimiters", () => {
    expect(conv(1009, '{"a \\"q\\" \\\\ b",NULL,"NULL",plain}')).toBe('["a \\"q\\" \\\\ b",null,"NULL","plain"]');
    expect(JSON.parse(conv(1009, '{"a \\"q\\" \\\\ b",NULL,"NULL",plain}'))).toEqual(['a "q" \\ b', null, "NULL", "plain"]);
    expect(conv(1007, "[0:1]={7,8}")).toBe("[7,8]");
    expect(conv(1007, "{{1,2},{3,NULL}}")).toBe("[[1,2],[3,null]]");
    expect(JSON.parse(conv(1020, "{(1,1),(0,0);(2,2),(1,1)}"))).toEqual(["(1,1),(0,0)", "(2,2),(1,1)"]);
  });
  it("replaces escapes of unpaired surrogates in json with U+FFFD, keeping pairs and escaped backslashes", () => {
    const cases: [string, string][] = [
      ['"\\ud83d"', '"\\ufffd"'],
      ['"\\uDC00x"', '"\\ufffdx"'],
      ['"\\ud83d\\ude00"', '"\\ud83d\\ude00"'],
      ['"\\ud83d\\ud83d\\ude00"', '"\\ufffd\\ud83d\\ude00"'],
      ['"\\ude00\\ud83d"', '"\\ufffd\\ufffd"'],
      ['"\\\\ud83d"', '"\\\\ud83d"'],
      ['"\\\\\\ud83d"', '"\\\\\\ufffd"'],
      ['{"k\\udbff": ["\\u00e9\\ud800", "\\"\\udfff"]}', '{"k\\ufffd": ["\\u00e9\\ufffd", "\\"\\ufffd"]}'],
    ];
    for (const [text, want] of cases) {
      const got = conv(OID.json, text);
      expect(got, text).toBe(want);
      expect(wellFormed(JSON.parse(got)), text).toBe(true);
    }
  });
  it("keeps json on one line without touching its numbers", () => {
    expect(conv(OID.json, '{"a":\n\t12345678901234567890}')).toBe('{"a":  12345678901234567890}');
  });
});

describe("COPY text lines", () => {
  it("splits columns, reads \\N as null and undoes escapes", () => {
    expect(parseCopyLine("1\t\\N\ta\\tb\\nc\\\\d\t", [])).toEqual(["1", null, "a\tb\nc\\d", ""]);
  });
});

describe("LSNs", () => {
  it("round-trip through their text form", () => {
    expect(formatLsn(parseLsn("16/B374D848"))).toBe("16/B374D848");
    expect(parseLsn("0/10")).toBe(16n);
    expect(() => parseLsn("16-B3")).toThrow(/invalid LSN "16-B3"/);
  });
});

describe("pgoutput tuples", () => {
  it("reads text, null and unchanged-TOAST columns", () => {
    const parts = [Buffer.from([0, 3]), Buffer.from("t"), Buffer.from([0, 0, 0, 2]), Buffer.from("hi"), Buffer.from("n"), Buffer.from("u")];
    const buf = Buffer.concat(parts);
    const out: TupleValue[] = [];
    expect(readTuple(buf, 0, out)).toBe(buf.length);
    expect(out).toEqual(["hi", null, undefined]);
  });
});
